"""The points ledger: redemptions, adjustments, the rate."""

from __future__ import annotations

from typing import Any

import pytest

from portal.errors import NotFound, PermissionDenied, ValidationFailed
from practice.choices import AuditAction
from practice.models import AuditEntry
from tests.volunteers.conftest import make_volunteer
from volunteers import points
from volunteers.choices import PointsKind, VolunteerStatus
from volunteers.models import PointsEntry, PointsRate

pytestmark = pytest.mark.django_db


def redeem(world: Any, volunteer: Any, amount: Any = 10, **kw: Any) -> Any:
    kw.setdefault("actor", world.station_manager)
    kw.setdefault("unit", world.station)
    kw.setdefault("item", "毛巾")
    return points.points_redeem(volunteer=volunteer, points=amount, **kw)


def test_redeem_writes_the_ledger_and_the_audit(world: Any) -> None:
    v = make_volunteer(world.station, points=30)
    entry = redeem(world, v, 12)
    assert (entry.kind, entry.points, entry.balance, entry.unit, entry.actor) == (
        PointsKind.REDEEMED,
        -12,
        18,
        world.station,
        world.station_manager,
    )
    v.refresh_from_db()
    assert v.points_balance == 18
    audit = AuditEntry.objects.get(action=AuditAction.POINTS_CHANGED)
    assert audit.changes["points"] == -12 and audit.unit == world.station


@pytest.mark.parametrize("amount", [0, -5, "abc", 1.5, True, None, 100_001])
def test_redeem_bad_points(world: Any, amount: Any) -> None:
    v = make_volunteer(world.station, points=30)
    with pytest.raises(ValidationFailed) as exc:
        redeem(world, v, amount)
    assert "points" in exc.value.detail
    assert not PointsEntry.objects.exists()


def test_redeem_more_than_the_balance(world: Any) -> None:
    v = make_volunteer(world.station, points=30)
    with pytest.raises(ValidationFailed) as exc:
        redeem(world, v, 31)
    assert exc.value.code == "insufficient_points"
    assert "30" in str(exc.value.message)
    assert redeem(world, v, 30).balance == 0


def test_redeem_needs_an_item_and_an_active_volunteer(world: Any) -> None:
    v = make_volunteer(world.station, points=30)
    with pytest.raises(ValidationFailed) as exc:
        redeem(world, v, item=" ")
    assert "item" in exc.value.detail
    suspended = make_volunteer(world.station, points=30, status=VolunteerStatus.SUSPENDED)
    with pytest.raises(ValidationFailed) as exc:
        redeem(world, suspended)
    assert exc.value.code == "volunteer_not_active"


def test_redeem_permission_matrix(world: Any) -> None:
    v = make_volunteer(world.station3, points=30)  # another town, same county: served
    assert redeem(world, v).balance == 20
    with pytest.raises(NotFound):  # a shop outside the actor's scope
        redeem(world, v, unit=world.station3)
    with pytest.raises(NotFound):
        redeem(world, v, actor=world.no_role)
    with pytest.raises(NotFound):  # a volunteer of another county
        redeem(world, make_volunteer(world.other_station, points=30))
    # Found by number only within the shop's county.
    assert points.volunteer_for_shop(world.station_manager, v.number.lower()) == v
    far = make_volunteer(world.other_station)
    assert points.volunteer_for_shop(world.station_manager, far.number) is None
    assert points.volunteer_for_shop(world.no_role, v.number) is None


def test_adjust(world: Any) -> None:
    v = make_volunteer(world.station, points=5)
    entry = points.points_adjust(actor=world.coordinator, volunteer=v, points=10, reason="表彰")
    assert (entry.kind, entry.balance) == (PointsKind.AWARDED, 15)
    entry = points.points_adjust(actor=world.coordinator, volunteer=v, points="-15", reason="x")
    assert (entry.kind, entry.balance) == (PointsKind.DEDUCTED, 0)
    with pytest.raises(ValidationFailed) as exc:
        points.points_adjust(actor=world.coordinator, volunteer=v, points=-1, reason="x")
    assert exc.value.code == "insufficient_points"
    with pytest.raises(ValidationFailed) as exc:
        points.points_adjust(actor=world.coordinator, volunteer=v, points=3, reason="")
    assert "reason" in exc.value.detail
    with pytest.raises(ValidationFailed):
        points.points_adjust(actor=world.coordinator, volunteer=v, points=0, reason="x")
    with pytest.raises(PermissionDenied):  # managers do not award points
        points.points_adjust(actor=world.station_manager, volunteer=v, points=3, reason="x")
    with pytest.raises(NotFound):
        points.points_adjust(actor=world.other_coordinator, volunteer=v, points=3, reason="x")
    assert AuditEntry.objects.filter(action=AuditAction.POINTS_CHANGED).count() == 2


def test_rate(world: Any) -> None:
    assert points.rate_for(world.point) == 10  # the setting
    points.points_rate_set(actor=world.coordinator, unit=world.town, points_per_hour=4)
    points.points_rate_set(actor=world.coordinator, unit=world.town, points_per_hour="6")
    assert PointsRate.objects.get(unit=world.town).points_per_hour == 6
    assert points.rate_for(world.point) == 6
    assert points.rate_for(world.station3) == 10
    for bad in (-1, 1001, "x", 2.5, True):
        with pytest.raises(ValidationFailed):
            points.points_rate_set(actor=world.coordinator, unit=world.town, points_per_hour=bad)
    with pytest.raises(PermissionDenied):
        points.points_rate_set(actor=world.town_manager, unit=world.town, points_per_hour=3)
    with pytest.raises(NotFound):
        points.points_rate_set(actor=world.other_coordinator, unit=world.town, points_per_hour=3)
    audit = AuditEntry.objects.filter(action=AuditAction.POINTS_RATE_SET).order_by("pk").last()
    assert audit is not None and audit.changes["points_per_hour"] == [4, 6]


def test_points_for_hours_rounds_halves_up() -> None:
    from decimal import Decimal

    assert points.points_for_hours(Decimal("0.25"), 10) == 3
    assert points.points_for_hours(Decimal("0.24"), 10) == 2
    assert points.points_for_hours(Decimal("2.5"), 3) == 8


def test_the_database_refuses_a_negative_balance(world: Any) -> None:
    from django.db import IntegrityError, transaction

    from volunteers.models import Volunteer

    v = make_volunteer(world.station)
    with pytest.raises(IntegrityError), transaction.atomic():
        Volunteer.objects.filter(pk=v.pk).update(points_balance=-1)
