"""“Find my station” (/find/): by county and town, by name, nearest to the visitor; bad
input answered with a 400 and a message; cached for anonymous visitors; the same queries
whatever the size of the network. And the residents' block of the home page, and the
station page's “navigate here” links."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from practice import selectors
from practice.choices import UnitKind
from practice.models import Unit
from practice.views_find import INCOMPLETE, NEAR_LIMIT, UNREADABLE_POSITION
from tests.conftest import World
from tests.factories import UnitFactory
from tests.practice.forest import add_counties
from tests.querycount import queries_of

pytestmark = pytest.mark.django_db

FIND = "/find/"
PLACE_LINK = re.compile(r'class="find-place fw-semibold" href="/units/(\d+)/"')


def listed(response: Any) -> list[int]:
    """The places the page lists, in its order."""
    return [int(pk) for pk in PLACE_LINK.findall(response.content.decode())]


def locate(unit: Unit, lat: str, lon: str) -> None:
    Unit.objects.filter(pk=unit.pk).update(latitude=Decimal(lat), longitude=Decimal(lon))


# --- by county and town ------------------------------------------------------------------


def test_several_counties_are_chosen_first_then_the_town(world: World, client: Any) -> None:
    html = client.get(FIND).content.decode()
    assert 'id="find-county"' in html and 'id="find-town"' not in html
    assert "甲县中心" in html and "乙县中心" in html
    assert "data-autosubmit" in html and "<noscript>" in html

    html = client.get(FIND, {"county": world.centre.pk}).content.decode()
    assert f'<option value="{world.town.pk}"' in html
    assert f'<option value="{world.other_town.pk}"' not in html  # another county's town

    response = client.get(FIND, {"county": world.centre.pk, "town": world.town.pk})
    assert response.status_code == 200
    # The town's stations and their points, in tree order, each linking to its page.
    assert listed(response) == [world.station.pk, world.point.pk, world.station2.pk]
    assert f'href="{world.station.get_absolute_url()}"' in response.content.decode()


def test_a_town_of_another_county_or_an_unknown_one_lists_nothing(
    world: World, client: Any
) -> None:
    for town in (world.other_town.pk, 999_999):
        response = client.get(FIND, {"county": world.centre.pk, "town": town})
        assert response.status_code == 200 and listed(response) == []


def test_one_county_goes_straight_to_its_towns(world: World, client: Any) -> None:
    Unit.objects.filter(tree_id=world.other_centre.tree_id).update(is_active=False)
    html = client.get(FIND).content.decode()
    assert 'id="find-county"' not in html and 'id="find-town"' in html
    response = client.get(FIND, {"town": world.town2.pk})
    assert listed(response) == [world.station3.pk]


def test_inactive_places_are_not_listed(world: World, client: Any) -> None:
    Unit.objects.filter(pk=world.point.pk).update(is_active=False)
    response = client.get(FIND, {"county": world.centre.pk, "town": world.town.pk})
    assert listed(response) == [world.station.pk, world.station2.pk]


def test_the_town_list_is_paged(world: World, client: Any) -> None:
    from practice.views_find import PER_PAGE

    for n in range(PER_PAGE + 2):
        UnitFactory(name=f"新村{n:03d}站", kind=UnitKind.STATION, parent=world.town2)
    first = client.get(FIND, {"county": world.centre.pk, "town": world.town2.pk})
    assert len(listed(first)) == PER_PAGE
    assert "page=2" in first.content.decode()
    second = client.get(FIND, {"county": world.centre.pk, "town": world.town2.pk, "page": 2})
    assert len(listed(second)) == 3  # 三村站 and the last two new ones


# --- by name ----------------------------------------------------------------------------------


def test_search_finds_stations_and_points_by_name(world: World, client: Any) -> None:
    response = client.get(FIND, {"q": "村"})
    assert response.status_code == 200
    found = listed(response)
    assert set(found) == {
        world.station.pk,
        world.station2.pk,
        world.station3.pk,
        world.point.pk,
        world.other_station.pk,
    }
    # Institutes and centres are not places a resident goes to.
    assert listed(client.get(FIND, {"q": "镇所"})) == []
    # Where each is: its county and town.
    assert "甲县中心 › 一镇所" in response.content.decode()


def test_search_ignores_case_and_shows_when_nothing_matches(world: World, client: Any) -> None:
    UnitFactory(name="Riverside Point", kind=UnitKind.POINT, parent=world.station3)
    assert len(listed(client.get(FIND, {"q": "riverside"}))) == 1
    response = client.get(FIND, {"q": "没有这个站"})
    assert listed(response) == [] and 'id="find-none"' in response.content.decode()


# --- near me ---------------------------------------------------------------------------------


@pytest.fixture
def located(world: World) -> World:
    """Stations around 24.5N 117.5E, a point further, a town (not a place) on the spot, a
    station 300 km away and an inactive one close by."""
    locate(world.station, "24.520000", "117.500000")  # ~2.2 km north
    locate(world.station2, "24.500000", "117.505000")  # ~0.5 km east
    locate(world.station3, "24.560000", "117.560000")  # ~9 km
    locate(world.point, "24.600000", "117.600000")  # ~15 km
    locate(world.town, "24.500000", "117.500000")
    locate(world.other_station, "27.200000", "117.500000")  # ~300 km north
    closed = UnitFactory(name="关闭站", kind=UnitKind.STATION, parent=world.town2)
    Unit.objects.filter(pk=closed.pk).update(
        is_active=False, latitude=Decimal("24.500100"), longitude=Decimal("117.500100")
    )
    return world


def test_near_me_lists_the_nearest_active_places_by_distance(located: World, client: Any) -> None:
    w = located
    response = client.get(FIND, {"lat": "24.5", "lon": "117.5"})
    assert response.status_code == 200
    assert listed(response) == [w.station2.pk, w.station.pk, w.station3.pk, w.point.pk]
    places = response.context["places"]
    distances = [p.distance_km for p in places]
    assert distances == sorted(distances)
    assert 0.4 < distances[0] < 0.6 and 2.1 < distances[1] < 2.3
    html = response.content.decode()
    with translation.override("zh-hans"):
        shown = [gettext("%(km)s km") % {"km": km} for km in ("0.5", "2.2")]
    assert all(text in html for text in shown), shown


def test_near_me_is_bounded_in_number_and_distance(located: World, client: Any) -> None:
    for n in range(NEAR_LIMIT + 3):
        unit = UnitFactory(name=f"近村{n:02d}站", kind=UnitKind.STATION, parent=located.town2)
        locate(unit, f"24.5{n:02d}000", "117.500000")
    response = client.get(FIND, {"lat": "24.5", "lon": "117.5"})
    assert len(listed(response)) == NEAR_LIMIT
    # The far station is there for someone who stands beside it.
    assert listed(client.get(FIND, {"lat": "27.2", "lon": "117.5"})) == [located.other_station.pk]
    response = client.get(FIND, {"lat": "0", "lon": "0"})
    assert listed(response) == [] and 'id="find-none"' in response.content.decode()


def test_near_me_rounds_the_position(located: World, client: Any) -> None:
    response = client.get(FIND, {"lat": "24.5004999", "lon": "117.5000001"})
    assert response.status_code == 200
    assert response.context["form"].cleaned_data["lat"] == 24.5
    assert listed(response)[0] == located.station2.pk


def test_nearest_places_of_one_tree_for_a_closed_unit_page(located: World) -> None:
    """The closed unit page and /find/ share one nearest-place query."""
    places = selectors.nearest_places(27.2, 117.5, limit=3, tree_id=located.centre.tree_id)
    assert [p.pk for p in places][:1] == [located.point.pk]  # its own county's nearest
    assert located.other_station.pk not in [p.pk for p in places]


@pytest.mark.parametrize(
    "query",
    [
        {"lat": "abc", "lon": "117.5"},
        {"lat": "91", "lon": "117.5"},
        {"lat": "24.5", "lon": "-181"},
        {"lat": "24.5"},
        {"lon": "117.5"},
        {"lat": "nan", "lon": "inf"},
        {"lat": "1e999", "lon": "1"},
        {"town": "abc"},
        {"county": "-1"},
        {"q": "a\x00b"},
        {"q": "x" * 101},
    ],
)
def test_unusable_input_is_a_400_with_a_message(world: World, client: Any, query: Any) -> None:
    response = client.get(FIND, query)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="find-errors"' in html
    if "lat" in query or "lon" in query:
        # Says what went wrong (whichever the catalog), not just "enter a number".
        with translation.override("zh-hans"):
            assert str(UNREADABLE_POSITION) in html or str(INCOMPLETE) in html
    assert 'id="find-town"' in html or 'id="find-county"' in html  # the page still works


# --- caching and queries ------------------------------------------------------------------


def test_the_page_is_cached_for_anonymous_visitors(
    located: World, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    for url in (FIND, f"{FIND}?county={located.centre.pk}&town={located.town.pk}"):
        assert client.get(url)["X-Page-Cache"] == "miss"
        assert client.get(url)["X-Page-Cache"] == "hit"
    near = f"{FIND}?lat=24.5&lon=117.5"
    assert client.get(near)["X-Page-Cache"] == "miss"
    assert client.get(near)["X-Page-Cache"] == "hit"
    # A 400 is never stored.
    assert "X-Page-Cache" not in client.get(f"{FIND}?lat=x&lon=1")
    # A unit write shows at once.
    from practice import services

    with django_capture_on_commit_callbacks(execute=True):
        services.unit_update(
            actor=located.superuser, unit=located.station2, data={"name": "新二村站"}
        )
    response = client.get(near)
    assert response["X-Page-Cache"] == "miss" and "新二村站" in response.content.decode()


def test_queries_do_not_grow_with_the_network(db: Any, client: Any) -> None:
    def pages() -> list[str]:
        county = Unit.objects.filter(level=0).order_by("tree_id").first()
        assert county is not None
        town = Unit.objects.filter(parent=county).order_by("lft").first()
        assert town is not None
        return [
            FIND,
            f"{FIND}?county={county.pk}",
            f"{FIND}?county={county.pk}&town={town.pk}",
            f"{FIND}?q=村1站",
            f"{FIND}?lat=24.5&lon=117.5",
        ]

    def measure() -> dict[str, int]:
        Unit.objects.filter(kind=UnitKind.STATION).update(
            latitude=Decimal("24.5"), longitude=Decimal("117.5")
        )
        return {url: len(queries_of(client, url)) for url in pages()}

    add_counties(3)
    small = measure()
    add_counties(60, start=3, towns=3, stations=6)
    cache.clear()
    assert measure() == small
    # For the record: the counties (and a county's towns); the count and the page of a
    # list; the nearest places and the names above them.
    assert small == {
        FIND: 1,
        pages()[1]: 2,
        pages()[2]: 4,
        pages()[3]: 4,
        pages()[4]: 3,
    }


# --- the home page and a station's page ------------------------------------------------------


def test_home_leads_with_what_residents_can_do(world: World, client: Any) -> None:
    html = client.get("/").content.decode()
    actions = html.index('id="resident-actions"')
    assert actions < html.index('id="network-counts"')  # before the figures
    assert f'action="{reverse("find-station")}"' in html
    assert 'action="/track/"' in html and 'name="code"' in html
    assert f'href="{reverse("volunteer-register")}"' in html[actions:]
    assert 'id="home-town"' not in html  # two counties: chosen on /find/


def test_home_offers_the_towns_of_a_single_county(world: World, client: Any) -> None:
    Unit.objects.filter(tree_id=world.other_centre.tree_id).update(is_active=False)
    html = client.get("/").content.decode()
    assert 'id="home-town"' in html
    assert f'<option value="{world.town.pk}">一镇所</option>' in html


def test_a_located_station_offers_navigation(world: World, client: Any) -> None:
    locate(world.station, "24.520000", "117.500000")
    html = client.get(world.station.get_absolute_url()).content.decode()
    assert (
        'href="geo:24.520000,117.500000?q=24.520000,117.500000(%E4%B8%80%E6%9D%91%E7%AB%99)"'
        in html
    )
    assert (
        'href="https://maps.apple.com/?ll=24.520000,117.500000&amp;q=%E4%B8%80%E6%9D%91%E7%AB%99"'
        in html
    )
    assert '<script src="http' not in html
    html = client.get(world.station2.get_absolute_url()).content.decode()
    assert "geo:" not in html and 'id="unit-navigate"' not in html
