"""Deactivating a whole subtree in one action: the service, the confirmation page, the API.

The rule is deactivating's (``change``): a role on the unit or above it. The confirmation
says how many active units go; if that number changed meanwhile, nothing happens and the
page asks again with the new number.
"""

from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from portal.errors import Conflict, NotFound
from practice import services
from practice.choices import AuditAction, UnitKind
from practice.models import AuditEntry, Unit, User
from practice.tree import NodeSpec
from tests.conftest import World

pytestmark = pytest.mark.django_db

WHO = [
    "no_role",
    "station_manager",
    "town_manager",
    "coordinator",
    "other_coordinator",
    "superuser",
]
# Who may deactivate 一镇所 and everything below it; the others do not see it as staff (404).
ALLOWED = {"town_manager", "coordinator", "superuser"}


def _english(client: Any) -> Any:
    client.cookies["django_language"] = "en"
    return client


def _active(unit: Unit) -> list[str]:
    return sorted(Unit.objects.within(unit).filter(is_active=True).values_list("name", flat=True))


def _county(admin: User, *, stations: int) -> Unit:
    spec = {
        "name": "戊县",
        "kind": UnitKind.CENTRE,
        "children": [
            {
                "name": "戊县镇",
                "kind": UnitKind.INSTITUTE,
                "children": [
                    {"name": f"戊县村{s:03d}", "kind": UnitKind.STATION} for s in range(stations)
                ],
            }
        ],
    }
    return services.unit_import_tree(actor=admin, parent=None, spec=NodeSpec.from_mapping(spec))[0]


# --- the service ---------------------------------------------------------------------------


def test_a_manager_deactivates_their_town_and_everything_below(world: World):
    services.unit_set_active(actor=world.coordinator, unit=world.point, active=False)
    count = services.unit_deactivate_subtree(actor=world.town_manager, unit=world.town)
    assert count == 3  # 一镇所, 一村站, 二村站 (一村点 was inactive already)
    assert _active(world.town) == []
    assert _active(world.centre) == ["三村站", "二镇所", "甲县中心"]
    entry = AuditEntry.objects.get(action=AuditAction.UNIT_DEACTIVATED, unit=world.town)
    assert entry.actor == world.town_manager
    assert entry.changes == {"units": 3}
    # Only one entry for the whole subtree (plus the earlier one for the point).
    assert AuditEntry.objects.filter(action=AuditAction.UNIT_DEACTIVATED).count() == 2


def test_nothing_left_to_deactivate_changes_nothing(world: World):
    services.unit_deactivate_subtree(actor=world.coordinator, unit=world.town)
    entries = AuditEntry.objects.count()
    assert services.unit_deactivate_subtree(actor=world.coordinator, unit=world.town) == 0
    assert AuditEntry.objects.count() == entries


def test_a_changed_count_refuses_and_changes_nothing(world: World):
    with pytest.raises(Conflict) as refused:
        services.unit_deactivate_subtree(actor=world.coordinator, unit=world.town, expected=3)
    assert refused.value.code == "count_changed" and refused.value.status_code == 409
    assert "4" in str(refused.value.message)
    assert len(_active(world.town)) == 4
    assert not AuditEntry.objects.filter(action=AuditAction.UNIT_DEACTIVATED).exists()
    assert services.unit_deactivate_subtree(actor=world.coordinator, unit=world.town, expected=4)


@pytest.mark.parametrize("who", ["no_role", "station_manager", "other_coordinator"])
def test_outside_the_scope_the_unit_is_not_found(world: World, who: str):
    with pytest.raises(NotFound):
        services.unit_deactivate_subtree(actor=getattr(world, who), unit=world.town)
    assert len(_active(world.town)) == 4


@pytest.mark.parametrize("stations", [3, 150])
def test_the_service_costs_the_same_whatever_the_subtree(
    world: World, django_assert_num_queries: Any, stations: int
):
    county = _county(world.superuser, stations=stations)
    # The savepoint, the unit read and read again under the lock (on PostgreSQL, plus the
    # two advisory locks), one UPDATE, one INSERT, the release.
    locks = 2 if connection.vendor == "postgresql" else 0
    with django_assert_num_queries(6 + locks):
        count = services.unit_deactivate_subtree(actor=world.superuser, unit=county)
    assert count == stations + 2


# --- the page ------------------------------------------------------------------------------


def test_the_page_permission_matrix(world: World, browser_client: Any):
    url = reverse("unit-deactivate-subtree", args=[world.town.pk])
    anonymous = browser_client(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert browser_client(None).post(url, {"expected": "4"}).status_code == 302
    for who in WHO:
        client = browser_client(getattr(world, who))
        expected = 200 if who in ALLOWED else 404
        assert client.get(url).status_code == expected, who
        if who not in ALLOWED:
            assert client.post(url, {"expected": "4"}).status_code == 404, who
    assert len(_active(world.town)) == 4


def test_the_page_says_how_many_units_go_then_deactivates_them(world: World, browser_client):
    client = _english(browser_client(world.town_manager))
    url = reverse("unit-deactivate-subtree", args=[world.town.pk])
    html = client.get(url).content.decode()
    assert "4 units will be deactivated" in html
    assert 'name="expected" value="4"' in html
    assert "onsubmit" not in html and "onclick" not in html and "<script>" not in html
    response = client.post(url, {"expected": "4"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/units/{world.town.pk}/"
    assert "4 units were deactivated" in response.content.decode()
    assert _active(world.town) == []


@pytest.mark.parametrize("posted", ["3", "", "4.0", "x"])
def test_a_stale_or_missing_confirmation_asks_again(world: World, browser_client: Any, posted: str):
    client = _english(browser_client(world.coordinator))
    url = reverse("unit-deactivate-subtree", args=[world.town.pk])
    response = client.post(url, {"expected": posted})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="alert alert-danger"' in html
    assert 'name="expected" value="4"' in html  # the number as it is now
    assert len(_active(world.town)) == 4


def test_the_unit_page_offers_the_subtree_action_when_units_below_are_active(
    world: World, browser_client: Any
):
    client = browser_client(world.coordinator)
    town = client.get(f"/units/{world.town.pk}/").content.decode()
    assert reverse("unit-deactivate-subtree", args=[world.town.pk]) in town
    assert reverse("unit-deactivate", args=[world.town.pk]) not in town
    # A unit with nothing active below keeps the one-step form (confirmed by data-confirm).
    station2 = client.get(f"/units/{world.station2.pk}/").content.decode()
    assert reverse("unit-deactivate", args=[world.station2.pk]) in station2
    assert "data-confirm=" in station2
    assert reverse("unit-deactivate-subtree", args=[world.station2.pk]) not in station2
    # Staff without the change right see neither.
    other = browser_client(world.station_manager).get(f"/units/{world.town.pk}/")
    assert "deactivate" not in other.content.decode()


@pytest.mark.parametrize("stations", [3, 150])
def test_the_page_costs_the_same_whatever_the_subtree(
    world: World, browser_client: Any, django_assert_num_queries: Any, stations: int
):
    town = _county(world.superuser, stations=stations).get_children().get()
    client = browser_client(world.superuser)
    # session, user, the unit, its ancestors, the count (a superuser has no grants to read),
    # the header's unread inbox count (cached after the first page)
    with django_assert_num_queries(6):
        response = client.get(reverse("unit-deactivate-subtree", args=[town.pk]))
    assert response.context["count"] == stations + 1


# --- the API -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401)] + [(w, 200 if w in ALLOWED else 404) for w in WHO],
)
def test_the_api_permission_matrix(world: World, api: Any, who: str | None, status: int):
    client = api(getattr(world, who) if who else None)
    response = client.patch(
        f"/api/v1/units/{world.town.pk}/", {"is_active": False, "cascade": True}, format="json"
    )
    assert response.status_code == status, response.content
    if status == 200:
        assert response.json()["is_active"] is False
        assert response.json()["descendant_count"] == 0
        assert _active(world.town) == []
        assert AuditEntry.objects.get(unit=world.town).changes == {"units": 4}
    else:
        assert set(response.json()) == {"code", "message", "detail"}
        assert len(_active(world.town)) == 4


@pytest.mark.parametrize(
    ("unit", "body"),
    [
        ("town", {"cascade": True}),
        ("town", {"is_active": True, "cascade": True}),
        ("town", {"name": "一镇所", "cascade": True}),
    ],
)
def test_cascade_goes_only_with_deactivation(world: World, api_en: Any, unit: str, body: dict):
    response = api_en(world.coordinator).patch(
        f"/api/v1/units/{getattr(world, unit).pk}/", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "cascade" in response.json()["detail"]
    assert len(_active(world.town)) == 4


def test_cascade_is_refused_when_creating(world: World, api: Any):
    body = {"name": "新站", "kind": "station", "parent": world.town.pk, "cascade": True}
    response = api(world.coordinator).post("/api/v1/units/", body, format="json")
    assert response.status_code == 400 and "cascade" in response.json()["detail"]
    # "cascade": false says nothing, on a create as on an edit.
    response = api(world.coordinator).post(
        "/api/v1/units/", {**body, "cascade": False}, format="json"
    )
    assert response.status_code == 201
    response = api(world.coordinator).patch(
        f"/api/v1/units/{world.station2.pk}/",
        {"is_active": False, "cascade": False},
        format="json",
    )
    assert response.status_code == 200 and response.json()["is_active"] is False


def test_without_cascade_a_unit_with_active_sub_units_still_refuses(world: World, api: Any):
    response = api(world.coordinator).patch(
        f"/api/v1/units/{world.town.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "has_active_children"
