"""Sign-up and QR check-in (activities.attendance) and their API: the cap, the time
windows, the distance, the checked hours becoming proposed hours (and a manager's change
staying visible), the new activity fields, and the permission matrix of the endpoints."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

import pytest
from django.test import override_settings
from django.utils import timezone, translation

from activities import attendance, services
from activities.choices import ActivityStatus
from activities.models import Activity, ActivityParticipant, Attendance
from portal.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from practice.models import Unit, User
from tests.activities.conftest import make_activity
from tests.conftest import World
from tests.factories import UserFactory
from tests.volunteers.conftest import make_volunteer
from volunteers.choices import RecordStatus, VolunteerStatus
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db

# Places around 一村站 (24.5, 117.4): about 111 m per 0.001 degree of latitude.
PLACE = (Decimal("24.500000"), Decimal("117.400000"))
NEAR = ("24.5009", "117.4")  # ~100 m
FAR = ("24.51", "117.4")  # ~1.1 km


@pytest.fixture(autouse=True)
def _english() -> Any:
    """Messages compared in English (the msgids)."""
    with translation.override("en"):
        yield


def volunteer_user(unit: Unit, username: str = "vol", **kw: Any) -> tuple[User, Volunteer]:
    user = cast(User, UserFactory(username=username))
    return user, make_volunteer(unit, name=f"志愿{username}", user=user, **kw)


@pytest.fixture
def vol(world: World) -> tuple[User, Volunteer]:
    return volunteer_user(world.station)


def planned(world: World, *, days_ago: float = -1, hours: float = 2, **data: Any) -> Activity:
    """A planned activity of 一村站 (by default tomorrow, two hours)."""
    return make_activity(
        world.station_manager,
        world.station,
        status=ActivityStatus.PLANNED,
        days_ago=days_ago,
        hours=hours,
        **data,
    )


# --- sign-up ----------------------------------------------------------------------------------


def test_signup_counts_and_the_cap_refuses_the_extra_volunteer(world: World) -> None:
    activity = planned(world, capacity=2)
    users = [volunteer_user(world.station, f"v{n}")[0] for n in range(3)]
    for user in users[:2]:
        row = attendance.signup(actor=user, activity=activity)
        assert row.signed_up_at is not None and row.checked_in_at is None
    with pytest.raises(Conflict) as exc:
        attendance.signup(actor=users[2], activity=activity)
    assert exc.value.code == "activity_full" and str(exc.value.message) == "No places left."
    assert Attendance.objects.filter(activity=activity).count() == 2
    assert attendance.signup_counts([activity]) == {activity.pk: 2}
    annotated = attendance.annotate_signups(Activity.objects.filter(pk=activity.pk)).get()
    assert annotated.signed_up == 2

    # A cancelled place is free again.
    attendance.signup_cancel(actor=users[0], activity=activity)
    attendance.signup(actor=users[2], activity=activity)
    assert set(
        Attendance.objects.filter(activity=activity).values_list("volunteer__user", flat=True)
    ) == {users[1].pk, users[2].pk}


def test_signup_twice_closed_or_not_planned_is_refused(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    user, _v = vol
    activity = planned(world)
    attendance.signup(actor=user, activity=activity)
    with pytest.raises(Conflict) as exc:
        attendance.signup(actor=user, activity=activity)
    assert exc.value.code == "already_signed_up"
    # After the start: closed (sign-up and cancelling).
    later = activity.start + dt.timedelta(minutes=1)
    with pytest.raises(Conflict) as exc:
        attendance.signup(
            actor=volunteer_user(world.station, "late")[0], activity=activity, now=later
        )
    assert exc.value.code == "signup_closed"
    with pytest.raises(Conflict) as exc:
        attendance.signup_cancel(actor=user, activity=activity, now=later)
    assert exc.value.code == "signup_closed"
    # A draft report takes no sign-ups.
    draft = make_activity(world.station_manager, world.station)
    with pytest.raises(Conflict) as exc:
        attendance.signup(actor=user, activity=draft)
    assert exc.value.code == "signup_closed"
    # Cancelling what was never signed up.
    other = planned(world)
    with pytest.raises(Conflict) as exc:
        attendance.signup_cancel(actor=user, activity=other)
    assert exc.value.code == "not_signed_up"
    assert Attendance.objects.filter(activity__in=[draft, other]).count() == 0


def test_only_an_active_volunteer_signs_up(world: World) -> None:
    activity = planned(world)
    inactive_user, _v = volunteer_user(world.station, "gone", status=VolunteerStatus.SUSPENDED)
    for user in (world.station_manager, world.no_role, inactive_user):
        with pytest.raises(PermissionDenied) as exc:
            attendance.signup(actor=user, activity=activity)
        assert exc.value.code == "not_a_volunteer"
    assert not Attendance.objects.exists()


def test_signup_without_a_cap_takes_everyone(world: World) -> None:
    activity = planned(world)
    for n in range(5):
        attendance.signup(actor=volunteer_user(world.station, f"u{n}")[0], activity=activity)
    assert attendance.signup_counts([activity.pk]) == {activity.pk: 5}
    assert attendance.signup_counts([]) == {}


def test_signup_and_cancel_bump_the_public_pages(
    world: World, vol: tuple[User, Volunteer], django_capture_on_commit_callbacks: Any
) -> None:
    from portal import cache as page_cache

    activity = planned(world, capacity=3)
    versions = [page_cache._versions((page_cache.ACTIVITIES,))]
    for step in (attendance.signup, attendance.signup_cancel):
        with django_capture_on_commit_callbacks(execute=True):
            step(actor=vol[0], activity=activity)
        versions.append(page_cache._versions((page_cache.ACTIVITIES,)))
    assert len(set(versions)) == 3


# --- check-in ---------------------------------------------------------------------------------


def test_check_in_time_window(world: World, vol: tuple[User, Volunteer]) -> None:
    user, _volunteer = vol
    activity = planned(world)
    key = activity.checkin_key
    with pytest.raises(Conflict) as exc:
        attendance.check_in(
            actor=user, activity=activity, key=key, now=activity.start - dt.timedelta(minutes=61)
        )
    assert exc.value.code == "too_early"
    with pytest.raises(Conflict) as exc:
        attendance.check_in(
            actor=user, activity=activity, key=key, now=activity.end + dt.timedelta(seconds=1)
        )
    assert exc.value.code == "too_late"
    assert not Attendance.objects.exists()
    at = activity.start - dt.timedelta(minutes=59)
    row = attendance.check_in(actor=user, activity=activity, key=key, now=at)
    assert row.checked_in_at == at and row.signed_up_at is None  # a walk-in
    with pytest.raises(Conflict) as exc:
        attendance.check_in(actor=user, activity=activity, key=key, now=at)
    assert exc.value.code == "already_checked_in"


@override_settings(ACTIVITY_CHECKIN_EARLY_MINUTES=10)
def test_the_window_follows_the_setting(world: World, vol: tuple[User, Volunteer]) -> None:
    activity = planned(world)
    with pytest.raises(Conflict):
        attendance.check_in(
            actor=vol[0],
            activity=activity,
            key=activity.checkin_key,
            now=activity.start - dt.timedelta(minutes=11),
        )


def test_a_wrong_key_is_not_found(world: World, vol: tuple[User, Volunteer]) -> None:
    activity = planned(world)
    for key in ("", "x" * 16, activity.checkin_key[:-1], None, 12):
        with pytest.raises(NotFound):
            attendance.check_in(actor=vol[0], activity=activity, key=key, now=activity.start)
        with pytest.raises(NotFound):
            attendance.check_out(actor=vol[0], activity=activity, key=key, now=activity.start)
    assert not Attendance.objects.exists()


def test_distance_from_the_activity_place(world: World, vol: tuple[User, Volunteer]) -> None:
    user, _v = vol
    activity = planned(world, latitude=PLACE[0], longitude=PLACE[1])
    key, now = activity.checkin_key, activity.start
    with pytest.raises(ValidationFailed) as exc:
        attendance.check_in(
            actor=user, activity=activity, key=key, latitude=FAR[0], longitude=FAR[1], now=now
        )
    assert exc.value.code == "too_far"
    assert "1,112 m" in str(exc.value.message) and "500 m" in str(exc.value.message)
    assert not Attendance.objects.exists()
    row = attendance.check_in(
        actor=user, activity=activity, key=key, latitude=NEAR[0], longitude=NEAR[1], now=now
    )
    assert 95 <= (row.check_in_distance or 0) <= 105


@override_settings(ACTIVITY_CHECKIN_RADIUS_METRES=2000)
def test_the_radius_follows_the_setting(world: World, vol: tuple[User, Volunteer]) -> None:
    activity = planned(world, latitude=PLACE[0], longitude=PLACE[1])
    row = attendance.check_in(
        actor=vol[0],
        activity=activity,
        key=activity.checkin_key,
        latitude=FAR[0],
        longitude=FAR[1],
        now=activity.start,
    )
    assert 1100 <= (row.check_in_distance or 0) <= 1120


def test_the_unit_place_is_used_without_activity_coordinates(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    Unit.objects.filter(pk=world.station.pk).update(latitude=PLACE[0], longitude=PLACE[1])
    activity = planned(world)
    with pytest.raises(ValidationFailed):
        attendance.check_in(
            actor=vol[0],
            activity=activity,
            key=activity.checkin_key,
            latitude=FAR[0],
            longitude=FAR[1],
            now=activity.start,
        )


def test_without_positions_no_distance_is_checked(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    user, _v = vol
    # No place at all: the phone's position cannot be compared.
    activity = planned(world)
    row = attendance.check_in(
        actor=user,
        activity=activity,
        key=activity.checkin_key,
        latitude=FAR[0],
        longitude=FAR[1],
        now=activity.start,
    )
    assert row.check_in_distance is None
    # A place but no position from the phone (refused or no JavaScript).
    placed = planned(world, latitude=PLACE[0], longitude=PLACE[1])
    row = attendance.check_in(actor=user, activity=placed, key=placed.checkin_key, now=placed.start)
    assert row.check_in_distance is None


@pytest.mark.parametrize(
    ("lat", "lng", "field"),
    [
        ("24.5", None, "longitude"),
        (None, "117.4", "latitude"),
        ("91", "117", "latitude"),
        ("24", "181", "longitude"),
        ("abc", "117", "latitude"),
        ("NaN", "1", "latitude"),
    ],
)
def test_a_bad_position_is_refused(
    world: World, vol: tuple[User, Volunteer], lat: Any, lng: Any, field: str
) -> None:
    activity = planned(world, latitude=PLACE[0], longitude=PLACE[1])
    with pytest.raises(ValidationFailed) as exc:
        attendance.check_in(
            actor=vol[0],
            activity=activity,
            key=activity.checkin_key,
            latitude=lat,
            longitude=lng,
            now=activity.start,
        )
    assert field in exc.value.detail
    assert not Attendance.objects.exists()


def test_a_submitted_or_approved_activity_takes_no_check_ins(
    world: World, vol: tuple[User, Volunteer], town_coordinator: User
) -> None:
    activity = make_activity(world.station_manager, world.station)
    services.activity_submit(actor=world.station_manager, activity=activity)
    with pytest.raises(Conflict) as exc:
        attendance.check_in(
            actor=vol[0], activity=activity, key=activity.checkin_key, now=activity.start
        )
    assert exc.value.code == "checkin_closed"
    services.activity_approve(actor=town_coordinator, activity=activity)
    with pytest.raises(Conflict):
        attendance.check_out(
            actor=vol[0], activity=activity, key=activity.checkin_key, now=activity.end
        )
    assert not Attendance.objects.exists()


def test_a_non_volunteer_cannot_check_in(world: World) -> None:
    activity = planned(world)
    with pytest.raises(PermissionDenied):
        attendance.check_in(
            actor=world.station_manager,
            activity=activity,
            key=activity.checkin_key,
            now=activity.start,
        )


# --- check-out and the proposed hours ---------------------------------------------------------


def test_check_out_makes_the_checked_time_the_proposed_hours(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    user, volunteer = vol
    activity = planned(world, hours=3)
    key = activity.checkin_key
    with pytest.raises(Conflict) as exc:
        attendance.check_out(actor=user, activity=activity, key=key, now=activity.end)
    assert exc.value.code == "not_checked_in"
    attendance.check_in(actor=user, activity=activity, key=key, now=activity.start)
    with pytest.raises(Conflict) as exc:  # before the start: not yet
        attendance.check_out(
            actor=user, activity=activity, key=key, now=activity.start - dt.timedelta(seconds=1)
        )
    assert exc.value.code == "too_early"
    out = activity.start + dt.timedelta(hours=1, minutes=30)
    row = attendance.check_out(actor=user, activity=activity, key=key, now=out)
    assert row.checked_out_at == out and row.hours == Decimal("1.50")
    participant = ActivityParticipant.objects.get(activity=activity, volunteer=volunteer)
    assert participant.hours == participant.checked_hours == Decimal("1.50")
    with pytest.raises(Conflict) as exc:
        attendance.check_out(actor=user, activity=activity, key=key, now=out)
    assert exc.value.code == "already_checked_out"


def test_checked_hours_are_capped_by_the_activity_length(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    user, volunteer = vol
    activity = planned(world, hours=2)
    key = activity.checkin_key
    attendance.check_in(
        actor=user, activity=activity, key=key, now=activity.start - dt.timedelta(minutes=50)
    )
    late = activity.end + dt.timedelta(minutes=119)
    row = attendance.check_out(actor=user, activity=activity, key=key, now=late)
    assert row.hours == Decimal("2.00")
    assert ActivityParticipant.objects.get(volunteer=volunteer).checked_hours == Decimal("2.00")


def test_check_out_window_closes_after_the_setting(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    user, _v = vol
    activity = planned(world)
    key = activity.checkin_key
    attendance.check_in(actor=user, activity=activity, key=key, now=activity.start)
    with pytest.raises(Conflict) as exc:
        attendance.check_out(
            actor=user, activity=activity, key=key, now=activity.end + dt.timedelta(minutes=121)
        )
    assert exc.value.code == "too_late"
    assert not ActivityParticipant.objects.exists()


def test_a_checkout_seconds_after_check_in_is_refused(
    world: World, vol: tuple[User, Volunteer]
) -> None:
    user, _v = vol
    activity = planned(world)
    key = activity.checkin_key
    attendance.check_in(actor=user, activity=activity, key=key, now=activity.start)
    with pytest.raises(Conflict) as exc:
        attendance.check_out(
            actor=user, activity=activity, key=key, now=activity.start + dt.timedelta(seconds=10)
        )
    assert exc.value.code == "too_short"
    assert Attendance.objects.get().checked_out_at is None


def test_a_managers_hours_are_kept_and_the_difference_shows(
    world: World, vol: tuple[User, Volunteer], town_coordinator: User, api: Any
) -> None:
    """The manager lists the volunteer with 3 hours; the volunteer checks in for 1.25: the
    report keeps 3, the evidence says 1.25 — and stays when the manager edits the list
    again, through submission, to the reviewer's view of the activity."""
    user, volunteer = vol
    activity = make_activity(
        world.station_manager,
        world.station,
        days_ago=5 / 24,
        hours=4,
        participants=[{"volunteer": volunteer.pk, "hours": "3"}],
    )
    assert activity.status == ActivityStatus.DRAFT
    key = activity.checkin_key
    attendance.check_in(actor=user, activity=activity, key=key, now=activity.start)
    attendance.check_out(
        actor=user, activity=activity, key=key, now=activity.start + dt.timedelta(minutes=75)
    )
    participant = ActivityParticipant.objects.get(activity=activity)
    assert participant.hours == Decimal("3.00") and participant.checked_hours == Decimal("1.25")

    # Editing the participants keeps the evidence of those who stay.
    other = make_volunteer(world.station, name="李四")
    services.activity_update(
        actor=world.station_manager,
        activity=activity,
        data={
            "participants": [
                {"volunteer": volunteer.pk, "hours": "2.5"},
                {"volunteer": other.pk, "hours": "1"},
            ]
        },
    )
    rows = {p.volunteer_id: p for p in ActivityParticipant.objects.filter(activity=activity)}
    assert rows[volunteer.pk].hours == Decimal("2.50")
    assert rows[volunteer.pk].checked_hours == Decimal("1.25")
    assert rows[other.pk].checked_hours is None

    services.activity_submit(actor=world.station_manager, activity=activity)
    data = api(town_coordinator).get(f"/api/v1/activities/{activity.pk}/").json()
    mine = next(p for p in data["participants"] if p["volunteer"] == volunteer.pk)
    assert mine["hours"] == "2.50" and mine["checked_hours"] == "1.25"
    assert mine["record_status"] == RecordStatus.PENDING
    assert (
        next(p for p in data["participants"] if p["volunteer"] == other.pk)["checked_hours"] is None
    )


def test_a_returned_activity_takes_check_outs_again(
    world: World, vol: tuple[User, Volunteer], town_coordinator: User
) -> None:
    user, volunteer = vol
    activity = make_activity(world.station_manager, world.station, days_ago=1 / 24, hours=0.5)
    key = activity.checkin_key
    services.activity_submit(actor=world.station_manager, activity=activity)
    services.activity_return(actor=town_coordinator, activity=activity, reason="缺少签到")
    attendance.check_in(actor=user, activity=activity, key=key, now=activity.start)
    attendance.check_out(actor=user, activity=activity, key=key, now=activity.end)
    assert ActivityParticipant.objects.get(volunteer=volunteer).checked_hours == Decimal("0.50")


def test_attendance_for_lists_the_rows_with_their_volunteers(
    world: World, django_assert_num_queries: Any
) -> None:
    activity = planned(world)
    for n in range(3):
        attendance.signup(actor=volunteer_user(world.station, f"a{n}")[0], activity=activity)
    with django_assert_num_queries(1):
        rows = attendance.attendance_for(activity)
        names = [r.volunteer.name for r in rows]
    assert names == ["志愿a0", "志愿a1", "志愿a2"]


def test_signup_state(world: World, vol: tuple[User, Volunteer]) -> None:
    activity = planned(world, capacity=2)
    state = attendance.signup_state(activity, vol[0])
    assert state["places_left"] == 2 and state["signup_open"] and state["my_attendance"] is None
    attendance.signup(actor=vol[0], activity=activity)
    state = attendance.signup_state(activity, vol[0])
    assert state["signed_up"] == 1 and state["places_left"] == 1
    assert state["my_attendance"].signed_up_at is not None
    assert not attendance.signup_state(activity, vol[0], now=activity.start)["signup_open"]


# --- the new activity fields ------------------------------------------------------------------


def test_coordinates_and_capacity_are_validated(world: World) -> None:
    activity = planned(world, latitude="24.1234567", longitude=117, capacity="30")
    assert activity.latitude == Decimal("24.123457") and activity.longitude == Decimal("117")
    assert activity.capacity == 30
    for data, field in (
        ({"latitude": "90.5"}, "latitude"),
        ({"latitude": True}, "latitude"),
        ({"longitude": "-180.01"}, "longitude"),
        ({"longitude": "east"}, "longitude"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 10_001}, "capacity"),
        ({"capacity": "-3"}, "capacity"),
        ({"capacity": "many"}, "capacity"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            services.activity_update(actor=world.station_manager, activity=activity, data=data)
        assert field in exc.value.detail, data
    activity.refresh_from_db()
    assert activity.capacity == 30 and activity.latitude == Decimal("24.123457")
    services.activity_update(
        actor=world.station_manager,
        activity=activity,
        data={"capacity": "", "latitude": None, "longitude": ""},
    )
    activity.refresh_from_db()
    assert activity.capacity is None and activity.latitude is None and activity.longitude is None


def test_the_api_reads_and_writes_the_new_fields(world: World, api: Any) -> None:
    activity = planned(world, capacity=5)
    client = api(world.station_manager)
    url = f"/api/v1/activities/{activity.pk}/"
    response = client.patch(
        url, {"latitude": "24.5", "longitude": 117.4, "capacity": 12}, format="json"
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["latitude"] == "24.500000" and data["longitude"] == "117.400000"
    assert data["capacity"] == 12 and data["signed_up"] == 0
    bad = client.patch(url, {"latitude": "95"}, format="json")
    assert bad.status_code == 400 and "latitude" in bad.json()["detail"]
    attendance.signup(actor=volunteer_user(world.station)[0], activity=activity)
    listed = client.get("/api/v1/activities/").json()
    row = next(r for r in listed["results"] if r["id"] == activity.pk)
    assert row["signed_up"] == 1


# --- the API ----------------------------------------------------------------------------------


def test_api_signup_and_cancel(world: World, vol: tuple[User, Volunteer], api: Any) -> None:
    user, volunteer = vol
    activity = planned(world, capacity=1)
    url = f"/api/v1/activities/{activity.pk}/signup/"
    assert api(None).post(url).status_code in (401, 403)
    response = api(user).post(url)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["activity"] == activity.pk and body["signed_up_at"]
    assert body["checked_in_at"] is None and body["hours"] is None
    full = api(volunteer_user(world.station, "second")[0]).post(url)
    assert full.status_code == 409
    assert full.json()["code"] == "activity_full" and full.json()["message"] == "名额已满。"
    assert api(user).delete(url).status_code == 204
    assert not Attendance.objects.filter(volunteer=volunteer).exists()
    assert api(user).delete(url).status_code == 409


def test_api_signup_matrix(world: World, vol: tuple[User, Volunteer], api: Any) -> None:
    draft = make_activity(world.station_manager, world.station)
    assert api(vol[0]).post(f"/api/v1/activities/{draft.pk}/signup/").status_code == 404
    assert api(vol[0]).post("/api/v1/activities/999999/signup/").status_code == 404
    activity = planned(world)
    url = f"/api/v1/activities/{activity.pk}/signup/"
    for user in (world.no_role, world.station_manager, world.other_coordinator):
        response = api(user).post(url)
        assert response.status_code == 403 and response.json()["code"] == "not_a_volunteer"
    assert not Attendance.objects.exists()


def test_api_check_in_and_out(world: World, vol: tuple[User, Volunteer], api: Any) -> None:
    user, volunteer = vol
    # Started 30 minutes ago, two hours long; at 一村站's place.
    activity = planned(world, days_ago=0.5 / 24, hours=2, latitude=PLACE[0], longitude=PLACE[1])
    client = api(user)
    base = f"/api/v1/activities/{activity.pk}"
    wrong = client.post(f"{base}/check-in/", {"key": "nope"}, format="json")
    assert wrong.status_code == 404 and wrong.json()["code"] == "not_found"
    far = client.post(
        f"{base}/check-in/",
        {"key": activity.checkin_key, "latitude": float(FAR[0]), "longitude": float(FAR[1])},
        format="json",
    )
    assert far.status_code == 400 and far.json()["code"] == "too_far"
    assert "latitude" in far.json()["detail"]
    response = client.post(
        f"{base}/check-in/",
        {"key": activity.checkin_key, "latitude": NEAR[0], "longitude": NEAR[1]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["activity"] == activity.pk and body["checked_in_at"]
    assert body["checked_out_at"] is None and body["hours"] is None
    assert 95 <= body["check_in_distance"] <= 105
    again = client.post(f"{base}/check-in/", {"key": activity.checkin_key}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_checked_in"
    # Back-date the check-in: an hour of service.
    Attendance.objects.filter(volunteer=volunteer).update(
        checked_in_at=timezone.now() - dt.timedelta(hours=1)
    )
    out = client.post(f"{base}/check-out/", {"key": activity.checkin_key}, format="json")
    assert out.status_code == 200, out.json()
    assert out.json()["hours"] == "1.00" and out.json()["checked_out_at"]
    assert ActivityParticipant.objects.get(volunteer=volunteer).checked_hours == Decimal("1.00")


def test_api_check_in_matrix(world: World, vol: tuple[User, Volunteer], api: Any) -> None:
    activity = planned(world, days_ago=0.5 / 24, hours=2)
    url = f"/api/v1/activities/{activity.pk}/check-in/"
    body = {"key": activity.checkin_key}
    assert api(None).post(url, body, format="json").status_code in (401, 403)
    assert api(world.station_manager).post(url, body, format="json").status_code == 403
    assert api(vol[0]).post(url, {}, format="json").status_code == 400
    out = api(vol[0]).post(f"/api/v1/activities/{activity.pk}/check-out/", body, format="json")
    assert out.status_code == 409 and out.json()["code"] == "not_checked_in"
    assert api(vol[0]).post(url, body, format="json").status_code == 200


def test_only_volunteers_of_the_unit_and_below_take_part(world: World) -> None:
    """Those are the volunteers whoever logs the activity sees (and records hours for)."""
    activity = planned(world, days_ago=0.5 / 24, hours=2)
    sibling, _s = volunteer_user(world.station2, "sibling")
    above, _a = volunteer_user(world.town, "above")
    other_county, _o = volunteer_user(world.other_station, "faraway")
    for user in (sibling, above, other_county):
        with pytest.raises(PermissionDenied) as exc:
            attendance.check_in(actor=user, activity=activity, key=activity.checkin_key)
        assert exc.value.code == "not_in_unit" and "一村站" in str(exc.value.message)
    future = planned(world)
    with pytest.raises(PermissionDenied):
        attendance.signup(actor=sibling, activity=future)
    assert not Attendance.objects.exists()
    # The volunteers of a point below the station, and a station's at the town's activity.
    below, _b = volunteer_user(world.point, "below")
    attendance.check_in(actor=below, activity=activity, key=activity.checkin_key)
    town_activity = make_activity(
        world.town_manager, world.town, status=ActivityStatus.PLANNED, days_ago=-1
    )
    attendance.signup(actor=sibling, activity=town_activity)


def test_checked_in_volunteers_are_submitted_with_their_hours(
    world: World, town_coordinator: User
) -> None:
    """From the QR codes to confirmed hours: the station manager turns the planned
    activity into a report and submits it; the town coordinator approves it."""
    user, volunteer = volunteer_user(world.point, "pointvol")
    activity = planned(world, days_ago=3 / 24, hours=2)
    key = activity.checkin_key
    attendance.check_in(actor=user, activity=activity, key=key, now=activity.start)
    attendance.check_out(actor=user, activity=activity, key=key, now=activity.end)
    services.activity_update(
        actor=world.station_manager, activity=activity, data={"status": ActivityStatus.DRAFT}
    )
    services.activity_submit(actor=world.station_manager, activity=activity)
    services.activity_approve(actor=town_coordinator, activity=activity)
    participant = ActivityParticipant.objects.select_related("record").get(volunteer=volunteer)
    assert participant.record is not None and participant.record.status == RecordStatus.CONFIRMED
    assert participant.record.hours == Decimal("2.00")
