"""What residents see of activities: the news feed of approved ones (公示), the calendar of
planned ones, an activity's page and the unit and home pages' sections — never a draft, a
report waiting for review or a returned one; cached pages that an activity write
invalidates; filters by town and near the visitor; a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from activities import public, services
from activities.choices import ActivityStatus
from activities.models import Activity, ActivityPhoto, Attendance
from portal import display
from practice.models import Unit, User
from tests.activities.conftest import approved_activity, make_activity, span
from tests.conftest import World
from tests.querycount import queries_of
from tests.volunteers.conftest import make_volunteer

pytestmark = pytest.mark.django_db

# The statuses no public page ever shows, and a title for each.
HIDDEN = {
    ActivityStatus.DRAFT: "草稿活动HIDDEN-D",
    ActivityStatus.SUBMITTED: "待审活动HIDDEN-S",
    ActivityStatus.RETURNED: "退回活动HIDDEN-R",
}
APPROVED_TITLE = "公示活动SHOWN-A"
PLANNED_TITLE = "计划活动SHOWN-P"


def _html(response: Any) -> str:
    return response.content.decode()


def _ids(html: str) -> set[int]:
    """The activities a page lists (``data-activity`` of its cards and items)."""
    return {int(pk) for pk in re.findall(r'data-activity="(\d+)"', html)}


def _planned(actor: User, unit: Unit, *, days_ahead: float = 3, **data: Any) -> Activity:
    return make_activity(actor, unit, status=ActivityStatus.PLANNED, days_ago=-days_ahead, **data)


@pytest.fixture
def statuses(world: World, town_coordinator: User) -> dict[str, Activity]:
    """One activity of the station in each status (the approved one with figures and two
    volunteers, the planned one ahead with 3 places and one sign-up)."""
    manager = world.station_manager
    people = [make_volunteer(world.station, name=n) for n in ("王一", "王二")]
    found: dict[str, Activity] = {
        ActivityStatus.APPROVED: approved_activity(
            manager,
            town_coordinator,
            world.station,
            title=APPROVED_TITLE,
            beneficiaries=120,
            materials=300,
            participants=[
                {"volunteer": people[0].pk, "hours": "2"},
                {"volunteer": people[1].pk, "hours": "1.5"},
            ],
        ),
        ActivityStatus.PLANNED: _planned(manager, world.station, title=PLANNED_TITLE, capacity=3),
    }
    Attendance.objects.create(
        activity=found[ActivityStatus.PLANNED], volunteer=people[0], signed_up_at=timezone.now()
    )
    for status, title in HIDDEN.items():
        activity = make_activity(manager, world.station, title=title, beneficiaries=7)
        if status != ActivityStatus.DRAFT:
            services.activity_submit(actor=manager, activity=activity)
        if status == ActivityStatus.RETURNED:
            services.activity_return(actor=town_coordinator, activity=activity, reason="照片不清")
        activity.refresh_from_db()
        assert activity.status == status
        found[status] = activity
    return found


def _public_urls(world: World) -> list[str]:
    return [
        "/",
        "/activities/",
        "/activities/calendar/",
        f"/activities/?within={world.town.pk}",
        f"/activities/calendar/?within={world.centre.pk}",
        f"/activities/?town={world.town.pk}",
        world.station.get_absolute_url(),
        world.town.get_absolute_url(),
        world.centre.get_absolute_url(),
    ]


@pytest.mark.parametrize("who", [None, "station_manager", "superuser"])
def test_no_public_page_shows_a_draft_a_submitted_or_a_returned_activity(
    world: World, statuses: dict[str, Activity], client: Client, who: str | None
) -> None:
    if who:
        client.force_login(getattr(world, who))  # staff too: a public page is public
    hidden_ids = {statuses[s].pk for s in HIDDEN}
    seen: set[int] = set()
    for url in _public_urls(world):
        response = client.get(url)
        assert response.status_code == 200, url
        # The staff's own block of a unit page (its audit log) is not public.
        html = _html(response).split('id="audit-link"')[0]
        for title in HIDDEN.values():
            assert title not in html, (url, title)
        assert not _ids(html) & hidden_ids, url
        seen |= _ids(html)
    assert seen == {statuses[ActivityStatus.APPROVED].pk, statuses[ActivityStatus.PLANNED].pk}
    for status in HIDDEN:
        assert client.get(f"/activities/{statuses[status].pk}/").status_code == 404
    assert client.get("/activities/999999/").status_code == 404


def test_the_feed_shows_approved_activities_with_their_figures(
    world: World, statuses: dict[str, Activity], client: Client
) -> None:
    html = _html(client.get("/activities/"))
    assert _ids(html) == {statuses[ActivityStatus.APPROVED].pk}
    assert APPROVED_TITLE in html and PLANNED_TITLE not in html
    assert "120" in html and "300" in html and "3.5" in html
    assert world.station.name in html


def test_the_calendar_shows_planned_activities_by_day_with_places_left(
    world: World, statuses: dict[str, Activity], client: Client
) -> None:
    planned = statuses[ActivityStatus.PLANNED]
    html = _html(client.get("/activities/calendar/"))
    assert _ids(html) == {planned.pk}
    day = timezone.localtime(planned.start).date().isoformat()
    assert f'data-day="{day}"' in html
    assert APPROVED_TITLE not in html
    # 3 places, one signed up.
    item = html[html.index(f'data-activity="{planned.pk}"') :]
    badge = re.search(r'text-bg-success[^"]*">([^<]+)<', item[: item.index("</li>")])
    assert badge and re.search(r"(?<!\d)2(?!\d)", badge.group(1))


def test_an_ended_plan_leaves_the_calendar(world: World, client: Client) -> None:
    ended = make_activity(
        world.station_manager, world.station, status=ActivityStatus.PLANNED, days_ago=1
    )
    coming = _planned(world.station_manager, world.station)
    assert _ids(_html(client.get("/activities/calendar/"))) == {coming.pk}
    assert client.get(f"/activities/{ended.pk}/").status_code == 200  # still its page


def test_the_approved_page_shows_figures_and_photos(
    world: World, statuses: dict[str, Activity], client: Client
) -> None:
    approved = statuses[ActivityStatus.APPROVED]
    photo = ActivityPhoto.objects.create(
        activity=approved,
        image="activities/x.jpg",
        thumbnail="activities/x-thumb.jpg",
        width=800,
        height=600,
        size=1000,
        phash="0" * 16,
        caption="现场照片",
    )
    html = _html(client.get(f"/activities/{approved.pk}/"))
    figures = dict(re.findall(r'data-figure="(\w+)">([^<]+)<', html))
    assert figures == {
        "beneficiaries": "120",
        "materials": "300",
        "volunteers": "2",
        "hours": "3.5",
    }
    assert 'data-status="approved"' in html and 'id="activity-signup"' not in html
    # Never who took part.
    assert "王一" not in html and "王二" not in html
    thumb = public.photo_url(photo.pk, "thumb")
    if thumb is not None:  # the photo part's address exists
        assert f'src="{thumb}"' in html and "现场照片" in html
        assert f'src="{thumb}"' in _html(client.get("/activities/"))
    else:
        assert 'id="activity-photos"' not in html


def test_sign_up_is_offered_only_before_the_start(world: World, client: Client) -> None:
    coming = _planned(world.station_manager, world.station)
    started = make_activity(  # began an hour ago, ends in an hour
        world.station_manager,
        world.station,
        status=ActivityStatus.PLANNED,
        days_ago=1 / 24,
        hours=2,
    )
    html = _html(client.get(f"/activities/{coming.pk}/"))
    assert 'id="signup-box"' in html and 'id="signup-closed"' not in html
    html = _html(client.get(f"/activities/{started.pk}/"))
    assert 'id="signup-closed"' in html and 'id="signup-box"' not in html


def test_the_planned_page_shows_places_left_and_the_way_there(
    world: World, statuses: dict[str, Activity], client: Client
) -> None:
    planned = statuses[ActivityStatus.PLANNED]
    planned.latitude, planned.longitude = Decimal("24.5"), Decimal("117.3")
    planned.save(update_fields=["latitude", "longitude"])
    html = _html(client.get(f"/activities/{planned.pk}/"))
    assert 'data-status="planned"' in html and 'id="activity-figures"' not in html
    places = re.search(r'id="places-left">([^<]+)<', html)
    assert places and "2" in places.group(1)
    assert "geo:24.500000,117.300000" in html
    Attendance.objects.create(
        activity=planned,
        volunteer=make_volunteer(world.station, name="王三"),
        signed_up_at=timezone.now(),
    )
    Attendance.objects.create(
        activity=planned,
        volunteer=make_volunteer(world.station, name="王四"),
        signed_up_at=timezone.now(),
    )
    cache.clear()  # rows made here, not by the services: nothing bumped the page
    html = _html(client.get(f"/activities/{planned.pk}/"))
    assert 'id="places-left"' not in html and 'id="places-full"' in html
    assert 'id="signup-login"' not in html  # no "log in to sign up" when nothing is left


# --- filters ------------------------------------------------------------------------------------


def test_the_feed_filters_by_town_county_and_unit(
    world: World, town_coordinator: User, client: Client
) -> None:
    here = approved_activity(world.station_manager, town_coordinator, world.station)
    there = approved_activity(world.superuser, world.coordinator, world.station3)
    other = approved_activity(world.superuser, world.other_coordinator, world.other_station)
    ids = lambda url: _ids(_html(client.get(url)))  # noqa: E731
    assert ids("/activities/") == {here.pk, there.pk, other.pk}
    assert ids(f"/activities/?within={world.town.pk}") == {here.pk}
    assert ids(f"/activities/?town={world.town2.pk}&county={world.centre.pk}") == {there.pk}
    assert ids(f"/activities/?county={world.centre.pk}") == {here.pk, there.pk}
    assert ids(f"/activities/?within={world.other_centre.pk}") == {other.pk}
    assert ids(f"/activities/?within={world.station.pk}") == {here.pk}
    # An unknown or closed unit is not found; a malformed one is the visitor's to correct.
    assert client.get("/activities/?within=999999").status_code == 404
    assert client.get("/activities/?within=abc").status_code == 400
    Unit.objects.filter(pk=world.station2.pk).update(is_active=False)
    assert client.get(f"/activities/?within={world.station2.pk}").status_code == 404


def test_the_calendar_filters_by_town_and_near_me(world: World, client: Client) -> None:
    Unit.objects.filter(pk=world.station.pk).update(
        latitude=Decimal("24.520000"), longitude=Decimal("117.350000")
    )
    near_unit = _planned(world.station_manager, world.station, title="村里的宣讲")
    near_place = _planned(
        world.coordinator,
        world.station3,
        title="镇上的义诊",
        latitude=Decimal("24.530000"),
        longitude=Decimal("117.360000"),
    )
    far = _planned(
        world.coordinator,
        world.station2,
        title="远处的活动",
        latitude=Decimal("26.000000"),
        longitude=Decimal("119.000000"),
    )
    nowhere = _planned(world.coordinator, world.town2)  # no coordinates at all
    corner = _planned(  # in the query's box, but 12 km away: beyond the 10 km circle
        world.coordinator,
        world.station3,
        latitude=Decimal("24.601000"),
        longitude=Decimal("117.431000"),
    )
    ids = lambda url: _ids(_html(client.get(url)))  # noqa: E731
    everything = {near_unit.pk, near_place.pk, far.pk, nowhere.pk, corner.pk}
    assert ids("/activities/calendar/") == everything
    town = f"county={world.centre.pk}&town={world.town.pk}"
    assert ids(f"/activities/calendar/?{town}") == {near_unit.pk, far.pk}
    response = client.get("/activities/calendar/?lat=24.521&lon=117.351")
    html = _html(response)
    assert _ids(html) == {near_unit.pk, near_place.pk}
    distances = [a.distance_km for a in response.context["activities"]]
    assert len(distances) == 2 and all(d < 2 for d in distances)
    assert 'class="fw-semibold text-nowrap activity-distance"' in html
    assert 'id="near-shown"' in html
    # Half a position, or one out of range: a clear message, a 400, nothing filtered.
    for url in ("/activities/calendar/?lat=24.5", "/activities/calendar/?lat=95&lon=117"):
        response = client.get(url)
        assert response.status_code == 400
        assert 'id="activity-errors"' in _html(response)


# --- the cache -----------------------------------------------------------------------------


def test_every_activity_write_bumps_the_cached_pages(
    world: World, town_coordinator: User, django_capture_on_commit_callbacks: Any
) -> None:
    visitor = Client()
    urls = ["/", "/activities/", "/activities/calendar/", world.station.get_absolute_url()]
    for url in urls:
        assert visitor.get(url)["X-Page-Cache"] == "miss"
        assert visitor.get(url)["X-Page-Cache"] == "hit"

    def fresh(url: str) -> str:
        response = visitor.get(url)
        assert response["X-Page-Cache"] == "miss", url  # the write bumped it
        return _html(response)

    manager = world.station_manager
    run = functools.partial(django_capture_on_commit_callbacks, execute=True)
    with run():
        plan = _planned(manager, world.station, title="新的计划")
    assert "新的计划" in fresh("/activities/calendar/")
    assert "新的计划" in fresh(world.station.get_absolute_url())
    assert "新的计划" in fresh("/")
    # The plan becomes a report (planned → draft): off the calendar at once.
    with run():
        start, end = span(days_ago=1)
        data = {"status": "draft", "start": start, "end": end}
        services.activity_update(actor=manager, activity=plan, data=data)
    assert "新的计划" not in fresh("/activities/calendar/")
    with run():
        report = make_activity(manager, world.station, title="刚做完的活动")
    with run():
        services.activity_submit(actor=manager, activity=report)
    assert "刚做完的活动" not in fresh(world.station.get_absolute_url())
    assert visitor.get(world.station.get_absolute_url())["X-Page-Cache"] == "hit"
    # Approval: the cached unit page shows it on the next visit.
    with run():
        services.activity_approve(actor=town_coordinator, activity=report)
    assert "刚做完的活动" in fresh(world.station.get_absolute_url())
    assert "刚做完的活动" in fresh("/activities/")
    assert "刚做完的活动" in fresh(f"/activities/{report.pk}/")


def _plan_then_fail(world: World) -> None:
    with transaction.atomic():
        _planned(world.station_manager, world.station)
        raise RuntimeError


def test_a_rolled_back_write_bumps_nothing(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    visitor = Client()
    visitor.get("/activities/calendar/")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        _plan_then_fail(world)
    assert callbacks == []
    assert visitor.get("/activities/calendar/")["X-Page-Cache"] == "hit"


# --- the elder-friendly display -------------------------------------------------------------------


def _body(response: Any) -> str:
    html = _html(response)
    start = html.index("<body")
    return html[start : html.index(">", start)]


def test_elder_mode_works_and_is_cached_apart(world: World, statuses: dict[str, Activity]) -> None:
    standard, elder = Client(), Client()
    elder.cookies[display.COOKIE_NAME] = display.ELDER
    urls = ["/activities/", "/activities/calendar/"] + [
        f"/activities/{statuses[s].pk}/" for s in (ActivityStatus.APPROVED, ActivityStatus.PLANNED)
    ]
    for url in urls:
        plain = standard.get(url)
        assert plain["X-Page-Cache"] == "miss" and "elder" not in _body(plain), url
        first = elder.get(url)
        assert first.status_code == 200 and " elder" in _body(first), url
        assert first["X-Page-Cache"] == "miss", url  # not the standard page
        again = elder.get(url)
        assert again["X-Page-Cache"] == "hit" and " elder" in _body(again)
        cached = standard.get(url)
        assert cached["X-Page-Cache"] == "hit" and "elder" not in _body(cached)


# --- queries -----------------------------------------------------------------------------------


def _grow(world: World, reviewer: User, n: int) -> None:
    """``n`` approved activities with a photo and a volunteer, ``n`` planned ones with a
    sign-up, over the station and the town's other station."""
    manager = world.station_manager
    for i in range(n):
        volunteer = make_volunteer(world.station, name=f"量{i}")
        done = approved_activity(
            manager,
            reviewer,
            world.station,
            title=f"做过{i}",
            days_ago=2 + i / 10,
            participants=[{"volunteer": volunteer.pk, "hours": "1"}],
        )
        ActivityPhoto.objects.create(
            activity=done,
            image=f"activities/{i}.jpg",
            thumbnail=f"activities/{i}-t.jpg",
            width=4,
            height=3,
            size=1,
            phash=f"{i:016x}",
        )
        plan = _planned(world.town_manager, world.station2, days_ahead=1 + i, capacity=5)
        Attendance.objects.create(activity=plan, volunteer=volunteer, signed_up_at=timezone.now())


@pytest.mark.parametrize("who", [None, "station_manager"])
def test_queries_do_not_grow_with_the_activities(
    world: World, town_coordinator: User, client: Client, who: str | None
) -> None:
    if who:
        client.force_login(getattr(world, who))
    _grow(world, town_coordinator, 2)
    first = Activity.objects.filter(status=ActivityStatus.APPROVED).order_by("pk").first()
    plan = Activity.objects.filter(status=ActivityStatus.PLANNED).order_by("pk").first()
    assert first is not None and plan is not None
    urls = [
        "/",
        "/activities/",
        f"/activities/?within={world.town.pk}",
        "/activities/calendar/",
        "/activities/calendar/?lat=24.5&lon=117.3",
        f"/activities/{first.pk}/",
        f"/activities/{plan.pk}/",
        world.town.get_absolute_url(),
    ]
    small = {url: len(queries_of(client, url)) for url in urls}
    _grow(world, town_coordinator, 25)
    assert {url: len(queries_of(client, url)) for url in urls} == small
    if who is None:
        # The feed: the counties (the selects), the count, the page, its photos.
        assert small["/activities/"] == 4
        # The calendar: the counties, the count, the page (no photos).
        assert small["/activities/calendar/"] == 3
        # An activity: the row with its figures, its photos, the unit's ancestors.
        assert small[f"/activities/{first.pk}/"] == 3
        assert small[f"/activities/{plan.pk}/"] == 3


def test_the_sections_are_read_once_per_write(
    world: World, town_coordinator: User, django_capture_on_commit_callbacks: Any
) -> None:
    _grow(world, town_coordinator, 2)
    found = public.unit_sections(world.town)
    assert [a.unit_id for a in found["coming_up"]] == [world.station2.pk, world.station2.pk]
    assert len(found["recent_activities"]) == 2
    with CaptureQueriesContext(connection) as captured:
        public.unit_sections(world.town)
        public.home_sections()
        public.home_sections()
    # The home's two lists, once; the unit's were read above.
    assert len([q for q in captured if 'FROM "activities_activity" ' in q["sql"]]) == 2
    start = timezone.now() + dt.timedelta(days=40)
    with django_capture_on_commit_callbacks(execute=True):
        _planned(world.station_manager, world.station, days_ahead=40)
    again = public.unit_sections(world.town)
    assert len(again["coming_up"]) == 3
    assert max(a.start for a in again["coming_up"]) >= start - dt.timedelta(minutes=1)


def test_a_logged_in_volunteer_gets_the_sign_up_form_live(world: World, client: Client) -> None:
    plan = _planned(world.station_manager, world.station, capacity=1)
    account = User.objects.create_user("vol-pp", password="x")
    make_volunteer(world.station, name="王五", user=account)
    Client().get(f"/activities/{plan.pk}/")  # an anonymous visitor's page is cached
    client.force_login(account)
    response = client.get(f"/activities/{plan.pk}/")
    assert "X-Page-Cache" not in response  # a logged-in user's page is live
    html = _html(response)
    assert 'id="signup-form"' in html and 'id="signup-login"' not in html
