"""Registering volunteers from a workbook (volunteers/spreadsheets.py): valid rows registered,
invalid ones reported by row and column, nothing registered twice, personal data sealed."""

from __future__ import annotations

import datetime as dt
import json
from io import BytesIO
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from portal.models import ImportJob
from tests.conftest import World
from volunteers.choices import VolunteerStatus
from volunteers.identity import check_character, id_number_hash
from volunteers.models import Volunteer

from .conftest import make_id_number, make_phone, make_volunteer

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = ["姓名", "身份证号码", "手机号码", "所属单位", "技能特长", "服务意向", "可服务时间"]


def workbook(*rows: list[Any], headers: list[Any] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers or HEADERS)
    for row in rows:
        sheet.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(content: bytes, name: str = "volunteers.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=XLSX)


def person(**overrides: Any) -> list[Any]:
    row = {
        "name": "王小明",
        "id": make_id_number(),
        "phone": make_phone(),
        "unit": "一村站",
        "skills": "书法",
        "categories": "理论宣讲、文化服务",
        "time": "周末",
    }
    row.update(overrides)
    return list(row.values())


def page_import(client: Any, world: World, content: bytes, unit: Any = None) -> Any:
    unit = unit or world.centre
    return client.post(
        reverse("volunteer-import"), {"unit": unit.pk, "file": upload(content)}, follow=True
    )


def test_valid_rows_are_registered_and_bad_ones_reported(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    good = person(name="李·娜", unit="二村站")
    good2 = person(name="赵四", unit="")  # empty: the unit imported into
    first17 = "35062719900101123"
    rows = [
        good,
        person(id=first17 + ("0" if check_character(first17) != "0" else "1")),  # checksum
        person(id="350627900101123"),  # 15 digits
        person(name=""),  # no name
        person(name="王" * 31),
        person(unit="不存在村"),
        person(categories="理论宣讲、炒股"),
        good2,
        person(id=good[1]),  # the same ID as row 2
        person(phone=good[2]),  # the same phone as row 2
        person(phone="12345"),
    ]
    response = page_import(client, world, workbook(*rows))
    assert response.status_code == 200
    job = ImportJob.objects.get(kind="volunteers.spreadsheets.apply_job")
    assert job.status == "done", job.error
    result = job.result
    assert (result["total"], result["created"], result["existing"], result["invalid"]) == (
        11,
        2,
        0,
        9,
    )
    problems = {(row, column) for row, column, _message in result["errors"]}
    assert problems == {
        (3, "身份证号码"),
        (4, "身份证号码"),
        (5, "姓名"),
        (6, "姓名"),
        (7, "所属单位"),
        (8, "服务意向"),
        (10, "身份证号码"),
        (11, "手机号码"),
        (12, "手机号码"),
    }
    messages = {(r, c): m for r, c, m in result["errors"]}
    assert "18" in messages[(4, "身份证号码")]
    assert "2" in messages[(10, "身份证号码")]  # "the same ID number as row 2"
    page = response.content.decode()
    assert "2 名志愿者已登记" in page or "2 volunteers registered" in page
    li, zhao = Volunteer.objects.get(name="李·娜"), Volunteer.objects.get(name="赵四")
    assert li.unit == world.station2 and zhao.unit == world.centre
    assert li.status == VolunteerStatus.ACTIVE and li.user is not None
    assert not li.user.has_usable_password()
    assert sorted(c.code for c in li.categories.all()) == ["culture", "theory"]
    assert li.number and li.user.username == li.number


def test_reimporting_the_same_file_registers_nobody_twice(
    world: World, browser_client: Any
) -> None:
    client = browser_client(world.coordinator)
    content = workbook(person(), person(), person(name="坏", id="1"))
    page_import(client, world, content)
    page_import(client, world, content)
    first, second = ImportJob.objects.order_by("pk")
    assert (first.result["created"], first.result["existing"]) == (2, 0)
    assert (second.result["created"], second.result["existing"]) == (0, 2)
    assert second.result["invalid"] == 1
    assert Volunteer.objects.count() == 2


def test_an_id_number_excel_turned_into_a_number_is_explained(
    world: World, browser_client: Any
) -> None:
    number = int(make_id_number()[:17] + "0")  # as a number cell
    page_import(browser_client(world.coordinator), world, workbook(person(id=number)))
    job = ImportJob.objects.get()
    ((row, column, message),) = job.result["errors"]
    assert (row, column) == (2, "身份证号码")
    assert "文本" in message or "text" in message


def test_the_problems_download_lists_every_left_out_row(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    page_import(client, world, workbook(person(name=""), person(), person(phone="1")))
    job = ImportJob.objects.get()
    response = client.get(reverse("volunteer-import-problems", args=[job.pk]))
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert [row[:2] for row in values[1:]] == [[2, "姓名"], [4, "手机号码"]]


def test_rows_are_sealed_while_kept_and_dropped_after(world: World, browser_client: Any) -> None:
    id_number = make_id_number()
    phone = make_phone()
    seen: dict[str, Any] = {}

    def capture(*args: Any, **kwargs: Any) -> None:
        seen["args"] = (args, kwargs)
        job = ImportJob.objects.get()
        seen["payload"] = json.dumps(job.payload)
        raise ConnectionError("the broker is down")  # then it runs in the request

    with mock.patch("portal.tasks.run_import_job.delay", side_effect=capture):
        page_import(
            browser_client(world.coordinator), world, workbook(person(id=id_number, phone=phone))
        )
    job = ImportJob.objects.get()
    assert seen["args"] == ((job.pk,), {})  # the task gets the job's id only
    assert id_number not in seen["payload"] and phone not in seen["payload"]
    assert "sealed" in seen["payload"]
    assert job.status == "done" and job.payload == {}
    assert Volunteer.objects.filter(id_number_hash=id_number_hash(id_number)).exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [("station_manager", 200), ("town_manager", 200), ("no_role", 404), ("other_coordinator", 200)],
)
def test_who_may_open_the_import_page(
    world: World, browser_client: Any, who: str, status: int
) -> None:
    response = browser_client(getattr(world, who)).get(reverse("volunteer-import"))
    assert response.status_code == status


def test_anonymous_visitors_are_sent_to_log_in(db: Any, client: Any) -> None:
    response = client.get(reverse("volunteer-import"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_unit_outside_the_scope_cannot_be_chosen(world: World, browser_client: Any) -> None:
    client = browser_client(world.station_manager)
    response = client.post(
        reverse("volunteer-import"),
        {"unit": world.other_centre.pk, "file": upload(workbook(person()))},
    )
    assert response.status_code == 200
    assert not ImportJob.objects.exists()
    assert "unit" in response.context["form"].errors


def test_a_manager_imports_under_their_station_only(world: World, browser_client: Any) -> None:
    client = browser_client(world.station_manager)
    page_import(
        client, world, workbook(person(unit="一村站"), person(unit="二村站")), world.station
    )
    job = ImportJob.objects.get()
    assert job.result["created"] == 1
    assert [e[1] for e in job.result["errors"]] == ["所属单位"]


def test_somebody_elses_job_is_not_found(world: World, browser_client: Any) -> None:
    page_import(browser_client(world.coordinator), world, workbook(person()))
    job = ImportJob.objects.get()
    other = browser_client(world.town_manager)
    for name in ("volunteer-import-job", "volunteer-import-status", "volunteer-import-problems"):
        assert other.get(reverse(name, args=[job.pk])).status_code == 404


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"not a workbook", "Excel"),
        (workbook(headers=["姓名", "手机号码"]), "身份证号码"),  # a required column missing
        (workbook(headers=["甲", "乙"]), "没有找到列标题"),
    ],
)
def test_unreadable_files_change_nothing(
    world: World, browser_client: Any, content: bytes, words: str
) -> None:
    client = browser_client(world.coordinator)
    response = client.post(
        reverse("volunteer-import"), {"unit": world.centre.pk, "file": upload(content)}
    )
    assert response.status_code == 200
    assert not ImportJob.objects.exists()
    errors = " ".join(response.context["form"].errors.get("file", []))
    assert words in errors or words in response.content.decode()


def test_the_template_downloads(world: World, browser_client: Any) -> None:
    response = browser_client(world.coordinator).get(reverse("volunteer-import-template"))
    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.content)).active
    assert [c.value for c in next(sheet.iter_rows())][:3] == ["姓名", "身份证号码", "手机号码"]


# --- the API ---------------------------------------------------------------------------------


def test_the_api_imports_and_reports(world: World, api: Any) -> None:
    client = api(world.coordinator)
    content = workbook(person(), person(phone="1"))
    response = client.post(
        "/api/v1/volunteers/import/",
        {"unit": world.centre.pk, "file": upload(content)},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["created"], body["invalid"]) == ("done", 1, 1)
    assert body["problems"][0][:2] == [3, "手机号码"]
    again = client.get(f"/api/v1/volunteers/import/{body['id']}/")
    assert again.status_code == 200 and again.json()["created"] == 1
    assert (
        api(world.town_manager).get(f"/api/v1/volunteers/import/{body['id']}/").status_code == 404
    )


@pytest.mark.parametrize(
    ("who", "unit", "status"),
    [
        ("other_coordinator", "centre", 404),
        ("station_manager", "centre", 404),  # above their station: not theirs to see
        ("no_role", "station", 404),
        (None, "station", 401),
    ],
)
def test_the_api_refuses_outside_the_scope(
    world: World, api: Any, who: str | None, unit: str, status: int
) -> None:
    client = api(getattr(world, who) if who else None)
    response = client.post(
        "/api/v1/volunteers/import/",
        {"unit": getattr(world, unit).pk, "file": upload(workbook(person()))},
        format="multipart",
    )
    assert response.status_code == status
    assert not Volunteer.objects.exists()


def test_the_api_refuses_a_bad_file_with_the_error_shape(world: World, api: Any) -> None:
    response = api(world.coordinator).post(
        "/api/v1/volunteers/import/",
        {"unit": world.centre.pk, "file": upload(b"PK\x03\x04 broken")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] in ("invalid_file", "invalid")
    assert "file" in response.json()["detail"]


def test_existing_volunteers_count_as_registered(world: World, browser_client: Any) -> None:
    there = make_volunteer(world.station)
    page_import(browser_client(world.coordinator), world, workbook(person(id=there.id_number)))
    job = ImportJob.objects.get()
    assert (job.result["created"], job.result["existing"]) == (0, 1)


# --- exports ---------------------------------------------------------------------------------


def sheet_values(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(BytesIO(content)).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_the_list_export_is_scoped_and_masked(world: World, browser_client: Any) -> None:
    mine = make_volunteer(world.station, name='=HYPERLINK("http://x")')
    make_volunteer(world.station2, name="李四", status=VolunteerStatus.PENDING)
    make_volunteer(world.other_station, name="外县人")
    client = browser_client(world.town_manager)
    response = client.get(reverse("volunteer-export"))
    assert response.status_code == 200
    assert mine.id_number.encode() not in response.content
    assert mine.phone.encode() not in response.content
    rows = sheet_values(response.content)
    names = [row[1] for row in rows[1:]]
    assert sorted(names) == sorted(['=HYPERLINK("http://x")', "李四"])
    row = next(r for r in rows[1:] if r[1].startswith("="))
    assert row[3] == mine.id_number_masked and row[4] == mine.phone_masked
    # A formula-looking name stays text (portal.xlsx writes it quoted).
    sheet = load_workbook(BytesIO(response.content)).active
    cell = next(c for c in sheet["B"] if c.value == '=HYPERLINK("http://x")')
    assert cell.data_type == "s"
    pending = client.get(reverse("volunteer-export"), {"status": "pending"})
    assert [r[1] for r in sheet_values(pending.content)[1:]] == ["李四"]


def test_the_list_export_needs_a_role(world: World, browser_client: Any) -> None:
    assert browser_client(world.no_role).get(reverse("volunteer-export")).status_code == 404


def test_hours_export_for_staff_and_for_the_volunteer(world: World, browser_client: Any) -> None:
    from decimal import Decimal

    from volunteers.models import ServiceRecord

    volunteer = make_volunteer(world.station, user=world.recruit)
    ServiceRecord.objects.create(
        volunteer=volunteer,
        unit=world.station,
        date=dt.date(2026, 5, 1),
        hours=Decimal("2.50"),
        content="环境整治",
        reason="签到表",
        recorded_by=world.station_manager,
    )
    staff = browser_client(world.town_manager).get(
        reverse("volunteer-hours-export", args=[volunteer.pk])
    )
    assert staff.status_code == 200
    rows = sheet_values(staff.content)
    assert rows[1][3] == 2.5 and rows[1][5] == "环境整治"
    outsider = browser_client(world.other_coordinator)
    assert outsider.get(reverse("volunteer-hours-export", args=[volunteer.pk])).status_code == 404
    own = browser_client(world.recruit).get(reverse("volunteer-me-hours-export"))
    assert own.status_code == 200 and sheet_values(own.content)[1][5] == "环境整治"
    assert (
        browser_client(world.no_role).get(reverse("volunteer-me-hours-export")).status_code == 404
    )
