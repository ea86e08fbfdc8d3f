"""The attendance pages: the check-in and check-out pages the QR codes open, the staff's
poster, sign-up and cancel, "My activities", the sign-up include, the nav item — with the
permission matrix of each page and constant queries of the volunteer's list."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from activities import attendance
from activities.choices import ActivityStatus
from activities.models import Activity, ActivityParticipant, Attendance
from practice.models import User
from practice.qr import qr_svg
from tests.activities.conftest import make_activity
from tests.activities.test_attendance import FAR, NEAR, PLACE, planned, volunteer_user
from tests.conftest import World
from tests.querycount import queries_of
from volunteers.choices import VolunteerStatus
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


def client_of(user: User | None) -> Client:
    """A browser logged in as ``user`` with the English pages (the msgids)."""
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    if user is not None:
        client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def vol(world: World) -> tuple[User, Volunteer]:
    return volunteer_user(world.station)


def now_on(world: World, **data: Any) -> Activity:
    """A planned activity of 一村站 that started 30 minutes ago and lasts two hours."""
    return planned(world, days_ago=0.5 / 24, hours=2, **data)


def urls(activity: Activity) -> tuple[str, str]:
    key = activity.checkin_key
    return (
        reverse("activity-check-in", args=[activity.pk, key]),
        reverse("activity-check-out", args=[activity.pk, key]),
    )


# --- check-in and check-out pages -------------------------------------------------------------


def test_a_volunteer_checks_in_and_out_on_the_phone_pages(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    user, volunteer = vol
    activity = now_on(world, latitude=PLACE[0], longitude=PLACE[1], location="村文化礼堂")
    check_in, check_out = urls(activity)
    client = client_of(user)

    page = client.get(check_in)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="viewport"' in html and "portal/checkin.js" in html
    assert activity.title in html and "村文化礼堂" in html
    assert 'id="check-form"' in html and 'name="latitude"' in html
    assert "<script>" not in html and "style=" not in html  # CSP: no inline script or style

    response = client.post(check_in, {"latitude": NEAR[0], "longitude": NEAR[1]})
    assert response.status_code == 302 and response["Location"] == check_in
    assert messages_of(response) == ["You are checked in."]
    row = Attendance.objects.get(volunteer=volunteer)
    assert row.checked_in_at is not None and 95 <= (row.check_in_distance or 0) <= 105
    html = client.get(check_in).content.decode()
    assert "Checked in at" in html and 'id="check-form"' not in html
    when = timezone.localtime(row.checked_in_at).strftime("%H:%M")
    assert when in html

    # An hour later (back-dated), the check-out page gives the hours.
    Attendance.objects.filter(pk=row.pk).update(
        checked_in_at=timezone.now() - dt.timedelta(minutes=90)
    )
    assert 'id="check-form"' in client.get(check_out).content.decode()
    response = client.post(check_out, {"latitude": "", "longitude": ""})  # no position
    assert response.status_code == 302 and messages_of(response) == ["You are checked out."]
    html = client.get(check_out).content.decode()
    assert re.search(r'id="check-hours">1\.50 hours<', html), html
    assert ActivityParticipant.objects.get(volunteer=volunteer).checked_hours == Decimal("1.50")


def test_too_far_is_shown_on_the_page_and_nothing_is_saved(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    activity = now_on(world, latitude=PLACE[0], longitude=PLACE[1])
    check_in, _out = urls(activity)
    response = client_of(vol[0]).post(check_in, {"latitude": FAR[0], "longitude": FAR[1]})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="check-error"' in html and "1,112 m" in html and 'id="check-form"' in html
    assert not Attendance.objects.exists()


def test_check_out_before_check_in_says_so(world: World, vol: tuple[User, Volunteer]) -> None:
    activity = now_on(world)
    check_in, check_out = urls(activity)
    client = client_of(vol[0])
    html = client.get(check_out).content.decode()
    assert 'id="check-first"' in html and check_in in html and 'id="check-form"' not in html
    response = client.post(check_out)
    assert (
        response.status_code == 409 and "scan its check-in code first" in response.content.decode()
    )


def test_check_in_pages_permission_matrix(world: World, vol: tuple[User, Volunteer]) -> None:
    activity = now_on(world)
    check_in, check_out = urls(activity)
    # Anonymous: the login page, and back here after it.
    for url in (check_in, check_out):
        response = client_of(None).get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert client_of(None).post(check_in).status_code == 302
    # A wrong key or another activity's key: 404 for everyone, staff included.
    other = now_on(world)
    for user in (vol[0], world.station_manager, world.superuser):
        client = client_of(user)
        assert (
            client.get(reverse("activity-check-in", args=[activity.pk, "wrong"])).status_code == 404
        )
        assert (
            client.get(
                reverse("activity-check-in", args=[activity.pk, other.checkin_key])
            ).status_code
            == 404
        )
        assert (
            client.post(reverse("activity-check-out", args=[activity.pk, "x"])).status_code == 404
        )
    assert (
        client_of(vol[0]).get(reverse("activity-check-in", args=[999999, "x"])).status_code == 404
    )
    # Not a volunteer: told who it is for; posting is refused (403), nothing saved.
    html = client_of(world.no_role).get(check_in).content.decode()
    assert 'id="check-not-volunteer"' in html and 'id="check-form"' not in html
    assert client_of(world.station_manager).post(check_in).status_code == 403
    suspended, _v = volunteer_user(world.station, "susp", status=VolunteerStatus.SUSPENDED)
    assert "Only active volunteers" in client_of(suspended).get(check_in).content.decode()
    assert client_of(suspended).post(check_in).status_code == 403
    assert not Attendance.objects.exists()


def test_a_submitted_activity_page_says_check_in_is_closed(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    from activities import services

    activity = make_activity(world.station_manager, world.station, days_ago=1 / 24, hours=0.5)
    services.activity_submit(actor=world.station_manager, activity=activity)
    check_in, _out = urls(activity)
    client = client_of(vol[0])
    html = client.get(check_in).content.decode()
    assert 'id="check-closed"' in html and 'id="check-form"' not in html
    assert client.post(check_in).status_code == 409
    assert not Attendance.objects.exists()


# --- the QR poster ----------------------------------------------------------------------------


def test_the_poster_has_both_codes_for_staff_who_log_hours(world: World) -> None:
    activity = planned(world)
    url = reverse("activity-qr", args=[activity.pk])
    for user in (world.station_manager, world.town_manager, world.coordinator, world.superuser):
        response = client_of(user).get(url)
        assert response.status_code == 200, user
        html = response.content.decode()
        for name in ("activity-check-in", "activity-check-out"):
            target = "http://testserver" + reverse(name, args=[activity.pk, activity.checkin_key])
            assert target in html and qr_svg(target).decode() in html
        assert 'id="qr-closed"' not in html and "<script>" not in html


def test_the_poster_permission_matrix(world: World, vol: tuple[User, Volunteer]) -> None:
    activity = planned(world)
    url = reverse("activity-qr", args=[activity.pk])
    response = client_of(None).get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    # Outside the staff view — another county, no role, a volunteer: 404 (no key leaks).
    for user in (world.other_coordinator, world.no_role, vol[0]):
        response = client_of(user).get(url)
        assert response.status_code == 404, user
        assert activity.checkin_key not in response.content.decode()
    # A station manager does not see a sibling station's activity.
    sibling = make_activity(
        world.town_manager, world.station2, status=ActivityStatus.PLANNED, days_ago=-1
    )
    assert (
        client_of(world.station_manager).get(reverse("activity-qr", args=[sibling.pk])).status_code
        == 404
    )
    assert (
        client_of(world.town_manager).get(reverse("activity-qr", args=[sibling.pk])).status_code
        == 200
    )


def test_the_poster_warns_when_the_codes_no_longer_work(world: World) -> None:
    from activities import services

    activity = make_activity(world.station_manager, world.station)
    services.activity_submit(actor=world.station_manager, activity=activity)
    html = (
        client_of(world.station_manager)
        .get(reverse("activity-qr", args=[activity.pk]))
        .content.decode()
    )
    assert 'id="qr-closed"' in html


# --- sign-up pages ----------------------------------------------------------------------------


def test_signup_and_cancel_redirect_back_with_a_message(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    user, volunteer = vol
    activity = planned(world, capacity=1)
    client = client_of(user)
    response = client.post(
        reverse("activity-signup", args=[activity.pk]), {"next": "/me/activities/"}
    )
    assert response.status_code == 302 and response["Location"] == "/me/activities/"
    assert messages_of(response)[0].startswith("You signed up for")
    assert Attendance.objects.get(volunteer=volunteer).signed_up_at is not None

    # Full: the next volunteer is told, nothing saved; an outside "next" is ignored.
    other, _v = volunteer_user(world.station, "other")
    response = client_of(other).post(
        reverse("activity-signup", args=[activity.pk]), {"next": "https://evil.example/"}
    )
    assert response.status_code == 302 and "evil" not in response["Location"]
    assert messages_of(response) == ["No places left."]
    assert Attendance.objects.count() == 1

    response = client.post(reverse("activity-signup-cancel", args=[activity.pk]))
    assert response.status_code == 302
    assert messages_of(response)[-1].startswith("Your sign-up for")
    assert not Attendance.objects.exists()


def test_signup_pages_permission_matrix(world: World, vol: tuple[User, Volunteer]) -> None:
    activity = planned(world)
    url = reverse("activity-signup", args=[activity.pk])
    response = client_of(None).post(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client_of(vol[0]).get(url).status_code == 405  # POST only
    # Not a volunteer: a message, nothing saved.
    response = client_of(world.station_manager).post(url)
    assert response.status_code == 302 and "Only active volunteers" in messages_of(response)[0]
    # A draft or unknown activity: 404.
    draft = make_activity(world.station_manager, world.station)
    assert client_of(vol[0]).post(reverse("activity-signup", args=[draft.pk])).status_code == 404
    assert (
        client_of(vol[0]).post(reverse("activity-signup-cancel", args=[draft.pk])).status_code
        == 404
    )
    assert client_of(vol[0]).post(reverse("activity-signup", args=[999999])).status_code == 404
    assert not Attendance.objects.exists()


def _include(activity: Activity, user: Any, **extra: Any) -> str:
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get(f"/activities/{activity.pk}/")
    request.user = user or AnonymousUser()
    return render_to_string(
        "activities/_signup.html", {"activity": activity, **extra}, request=request
    )


def test_the_signup_include(world: World, vol: tuple[User, Volunteer]) -> None:
    activity = planned(world, capacity=1)
    annotated = attendance.annotate_signups(Activity.objects.filter(pk=activity.pk)).get()
    annotated.places_left = 1
    anonymous = _include(annotated, None)
    assert 'id="signup-login"' in anonymous and "csrfmiddlewaretoken" not in anonymous
    assert f"next=/activities/{activity.pk}/" in anonymous
    mine = _include(annotated, vol[0])
    assert reverse("activity-signup", args=[activity.pk]) in mine and "csrfmiddlewaretoken" in mine

    attendance.signup(actor=vol[0], activity=activity)
    annotated = attendance.annotate_signups(Activity.objects.filter(pk=activity.pk)).get()
    annotated.places_left = 0
    state = attendance.signup_state(annotated, vol[0])
    html = _include(annotated, vol[0], my_attendance=state["my_attendance"])
    assert 'id="signup-mine"' in html
    assert reverse("activity-signup-cancel", args=[activity.pk]) in html
    assert 'id="signed-up-count"' in html
    other, _v = volunteer_user(world.station, "other")
    html = _include(annotated, other)
    assert 'id="signup-full"' in html and 'id="signup-form"' not in html


# --- My activities ----------------------------------------------------------------------------


def test_my_activities_lists_signups_checkins_and_hours(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    user, volunteer = vol
    coming = planned(world, title="下周宣讲")
    attendance.signup(actor=user, activity=coming)
    today = now_on(world, title="今天义诊")
    key = today.checkin_key
    attendance.check_in(actor=user, activity=today, key=key, now=today.start)
    attendance.check_out(
        actor=user, activity=today, key=key, now=today.start + dt.timedelta(minutes=45)
    )
    listed = make_activity(
        world.station_manager,
        world.station,
        title="上周清扫",
        participants=[{"volunteer": volunteer.pk, "hours": "2"}],
    )
    other_person = planned(world, title="别人的活动")
    attendance.signup(actor=volunteer_user(world.station, "someone")[0], activity=other_person)

    response = client_of(user).get(reverse("my-activities"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="upcoming-{coming.pk}"' in html and "下周宣讲" in html
    assert reverse("activity-signup-cancel", args=[coming.pk]) in html
    assert f'id="past-{today.pk}"' in html and "0.75 hours reported" in html
    assert f'id="past-{listed.pk}"' in html and "2.00 hours reported" in html
    assert "别人的活动" not in html
    assert volunteer.phone not in html and volunteer.id_number not in html


def test_my_activities_for_someone_who_is_not_a_volunteer(world: World) -> None:
    html = client_of(world.station_manager).get(reverse("my-activities")).content.decode()
    assert 'id="mine-none"' in html
    response = client_of(None).get(reverse("my-activities"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_my_activities_costs_the_same_queries_at_two_sizes(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    user, _volunteer = vol
    client = client_of(user)
    counts = []
    made = 0
    for size in (2, 12):
        while made < size:
            activity = planned(world, days_ago=-1 - made)
            attendance.signup(actor=user, activity=activity)
            done = now_on(world)
            attendance.check_in(actor=user, activity=done, key=done.checkin_key, now=done.start)
            attendance.check_out(actor=user, activity=done, key=done.checkin_key, now=done.end)
            made += 1
        html = client.get(reverse("my-activities")).content.decode()
        assert html.count('id="upcoming-') == size and html.count('id="past-') == size
        counts.append(len(queries_of(client, reverse("my-activities"))))
    assert counts[0] == counts[1], counts


def test_the_nav_has_my_activities_for_volunteers(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    link = f'href="{reverse("my-activities")}"'
    assert link in client_of(vol[0]).get(reverse("volunteer-me")).content.decode()
    # The menu's rule: accounts without a staff role (staff have their own menu).
    assert link not in client_of(world.station_manager).get("/").content.decode()
    assert link not in client_of(None).get("/").content.decode()


def test_the_pages_render_in_chinese(world: World, vol: tuple[User, Volunteer]) -> None:
    """The default language renders without errors (the translations are the lead's)."""
    activity = now_on(world)
    client = Client()
    client.force_login(vol[0])
    for url in (*urls(activity), reverse("my-activities")):
        assert client.get(url).status_code == 200
    client.force_login(world.station_manager)
    assert client.get(reverse("activity-qr", args=[activity.pk])).status_code == 200
