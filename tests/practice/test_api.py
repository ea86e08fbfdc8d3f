"""REST API v1 of the practice network, against the contract in docs/API.md.

Every endpoint gets a permission matrix over the ``world`` fixture's users (anonymous, no
role, in scope, out of scope, superuser); query counts are pinned so lists and details cost
the same whatever the size of the tree.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from practice import services, tree
from practice.choices import Role
from practice.models import AuditEntry, Category, RoleAssignment, Unit, User
from practice.tree import NodeSpec
from tests.conftest import World
from tests.factories import PASSWORD, RoleFactory, UserFactory

Api = Callable[..., APIClient]

UNITS = "/api/v1/units/"
ROLES = "/api/v1/roles/"
USERS = "/api/v1/users/"
STRONG = "Lantern-harbour-42"

# The contract's rule, written out here rather than imported, so the test checks the code.
ALLOWED_PARENTS: dict[str, set[str | None]] = {
    "region": {None, "region"},
    "centre": {None, "region"},
    "institute": {"centre"},
    "station": {"institute"},
    "point": {"centre", "institute", "station"},
}
LABELS = {
    "region": "Region",
    "centre": "Practice centre",
    "institute": "Practice institute",
    "station": "Practice station",
    "point": "Practice point",
}
UNIT_FIELDS = {
    "id",
    "name",
    "kind",
    "parent",
    "parent_name",
    "division_code",
    "address",
    "contact_name",
    "contact_phone",
    "opening_hours",
    "latitude",
    "longitude",
    "is_active",
    "level",
    "path",
}


@pytest.fixture
def api(api_en: Api) -> Api:
    """This module reads API messages in English (see ``tests/practice/conftest.py``)."""
    return api_en


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


def user_of(world: World, who: str | None) -> User | None:
    return None if who is None else getattr(world, who)


def unit_url(unit: Unit, suffix: str = "") -> str:
    return f"{UNITS}{unit.pk}/{suffix}"


def error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert the contract's error shape and return the body."""
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def deactivate(world: World, *units: Unit) -> None:
    for unit in units:
        services.unit_set_active(actor=world.superuser, unit=unit, active=False)
    world.refresh()


# The users of the permission matrix.
ANON, NO_ROLE, SUPER = None, "no_role", "superuser"


# --- authentication ----------------------------------------------------------------------


def test_token_login_then_token_auth(world: World, api: Api):
    response = api().post("/api/v1/auth/token/", {"username": "townmgr", "password": PASSWORD})
    assert response.status_code == 200
    key = response.json()["token"]
    client = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    me = client.get(f"{USERS}me/")
    assert me.status_code == 200
    assert me.json()["username"] == "townmgr"


@pytest.mark.parametrize(
    ("username", "password"),
    [("townmgr", "wrong-password"), ("nobody", PASSWORD), ("townmgr", "")],
)
def test_token_login_refused(world: World, api: Api, username: str, password: str):
    response = api().post("/api/v1/auth/token/", {"username": username, "password": password})
    body = error(response, 400)
    if password:
        assert body["code"] == "invalid_credentials"
    else:
        assert "password" in body["detail"]
    assert not Token.objects.exists()


def test_a_disabled_account_gets_no_token(world: World, api: Api):
    world.town_manager.is_active = False
    world.town_manager.save()
    response = api().post("/api/v1/auth/token/", {"username": "townmgr", "password": PASSWORD})
    error(response, 400, "invalid_credentials")


def test_a_wrong_token_is_401(world: World):
    client = APIClient(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    error(client.get(f"{USERS}me/"), 401)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", UNITS),
        ("patch", "unit:town"),
        ("delete", "unit:point"),
        ("get", "stats:town"),
        ("get", ROLES),
        ("post", ROLES),
        ("get", USERS),
        ("post", USERS),
        ("get", f"{USERS}me/"),
    ],
)
def test_anonymous_writes_and_staff_reads_are_401(world: World, api: Api, method: str, path: str):
    if path.startswith("unit:"):
        path = unit_url(getattr(world, path[5:]))
    elif path.startswith("stats:"):
        path = unit_url(getattr(world, path[6:]), "stats/")
    response = getattr(api(), method)(path, {})
    body = error(response, 401, "not_authenticated")
    assert body["detail"] == {}
    assert response.headers["WWW-Authenticate"].startswith("Token")


# --- units: list -------------------------------------------------------------------------


def test_unit_list_is_public_paginated_in_tree_order(world: World, api: Api):
    response = api().get(UNITS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 10
    assert body["next"] is None
    assert body["previous"] is None
    # Tree by tree, each in pre-order with siblings by name.
    assert [r["name"] for r in body["results"]] == [
        "乙县中心",
        "乙镇所",
        "乙村站",
        "甲县中心",
        "一镇所",
        "一村站",
        "一村点",
        "二村站",
        "二镇所",
        "三村站",
    ]
    for row in body["results"]:
        assert set(row) >= UNIT_FIELDS


def test_unit_rows_say_where_they_are(world: World, api: Api):
    rows = {r["name"]: r for r in api().get(UNITS).json()["results"]}
    point = rows["一村点"]
    assert point["path"] == ["甲县中心", "一镇所", "一村站", "一村点"]
    assert point["parent"] == world.station.pk
    assert point["parent_name"] == "一村站"
    assert point["level"] == 3
    assert point["kind"] == "point"
    # Paths hold ancestors only, never a sibling's branch that comes earlier in the tree.
    assert rows["二村站"]["path"] == ["甲县中心", "一镇所", "二村站"]
    assert rows["二镇所"]["path"] == ["甲县中心", "二镇所"]
    assert rows["三村站"]["path"] == ["甲县中心", "二镇所", "三村站"]
    root = rows["乙县中心"]
    assert (root["path"], root["parent"], root["parent_name"], root["level"]) == (
        ["乙县中心"],
        None,
        None,
        0,
    )


def test_unit_list_pages(world: World, api: Api):
    first = api().get(UNITS, {"page_size": 4}).json()
    assert first["count"] == 10
    assert len(first["results"]) == 4
    assert first["previous"] is None
    assert "page=2" in first["next"]
    last = api().get(UNITS, {"page_size": 4, "page": 3}).json()
    assert [r["name"] for r in last["results"]] == ["二镇所", "三村站"]
    assert last["next"] is None
    assert last["previous"] is not None


@pytest.mark.parametrize(
    ("who", "inactive_shown"),
    [
        (ANON, set()),
        (NO_ROLE, set()),
        ("station_manager", {"一村点"}),
        ("town_manager", {"一村点"}),
        ("coordinator", {"一村点"}),
        ("other_coordinator", {"乙村站"}),
        (SUPER, {"一村点", "乙村站"}),
    ],
)
def test_unit_list_shows_inactive_units_only_to_staff_in_scope(
    world: World, api: Api, who: str | None, inactive_shown: set[str]
):
    deactivate(world, world.point, world.other_station)
    shown = set(names(api(user_of(world, who)).get(UNITS)))
    active = {u.name for u in Unit.objects.filter(is_active=True)}
    assert shown == active | inactive_shown


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "station"}, ["乙村站", "一村站", "二村站", "三村站"]),
        ({"kind": "institute"}, ["乙镇所", "一镇所", "二镇所"]),
        ({"parent": "town"}, ["一村站", "二村站"]),
        ({"parent": "point"}, []),
        ({"within": "town"}, ["一镇所", "一村站", "一村点", "二村站"]),
        ({"within": "other_centre"}, ["乙县中心", "乙镇所", "乙村站"]),
        ({"within": "centre", "kind": "station"}, ["一村站", "二村站", "三村站"]),
        ({"q": "村"}, ["乙村站", "一村站", "一村点", "二村站", "三村站"]),
        ({"q": "一"}, ["一镇所", "一村站", "一村点"]),
        ({"q": "乙", "kind": "centre"}, ["乙县中心"]),
        ({"q": "  "}, None),  # blank: no filter
    ],
)
def test_unit_list_filters(
    world: World, api: Api, query: dict[str, str], expected: list[str] | None
):
    params = {
        k: (str(getattr(world, v).pk) if k in ("parent", "within") else v) for k, v in query.items()
    }
    got = names(api().get(UNITS, params))
    assert got == (expected if expected is not None else names(api().get(UNITS)))


def test_within_an_unknown_unit_is_empty(world: World, api: Api):
    assert names(api().get(UNITS, {"within": 999999})) == []


def test_within_an_inactive_unit_shows_its_subtree_to_staff_only(world: World, api: Api):
    deactivate(world, world.point)
    assert names(api().get(UNITS, {"within": world.point.pk})) == []
    assert names(api(world.coordinator).get(UNITS, {"within": world.point.pk})) == ["一村点"]


@pytest.mark.parametrize("query", [{"kind": "village"}, {"parent": "x"}, {"within": "x"}])
def test_a_malformed_filter_is_400(world: World, api: Api, query: dict[str, str]):
    body = error(api().get(UNITS, query), 400, "invalid")
    assert list(body["detail"]) == list(query)


# --- units: detail -----------------------------------------------------------------------


def test_unit_detail_is_public(world: World, api: Api):
    response = api().get(unit_url(world.station))
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= UNIT_FIELDS
    assert body["path"] == ["甲县中心", "一镇所", "一村站"]
    assert body["parent_name"] == "一镇所"


def test_unknown_unit_is_404(world: World, api: Api):
    error(api().get(f"{UNITS}999999/"), 404, "not_found")


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 404),
        (NO_ROLE, 404),
        ("station_manager", 200),
        ("town_manager", 200),
        ("coordinator", 200),
        ("other_coordinator", 404),
        (SUPER, 200),
    ],
)
def test_an_inactive_unit_is_found_only_by_staff_in_scope(
    world: World, api: Api, who: str | None, status: int
):
    deactivate(world, world.point)
    response = api(user_of(world, who)).get(unit_url(world.point))
    assert response.status_code == status
    if status == 200:
        assert response.json()["is_active"] is False


# --- units: create -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 403),
        ("station_manager", 403),  # the parent is above their unit
        ("town_manager", 201),  # managers add sub-units
        ("coordinator", 201),
        ("other_coordinator", 403),
        (SUPER, 201),
    ],
)
def test_create_a_unit_permissions(world: World, api: Api, who: str | None, status: int):
    body = {"name": "三村站", "kind": "station", "parent": world.town.pk, "address": "村口"}
    response = api(user_of(world, who)).post(UNITS, body)
    assert response.status_code == status, response.content
    created = Unit.objects.filter(name="三村站", parent=world.town)
    if status == 201:
        data = response.json()
        assert data["id"] == created.get().pk
        assert data["path"] == ["甲县中心", "一镇所", "三村站"]
        assert data["level"] == 2
        assert data["address"] == "村口"
        assert data["is_active"] is True
    else:
        error(response, status)
        assert not created.exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [(ANON, 401), (NO_ROLE, 403), ("town_manager", 403), ("coordinator", 403), (SUPER, 201)],
)
@pytest.mark.parametrize("parent", ["null", "omitted"])
def test_only_a_superuser_creates_a_top_level_unit(
    world: World, api: Api, who: str | None, status: int, parent: str
):
    body: dict[str, Any] = {"name": "丙县中心", "kind": "centre"}
    if parent == "null":
        body["parent"] = None
    response = api(user_of(world, who)).post(UNITS, body)
    assert response.status_code == status, response.content
    assert Unit.objects.filter(name="丙县中心", parent=None).exists() == (status == 201)


def _unit_of_kind(world: World, kind: str | None) -> Unit | None:
    if kind == "region":
        return services.unit_create(actor=world.superuser, parent=None, name="闽市", kind="region")
    return {
        None: None,
        "centre": world.centre,
        "institute": world.town,
        "station": world.station,
        "point": world.point,
    }[kind]


@pytest.mark.parametrize("parent_kind", [None, "region", "centre", "institute", "station", "point"])
@pytest.mark.parametrize("kind", list(ALLOWED_PARENTS))
def test_every_kind_under_every_parent_kind(
    world: World, api: Api, kind: str, parent_kind: str | None
):
    parent = _unit_of_kind(world, parent_kind)
    body = {"name": f"新{kind}", "kind": kind, "parent": parent.pk if parent else None}
    response = api(world.superuser).post(UNITS, body)
    if parent_kind in ALLOWED_PARENTS[kind]:
        assert response.status_code == 201, response.content
        unit = Unit.objects.get(pk=response.json()["id"])
        assert (unit.kind, unit.parent) == (kind, parent)
        assert tree.tree_problems(unit.tree_id) == []
        return
    body = error(response, 400)
    assert list(body["detail"]) == ["parent"]
    message = body["message"]
    assert message == body["detail"]["parent"][0]
    # It says why: what the unit is, where it was put, and where it may go.
    assert LABELS[kind] in message
    if parent_kind is None:
        assert "top level" in message
    else:
        assert f"under a {LABELS[parent_kind]}" in message
    for allowed in ALLOWED_PARENTS[kind]:
        if allowed is not None:
            assert LABELS[allowed] in message.split("must be:")[1]
    assert not Unit.objects.filter(name=f"新{kind}").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("division_code", "3506271"),
        ("division_code", "35062710a"),
        ("latitude", 91),
        ("longitude", -181),
        ("contact_phone", "call me"),
        ("kind", "village"),
        ("name", ""),
        ("parent", 999999),
    ],
)
def test_create_validates_each_field(world: World, api: Api, field: str, value: Any):
    body = {"name": "三村站", "kind": "station", "parent": world.town.pk, field: value}
    response = api(world.coordinator).post(UNITS, body)
    assert list(error(response, 400)["detail"]) == [field]
    assert not Unit.objects.filter(parent=world.town, name="三村站").exists()


@pytest.mark.parametrize("code", ["350627", "350627101", "350627101001"])
def test_division_codes_of_6_9_and_12_digits(world: World, api: Api, code: str):
    body = {"name": "三村站", "kind": "station", "parent": world.town.pk, "division_code": code}
    response = api(world.coordinator).post(UNITS, body)
    assert response.status_code == 201
    assert response.json()["division_code"] == code


def test_names_are_unique_among_siblings_only(world: World, api: Api):
    client = api(world.coordinator)
    duplicate = client.post(UNITS, {"name": "二村站", "kind": "station", "parent": world.town.pk})
    assert "already exists" in error(duplicate, 400)["message"]
    elsewhere = client.post(UNITS, {"name": "二村站", "kind": "station", "parent": world.town2.pk})
    assert elsewhere.status_code == 201
    rename = client.patch(unit_url(world.station), {"name": "二村站"})
    assert "already exists" in error(rename, 400)["message"]
    world.refresh()
    assert world.station.name == "一村站"


def test_an_active_unit_cannot_be_created_under_an_inactive_one(world: World, api: Api):
    deactivate(world, world.station3)
    response = api(world.coordinator).post(
        UNITS, {"name": "点", "kind": "point", "parent": world.station3.pk}
    )
    body = error(response, 400, "parent_inactive")
    assert "三村站" in body["message"]


def test_put_is_not_offered(world: World, api: Api):
    response = api(world.superuser).put(unit_url(world.town), {"name": "x", "kind": "institute"})
    error(response, 405)


# --- units: edit, deactivate -------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 404),
        ("station_manager", 404),  # the institute is above the station
        ("town_manager", 200),
        ("coordinator", 200),
        ("other_coordinator", 404),
        (SUPER, 200),
    ],
)
def test_edit_a_unit_permissions(world: World, api: Api, who: str | None, status: int):
    response = api(user_of(world, who)).patch(
        unit_url(world.town), {"address": "镇政府一楼", "opening_hours": "9:00–17:00"}
    )
    assert response.status_code == status, response.content
    world.refresh()
    if status == 200:
        assert response.json()["address"] == "镇政府一楼"
        assert world.town.address == "镇政府一楼"
        assert world.town.opening_hours == "9:00–17:00"
    else:
        error(response, status)
        assert world.town.address == ""


def test_edit_a_kind_that_would_break_its_sub_units(world: World, api: Api):
    response = api(world.coordinator).patch(unit_url(world.town), {"kind": "point"})
    body = error(response, 400, "invalid_kind")
    assert "Practice station cannot be placed under a Practice point" in body["message"]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 404),
        ("station_manager", 200),  # their own unit: deactivating is a change, not a delete
        ("town_manager", 200),
        ("coordinator", 200),
        ("other_coordinator", 404),
        (SUPER, 200),
    ],
)
def test_deactivate_and_reactivate_permissions(
    world: World, api: Api, who: str | None, status: int
):
    client = api(user_of(world, who))
    response = client.patch(unit_url(world.point), {"is_active": False})
    assert response.status_code == status, response.content
    world.refresh()
    assert world.point.is_active == (status != 200)
    if status == 200:
        assert response.json()["is_active"] is False
        error(api().get(unit_url(world.point)), 404)  # gone from the public
        again = client.patch(unit_url(world.point), {"is_active": True})
        assert again.json()["is_active"] is True
        assert api().get(unit_url(world.point)).status_code == 200


def test_a_unit_with_active_sub_units_cannot_be_deactivated(world: World, api: Api):
    response = api(world.coordinator).patch(unit_url(world.station), {"is_active": False})
    assert "sub-units" in error(response, 400, "has_active_children")["message"]
    world.refresh()
    assert world.station.is_active


def test_a_unit_cannot_be_reactivated_under_an_inactive_parent(world: World, api: Api):
    deactivate(world, world.point, world.station)
    response = api(world.coordinator).patch(unit_url(world.point), {"is_active": True})
    error(response, 400, "parent_inactive")


# --- units: move -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 404),
        ("station_manager", 403),  # own unit, and managers do not move
        ("town_manager", 403),  # in scope, but managers do not move
        ("coordinator", 200),
        ("other_coordinator", 404),
        (SUPER, 200),
    ],
)
def test_move_a_unit_permissions(world: World, api: Api, who: str | None, status: int):
    response = api(user_of(world, who)).patch(unit_url(world.station), {"parent": world.town2.pk})
    assert response.status_code == status, response.content
    world.refresh()
    if status == 200:
        assert response.json()["path"] == ["甲县中心", "二镇所", "一村站"]
        assert world.station.parent == world.town2
        assert world.point.get_ancestors().filter(pk=world.town2.pk).exists()
        assert tree.tree_problems(world.centre.tree_id) == []
    else:
        error(response, status)
        assert world.station.parent == world.town


@pytest.mark.parametrize(
    ("unit", "parent"),
    [
        ("centre", "region"),  # a coordinator's own unit: needs someone above
        ("town", None),  # to the top level: superusers only
        ("station", "other_town"),  # to a place outside the coordinator's area
    ],
)
def test_a_coordinator_cannot_move_beyond_their_authority(
    world: World, api: Api, unit: str, parent: str | None
):
    if parent == "region":
        target = _unit_of_kind(world, "region")
    else:
        target = getattr(world, parent) if parent else None
    moved: Unit = getattr(world, unit)
    before = moved.parent_id
    response = api(world.coordinator).patch(
        unit_url(moved), {"parent": target.pk if target else None}
    )
    error(response, 403, "permission_denied")
    moved.refresh_from_db()
    assert moved.parent_id == before


def test_a_superuser_moves_a_county_into_a_region_and_back_out(world: World, api: Api):
    region = _unit_of_kind(world, "region")
    assert region is not None
    client = api(world.superuser)
    response = client.patch(unit_url(world.centre), {"parent": region.pk})
    assert response.json()["path"] == ["闽市", "甲县中心"]
    response = client.patch(unit_url(world.centre), {"parent": None})
    assert response.json()["path"] == ["甲县中心"]
    assert response.json()["level"] == 0
    world.refresh()
    assert tree.tree_problems(world.centre.tree_id) == []


@pytest.mark.parametrize(
    ("unit", "parent", "allowed"),
    [
        ("station", "centre", False),
        ("station", "other_town", True),
        ("town", "town2", False),
        ("point", "town2", True),
        ("point", "station3", True),
        ("point", "centre", True),
        ("point", "station2", True),
        ("town2", "other_centre", True),
        ("station3", "point", False),
        ("station3", None, False),
        ("town", None, False),
        ("other_centre", "centre", False),
    ],
)
def test_moves_follow_the_parent_kind_rules(
    world: World, api: Api, unit: str, parent: str | None, allowed: bool
):
    moved: Unit = getattr(world, unit)
    before = moved.parent_id
    target: Unit | None = getattr(world, parent) if parent else None
    response = api(world.superuser).patch(
        unit_url(moved), {"parent": target.pk if target else None}
    )
    moved.refresh_from_db()
    if allowed:
        assert response.status_code == 200, response.content
        assert moved.parent == target
    else:
        body = error(response, 400)
        reason = body["detail"]["parent"][0]
        assert "cannot be placed under" in reason or "cannot be at the top level" in reason
        assert moved.parent_id == before
    world.refresh()
    assert tree.tree_problems(world.centre.tree_id) == []


@pytest.mark.parametrize("target", ["self", "child", "grandchild"])
def test_a_move_that_would_make_a_cycle_is_400(world: World, api: Api, target: str):
    client = api(world.superuser)
    top = client.post(UNITS, {"name": "闽", "kind": "region"}).json()["id"]
    child = client.post(UNITS, {"name": "闽东", "kind": "region", "parent": top}).json()["id"]
    grandchild = client.post(UNITS, {"name": "宁", "kind": "region", "parent": child}).json()["id"]
    parent = {"self": top, "child": child, "grandchild": grandchild}[target]
    response = client.patch(f"{UNITS}{top}/", {"parent": parent})
    body = error(response, 400)
    assert "under itself or one of its own sub-units" in body["message"]
    assert client.get(f"{UNITS}{top}/").json()["parent"] is None
    assert client.get(f"{UNITS}{grandchild}/").json()["path"] == ["闽", "闽东", "宁"]


def test_an_active_unit_cannot_move_under_an_inactive_one(world: World, api: Api):
    deactivate(world, world.station3)
    response = api(world.coordinator).patch(unit_url(world.point), {"parent": world.station3.pk})
    error(response, 400, "parent_inactive")
    world.refresh()
    assert world.point.parent == world.station


def test_move_and_edit_in_one_request(world: World, api: Api):
    response = api(world.coordinator).patch(
        unit_url(world.station3), {"parent": world.town.pk, "name": "四村站"}
    )
    assert response.status_code == 200
    assert response.json()["path"] == ["甲县中心", "一镇所", "四村站"]


@pytest.mark.parametrize(
    ("unit", "body"),
    [
        ("station3", {"parent": "town", "name": "一村站"}),  # moves, then the name is taken
        ("town", {"address": "新址", "is_active": False}),  # edits, then sub-units are active
        ("station", {"parent": "town2", "is_active": False}),  # moves, then 一村点 is active
    ],
)
def test_a_patch_that_fails_changes_nothing(
    world: World, api: Api, unit: str, body: dict[str, Any]
):
    target: Unit = getattr(world, unit)
    before = (target.parent_id, target.name, target.address, target.is_active)
    data = {k: (getattr(world, v).pk if k == "parent" else v) for k, v in body.items()}
    error(api(world.coordinator).patch(unit_url(target), data), 400)
    target.refresh_from_db()
    assert (target.parent_id, target.name, target.address, target.is_active) == before
    assert not AuditEntry.objects.exists()
    assert tree.tree_problems(target.tree_id) == []


# --- units: delete -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 404),
        ("station_manager", 403),
        ("town_manager", 403),
        ("coordinator", 204),
        ("other_coordinator", 404),
        (SUPER, 204),
    ],
)
def test_delete_a_unit_permissions(world: World, api: Api, who: str | None, status: int):
    response = api(user_of(world, who)).delete(unit_url(world.point))
    assert response.status_code == status
    assert Unit.objects.filter(pk=world.point.pk).exists() == (status != 204)
    if status != 204:
        error(response, status)


def test_nobody_deletes_the_unit_their_role_is_anchored_at(world: World, api: Api):
    leaf_coordinator = RoleFactory(unit=world.point, role=Role.COORDINATOR).user
    error(api(leaf_coordinator).delete(unit_url(world.point)), 403, "permission_denied")
    # ...but may edit it, and someone above may delete it.
    assert api(leaf_coordinator).patch(unit_url(world.point), {"address": "x"}).status_code == 200
    assert api(world.coordinator).delete(unit_url(world.point)).status_code == 204


def test_a_unit_with_sub_units_cannot_be_deleted(world: World, api: Api):
    body = error(api(world.coordinator).delete(unit_url(world.town)), 400, "has_children")
    assert "一镇所" in body["message"]
    assert "3 sub-units" in body["message"]
    assert Unit.objects.filter(pk=world.town.pk).exists()


# --- units: stats ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 404),
        ("station_manager", 404),
        ("town_manager", 200),
        ("coordinator", 200),
        ("other_coordinator", 404),
        (SUPER, 200),
    ],
)
def test_stats_permissions(world: World, api: Api, who: str | None, status: int):
    response = api(user_of(world, who)).get(unit_url(world.town, "stats/"))
    assert response.status_code == status
    if status != 200:
        error(response, status)


def test_stats_count_the_units_of_the_subtree(world: World, api: Api):
    response = api(world.coordinator).get(
        unit_url(world.centre, "stats/"), {"from": "2025-01-01", "to": "2025-06-30"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["unit"] == world.centre.pk
    assert (body["from"], body["to"]) == ("2025-01-01", "2025-06-30")
    assert body["units"] == {"institute": 2, "station": 3, "point": 1}
    api_md = ("unit", "name", "activities", "beneficiaries")
    assert [{k: c[k] for k in api_md} for c in body["by_child"]] == [
        {"unit": world.town.pk, "name": "一镇所", "activities": 0, "beneficiaries": 0},
        {"unit": world.town2.pk, "name": "二镇所", "activities": 0, "beneficiaries": 0},
    ]
    assert [c["materials"] for c in body["by_child"]] == [0, 0]  # beyond API.md
    assert [m["month"] for m in body["by_month"]] == [f"2025-{m:02d}" for m in range(1, 7)]
    # No volunteers, teams, activities or requests in this world: zero.
    assert (body["volunteers"], body["teams"], body["activities"]) == (0, 0, 0)
    assert (body["beneficiaries"], body["materials"], body["volunteer_hours"]) == (0, 0, "0.00")
    assert body["requests"] == {
        "submitted": 0,
        "completed": 0,
        "rejected": 0,
        "open": 0,
        "average_rating": None,
    }
    assert [c["category"] for c in body["by_category"]] == [
        "theory",
        "publicity",
        "education",
        "culture",
        "science",
        "sports",
        "civility",
    ]


def test_stats_are_live(world: World, api: Api):
    client = api(world.coordinator)
    client.post(UNITS, {"name": "二村点", "kind": "point", "parent": world.station2.pk})
    deactivate(world, world.station3)
    body = client.get(unit_url(world.centre, "stats/")).json()
    assert body["units"] == {"institute": 2, "station": 2, "point": 2}
    town = client.get(unit_url(world.town, "stats/")).json()
    assert town["units"] == {"institute": 0, "station": 2, "point": 2}
    assert [c["name"] for c in town["by_child"]] == ["一村站", "二村站"]
    assert body["from"] is None


def test_stats_of_an_inactive_unit_for_staff(world: World, api: Api):
    deactivate(world, world.point)
    assert api(world.station_manager).get(unit_url(world.point, "stats/")).status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-07-01", "to": "2025-06-30"}, "to"),
        ({"from": "2025-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
    ],
)
def test_stats_refuse_bad_dates(world: World, api: Api, query: dict[str, str], field: str):
    body = error(api(world.coordinator).get(unit_url(world.centre, "stats/"), query), 400)
    assert list(body["detail"]) == [field]


def test_stats_accept_a_single_day(world: World, api: Api):
    response = api(world.coordinator).get(
        unit_url(world.centre, "stats/"), {"from": "2025-06-30", "to": "2025-06-30"}
    )
    assert response.status_code == 200


# --- categories --------------------------------------------------------------------------


@pytest.mark.parametrize("who", [ANON, NO_ROLE, "coordinator"])
def test_categories_are_the_seven_platforms(world: World, api: Api, who: str | None):
    response = api(user_of(world, who)).get("/api/v1/categories/")
    assert response.status_code == 200
    rows = response.json()
    assert [r["code"] for r in rows] == [
        "theory",
        "publicity",
        "education",
        "culture",
        "science",
        "sports",
        "civility",
    ]
    assert all(r["name"] for r in rows)


def test_a_retired_category_is_no_longer_offered(world: World, api: Api):
    Category.objects.filter(code="sports").update(is_active=False)
    codes = [r["code"] for r in api().get("/api/v1/categories/").json()]
    assert "sports" not in codes
    assert len(codes) == 6


# --- roles -------------------------------------------------------------------------------

ALL_ROLES = {
    ("coord", "甲县中心", "coordinator"),
    ("townmgr", "一镇所", "manager"),
    ("stationmgr", "一村站", "manager"),
    ("othercoord", "乙县中心", "coordinator"),
}


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (NO_ROLE, set()),
        ("station_manager", {("stationmgr", "一村站", "manager")}),
        ("town_manager", {("townmgr", "一镇所", "manager"), ("stationmgr", "一村站", "manager")}),
        ("coordinator", ALL_ROLES - {("othercoord", "乙县中心", "coordinator")}),
        ("other_coordinator", {("othercoord", "乙县中心", "coordinator")}),
        (SUPER, ALL_ROLES),
    ],
)
def test_role_list_shows_the_roles_inside_the_callers_scope(
    world: World, api: Api, who: str, expected: set[tuple[str, str, str]]
):
    response = api(user_of(world, who)).get(ROLES)
    assert response.status_code == 200
    rows = response.json()["results"]
    usernames = {u.pk: u.username for u in User.objects.all()}
    assert {(usernames[r["user"]], r["unit_name"], r["role"]) for r in rows} == expected
    for row in rows:
        assert {"id", "user", "unit", "role", "user_name", "unit_name"} <= set(row)


def test_role_list_filters(world: World, api: Api):
    rows = api(world.coordinator).get(ROLES, {"role": "manager"}).json()["results"]
    assert {r["unit_name"] for r in rows} == {"一镇所", "一村站"}
    rows = api(world.coordinator).get(ROLES, {"unit": world.town.pk}).json()["results"]
    assert [r["user"] for r in rows] == [world.town_manager.pk]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 403),
        ("station_manager", 403),
        ("town_manager", 403),  # managers never grant
        ("coordinator", 201),
        # Not an account they manage: answered exactly as an unknown account id is.
        ("other_coordinator", 400),
        (SUPER, 201),
    ],
)
def test_grant_a_role_permissions(world: World, api: Api, who: str | None, status: int):
    body = {"user": world.recruit.pk, "unit": world.town2.pk, "role": "manager"}
    response = api(user_of(world, who)).post(ROLES, body)
    assert response.status_code == status, response.content
    granted = RoleAssignment.objects.filter(user=world.recruit, unit=world.town2)
    if status == 201:
        data = response.json()
        assert data["id"] == granted.get().pk
        assert data["unit_name"] == "二镇所"
        assert data["granted_by"] == user_of(world, who).pk
        # The new manager now sees the unit's statistics.
        fresh = User.objects.get(pk=world.recruit.pk)
        assert api(fresh).get(unit_url(world.town2, "stats/")).status_code == 200
    else:
        error(response, status)
        assert not granted.exists()


def test_a_coordinator_grants_on_a_unit_deep_in_their_area(world: World, api: Api):
    body = {"user": world.recruit.pk, "unit": world.point.pk, "role": "coordinator"}
    assert api(world.coordinator).post(ROLES, body).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": "norole", "unit": "town", "role": "boss"}, "role"),
        ({"user": 999999, "unit": "town", "role": "manager"}, "user"),
        ({"user": "norole", "unit": 999999, "role": "manager"}, "unit"),
    ],
)
def test_grant_validates_its_input(world: World, api: Api, body: dict[str, Any], field: str):
    data = {
        "user": world.recruit.pk if body["user"] == "norole" else body["user"],
        "unit": world.town.pk if body["unit"] == "town" else body["unit"],
        "role": body["role"],
    }
    assert list(error(api(world.coordinator).post(ROLES, data), 400)["detail"]) == [field]


def test_the_same_grant_twice_is_400(world: World, api: Api):
    body = {"user": world.town_manager.pk, "unit": world.town.pk, "role": "manager"}
    error(api(world.coordinator).post(ROLES, body), 400)
    assert RoleAssignment.objects.filter(user=world.town_manager).count() == 1


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 404),
        ("station_manager", 403),
        ("town_manager", 403),
        ("coordinator", 204),
        ("other_coordinator", 404),
        (SUPER, 204),
    ],
)
def test_revoke_a_role_permissions(world: World, api: Api, who: str | None, status: int):
    assignment = RoleAssignment.objects.get(user=world.station_manager)
    response = api(user_of(world, who)).delete(f"{ROLES}{assignment.pk}/")
    assert response.status_code == status
    assert RoleAssignment.objects.filter(pk=assignment.pk).exists() == (status != 204)
    if status == 204:
        fresh = User.objects.get(pk=world.station_manager.pk)
        error(api(fresh).get(unit_url(world.station, "stats/")), 404)
    else:
        error(response, status)


def test_nobody_revokes_their_own_role(world: World, api: Api):
    own = RoleAssignment.objects.get(user=world.coordinator)
    body = error(api(world.coordinator).delete(f"{ROLES}{own.pk}/"), 400, "own_role")
    assert body["message"]
    assert RoleAssignment.objects.filter(pk=own.pk).exists()


# --- users -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (NO_ROLE, set()),
        ("station_manager", set()),
        ("town_manager", set()),  # managers manage no accounts
        ("coordinator", {"coord", "townmgr", "stationmgr", "recruit"}),
        ("other_coordinator", {"othercoord"}),
        (SUPER, {"root", "coord", "townmgr", "stationmgr", "othercoord", "norole", "recruit"}),
    ],
)
def test_user_list_shows_the_accounts_the_caller_manages(
    world: World, api: Api, who: str, expected: set[str]
):
    response = api(user_of(world, who)).get(USERS)
    assert response.status_code == 200
    assert {r["username"] for r in response.json()["results"]} == expected


def test_user_list_includes_accounts_the_caller_created(world: World, api: Api):
    services.user_create(actor=world.coordinator, username="zhangsan", password=STRONG)
    mine = {r["username"] for r in api(world.coordinator).get(USERS).json()["results"]}
    assert "zhangsan" in mine
    theirs = {r["username"] for r in api(world.other_coordinator).get(USERS).json()["results"]}
    assert "zhangsan" not in theirs


def test_user_rows_show_roles_and_hide_phone_and_password(world: World, api: Api):
    services.user_update(
        actor=world.coordinator, user=world.town_manager, data={"phone": "13812345678"}
    )
    response = api(world.coordinator).get(f"{USERS}{world.town_manager.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["phone_masked"] == "138****5678"
    assert "phone" not in body
    assert "password" not in body
    assert "13812345678" not in response.content.decode()
    assert body["roles"] == [
        {
            "id": RoleAssignment.objects.get(user=world.town_manager).pk,
            "unit": world.town.pk,
            "unit_name": "一镇所",
            "role": "manager",
        }
    ]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 403),
        ("station_manager", 403),
        ("town_manager", 403),
        ("coordinator", 201),
        ("other_coordinator", 201),
        (SUPER, 201),
    ],
)
def test_create_an_account_permissions(world: World, api: Api, who: str | None, status: int):
    body = {"username": "zhangsan", "name": "张三", "password": STRONG}
    response = api(user_of(world, who)).post(USERS, body)
    assert response.status_code == status, response.content
    created = User.objects.filter(username="zhangsan").first()
    if status == 201:
        assert created is not None
        assert created.check_password(STRONG)
        assert created.created_by == user_of(world, who)
        assert response.json()["id"] == created.pk
        assert "password" not in response.json()
    else:
        error(response, status)
        assert created is None


def test_create_an_account_with_a_role_and_a_phone(world: World, api: Api):
    body = {
        "username": "zhangsan",
        "name": "张三",
        "phone": "+86 139-8765-4321",
        "password": STRONG,
        "unit": world.town2.pk,
        "role": "manager",
    }
    response = api(world.coordinator).post(USERS, body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["phone_masked"] == "139****4321"
    assert "13987654321" not in response.content.decode()
    assert [(r["unit"], r["unit_name"], r["role"]) for r in data["roles"]] == [
        (world.town2.pk, "二镇所", "manager")
    ]
    user = User.objects.get(username="zhangsan")
    assert user.phone == "13987654321"  # normalized to 11 digits
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM practice_user WHERE id = %s", [user.pk])
        raw = cursor.fetchone()[0]
    assert raw
    assert "13987654321" not in raw
    assert "4321" not in raw  # encrypted, not just masked


def test_an_account_cannot_get_a_role_outside_the_creators_area(world: World, api: Api):
    body = {"username": "zhangsan", "password": STRONG, "unit": world.other_town.pk}
    body["role"] = "manager"
    error(api(world.coordinator).post(USERS, body), 403)
    assert not User.objects.filter(username="zhangsan").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "zhangsan", "password": "12345"}, "password"),
        ({"username": "zhangsan", "password": "password1234"}, "password"),
        ({"username": "zhangsan"}, "password"),
        ({"username": "zhangsan", "password": STRONG, "phone": "12345"}, "phone"),
        ({"username": "townmgr", "password": STRONG}, "username"),
        ({"username": "", "password": STRONG}, "username"),
        ({"username": "zhangsan", "password": STRONG, "role": "manager"}, "role"),
    ],
)
def test_create_an_account_validates_its_input(
    world: World, api: Api, body: dict[str, str], field: str
):
    response = api(world.coordinator).post(USERS, body)
    assert field in error(response, 400)["detail"]
    assert not User.objects.filter(username="zhangsan").exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 404),
        ("station_manager", 404),
        ("town_manager", 404),  # not even their own account: managers manage no accounts
        ("coordinator", 200),
        ("other_coordinator", 404),
        (SUPER, 200),
    ],
)
def test_disable_an_account_permissions(world: World, api: Api, who: str | None, status: int):
    key = Token.objects.create(user=world.town_manager).key
    response = api(user_of(world, who)).patch(
        f"{USERS}{world.town_manager.pk}/", {"is_active": False}
    )
    assert response.status_code == status, response.content
    world.refresh()
    if status == 200:
        assert response.json()["is_active"] is False
        assert not world.town_manager.is_active
        # The account's API token stops working, and no new one is issued.
        error(APIClient(HTTP_AUTHORIZATION=f"Token {key}").get(f"{USERS}me/"), 401)
        login = {"username": "townmgr", "password": PASSWORD}
        error(api().post("/api/v1/auth/token/", login), 400, "invalid_credentials")
    else:
        error(response, status)
        assert world.town_manager.is_active
        assert Token.objects.filter(key=key).exists()


def test_nobody_disables_their_own_account(world: World, api: Api):
    response = api(world.coordinator).patch(f"{USERS}{world.coordinator.pk}/", {"is_active": False})
    error(response, 400, "own_account")
    world.refresh()
    assert world.coordinator.is_active


def test_edit_an_account(world: World, api: Api):
    response = api(world.coordinator).patch(
        f"{USERS}{world.town_manager.pk}/", {"name": "李四", "phone": "13700001111"}
    )
    assert response.status_code == 200
    assert response.json()["name"] == "李四"
    assert response.json()["phone_masked"] == "137****1111"
    assert response.json()["roles"][0]["unit_name"] == "一镇所"


@pytest.mark.parametrize("field", ["username", "unit", "role"])
def test_username_and_roles_are_not_changed_through_the_account(world: World, api: Api, field: str):
    value = {"username": "li", "unit": world.town2.pk, "role": "coordinator"}[field]
    response = api(world.coordinator).patch(f"{USERS}{world.town_manager.pk}/", {field: value})
    assert list(error(response, 400)["detail"]) == [field]


@pytest.mark.parametrize(
    ("who", "roles"),
    [
        (NO_ROLE, []),
        ("town_manager", [("一镇所", "manager")]),
        ("coordinator", [("甲县中心", "coordinator")]),
    ],
)
def test_me(world: World, api: Api, who: str, roles: list[tuple[str, str]]):
    user = getattr(world, who)
    response = api(user).get(f"{USERS}me/")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["username"]) == (user.pk, user.username)
    assert [(r["unit_name"], r["role"]) for r in body["roles"]] == roles
    for role in body["roles"]:
        assert set(role) == {"id", "unit", "unit_name", "role"}


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (ANON, 401),
        (NO_ROLE, 404),
        ("station_manager", 404),
        ("town_manager", 404),
        ("coordinator", 200),
        ("other_coordinator", 404),
        (SUPER, 200),
    ],
)
def test_read_an_account_permissions(world: World, api: Api, who: str | None, status: int):
    response = api(user_of(world, who)).get(f"{USERS}{world.station_manager.pk}/")
    assert response.status_code == status
    if status == 200:
        assert response.json()["username"] == "stationmgr"
    else:
        error(response, status)


def test_an_account_outside_the_area_is_404(world: World, api: Api):
    error(api(world.coordinator).get(f"{USERS}{world.other_coordinator.pk}/"), 404)


# --- audit -------------------------------------------------------------------------------


def _write(world: World, name: str) -> tuple[str, str, dict[str, Any]]:
    station_role = RoleAssignment.objects.get(user=world.station_manager)
    return {
        "unit.created": ("post", UNITS, {"name": "x", "kind": "point", "parent": world.town.pk}),
        "unit.changed": ("patch", unit_url(world.town), {"address": "x"}),
        "unit.moved": ("patch", unit_url(world.point), {"parent": world.town.pk}),
        "unit.deactivated": ("patch", unit_url(world.point), {"is_active": False}),
        "unit.deleted": ("delete", unit_url(world.point), {}),
        "role.granted": (
            "post",
            ROLES,
            {"user": world.recruit.pk, "unit": world.town.pk, "role": "manager"},
        ),
        "role.revoked": ("delete", f"{ROLES}{station_role.pk}/", {}),
        "user.created": ("post", USERS, {"username": "zhangsan", "password": STRONG}),
        "user.changed": ("patch", f"{USERS}{world.town_manager.pk}/", {"name": "x"}),
    }[name]


AUDITED = [
    "unit.created",
    "unit.changed",
    "unit.moved",
    "unit.deactivated",
    "unit.deleted",
    "role.granted",
    "role.revoked",
    "user.created",
    "user.changed",
]


@pytest.mark.parametrize("action", AUDITED)
def test_every_write_leaves_an_audit_entry(world: World, api: Api, action: str):
    method, url, body = _write(world, action)
    response = getattr(api(world.coordinator), method)(url, body)
    assert response.status_code in (200, 201, 204), response.content
    entries = list(AuditEntry.objects.all())
    assert [(e.action, e.actor) for e in entries] == [(action, world.coordinator)]


@pytest.mark.parametrize("action", AUDITED)
def test_a_refused_write_leaves_no_audit_entry(world: World, api: Api, action: str):
    method, url, body = _write(world, action)
    # Any coordinator creates accounts: refuse that one to a manager.
    who = world.town_manager if action == "user.created" else world.other_coordinator
    response = getattr(api(who), method)(url, body)
    # 400 for a grant: an account the caller does not manage is answered as an unknown id.
    assert response.status_code in (400, 403, 404), response.content
    assert not AuditEntry.objects.exists()


# --- query counts ------------------------------------------------------------------------


def _county(name: str, towns: int, stations: int) -> NodeSpec:
    return NodeSpec.from_mapping(
        {
            "name": name,
            "kind": "centre",
            "children": [
                {
                    "name": f"{name}{t:02d}所",
                    "kind": "institute",
                    "children": [
                        {"name": f"{name}{t:02d}所{s:02d}站", "kind": "station"}
                        for s in range(stations)
                    ],
                }
                for t in range(towns)
            ],
        }
    )


@pytest.fixture
def sized(world: World) -> dict[int, Unit]:
    """Two more counties: 5 units and 211 units; ``coordinator`` also coordinates both."""
    small = services.unit_import_tree(
        actor=world.superuser, parent=None, spec=_county("小县", towns=1, stations=3)
    )[0]
    big = services.unit_import_tree(
        actor=world.superuser, parent=None, spec=_county("大县", towns=10, stations=20)
    )[0]
    for county in (small, big):
        RoleFactory(user=world.coordinator, unit=county, role=Role.COORDINATOR)
    world.refresh()
    return {5: small, 200: big}


QUERIES_FOR_LIST = {ANON: 4, "coordinator": 5, SUPER: 4}


@pytest.mark.parametrize("rows", [5, 200])
@pytest.mark.parametrize("who", list(QUERIES_FOR_LIST))
def test_unit_list_queries_do_not_grow_with_the_rows(
    world: World,
    api: Api,
    sized: dict[int, Unit],
    django_assert_num_queries: Any,
    rows: int,
    who: str | None,
):
    client = api(user_of(world, who))
    with django_assert_num_queries(QUERIES_FOR_LIST[who]):
        response = client.get(UNITS, {"within": sized[rows].pk, "page_size": 200})
    results = response.json()["results"]
    assert len(results) == rows
    assert results[-1]["path"][0] == sized[rows].name


def test_page_size_is_capped_at_200(world: World, api: Api, sized: dict[int, Unit]):
    body = api().get(UNITS, {"page_size": 1000}).json()
    assert body["count"] == 10 + 5 + 211
    assert len(body["results"]) == 200
    assert body["next"] is not None


@pytest.mark.parametrize("unit", ["small", "big", "deep"])
def test_unit_detail_queries_are_constant(
    world: World,
    api: Api,
    sized: dict[int, Unit],
    django_assert_num_queries: Any,
    unit: str,
):
    target = {"small": sized[5], "big": sized[200], "deep": world.point}[unit]
    client = api(world.coordinator)
    # grants, the unit, and (below a root) its ancestors in one recursive query
    with django_assert_num_queries(2 if target.parent_id is None else 3):
        assert client.get(unit_url(target)).status_code == 200


@pytest.mark.parametrize("size", [5, 200])
def test_stats_queries_are_constant(
    world: World,
    api: Api,
    sized: dict[int, Unit],
    django_assert_num_queries: Any,
    size: int,
):
    client = api(world.coordinator)
    # grants, unit, unit counts; volunteers, teams, hours; activity summary by platform,
    # platforms, by month, by child; participants; requests
    with django_assert_num_queries(10):
        response = client.get(unit_url(sized[size], "stats/"))
    assert response.json()["units"]["station"] == {5: 3, 200: 200}[size]


@pytest.mark.parametrize("extra", [0, 40])
def test_role_and_user_lists_queries_are_constant(
    world: World,
    api: Api,
    django_assert_num_queries: Any,
    extra: int,
):
    for i in range(extra):
        user = UserFactory(username=f"m{i:03d}")
        RoleFactory(user=user, unit=world.station if i % 2 else world.town2)
        RoleFactory(user=user, unit=world.point, role=Role.COORDINATOR, granted_by=world.superuser)
    client = api(world.coordinator)
    with django_assert_num_queries(3):
        roles = client.get(ROLES, {"page_size": 200}).json()
    assert roles["count"] == 3 + 2 * extra
    client = api(User.objects.get(pk=world.coordinator.pk))
    with django_assert_num_queries(4):
        users = client.get(USERS, {"page_size": 200}).json()
    assert users["count"] == 4 + extra
    assert all(len(u["roles"]) == 2 for u in users["results"] if u["username"].startswith("m"))


def test_the_written_out_unit_representation_equals_drfs_generic_one(world: World) -> None:
    """``UnitSerializer.to_representation`` reads the fields directly (speed); it must give
    exactly what DRF's generic per-field path gives, for every kind of unit."""
    from decimal import Decimal

    from rest_framework import serializers as drf

    from practice.api.serializers import UnitSerializer

    Unit.objects.filter(pk=world.station.pk).update(
        latitude=Decimal("24.5"), longitude=Decimal("117.123456"), contact_phone="0596-7850992"
    )
    Unit.objects.filter(pk=world.point.pk).update(is_active=False)
    from practice.api.serializers import UNIT_READ_FIELDS, UnitListRow
    from practice.selectors import active_below

    units = list(Unit.objects.annotate(active_below=active_below()).order_by("tree_id", "lft"))
    rows = list(
        Unit.objects.annotate(active_below=active_below())
        .order_by("tree_id", "lft")
        .values(*UNIT_READ_FIELDS, "active_below")
    )
    assert len(units) == len(rows) == 10
    for unit, row in zip(units, rows, strict=True):
        serializer = UnitSerializer(unit)
        fast = serializer.to_representation(unit)
        generic = drf.ModelSerializer.to_representation(serializer, unit)
        assert fast == generic, unit
        assert list(fast) == list(generic), unit
        # The list's plain rows give the same too.
        listed = UnitSerializer(context={}).to_representation(UnitListRow(**row))
        assert listed == generic, unit


def test_the_public_lists_count_is_kept_per_filter_until_the_network_changes(
    world: World, api: Api, django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from practice import services

    def listed(client: Any, **params: Any) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            body = client.get("/api/v1/units/", {"page_size": 2, **params}).json()
        counts = [q for q in ctx.captured_queries if q["sql"].startswith("SELECT COUNT(*)")]
        return body["count"], len(counts)

    anonymous = api()
    assert listed(anonymous) == (10, 1)
    assert listed(anonymous) == (10, 0)  # kept
    assert listed(anonymous, page=2) == (10, 0)  # the page is not part of it
    assert listed(anonymous, kind="station") == (4, 1)  # each filter has its own
    assert listed(anonymous, kind="station") == (4, 0)
    with django_capture_on_commit_callbacks(execute=True):
        services.unit_create(
            actor=world.coordinator, parent=world.town2, name="四村站", kind="station"
        )
    assert listed(anonymous) == (11, 1)  # a write: counted again, once
    assert listed(anonymous, kind="station") == (5, 1)
    # Staff see their own scope (inactive units too): always counted.
    staff = api(world.coordinator)
    assert listed(staff)[1] == 1
    assert listed(staff)[1] == 1
