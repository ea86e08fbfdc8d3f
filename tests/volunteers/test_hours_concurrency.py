"""Parallel writers for one volunteer, on PostgreSQL: the volunteer row's lock keeps the
24-hour day, the points balance and confirmed hours exact.

Run with ``DATABASE_URL=postgres://…`` (marker ``postgres``); SQLite serializes writers
itself (the sequential rules are tested in test_hours_services.py)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from portal.errors import ApplicationError
from tests.volunteers.conftest import make_volunteer
from volunteers import hours, points
from volunteers.choices import RecordStatus
from volunteers.models import PointsEntry, ServiceRecord, Volunteer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TIMEOUT = 60.0


@pytest.fixture(autouse=True)
def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL (DATABASE_URL); the database is {connection.vendor}")


def run_threads(workers: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Start ``workers`` together, each on its own connection; (results, errors)."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def wrap(work: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            try:
                barrier.wait(timeout=TIMEOUT)
                value = work()
                with lock:
                    results.append(value)
            except BaseException as exc:  # reported by the test
                with lock:
                    errors.append(exc)
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=wrap(w), daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    assert not [t for t in threads if t.is_alive()], "threads still running (deadlock?)"
    return results, errors


def test_ten_writers_never_exceed_24_hours_a_day(world: Any) -> None:
    volunteer = make_volunteer(world.station)
    day = dt.date.today() - dt.timedelta(days=1)

    def writer() -> ServiceRecord:
        return hours.record_create(
            actor=world.station_manager,
            volunteer=volunteer,
            unit=world.station,
            date=day,
            hours="3",
            reason="并发",
        )

    results, errors = run_threads([writer for _ in range(10)])
    assert len(results) == 8
    assert len(errors) == 2
    assert all(
        isinstance(e, ApplicationError) and e.code == "day_hours_exceeded" for e in errors
    ), errors
    total = ServiceRecord.objects.filter(volunteer=volunteer, date=day).aggregate(t=Sum("hours"))
    assert total["t"] == Decimal(24)


def test_two_redemptions_for_the_last_points_one_wins(world: Any) -> None:
    volunteer = make_volunteer(world.station, points=10)

    def redeem() -> Any:
        return points.points_redeem(
            actor=world.station_manager,
            volunteer=Volunteer.objects.select_related("unit").get(pk=volunteer.pk),
            unit=world.station,
            item="毛巾",
            points=10,
        )

    results, errors = run_threads([redeem for _ in range(4)])
    assert len(results) == 1
    assert [getattr(e, "code", e) for e in errors] == ["insufficient_points"] * 3
    volunteer.refresh_from_db()
    assert volunteer.points_balance == 0
    assert list(PointsEntry.objects.values_list("points", "balance")) == [(-10, 0)]


def test_parallel_confirmations_count_once(world: Any) -> None:
    volunteer = make_volunteer(world.station)
    day = dt.date.today()
    records = [
        hours.record_create(
            actor=world.station_manager,
            volunteer=volunteer,
            unit=world.station,
            date=day - dt.timedelta(days=i),
            hours="2",
            reason="r",
        )
        for i in range(4)
    ]
    # Each record confirmed twice at once (by two people): each counts once.
    workers = [
        (lambda r=r, who=who: hours.record_confirm(actor=who, record=r))
        for r in records
        for who in (world.town_manager, world.coordinator)
    ]
    results, errors = run_threads(workers)
    assert len(results) == 4
    assert [getattr(e, "code", e) for e in errors] == ["invalid_transition"] * 4
    volunteer.refresh_from_db()
    assert volunteer.confirmed_hours == Decimal(8)
    assert volunteer.points_balance == 80
    assert sum(PointsEntry.objects.values_list("points", flat=True)) == 80
    assert ServiceRecord.objects.filter(status=RecordStatus.CONFIRMED).count() == 4
