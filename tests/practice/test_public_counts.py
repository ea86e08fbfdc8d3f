"""What residents meet: figures that count only what they can see, and a closed unit's page.

* Every public figure of units below a unit (the tree page, the API's
  ``descendant_count``, the dashboard's cards, the move page) counts active units only;
  staff in scope may also read "(n inactive)". Pages keep a fixed number of queries.
* A deactivated unit's address (printed as a QR code on its door) answers 410 with a page
  saying it is closed, naming the nearest active unit above it and open places nearby —
  the nearest located ones when it has coordinates, else its active siblings.
"""

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from practice import services
from practice.choices import Role, UnitKind
from practice.models import Unit, User
from practice.tree import NodeSpec
from tests.conftest import World
from tests.factories import RoleFactory

pytestmark = pytest.mark.django_db


def _english(client: Any) -> Any:
    client.cookies["django_language"] = "en"
    return client


def _county(admin: User, name: str, *, towns: int, stations: int) -> Unit:
    spec = {
        "name": name,
        "kind": UnitKind.CENTRE,
        "children": [
            {
                "name": f"{name}{t:02d}镇",
                "kind": UnitKind.INSTITUTE,
                "children": [
                    {"name": f"{name}{t:02d}镇{s:02d}村", "kind": UnitKind.STATION}
                    for s in range(stations)
                ],
            }
            for t in range(towns)
        ],
    }
    return services.unit_import_tree(actor=admin, parent=None, spec=NodeSpec.from_mapping(spec))[0]


@pytest.fixture
def point_closed(world: World) -> World:
    """一村点 (under 一村站, under 一镇所) is inactive: 甲县中心 has 5 active units below."""
    services.unit_set_active(actor=world.coordinator, unit=world.point, active=False)
    world.refresh()
    return world


# --- public figures ------------------------------------------------------------------------


def test_the_tree_counts_only_active_units_for_the_public(point_closed: World, client: Any):
    html = client.get(f"/units/?within={point_closed.centre.pk}").content.decode()
    assert "一村点" not in html
    assert "5个下级单位" in html  # 甲县中心: 2 towns, 3 stations — not 6
    assert "2个下级单位" in html  # 一镇所: its 2 stations — not 3
    assert "6个下级单位" not in html and "3个下级单位" not in html
    # 一村站 is shown as a leaf (depth 2): nothing public lies below it any more.
    assert "还有1个下级单位" not in html
    assert "inactive" not in html and "已停用" not in html


def test_staff_in_scope_also_read_how_many_are_inactive(point_closed: World, browser_client: Any):
    url = f"/units/?within={point_closed.centre.pk}"
    html = _english(browser_client(point_closed.coordinator)).get(url).content.decode()
    assert "5 sub-units (1 inactive)" in html
    assert "2 sub-units (1 inactive)" in html
    assert "0 more below (1 inactive)" in html  # 一村站: only its inactive point below
    # Staff of another county see the public figures of this one, nothing more.
    html = _english(browser_client(point_closed.other_coordinator)).get(url).content.decode()
    assert "5 sub-units" in html and "inactive" not in html


# Logged in: + the header's unread inbox count (cached after the first page).
@pytest.mark.parametrize(("who", "queries"), [(None, 2), ("coordinator", 6)])
@pytest.mark.parametrize("stations", [2, 40])
def test_tree_figures_cost_no_query_per_node(
    world: World,
    browser_client: Any,
    django_assert_num_queries: Any,
    who: str | None,
    queries: int,
    stations: int,
):
    county = _county(world.superuser, "丙县", towns=5, stations=stations)
    RoleFactory(user=world.coordinator, unit=county, role=Role.COORDINATOR)
    first = Unit.objects.get(name="丙县00镇00村")
    services.unit_set_active(actor=world.superuser, unit=first, active=False)
    client = browser_client(getattr(world, who) if who else None)
    with django_assert_num_queries(queries):
        response = client.get(f"/units/?within={county.pk}")
    html = response.content.decode()
    assert f"{5 * (stations + 1) - 1}个下级单位" in html


def test_the_api_descendant_count_is_the_public_figure(point_closed: World, api: Any):
    w = point_closed
    assert api().get(f"/api/v1/units/{w.town.pk}/").json()["descendant_count"] == 2
    listed = api().get("/api/v1/units/", {"within": w.centre.pk}).json()["results"]
    assert {u["name"]: u["descendant_count"] for u in listed} == {
        "甲县中心": 5,
        "一镇所": 2,
        "一村站": 0,
        "二村站": 0,
        "二镇所": 1,
        "三村站": 0,
    }
    # Staff read the same figure (their inactive units are listed, with is_active false).
    staff = api(w.coordinator).get(f"/api/v1/units/{w.town.pk}/").json()
    assert staff["descendant_count"] == 2
    # A write answers the same figure as a read (not annotated: counted on the spot).
    patched = api(w.coordinator).patch(f"/api/v1/units/{w.town.pk}/", {"address": "一镇"})
    assert patched.status_code == 200
    assert patched.json()["descendant_count"] == 2


def test_the_dashboard_counts_active_units_and_tells_staff_the_inactive_ones(
    point_closed: World, browser_client: Any, django_assert_max_num_queries: Any
):
    client = _english(browser_client(point_closed.coordinator))
    with django_assert_max_num_queries(6):
        html = client.get("/dashboard/").content.decode()
    assert "5 units below (1 inactive)" in html


def test_the_move_page_says_what_moves(point_closed: World, browser_client: Any):
    client = _english(browser_client(point_closed.coordinator))
    html = client.get(reverse("unit-move", args=[point_closed.town.pk])).content.decode()
    assert "Its 2 sub-units move with it." in html
    assert "Its 1 inactive sub-unit moves with it as well." in html


# --- a closed unit's page ------------------------------------------------------------------


def _closed(world: World, unit: Unit) -> Unit:
    services.unit_set_active(actor=world.coordinator, unit=unit, active=False)
    unit.refresh_from_db()
    return unit


@pytest.mark.parametrize("who", [None, "no_role", "other_coordinator"])
def test_a_closed_station_tells_residents_where_to_go(
    world: World, browser_client: Any, who: str | None
):
    closed = _closed(world, world.station2)
    response = browser_client(getattr(world, who) if who else None).get(f"/units/{closed.pk}/")
    assert response.status_code == 410
    assert response.templates[0].name == "practice/unit_closed.html"
    html = response.content.decode()
    assert "二村站" in html and 'name="robots" content="noindex"' in html
    assert f'href="/units/{world.town.pk}/"' in html  # the unit above it
    assert f'href="/units/{world.station.pk}/"' in html  # its open sibling
    # No staff data: no actions, no audit trail, no contact person of the closed unit.
    assert "unit-actions" not in html and "audit" not in html
    assert response.context["parent"] == world.town
    assert [p.name for p in response.context["places"]] == ["一村站"]


def test_staff_in_scope_keep_the_full_view_of_a_closed_unit(world: World, browser_client: Any):
    closed = _closed(world, world.station2)
    response = browser_client(world.town_manager).get(f"/units/{closed.pk}/")
    assert response.status_code == 200
    assert "unit-actions" in response.content.decode()


def test_the_nearest_open_places_come_first(world: World, client: Any):
    located = {
        world.station2: ("26.000000", "119.000000"),  # the one that closes
        world.station: ("26.010000", "119.000000"),  # 1.1 km north
        world.station3: ("26.000000", "119.050000"),  # 5.0 km east
        world.point: ("26.200000", "119.200000"),  # 29.9 km
        world.town2: ("26.000000", "119.000100"),  # an institute, not a place to send to
        world.other_station: ("26.000000", "119.000100"),  # another county's tree
    }
    for unit, (lat, lon) in located.items():
        services.unit_update(
            actor=world.superuser,
            unit=unit,
            data={"latitude": Decimal(lat), "longitude": Decimal(lon)},
        )
    _closed(world, Unit.objects.get(pk=world.station2.pk))
    response = _english(client).get(f"/units/{world.station2.pk}/")
    places = response.context["places"]
    assert [p.name for p in places] == ["一村站", "三村站", "一村点"]
    assert [round(p.distance_km, 1) for p in places] == [1.1, 5.0, 29.9]
    html = response.content.decode()
    assert "about 1.1 km" in html and "Open places nearby" in html


def test_an_inactive_place_is_never_suggested(world: World, client: Any):
    for unit, lat in ((world.station2, "26.0"), (world.station, "26.01"), (world.station3, "26.5")):
        services.unit_update(
            actor=world.superuser,
            unit=unit,
            data={"latitude": Decimal(lat), "longitude": Decimal("119")},
        )
    services.unit_set_active(actor=world.superuser, unit=world.point, active=False)
    _closed(world, Unit.objects.get(pk=world.station.pk))
    _closed(world, Unit.objects.get(pk=world.station2.pk))
    places = client.get(f"/units/{world.station2.pk}/").context["places"]
    assert [p.name for p in places] == ["三村站"]


def test_in_a_closed_subtree_the_page_points_to_the_nearest_open_unit_above(
    world: World, client: Any
):
    services.unit_deactivate_subtree(actor=world.coordinator, unit=world.town)
    response = client.get(f"/units/{world.station2.pk}/")
    assert response.status_code == 410
    assert response.context["parent"] == world.centre
    assert [p.name for p in response.context["places"]] == ["二镇所"]


@pytest.mark.parametrize("located", [False, True])
@pytest.mark.parametrize("stations", [2, 40])
def test_the_closed_page_costs_the_same_whatever_the_tree(
    world: World,
    client: Any,
    django_assert_num_queries: Any,
    located: bool,
    stations: int,
):
    county = _county(world.superuser, "丁县", towns=3, stations=stations)
    target = Unit.objects.get(name="丁县01镇01村")
    if located:
        for i, unit in enumerate(Unit.objects.within(county).filter(kind=UnitKind.STATION)):
            unit.latitude, unit.longitude = Decimal("26") + Decimal(i) / 100, Decimal("119")
            unit.save(update_fields=["latitude", "longitude"])
    services.unit_set_active(actor=world.superuser, unit=target, active=False)
    # The unit, its ancestors (one recursive query), the places.
    with django_assert_num_queries(3):
        response = client.get(f"/units/{target.pk}/")
    assert response.status_code == 410
    # Located: the 3 nearest; else the open siblings, at most 9.
    assert len(response.context["places"]) == (3 if located else min(stations - 1, 9))
    assert all((p.distance_km is not None) == located for p in response.context["places"])


def test_an_unknown_unit_is_still_404_and_the_api_keeps_its_rules(world: World, api: Any, client):
    assert client.get("/units/999999/").status_code == 404
    closed = _closed(world, world.station2)
    assert api().get(f"/api/v1/units/{closed.pk}/").status_code == 404
    assert api(world.other_coordinator).get(f"/api/v1/units/{closed.pk}/").status_code == 404
