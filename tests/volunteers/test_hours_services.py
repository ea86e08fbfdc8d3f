"""Service records: creating, confirming, voiding, correcting — and the 24-hour day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from practice.choices import AuditAction, Role
from practice.models import AuditEntry, Category
from tests.factories import RoleFactory, UserFactory
from tests.volunteers.conftest import make_volunteer
from volunteers import hours, points
from volunteers.choices import PointsKind, RecordSource, RecordStatus, VolunteerStatus
from volunteers.models import PointsEntry, ServiceRecord, Volunteer

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 5, 20)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)


def create(world: Any, volunteer: Volunteer, hours_: Any = "2", **kw: Any) -> ServiceRecord:
    kw.setdefault("actor", world.station_manager)
    kw.setdefault("unit", world.station)
    kw.setdefault("date", TODAY)
    kw.setdefault("reason", "补录")
    return hours.record_create(volunteer=volunteer, hours=hours_, **kw)


def invariant(volunteer: Volunteer) -> None:
    volunteer.refresh_from_db()
    ledger = sum(PointsEntry.objects.filter(volunteer=volunteer).values_list("points", flat=True))
    assert volunteer.points_balance == ledger
    confirmed = sum(
        ServiceRecord.objects.filter(
            volunteer=volunteer, status=RecordStatus.CONFIRMED
        ).values_list("hours", flat=True),
        Decimal(0),
    )
    assert volunteer.confirmed_hours == confirmed


# --- create ----------------------------------------------------------------------------------


def test_create_records_a_pending_record_with_an_audit_entry(world: Any) -> None:
    volunteer = make_volunteer(world.station)
    record = create(world, volunteer, "1.5", content="扫地")
    assert record.status == RecordStatus.PENDING
    assert record.hours == Decimal("1.50")
    assert record.recorded_by == world.station_manager
    assert record.source == RecordSource.MANUAL
    entry = AuditEntry.objects.get(action=AuditAction.RECORD_CREATED)
    assert entry.unit == world.station and entry.changes["hours"] == "1.50"
    volunteer.refresh_from_db()
    assert volunteer.confirmed_hours == 0  # not before confirmation


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("0", "invalid"),
        ("24.01", "invalid"),
        ("-1", "invalid"),
        ("1.234", "invalid"),
        ("abc", "invalid"),
        ("NaN", "invalid"),
        ("", "required"),
        (True, "required"),
    ],
)
def test_bad_hours_are_refused_with_a_field_message(world: Any, value: Any, code: str) -> None:
    volunteer = make_volunteer(world.station)
    with pytest.raises(ValidationFailed) as exc:
        create(world, volunteer, value)
    assert exc.value.code == code
    assert "hours" in exc.value.detail
    assert not ServiceRecord.objects.exists()


def test_24_hours_is_allowed(world: Any) -> None:
    assert create(world, make_volunteer(world.station), "24").hours == Decimal(24)


def test_reason_is_required_for_a_manual_entry(world: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create(world, make_volunteer(world.station), reason="  ")
    assert exc.value.code == "required" and "reason" in exc.value.detail


def test_future_date_refused(world: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create(world, make_volunteer(world.station), date=TODAY + dt.timedelta(days=1))
    assert exc.value.code == "date_in_future"


def test_times_end_after_start_and_hours_within_the_span(world: Any) -> None:
    v = make_volunteer(world.station)
    with pytest.raises(ValidationFailed) as exc:
        create(world, v, "1", start_time=dt.time(10), end_time=dt.time(9))
    assert "end_time" in exc.value.detail
    with pytest.raises(ValidationFailed) as exc:
        create(world, v, "2.5", start_time=dt.time(9), end_time=dt.time(11))
    assert "hours" in exc.value.detail
    assert create(world, v, "2", start_time=dt.time(9), end_time=dt.time(11)).hours == 2


def test_the_day_never_exceeds_24_hours(world: Any) -> None:
    v = make_volunteer(world.station)
    create(world, v, "20")
    create(world, v, "3.5")
    with pytest.raises(ValidationFailed) as exc:
        create(world, v, "1")
    assert exc.value.code == "day_hours_exceeded"
    assert "0.50" in str(exc.value.message)
    create(world, v, "0.5")
    # Another day is free; a void record frees its hours.
    create(world, v, "10", date=TODAY - dt.timedelta(days=1))
    first = ServiceRecord.objects.filter(volunteer=v, date=TODAY).order_by("pk").first()
    assert first is not None
    hours.record_void(actor=world.station_manager, record=first, reason="重复")
    create(world, v, "20")


def test_volunteer_must_be_active_and_in_scope(world: Any) -> None:
    pending = make_volunteer(world.station, status=VolunteerStatus.PENDING)
    with pytest.raises(ValidationFailed) as exc:
        create(world, pending)
    assert exc.value.code == "volunteer_not_active"
    outsider = make_volunteer(world.other_station)
    with pytest.raises(NotFound):
        create(world, outsider)


def test_permission_matrix_for_recording(world: Any) -> None:
    v = make_volunteer(world.station)
    with pytest.raises(NotFound):  # a unit outside the actor's view
        create(world, v, unit=world.station3)
    with pytest.raises(NotFound):
        create(world, v, actor=world.no_role)
    with pytest.raises(NotFound):
        create(world, v, actor=world.other_coordinator)
    assert create(world, v, actor=world.coordinator).unit == world.station


def test_records_create_pending_checks_each_row(world: Any) -> None:
    a, b = make_volunteer(world.station), make_volunteer(world.station)
    create(world, b, "20")
    category, _c = Category.objects.get_or_create(code="culture", defaults={"name": "文化"})
    with pytest.raises(ValidationFailed) as exc:
        hours.records_create_pending(
            actor=world.station_manager,
            unit=world.station,
            date=TODAY,
            category=category,
            source=RecordSource.ACTIVITY,
            source_id=7,
            participants=[(a, "3"), (b, "5")],
        )
    assert exc.value.code == "day_hours_exceeded"
    assert list(exc.value.detail) == ["participants.1.hours"]
    with pytest.raises(ValidationFailed) as exc:
        hours.records_create_pending(
            actor=world.station_manager,
            unit=world.station,
            date=TODAY,
            category=category,
            source=RecordSource.ACTIVITY,
            source_id=7,
            participants=[(a, "0"), (a, "3")],
        )
    assert list(exc.value.detail) == ["participants.0.hours"]
    # The same volunteer twice in one call: both rows count toward the day.
    with pytest.raises(ValidationFailed):
        hours.records_create_pending(
            actor=world.station_manager,
            unit=world.station,
            date=TODAY,
            category=category,
            source=RecordSource.ACTIVITY,
            source_id=7,
            participants=[(a, "20"), (a, "5")],
        )
    records = hours.records_create_pending(
        actor=world.station_manager,
        unit=world.station,
        date=TODAY,
        category=category,
        source=RecordSource.ACTIVITY,
        source_id=7,
        participants=[(a, "3"), (b, "4")],
    )
    assert [r.status for r in records] == [RecordStatus.PENDING] * 2
    assert ServiceRecord.objects.filter(source=RecordSource.ACTIVITY, source_id=7).count() == 2


# --- confirm ---------------------------------------------------------------------------------


def test_confirm_adds_hours_and_points_in_one_go(world: Any) -> None:
    v = make_volunteer(world.station)
    record = create(world, v, "2.25")
    hours.record_confirm(actor=world.town_manager, record=record)
    record.refresh_from_db()
    assert record.status == RecordStatus.CONFIRMED
    assert record.confirmed_by == world.town_manager and record.confirmed_at is not None
    v.refresh_from_db()
    assert v.confirmed_hours == Decimal("2.25")
    entry = PointsEntry.objects.get(volunteer=v)
    # round(2.25 × 10) = 23 (halves up), the default rate.
    assert (entry.kind, entry.points, entry.balance, entry.record) == (
        PointsKind.EARNED,
        23,
        23,
        record,
    )
    assert AuditEntry.objects.filter(action=AuditAction.RECORD_CONFIRMED).count() == 1
    invariant(v)


def test_the_nearest_rate_on_the_chain_applies(world: Any) -> None:
    points.points_rate_set(actor=world.coordinator, unit=world.centre, points_per_hour=5)
    points.points_rate_set(actor=world.coordinator, unit=world.town, points_per_hour=7)
    v = make_volunteer(world.station)
    hours.record_confirm(actor=world.town_manager, record=create(world, v, "2"))
    r3 = create(world, v, "2", unit=world.station3, actor=world.coordinator)
    hours.record_confirm(actor=world.superuser, record=r3)
    assert list(PointsEntry.objects.order_by("pk").values_list("points", flat=True)) == [14, 10]
    assert AuditEntry.objects.filter(action=AuditAction.POINTS_RATE_SET).count() == 2


def test_the_recorder_may_not_confirm(world: Any) -> None:
    record = create(world, make_volunteer(world.station), actor=world.town_manager)
    with pytest.raises(PermissionDenied) as exc:
        hours.record_confirm(actor=world.town_manager, record=record)
    assert exc.value.code == "confirm_own_record"
    # The database refuses it too.
    record.status, record.confirmed_by = RecordStatus.CONFIRMED, world.town_manager
    with pytest.raises(IntegrityError), transaction.atomic():
        record.save()


def test_confirm_permission_matrix(world: Any) -> None:
    v = make_volunteer(world.station)
    record = create(world, v)
    with pytest.raises(NotFound):
        hours.record_confirm(actor=world.other_coordinator, record=record)
    with pytest.raises(NotFound):
        hours.record_confirm(actor=world.no_role, record=record)
    # The volunteer sees their own record but may not confirm it.
    own = UserFactory(username="vol")
    Volunteer.objects.filter(pk=v.pk).update(user=own)
    record.volunteer.refresh_from_db()
    with pytest.raises(PermissionDenied):
        hours.record_confirm(actor=own, record=record)


@pytest.mark.parametrize("state", [RecordStatus.CONFIRMED, RecordStatus.VOID])
def test_only_pending_is_confirmed(world: Any, state: str) -> None:
    record = create(world, make_volunteer(world.station))
    if state == RecordStatus.CONFIRMED:
        hours.record_confirm(actor=world.town_manager, record=record)
    else:
        hours.record_void(actor=world.station_manager, record=record, reason="错")
    record.refresh_from_db()
    with pytest.raises(InvalidTransition) as exc:
        hours.record_confirm(actor=world.coordinator, record=record)
    assert exc.value.code == "invalid_transition" and exc.value.status_code == 409


# --- void ------------------------------------------------------------------------------------


def test_void_pending_needs_a_reason_and_record_hours(world: Any) -> None:
    record = create(world, make_volunteer(world.station))
    with pytest.raises(ValidationFailed):
        hours.record_void(actor=world.station_manager, record=record, reason="")
    with pytest.raises(NotFound):
        hours.record_void(actor=world.other_coordinator, record=record, reason="x")
    hours.record_void(actor=world.station_manager, record=record, reason="录错了")
    record.refresh_from_db()
    assert record.status == RecordStatus.VOID and record.void_reason == "录错了"
    with pytest.raises(InvalidTransition):
        hours.record_void(actor=world.station_manager, record=record, reason="again")


def test_void_confirmed_only_from_strictly_above_and_reverses(world: Any) -> None:
    v = make_volunteer(world.station)
    record = create(world, v, "3")
    hours.record_confirm(actor=world.town_manager, record=record)
    record.refresh_from_db()
    # The station's own staff: 403 (correct it instead).
    with pytest.raises(PermissionDenied) as exc:
        hours.record_void(actor=world.station_manager, record=record, reason="x")
    assert exc.value.code == "confirmed_record"
    hours.record_void(actor=world.town_manager, record=record, reason="不实")
    v.refresh_from_db()
    assert v.confirmed_hours == 0 and v.points_balance == 0
    kinds = list(PointsEntry.objects.order_by("pk").values_list("kind", "points", "balance"))
    assert kinds == [(PointsKind.EARNED, 30, 30), (PointsKind.REVERSED, -30, 0)]
    invariant(v)


def test_void_refused_when_points_already_spent(world: Any) -> None:
    v = make_volunteer(world.station)
    record = create(world, v, "3")
    hours.record_confirm(actor=world.town_manager, record=record)
    points.points_redeem(
        actor=world.station_manager, volunteer=v, unit=world.station, item="毛巾", points=25
    )
    record.refresh_from_db()
    with pytest.raises(Conflict) as exc:
        hours.record_void(actor=world.coordinator, record=record, reason="不实")
    assert exc.value.code == "points_already_spent" and "5" in str(exc.value.message)
    record.refresh_from_db()
    assert record.status == RecordStatus.CONFIRMED
    invariant(v)


# --- correct ---------------------------------------------------------------------------------


def test_correction_confirmed_by_another_voids_the_original(world: Any) -> None:
    v = make_volunteer(world.station)
    original = create(world, v, "5")
    hours.record_confirm(actor=world.town_manager, record=original)
    original.refresh_from_db()
    correction = hours.record_correct(
        actor=world.station_manager, record=original, hours="3", reason="多记了两小时"
    )
    assert correction.source == RecordSource.CORRECTION and correction.corrects == original
    assert correction.status == RecordStatus.PENDING
    # A second pending correction is refused.
    with pytest.raises(Conflict):
        hours.record_correct(actor=world.station_manager, record=original, hours="4", reason="x")
    # Approved by its own author: refused.
    with pytest.raises(PermissionDenied):
        hours.record_confirm(actor=world.station_manager, record=correction)
    hours.record_confirm(actor=world.town_manager, record=correction)
    original.refresh_from_db()
    assert original.status == RecordStatus.VOID
    v.refresh_from_db()
    assert v.confirmed_hours == 3 and v.points_balance == 30
    history = list(PointsEntry.objects.order_by("pk").values_list("kind", "points"))
    assert history == [
        (PointsKind.EARNED, 50),
        (PointsKind.EARNED, 30),
        (PointsKind.REVERSED, -50),
    ]
    assert set(ServiceRecord.objects.filter(volunteer=v).values_list("status", flat=True)) == {
        RecordStatus.VOID,
        RecordStatus.CONFIRMED,
    }
    invariant(v)


def test_only_confirmed_records_are_corrected(world: Any) -> None:
    record = create(world, make_volunteer(world.station))
    with pytest.raises(InvalidTransition):
        hours.record_correct(actor=world.station_manager, record=record, hours="1", reason="x")
    with pytest.raises(NotFound):
        hours.record_correct(actor=world.other_coordinator, record=record, hours="1", reason="x")


def test_correction_replaces_the_original_in_the_day_total(world: Any) -> None:
    v = make_volunteer(world.station)
    original = create(world, v, "20")
    hours.record_confirm(actor=world.town_manager, record=original)
    original.refresh_from_db()
    create(world, v, "2")
    # 20 → 22 fits with the other 2 hours (the original is replaced); 23 does not.
    with pytest.raises(ValidationFailed) as exc:
        hours.record_correct(actor=world.station_manager, record=original, hours="23", reason="x")
    assert exc.value.code == "day_hours_exceeded"
    hours.record_correct(actor=world.station_manager, record=original, hours="22", reason="x")


def test_confirmed_records_have_no_update_or_delete_service() -> None:
    assert not [name for name in hours.__all__ if "update" in name or "delete" in name]


def test_invariant_after_a_sequence(world: Any) -> None:
    v = make_volunteer(world.station)
    r1 = create(world, v, "4")
    r2 = create(world, v, "2", date=TODAY - dt.timedelta(days=2))
    hours.record_confirm(actor=world.town_manager, record=r1)
    hours.record_confirm(actor=world.town_manager, record=r2)
    points.points_redeem(
        actor=world.station_manager, volunteer=v, unit=world.station, item="米", points=15
    )
    points.points_adjust(actor=world.coordinator, volunteer=v, points=8, reason="表彰")
    points.points_adjust(actor=world.coordinator, volunteer=v, points=-3, reason="更正")
    r2.refresh_from_db()
    hours.record_void(actor=world.town_manager, record=r2, reason="重复")
    invariant(v)
    v.refresh_from_db()
    assert v.points_balance == 40 + 20 - 15 + 8 - 3 - 20
    balances = list(PointsEntry.objects.order_by("pk").values_list("balance", flat=True))
    assert balances == [40, 60, 45, 53, 50, 30]


def test_hours_summary_by_year_and_category(world: Any, django_assert_num_queries: Any) -> None:
    culture, _c = Category.objects.get_or_create(code="culture", defaults={"name": "文化"})
    v = make_volunteer(world.station)
    for day, h, cat in [
        (TODAY, "2", culture),
        (dt.date(2025, 3, 1), "3", culture),
        (dt.date(2025, 3, 2), "1.5", None),
    ]:
        r = create(world, v, h, date=day, category=cat)
        hours.record_confirm(actor=world.town_manager, record=r)
    create(world, v, "4", date=dt.date(2025, 3, 3))  # pending: not counted
    v.refresh_from_db()
    with django_assert_num_queries(1):
        summary = hours.hours_summary(v)
    assert summary["total"] == Decimal("6.50")
    assert summary["by_year"] == [(2026, Decimal(2)), (2025, Decimal("4.5"))]
    assert [(c["code"], c["hours"]) for c in summary["by_category"]] == [
        ("culture", Decimal(5)),
        (None, Decimal("1.5")),
    ]


def test_records_in_scope(world: Any) -> None:
    home_station3 = make_volunteer(world.station3)
    v = make_volunteer(world.station)
    at_station = create(world, v)
    served_elsewhere = create(world, home_station3, actor=world.coordinator, unit=world.station3)
    # The station sees records organized there, and its own volunteers' records.
    seen = set(hours.records_in_scope(world.station_manager).values_list("pk", flat=True))
    assert seen == {at_station.pk}
    other = create(world, v, unit=world.station3, actor=world.coordinator, date=TODAY)
    seen = set(hours.records_in_scope(world.station_manager).values_list("pk", flat=True))
    assert other.pk in seen and served_elsewhere.pk not in seen
    assert not hours.records_in_scope(world.other_coordinator).exists()
    assert not hours.records_in_scope(world.no_role).exists()
    own = UserFactory(username="own")
    Volunteer.objects.filter(pk=v.pk).update(user=own)
    assert set(hours.records_in_scope(own).values_list("pk", flat=True)) == {
        at_station.pk,
        other.pk,
    }


def test_a_role_on_two_counties(world: Any) -> None:
    RoleFactory(user=world.station_manager, unit=world.other_station, role=Role.MANAGER)
    world.refresh()
    v = make_volunteer(world.other_station)
    assert create(world, v, unit=world.other_station).unit == world.other_station


def test_a_confirmed_record_of_a_top_level_unit_is_voided_by_a_superuser_only(world: Any) -> None:
    v = make_volunteer(world.station)
    record = create(world, v, "1", unit=world.centre, actor=world.coordinator)
    hours.record_confirm(actor=world.superuser, record=record)
    record.refresh_from_db()
    with pytest.raises(PermissionDenied):
        hours.record_void(actor=world.coordinator, record=record, reason="x")
    hours.record_void(actor=world.superuser, record=record, reason="x")
    invariant(v)
