"""A county office builds its network from its spreadsheet, in a real browser."""

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from practice.models import Unit
from tests.conftest import World
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADERS = ["上级单位", "名称", "类型", "联系电话"]


def _workbook(path: Path, *rows: list[Any]) -> Path:
    workbook = Workbook()
    workbook.active.append(HEADERS)
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def test_coordinator_exports_and_imports_units(
    world: World, live_server: Any, page: Any, tmp_path: Path
) -> None:
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "coord")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")

    page.goto(f"{base}/units/{world.town2.pk}/")
    with page.expect_download() as download:
        page.click("#unit-actions >> #unit-export")
    rows = list(load_workbook(BytesIO(Path(download.value.path()).read_bytes())).active.values)
    assert [row[1] for row in rows] == ["名称", "三村站"]

    page.click("#unit-actions >> #unit-import")
    page.wait_for_url(f"**/units/{world.town2.pk}/import/")
    # A file with a bad row: every problem is listed with its row, nothing is created.
    bad = _workbook(
        tmp_path / "bad.xlsx",
        [None, "四村站", "实践站"],
        ["四村站", "四村点", "实践点", "电话"],
        [None, "三村站", "实践站"],
    )
    page.set_input_files("#id_file", str(bad))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    problems = page.locator("#import-problems li")
    assert problems.count() == 2
    assert problems.nth(0).inner_text().startswith("第 3 行")
    assert problems.nth(1).inner_text().startswith("第 4 行")
    assert not Unit.objects.filter(name="四村站").exists()

    good = _workbook(
        tmp_path / "good.xlsx",
        [None, "四村站", "实践站"],
        ["四村站", "四村点", "实践点", "0596-7001234"],
    )
    page.set_input_files("#id_file", str(good))
    with page.expect_navigation(url=f"**/units/{world.town2.pk}/"):
        page.click("main form button[type=submit]")
    assert "2" in page.locator(".alert-success").inner_text()
    assert page.locator("#children >> text=四村站").count() == 1
    assert Unit.objects.get(name="四村点").parent.name == "四村站"
