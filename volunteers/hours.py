"""Service records (志愿服务时长): the legal record of hours — services and selectors.

A record is created ``pending`` by someone with RECORD_HOURS on the organizing unit (by
hand, or in bulk from a delivered request or an approved activity) and confirmed by
someone else with CONFIRM_HOURS there. Confirming adds the hours to the volunteer's
``confirmed_hours`` and earns points (``volunteers.points``) in the same transaction.

**A confirmed record is never edited or deleted.** A mistake is corrected by a new record
(``source=correction``, ``corrects`` the original) which, once a second person confirms it,
voids the original — reversing the original's hours and points — so the history shows
both. A confirmed record may also be voided outright, but only by CONFIRM_HOURS on a unit
strictly above the organizing unit (the organizer's own staff correct, they do not void).
A void that would take back points the volunteer has already spent is refused (409
``points_already_spent``): points are never taken below zero.

**24 hours a day.** A volunteer's non-void hours (pending and confirmed) on one day never
exceed 24 across records. Every writer locks the volunteer's row first
(``points.lock_volunteer``), then sums that day's records and inserts, so parallel writers
for one volunteer are serialized. A pending correction is counted in place of the record it
corrects (confirming it voids that one).

Every writer of a volunteer's hours or points takes the volunteer's row lock *before* any
record's lock, so they cannot deadlock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.cache import VOLUNTEERS, bump_on_commit
from portal.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from portal.errors import field_error as _fail
from portal.filters import FromToFilterSet, FromToForm, IdFilter, WithinFilter
from practice.choices import AuditAction
from practice.models import Category, Unit, User
from practice.permissions import Action, can, require, scope_q
from practice.services import record_audit

from .choices import STAR_LEVELS, PointsKind, RecordSource, RecordStatus, VolunteerStatus
from .models import MAX_DAY_HOURS, PointsEntry, ServiceRecord, Volunteer
from .points import clean_text, ledger_append, lock_volunteer, points_for_hours, rate_for

__all__ = [
    "RecordFilterSet",
    "clean_hours",
    "corrections_of",
    "hours_summary",
    "may_void_confirmed",
    "next_star",
    "pending_first",
    "record_confirm",
    "record_correct",
    "record_create",
    "record_visible",
    "record_void",
    "records_create_delivered",
    "records_create_pending",
    "records_in_scope",
    "records_of",
    "star_level",
]

CONTENT_MAX = 200
REASON_MAX = 500
# Sources entered by a person, who must say why (activities and requests carry their own).
REASON_REQUIRED = frozenset({RecordSource.MANUAL, RecordSource.CORRECTION})


# --- validation ----------------------------------------------------------------------------


def clean_hours(value: Any, field: str = "hours") -> Decimal:
    """Hours as a ``Decimal`` with at most two decimals, 0 < h ≤ 24."""
    if isinstance(value, bool) or value is None or value == "":
        raise _fail(field, _("Enter the hours, e.g. 2 or 1.5."), code="required")
    try:
        hours = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise _fail(field, _("Enter the hours as a number, e.g. 2 or 1.5.")) from exc
    if not hours.is_finite():
        raise _fail(field, _("Enter the hours as a number, e.g. 2 or 1.5."))
    if hours != hours.quantize(Decimal("0.01")):
        raise _fail(field, _("Hours have at most two decimals."))
    if not Decimal(0) < hours <= MAX_DAY_HOURS:
        raise _fail(field, _("Hours must be more than 0 and at most 24."))
    return hours.quantize(Decimal("0.01"))


def _clean_date(value: Any) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise _fail("date", _("Enter a valid date."))
    if value > timezone.localdate():
        raise _fail("date", _("The date may not be in the future."), code="date_in_future")
    return value


def _check_times(start: dt.time | None, end: dt.time | None, hours: Decimal) -> None:
    if start is None or end is None:
        return
    if end <= start:
        raise _fail("end_time", _("The end must be after the start."))
    span = Decimal((end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)) / 60
    if hours > span:
        raise _fail(
            "hours",
            _("%(hours)s hours do not fit between the start and the end (%(span)s hours).")
            % {"hours": hours, "span": span.quantize(Decimal("0.01"))},
        )


def _day_remaining(volunteer: Volunteer, date: dt.date, *, replacing: int | None = None) -> Decimal:
    """Hours still free on ``date`` for ``volunteer`` (non-void records counted; the
    record ``replacing`` — the original of a correction — left out)."""
    records = ServiceRecord.objects.filter(volunteer=volunteer, date=date).exclude(
        status=RecordStatus.VOID
    )
    if replacing is not None:
        records = records.exclude(pk=replacing)
    used = records.aggregate(total=Sum("hours"))["total"] or Decimal(0)
    # SQLite sums decimals in floating point: back to the hundredths they are stored in.
    return MAX_DAY_HOURS - Decimal(used).quantize(Decimal("0.01"))


def _day_exceeded(volunteer: Volunteer, date: dt.date, remaining: Decimal) -> ValidationFailed:
    remaining = max(remaining, Decimal(0)).quantize(Decimal("0.01"))
    return _fail(
        "hours",
        _(
            "%(name)s already has hours recorded on %(date)s: at most %(remaining)s more "
            "hours may be recorded that day (24 a day)."
        )
        % {"name": volunteer.name, "date": date.isoformat(), "remaining": remaining},
        code="day_hours_exceeded",
    )


def _repr(record: ServiceRecord, volunteer: Volunteer) -> str:
    return f"{volunteer.number or volunteer.pk} {volunteer.name} · {record.date} · {record.hours} h"


def _validated(record: ServiceRecord) -> None:
    """The model's field rules (text normalization, lengths), relations left out (they
    are checked by the caller; ``full_clean`` would query each one)."""
    try:
        record.full_clean(
            exclude=[
                "volunteer",
                "unit",
                "category",
                "corrects",
                "recorded_by",
                "confirmed_by",
                "voided_by",
            ],
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise ValidationFailed(
            detail={k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        ) from exc


def _require_on_record(actor: User, action: Action, record: ServiceRecord) -> None:
    """``action`` on the record's unit; 403 when the actor sees the record (their scope,
    or their own record) but may not do this, else 404."""
    if can(actor, action, record.unit):
        return
    if record_visible(actor, record):
        raise PermissionDenied(_("Your role does not allow this for this record."))
    raise NotFound()


def record_visible(user: Any, record: ServiceRecord) -> bool:
    """The rule of :func:`records_in_scope` for one record (no query once the grants and
    the record's units are read)."""
    if user is None or not user.is_authenticated:
        return False
    return (
        can(user, Action.VIEW, record.unit)
        or can(user, Action.VIEW, record.volunteer.unit)
        or record.volunteer.user_id == user.pk
    )


# --- creating ------------------------------------------------------------------------------


def record_create(
    *,
    actor: User,
    volunteer: Volunteer,
    unit: Unit,
    date: dt.date,
    hours: Any,
    category: Category | None = None,
    content: str = "",
    start_time: dt.time | None = None,
    end_time: dt.time | None = None,
    reason: str = "",
    source: str = RecordSource.MANUAL,
    source_id: int | None = None,
) -> ServiceRecord:
    """One pending record of ``volunteer``'s hours for ``unit`` (RECORD_HOURS there). The
    volunteer must be active and in the actor's staff view (else 404); a manual entry
    needs a reason."""
    require(actor, Action.RECORD_HOURS, unit)
    if not can(actor, Action.VIEW, volunteer.unit):
        raise NotFound()
    if source == RecordSource.CORRECTION:
        raise ValueError("corrections are made by record_correct")
    hours_value = clean_hours(hours)
    date = _clean_date(date)
    _check_times(start_time, end_time, hours_value)
    reason_text = clean_text(
        reason, "reason", REASON_MAX, multiline=True, required=source in REASON_REQUIRED
    )
    content_text = clean_text(content, "content", CONTENT_MAX, multiline=False, required=False)
    with transaction.atomic():
        locked = lock_volunteer(volunteer)
        if locked.status != VolunteerStatus.ACTIVE:
            raise _fail(
                "volunteer",
                _("Hours are recorded for active volunteers only."),
                code="volunteer_not_active",
            )
        remaining = _day_remaining(locked, date)
        if hours_value > remaining:
            raise _day_exceeded(locked, date, remaining)
        record = ServiceRecord(
            volunteer=locked,
            unit=unit,
            date=date,
            start_time=start_time,
            end_time=end_time,
            hours=hours_value,
            category=category,
            content=content_text,
            source=source,
            source_id=source_id,
            reason=reason_text,
            recorded_by=actor,
        )
        _validated(record)
        record.save()
        record_audit(
            actor=actor,
            action=AuditAction.RECORD_CREATED,
            unit=unit,
            object_repr=_repr(record, locked),
            changes={
                "record": record.pk,
                "volunteer": locked.number or locked.pk,
                "date": date.isoformat(),
                "hours": str(hours_value),
                "source": source,
                "source_id": source_id,
                "reason": reason_text,
            },
        )
    return record


def records_create_pending(
    *,
    actor: User,
    unit: Unit,
    date: dt.date,
    category: Category | None,
    source: str,
    source_id: int | None,
    participants: Sequence[tuple[Volunteer, Any]],
    content: str = "",
    reason: str = "",
) -> list[ServiceRecord]:
    """Pending records for several volunteers at once (an activity, a manager's batch):
    the checks of :func:`record_create` for each, all or nothing. Errors name the row
    (``participants.2.hours``). The volunteers are locked in id order (no deadlock between
    two such calls), each day's total checked with the other rows of the same call."""
    require(actor, Action.RECORD_HOURS, unit)
    for volunteer, _hours in participants:
        if not can(actor, Action.VIEW, volunteer.unit):
            raise NotFound()
    return _create_pending(
        recorded_by=actor,
        unit=unit,
        date=date,
        category=category,
        source=source,
        source_id=source_id,
        participants=participants,
        content=content,
        reason=reason,
    )


def records_create_delivered(
    *,
    recorded_by: User,
    unit: Unit,
    date: dt.date,
    category: Category | None,
    request_id: int,
    participants: Sequence[tuple[Volunteer, Any]],
    content: str = "",
) -> list[ServiceRecord]:
    """Pending records of a delivered service request (``source=request``), recorded by the
    volunteer who reports the delivery — who holds no role: the caller
    (``orders.services.request_deliver``) has checked that they claimed the request or lead
    its team and that every participant is in that team. Someone with CONFIRM_HOURS on
    ``unit`` (the request's station or an office above it) confirms them: the second person."""
    return _create_pending(
        recorded_by=recorded_by,
        unit=unit,
        date=date,
        category=category,
        source=RecordSource.REQUEST,
        source_id=request_id,
        participants=participants,
        content=content,
        reason="",
    )


def _create_pending(
    *,
    recorded_by: User,
    unit: Unit,
    date: dt.date,
    category: Category | None,
    source: str,
    source_id: int | None,
    participants: Sequence[tuple[Volunteer, Any]],
    content: str,
    reason: str,
) -> list[ServiceRecord]:
    actor = recorded_by
    if source == RecordSource.CORRECTION:
        raise ValueError("corrections are made by record_correct")
    if not participants:
        raise _fail("participants", _("Name at least one volunteer."), code="required")
    date = _clean_date(date)
    reason_text = clean_text(
        reason, "reason", REASON_MAX, multiline=True, required=source in REASON_REQUIRED
    )
    content_text = clean_text(content, "content", CONTENT_MAX, multiline=False, required=False)
    detail: dict[str, list[str]] = {}
    rows: list[tuple[int, Volunteer, Decimal]] = []
    for index, (volunteer, hours) in enumerate(participants):
        try:
            rows.append((index, volunteer, clean_hours(hours)))
        except ValidationFailed as exc:
            detail[f"participants.{index}.hours"] = [str(exc.message)]
    if detail:
        raise ValidationFailed(detail=detail)
    code = "invalid"
    records: list[ServiceRecord] = []
    with transaction.atomic():
        locked = {pk: lock_volunteer(pk) for pk in sorted({v.pk for _i, v, _h in rows})}
        remaining = {pk: _day_remaining(v, date) for pk, v in locked.items()}
        for index, volunteer, hours in rows:
            current = locked[volunteer.pk]
            if current.status != VolunteerStatus.ACTIVE:
                detail[f"participants.{index}.volunteer"] = [
                    _("Hours are recorded for active volunteers only.")
                ]
                code = "volunteer_not_active"
                continue
            if hours > remaining[volunteer.pk]:
                error = _day_exceeded(current, date, remaining[volunteer.pk])
                detail[f"participants.{index}.hours"] = [str(error.message)]
                code = "day_hours_exceeded"
                continue
            remaining[volunteer.pk] -= hours
            records.append(
                ServiceRecord(
                    volunteer=current,
                    unit=unit,
                    date=date,
                    hours=hours,
                    category=category,
                    content=content_text,
                    source=source,
                    source_id=source_id,
                    reason=reason_text,
                    recorded_by=actor,
                )
            )
        if detail:
            raise ValidationFailed(code=code, detail=detail)
        for record in records:
            _validated(record)
        ServiceRecord.objects.bulk_create(records)
        record_audit(
            actor=actor,
            action=AuditAction.RECORD_CREATED,
            unit=unit,
            object_repr=f"{source} {source_id or ''} · {date}",
            changes={
                "records": len(records),
                "date": date.isoformat(),
                "hours": str(sum((r.hours for r in records), Decimal(0))),
                "source": source,
                "source_id": source_id,
            },
        )
    return records


# --- confirming, voiding, correcting ---------------------------------------------------------


def _locked_record(record: ServiceRecord) -> ServiceRecord:
    return (
        ServiceRecord.objects.select_for_update(of=("self",))
        .select_related("unit", "volunteer__unit", "corrects")
        .get(pk=record.pk)
    )


def _net_points(record: ServiceRecord) -> int:
    """Points the record has earned and not yet given back."""
    total = PointsEntry.objects.filter(record=record).aggregate(total=Sum("points"))["total"]
    return int(total or 0)


def _reverse(volunteer: Volunteer, record: ServiceRecord, actor: User, reason: str) -> int:
    """Take back a confirmed record's hours and points (the caller has checked the balance
    suffices and holds the volunteer's lock). Returns the points taken back."""
    volunteer.confirmed_hours -= record.hours
    volunteer.save(update_fields=["confirmed_hours"])
    points = _net_points(record)
    if points > 0:
        ledger_append(
            volunteer,
            kind=PointsKind.REVERSED,
            points=-points,
            actor=actor,
            unit=record.unit,
            record=record,
            reason=reason,
        )
    return points


def _spent(volunteer: Volunteer, needed: int) -> Conflict:
    return Conflict(
        _(
            "The volunteer has already spent the points this record earned (balance "
            "%(balance)d, %(needed)d would be taken back); the record cannot be voided."
        )
        % {"balance": volunteer.points_balance, "needed": needed},
        code="points_already_spent",
    )


REVIEWED_SOURCES = frozenset({RecordSource.ACTIVITY, RecordSource.REQUEST})


def record_confirm(
    *, actor: User, record: ServiceRecord, through_review: bool = False
) -> ServiceRecord:
    """pending → confirmed, by CONFIRM_HOURS on the organizing unit — never by the person
    who recorded it. The hours go to the volunteer's total and earn points; a confirmed
    correction voids the record it corrects (its hours and points reversed).

    The records of an activity or a delivered request (:data:`REVIEWED_SOURCES`) are
    confirmed by approving the activity (``through_review``, from
    ``activities.services``): confirming one alone would skip the review above."""
    _require_on_record(actor, Action.CONFIRM_HOURS, record)
    if record.source in REVIEWED_SOURCES and not through_review:
        raise InvalidTransition(
            _("This record is confirmed when its activity is approved by the level above."),
            code="confirmed_by_review",
        )
    if record.recorded_by_id is not None and record.recorded_by_id == actor.pk:
        raise PermissionDenied(
            _("Someone other than the person who recorded it must confirm it."),
            code="confirm_own_record",
        )
    with transaction.atomic():
        volunteer = lock_volunteer(record.volunteer_id)
        current = _locked_record(record)
        if current.status != RecordStatus.PENDING:
            raise InvalidTransition(
                _("Only a record awaiting confirmation can be confirmed (this one is %(s)s).")
                % {"s": current.get_status_display()}
            )
        original = current.corrects
        if original is not None:
            original = _locked_record(original)
            if original.status != RecordStatus.CONFIRMED:
                raise InvalidTransition(
                    _("The record this corrects is no longer confirmed; void this correction.")
                )
        now = timezone.now()
        current.status = RecordStatus.CONFIRMED
        current.confirmed_by = actor
        current.confirmed_at = now
        current.save(update_fields=["status", "confirmed_by", "confirmed_at"])
        from activities import summary  # the statistics' table (the app above this one)

        summary.on_record_confirmed(current)
        volunteer.confirmed_hours += current.hours
        volunteer.save(update_fields=["confirmed_hours"])
        earned = points_for_hours(current.hours, rate_for(current.unit))
        reversed_points = 0
        if original is not None:
            needed = _net_points(original)
            if volunteer.points_balance + earned < needed:
                raise _spent(volunteer, needed - earned)
        if earned > 0:
            ledger_append(
                volunteer,
                kind=PointsKind.EARNED,
                points=earned,
                actor=actor,
                unit=current.unit,
                record=current,
            )
        if original is not None:
            reversed_points = _reverse(
                volunteer, original, actor, _("Corrected by record %(id)d") % {"id": current.pk}
            )
            original.status = RecordStatus.VOID
            original.voided_by = actor
            original.voided_at = now
            original.void_reason = current.reason
            original.save(update_fields=["status", "voided_by", "voided_at", "void_reason"])
            summary.on_record_voided(original)
            record_audit(
                actor=actor,
                action=AuditAction.RECORD_VOIDED,
                unit=original.unit,
                object_repr=_repr(original, volunteer),
                changes={
                    "record": original.pk,
                    "status": [RecordStatus.CONFIRMED, RecordStatus.VOID],
                    "corrected_by": current.pk,
                    "points": -reversed_points,
                },
            )
        bump_on_commit(VOLUNTEERS)  # public pages sum confirmed hours
        record_audit(
            actor=actor,
            action=AuditAction.RECORD_CONFIRMED,
            unit=current.unit,
            object_repr=_repr(current, volunteer),
            changes={
                "record": current.pk,
                "status": [RecordStatus.PENDING, RecordStatus.CONFIRMED],
                "hours": str(current.hours),
                "points": earned,
                "corrects": original.pk if original is not None else None,
            },
        )
    return current


def may_void_confirmed(user: Any, record: ServiceRecord) -> bool:
    """CONFIRM_HOURS on a unit strictly above the record's organizing unit (a grant
    covering its parent; for a top-level unit, superusers only). Reads the parent (one
    query unless selected)."""
    return can(user, Action.CONFIRM_HOURS, record.unit.parent)


def record_void(*, actor: User, record: ServiceRecord, reason: Any) -> ServiceRecord:
    """→ void, with a reason. A pending record: RECORD_HOURS on its unit. A confirmed one:
    CONFIRM_HOURS strictly above its unit (its own unit's staff correct it instead); its
    hours and points are taken back — refused (409 ``points_already_spent``) if the
    volunteer has spent them."""
    if record.status == RecordStatus.CONFIRMED:
        if not may_void_confirmed(actor, record):
            _require_on_record(actor, Action.VIEW, record)
            raise PermissionDenied(
                _(
                    "A confirmed record is corrected, not voided; only a coordinator above "
                    "the organizing unit may void it."
                ),
                code="confirmed_record",
            )
    else:
        _require_on_record(actor, Action.RECORD_HOURS, record)
    reason_text = clean_text(reason, "reason", REASON_MAX, multiline=True, required=True)
    with transaction.atomic():
        volunteer = lock_volunteer(record.volunteer_id)
        current = _locked_record(record)
        if current.status != record.status or current.status == RecordStatus.VOID:
            raise InvalidTransition(
                _("This record is already void, or changed meanwhile; reload the page.")
            )
        was = current.status
        taken = 0
        if was == RecordStatus.CONFIRMED:
            needed = _net_points(current)
            if volunteer.points_balance < needed:
                raise _spent(volunteer, needed)
            taken = _reverse(volunteer, current, actor, reason_text)
        current.status = RecordStatus.VOID
        current.voided_by = actor
        current.voided_at = timezone.now()
        current.void_reason = reason_text
        current.save(update_fields=["status", "voided_by", "voided_at", "void_reason"])
        from activities import summary  # the statistics' table (the app above this one)

        summary.on_record_voided(current, was=was)
        bump_on_commit(VOLUNTEERS)  # public pages sum confirmed hours
        record_audit(
            actor=actor,
            action=AuditAction.RECORD_VOIDED,
            unit=current.unit,
            object_repr=_repr(current, volunteer),
            changes={
                "record": current.pk,
                "status": [was, RecordStatus.VOID],
                "reason": reason_text,
                "points": -taken,
            },
        )
    return current


def record_correct(
    *, actor: User, record: ServiceRecord, hours: Any, date: dt.date | None = None, reason: Any
) -> ServiceRecord:
    """A pending correction of a confirmed record (RECORD_HOURS on its unit): same
    volunteer, unit, platform and content, new hours (and date), a reason. Someone other
    than its author confirms it, which voids the original."""
    _require_on_record(actor, Action.RECORD_HOURS, record)
    hours_value = clean_hours(hours)
    day = _clean_date(date if date is not None else record.date)
    reason_text = clean_text(reason, "reason", REASON_MAX, multiline=True, required=True)
    with transaction.atomic():
        volunteer = lock_volunteer(record.volunteer_id)
        original = _locked_record(record)
        if original.status != RecordStatus.CONFIRMED:
            raise InvalidTransition(
                _("Only a confirmed record is corrected; void or confirm a pending one.")
            )
        if ServiceRecord.objects.filter(corrects=original, status=RecordStatus.PENDING).exists():
            raise Conflict(
                _("A correction of this record is already awaiting confirmation."),
                code="correction_pending",
            )
        remaining = _day_remaining(
            volunteer, day, replacing=original.pk if day == original.date else None
        )
        if hours_value > remaining:
            raise _day_exceeded(volunteer, day, remaining)
        correction = ServiceRecord(
            volunteer=volunteer,
            unit=original.unit,
            date=day,
            hours=hours_value,
            category_id=original.category_id,
            content=original.content,
            source=RecordSource.CORRECTION,
            source_id=original.source_id,
            corrects=original,
            reason=reason_text,
            recorded_by=actor,
        )
        _validated(correction)
        correction.save()
        record_audit(
            actor=actor,
            action=AuditAction.RECORD_CREATED,
            unit=original.unit,
            object_repr=_repr(correction, volunteer),
            changes={
                "record": correction.pk,
                "corrects": original.pk,
                "date": [original.date.isoformat(), day.isoformat()],
                "hours": [str(original.hours), str(hours_value)],
                "reason": reason_text,
            },
        )
    return correction


# --- selectors -----------------------------------------------------------------------------


def records_in_scope(user: Any) -> QuerySet[ServiceRecord]:
    """The records ``user`` may read: staff see those organized by a unit in their view
    **or** of a volunteer whose home unit is in it (a town sees its volunteers' hours
    served elsewhere); everyone sees their own. Newest first."""
    own = Q(volunteer__user=user) if user is not None and user.is_authenticated else Q(pk__in=[])
    return (
        ServiceRecord.objects.filter(
            scope_q(user, Action.VIEW, prefix="unit__")
            | scope_q(user, Action.VIEW, prefix="volunteer__unit__")
            | own
        )
        .select_related(
            "volunteer__unit", "unit__parent", "category", "recorded_by", "confirmed_by"
        )
        .order_by("-date", "-pk")
    )


def pending_first(queryset: QuerySet[ServiceRecord]) -> QuerySet[ServiceRecord]:
    return queryset.annotate(
        _pending=Case(
            When(status=RecordStatus.PENDING, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("_pending", "-date", "-pk")


class RecordFilterSet(FromToFilterSet):
    """``?volunteer=&unit=&within=&from=&to=&status=`` on an already scoped queryset (an
    id outside the scope matches nothing, like an unknown one). ``unit``: the organizing
    unit itself; ``within``: it and every unit below it; dates are whole days, included."""

    volunteer = IdFilter(label=gettext_lazy("volunteer"), field_name="volunteer_id")
    unit = IdFilter(label=gettext_lazy("organizing unit"), field_name="unit_id")
    within = WithinFilter(label=gettext_lazy("within"))
    status = django_filters.ChoiceFilter(label=gettext_lazy("status"), choices=RecordStatus.choices)
    date_from = django_filters.DateFilter(
        label=gettext_lazy("from"), field_name="date", lookup_expr="gte"
    )
    date_to = django_filters.DateFilter(
        label=gettext_lazy("to"), field_name="date", lookup_expr="lte"
    )

    class Meta:
        model = ServiceRecord
        fields: list[str] = []
        form = FromToForm


def star_level(hours: Decimal) -> int:
    return sum(1 for threshold in STAR_LEVELS if hours >= threshold)


def next_star(hours: Decimal) -> int | None:
    """Hours needed for the next star level, or ``None`` at five stars."""
    return next((threshold for threshold in STAR_LEVELS if hours < threshold), None)


def hours_summary(volunteer: Volunteer) -> dict[str, Any]:
    """Confirmed hours by year and by platform (one aggregate query), with the total and
    the star level from the volunteer's row."""
    rows = (
        ServiceRecord.objects.filter(volunteer=volunteer, status=RecordStatus.CONFIRMED)
        .annotate(year=ExtractYear("date"))
        .values("year", "category__code", "category__name", "category__name_en")
        .annotate(hours=Sum("hours"))
        .order_by()
    )
    by_year: dict[int, Decimal] = {}
    by_category: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        by_year[row["year"]] = by_year.get(row["year"], Decimal(0)) + row["hours"]
        code = row["category__code"]
        entry = by_category.setdefault(
            code,
            {
                "code": code,
                "name": Category(
                    name=row["category__name"] or "", name_en=row["category__name_en"] or ""
                ).display_name
                if code
                else "",
                "hours": Decimal(0),
            },
        )
        entry["hours"] += row["hours"]
    return {
        "total": volunteer.confirmed_hours,
        "star_level": star_level(volunteer.confirmed_hours),
        "next_star": next_star(volunteer.confirmed_hours),
        "by_year": sorted(by_year.items(), reverse=True),
        "by_category": sorted(by_category.values(), key=lambda e: -e["hours"]),
    }


def records_of(volunteer: Volunteer) -> QuerySet[ServiceRecord]:
    """A volunteer's own records, newest first."""
    return (
        ServiceRecord.objects.filter(volunteer=volunteer)
        .select_related("unit", "category")
        .order_by("-date", "-pk")
    )


def corrections_of(records: Iterable[ServiceRecord]) -> QuerySet[ServiceRecord]:
    return (
        ServiceRecord.objects.filter(corrects__in=list(records))
        .select_related("recorded_by", "confirmed_by")
        .order_by("pk")
    )
