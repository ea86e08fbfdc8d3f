"""Thirty volunteers take the last ten places of an activity at the same moment, on
PostgreSQL: exactly ten get one, the other twenty get 409 ``activity_full`` — the places
are counted under the activity's row lock. And one volunteer scanning the check-in code
on two phones at once is checked in once.

Run with ``DATABASE_URL=postgres://…`` (marker ``postgres``); SQLite serializes writers."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from activities import attendance
from activities.choices import ActivityStatus
from activities.models import Attendance
from portal.errors import ApplicationError
from tests.activities.conftest import make_activity
from tests.conftest import World
from tests.factories import UserFactory
from tests.volunteers.conftest import make_volunteer
from tests.volunteers.test_hours_concurrency import run_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

VOLUNTEERS = 30
PLACES = 10


@pytest.fixture(autouse=True)
def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL (DATABASE_URL); the database is {connection.vendor}")


def test_of_thirty_volunteers_exactly_ten_get_the_ten_places(world: World) -> None:
    activity = make_activity(
        world.station_manager,
        world.station,
        status=ActivityStatus.PLANNED,
        days_ago=-1,
        capacity=PLACES,
    )
    users = []
    for n in range(VOLUNTEERS):
        user = UserFactory(username=f"racer{n}")
        make_volunteer(world.station, name=f"志愿者{n}", user=user)
        users.append(user)

    def taker(user: Any) -> Any:
        return lambda: attendance.signup(actor=user, activity=activity)

    results, errors = run_threads([taker(u) for u in users])

    assert len(results) == PLACES, errors[:3]
    assert len(errors) == VOLUNTEERS - PLACES
    assert all(isinstance(e, ApplicationError) and e.code == "activity_full" for e in errors), (
        errors[:3]
    )
    assert Attendance.objects.filter(activity=activity, signed_up_at__isnull=False).count() == (
        PLACES
    )


def test_two_scans_at_once_check_in_once(world: World) -> None:
    activity = make_activity(
        world.station_manager,
        world.station,
        status=ActivityStatus.PLANNED,
        days_ago=0.5 / 24,
        hours=2,
    )
    user = UserFactory(username="twophones")
    make_volunteer(world.station, name="两部手机", user=user)

    def scan() -> Any:
        return attendance.check_in(actor=user, activity=activity, key=activity.checkin_key)

    results, errors = run_threads([scan, scan])

    assert len(results) == 1, errors
    assert len(errors) == 1 and getattr(errors[0], "code", None) == "already_checked_in"
    assert Attendance.objects.filter(activity=activity).count() == 1
