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
    exported = Path(download.value.path()).read_bytes()
    rows = list(load_workbook(BytesIO(exported)).active.values)
    assert [(row[0], row[2]) for row in rows[1:]] == [(world.station3.pk, "三村站")]

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
    # The preview: what would be created, before anything is written.
    with page.expect_navigation(url=f"**/units/{world.town2.pk}/import/*/"):
        page.click("main form button[type=submit]")
    assert page.locator("#import-created tbody tr").count() == 2
    assert page.locator("#import-created").inner_text().count("四村站") == 2
    assert not Unit.objects.filter(name="四村站").exists()
    with page.expect_navigation():
        page.click("#import-confirm button[type=submit]")
    assert "2" in page.locator("#import-done").inner_text()
    assert Unit.objects.get(name="四村点").parent.name == "四村站"
    page.click("main a.btn-portal")
    page.wait_for_url(f"**/units/{world.town2.pk}/")
    assert page.locator("#children >> text=四村站").count() == 1

    # The export imported back, with a change: the same units are updated, not copied.
    sheet = load_workbook(BytesIO(exported))
    sheet.active.cell(2, 8).value = "0596-7009999"  # 三村站's contact phone
    changed = tmp_path / "changed.xlsx"
    sheet.save(changed)
    page.goto(f"{base}/units/{world.town2.pk}/import/")
    page.set_input_files("#id_file", str(changed))
    with page.expect_navigation(url=f"**/units/{world.town2.pk}/import/*/"):
        page.click("main form button[type=submit]")
    assert "0596-7009999" in page.locator("#import-changed").inner_text()
    assert page.locator("#import-created").count() == 0
    with page.expect_navigation():
        page.click("#import-confirm button[type=submit]")
    assert page.locator("#import-done").count() == 1
    assert Unit.objects.filter(name="三村站").count() == 1
    assert Unit.objects.get(name="三村站").contact_phone == "0596-7009999"


def test_the_import_page_follows_a_background_job_to_its_end(
    world: World, live_server: Any, page: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a worker (here: none yet), the page shows a progress bar fed by the status
    endpoint (static script, no inline code) and turns into the result when the job ends."""
    from portal import imports, tasks
    from portal.models import ImportJob

    monkeypatch.setattr(tasks.run_import_job, "delay", lambda pk: None)  # queued only
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "coord")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")
    page.goto(f"{base}/units/{world.town2.pk}/import/")
    page.set_input_files(
        "#id_file", str(_workbook(tmp_path / "new.xlsx", [None, "五村站", "实践站"]))
    )
    with page.expect_navigation(url=f"**/units/{world.town2.pk}/import/*/"):
        page.click("main form button[type=submit]")
    with page.expect_navigation():
        page.click("#import-confirm button[type=submit]")
    assert page.locator("#import-progress .progress-bar").count() == 1
    job = ImportJob.objects.get()
    assert job.status == "queued"
    imports.run(job.pk)  # the worker takes it
    page.wait_for_selector("#import-done", timeout=10_000)
    assert Unit.objects.filter(name="五村站", parent=world.town2).exists()
    assert errors == []
