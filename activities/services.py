"""Activities: the only writers (API.md, "Activities").

A manager or coordinator of the unit (``Action.RECORD_HOURS``) plans or logs an activity,
edits it while it is ``planned``, ``draft`` or ``returned`` and submits it; submitting
creates pending service records for the participants. A coordinator of a unit *strictly
above* the activity's unit (:func:`may_review`; superusers too) approves it — which confirms
those records, adding the hours and points — or returns it with a reason, which voids them;
a returned activity is fixed and submitted again (new pending records).

Each transition re-reads the row under its lock, checks :data:`TRANSITIONS` (409
``invalid_transition`` saying why) and writes one audit entry, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.cache import ACTIVITIES, bump_on_commit
from portal.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from portal.errors import field_error as _fail
from practice.choices import AuditAction, Role
from practice.models import Category, Unit, User
from practice.permissions import Action, can, grants_of, require
from practice.services import record_audit
from volunteers.choices import RecordSource, RecordStatus, VolunteerStatus
from volunteers.hours import clean_hours, record_confirm, record_void, records_create_pending
from volunteers.models import ServiceRecord, Volunteer
from volunteers.points import clean_text

from . import summary
from .choices import ActivityStatus
from .models import Activity, ActivityParticipant

__all__ = [
    "COUNT_MAX",
    "EDITABLE",
    "TRANSITIONS",
    "activity_approve",
    "activity_create",
    "activity_return",
    "activity_submit",
    "activity_update",
    "may_review",
]

COUNT_MAX = 1_000_000
REASON_MAX = 1000
PARTICIPANTS_MAX = 1000

# The states an activity may be edited in, and each transition's allowed starting states.
EDITABLE = frozenset({ActivityStatus.PLANNED, ActivityStatus.DRAFT, ActivityStatus.RETURNED})
TRANSITIONS: dict[str, frozenset[str]] = {
    "submit": frozenset({ActivityStatus.DRAFT, ActivityStatus.RETURNED}),
    "approve": frozenset({ActivityStatus.SUBMITTED}),
    "return": frozenset({ActivityStatus.SUBMITTED}),
}
FIELDS = (
    "title",
    "unit",
    "category",
    "team",
    "start",
    "end",
    "location",
    "description",
    "beneficiaries",
    "materials",
    "latitude",
    "longitude",
    "capacity",
)
CAPACITY_MAX = 10_000


# --- who may review ---------------------------------------------------------------------------


def may_review(user: User | Any, unit: Unit) -> bool:
    """A coordinator of a unit strictly above ``unit`` (nobody reviews their own unit's
    report), or a superuser. No query once the grants are read."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return any(g.role == Role.COORDINATOR and g.covers(unit, strict=True) for g in grants_of(user))


def _require_review(actor: User, activity: Activity) -> None:
    if may_review(actor, activity.unit):
        return
    if not can(actor, Action.VIEW, activity.unit):
        raise NotFound()
    raise PermissionDenied(
        _("Only a coordinator of a unit above this activity's unit may review it."),
        code="review_not_allowed",
    )


def _require_visible(actor: User, activity: Activity) -> None:
    if not can(actor, Action.VIEW, activity.unit):
        raise NotFound()


# --- validation -------------------------------------------------------------------------------


def _count(value: Any, field: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail(field, _("Enter a whole number."))
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise _fail(field, _("Enter a whole number.")) from exc
    if not 0 <= number <= COUNT_MAX:
        raise _fail(field, _("Enter a number from 0 to %(max)d.") % {"max": COUNT_MAX})
    return number


def clean_coordinate(value: Any, field: str, limit: int) -> Decimal | None:
    """A latitude (``limit`` 90) or longitude (180) in degrees, 6 decimals; empty → None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _fail(field, _("Enter a number of degrees."))
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError as exc:
        raise _fail(field, _("Enter a number of degrees.")) from exc
    if not number.is_finite() or not -limit <= number <= limit:
        raise _fail(field, _("Enter a number from -%(max)d to %(max)d.") % {"max": limit})
    return number.quantize(Decimal("0.000001"))


def _capacity(value: Any) -> int | None:
    if value is None or value == "":
        return None
    number = _count(value, "capacity")
    if not 1 <= number <= CAPACITY_MAX:
        raise _fail("capacity", _("Enter a number from 1 to %(max)d.") % {"max": CAPACITY_MAX})
    return number


def _when(value: Any, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        try:
            value = dt.datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise _fail(field, _("Enter a valid date and time.")) from exc
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _same_line(a: Unit, b: Unit) -> bool:
    """``a`` is ``b``, above it or below it (same tree, nested ranges)."""
    if a.tree_id != b.tree_id:
        return False
    return a.lft <= b.lft <= a.rght or b.lft <= a.lft <= b.rght


def _participants(actor: User, raw: Any, length: Decimal) -> list[tuple[Volunteer, Decimal]]:
    """``[{"volunteer": id, "hours": "2"}]`` → volunteers (visible to the actor, active)
    with their hours (0 < h ≤ 24, ≤ the activity's length); errors name the row."""
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise _fail("participants", _("Give a list of volunteers with their hours."))
    if len(raw) > PARTICIPANTS_MAX:
        raise _fail("participants", _("At most %(max)d participants.") % {"max": PARTICIPANTS_MAX})
    detail: dict[str, list[str]] = {}
    rows: list[tuple[int, Any, Decimal | None]] = []
    for index, row in enumerate(raw):
        if not isinstance(row, Mapping):
            detail[f"participants.{index}"] = [_("Give a volunteer and their hours.")]
            continue
        ref = row.get("volunteer")
        pk = ref.pk if isinstance(ref, Volunteer) else ref
        hours: Decimal | None = None
        try:
            hours = clean_hours(row.get("hours"), f"participants.{index}.hours")
        except ValidationFailed as exc:
            detail.update(exc.detail)
        if hours is not None and hours > length:
            detail[f"participants.{index}.hours"] = [
                _("%(hours)s hours are more than the activity lasted (%(length)s hours).")
                % {"hours": hours, "length": length.quantize(Decimal("0.01"))}
            ]
        rows.append((index, pk, hours))
    ids = {pk for _i, pk, _h in rows if isinstance(pk, int) and not isinstance(pk, bool)}
    found = {v.pk: v for v in Volunteer.objects.select_related("unit").filter(pk__in=ids)}
    seen: set[int] = set()
    out: list[tuple[Volunteer, Decimal]] = []
    for index, pk, hours in rows:
        key = f"participants.{index}.volunteer"
        volunteer = found.get(pk) if isinstance(pk, int) else None
        if volunteer is None or not can(actor, Action.VIEW, volunteer.unit):
            detail[key] = [_("There is no such volunteer.")]
            continue
        if volunteer.pk in seen:
            detail[key] = [
                _("%(name)s is listed twice.") % {"name": volunteer.name},
            ]
            continue
        seen.add(volunteer.pk)
        if volunteer.status != VolunteerStatus.ACTIVE:
            detail[key] = [_("Hours are recorded for active volunteers only.")]
            continue
        if hours is not None:
            out.append((volunteer, hours))
    if detail:
        raise ValidationFailed(detail=detail)
    return out


def _validated(activity: Activity) -> None:
    """The model's field rules (text normalization and lengths), relations left out."""
    try:
        activity.full_clean(
            exclude=["unit", "category", "team", "request", "created_by", "reviewed_by"],
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise ValidationFailed(
            detail={k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        ) from exc


def _apply(actor: User, activity: Activity, data: Mapping[str, Any]) -> None:
    """Copy and check the fields given in ``data`` onto ``activity`` (unsaved)."""
    for name in ("title", "location", "description"):
        if name in data:
            setattr(activity, name, data[name] if data[name] is not None else "")
    if "unit" in data:
        unit = data["unit"]
        if not isinstance(unit, Unit):
            raise _fail("unit", _("There is no such unit."))
        require(actor, Action.RECORD_HOURS, unit)
        activity.unit = unit
    if "category" in data:
        category = data["category"]
        if not isinstance(category, Category):
            raise _fail("category", _("Choose a platform."), code="required")
        activity.category = category
    if "team" in data:
        activity.team = data["team"]
    if "start" in data:
        activity.start = _when(data["start"], "start")
    if "end" in data:
        activity.end = _when(data["end"], "end")
    for name in ("beneficiaries", "materials"):
        if name in data:
            setattr(activity, name, _count(data[name], name))
    for name, limit in (("latitude", 90), ("longitude", 180)):
        if name in data:
            setattr(activity, name, clean_coordinate(data[name], name, limit))
    if "capacity" in data:
        activity.capacity = _capacity(data["capacity"])
    if not activity.title or not str(activity.title).strip():
        raise _fail("title", _("This field is required."), code="required")
    if getattr(activity, "unit_id", None) is None:
        raise _fail("unit", _("This field is required."), code="required")
    if getattr(activity, "category_id", None) is None:
        raise _fail("category", _("Choose a platform."), code="required")
    if activity.start is None:
        raise _fail("start", _("This field is required."), code="required")
    if activity.end is None:
        raise _fail("end", _("This field is required."), code="required")
    if activity.end <= activity.start:
        raise _fail("end", _("The end must be after the start."))
    if activity.status != ActivityStatus.PLANNED and activity.end > timezone.now():
        raise _fail(
            "end",
            _(
                "A report cannot lie in the future: plan the activity instead, or report it "
                "once it has ended."
            ),
            code="date_in_future",
        )
    team = activity.team if ("team" in data or "unit" in data) else None
    if team is not None and not (team.is_active and _same_line(team.unit, activity.unit)):
        raise _fail(
            "team",
            _("The team must belong to the activity's unit, a unit above it or one below it."),
        )
    _validated(activity)


def _length(activity: Activity) -> Decimal:
    return Decimal((activity.end - activity.start).total_seconds()) / 3600


def _set_participants(activity: Activity, people: list[tuple[Volunteer, Decimal]]) -> None:
    """Replace the list; a volunteer who stays keeps their checked-in hours (the evidence)."""
    checked = dict(
        activity.participants.filter(checked_hours__isnull=False).values_list(
            "volunteer_id", "checked_hours"
        )
    )
    activity.participants.all().delete()
    ActivityParticipant.objects.bulk_create(
        ActivityParticipant(
            activity=activity, volunteer=v, hours=h, checked_hours=checked.get(v.pk)
        )
        for v, h in people
    )


def _snapshot(activity: Activity) -> dict[str, str]:
    relations = ("unit", "category", "team")
    return {
        name: str(getattr(activity, f"{name}_id" if name in relations else name)) for name in FIELDS
    }


def _locked(activity: Activity) -> Activity:
    return (
        Activity.objects.select_for_update(of=("self",))
        .select_related("unit", "category", "team__unit")
        .get(pk=activity.pk)
    )


def _refuse(activity: Activity, action: str) -> InvalidTransition:
    messages = {
        "edit": _("A %(status)s activity can no longer be edited."),
        "submit": _("Only a draft or returned activity can be submitted (this one is %(status)s)."),
        "approve": _("Only a submitted activity can be approved (this one is %(status)s)."),
        "return": _("Only a submitted activity can be returned (this one is %(status)s)."),
    }
    return InvalidTransition(messages[action] % {"status": activity.get_status_display()})


# --- writing ----------------------------------------------------------------------------------


def activity_create(*, actor: User, data: Mapping[str, Any]) -> Activity:
    """A new activity: ``draft`` (a report), or ``planned`` (announced ahead) when
    ``data["status"] == "planned"``. RECORD_HOURS on the unit."""
    status = data.get("status") or ActivityStatus.DRAFT
    if status not in (ActivityStatus.PLANNED, ActivityStatus.DRAFT):
        raise _fail("status", _("A new activity is planned or a draft."))
    if not isinstance(data.get("unit"), Unit):
        raise _fail("unit", _("This field is required."), code="required")
    require(actor, Action.RECORD_HOURS, data["unit"])
    activity = Activity(status=status, created_by=actor)
    _apply(actor, activity, {"team": None, **data})
    people = _participants(actor, data.get("participants"), _length(activity))
    with transaction.atomic():
        activity.save()
        _set_participants(activity, people)
        bump_on_commit(ACTIVITIES)
        record_audit(
            actor=actor,
            action=AuditAction.ACTIVITY_CREATED,
            unit=activity.unit,
            object_repr=activity.title,
            changes={
                "activity": activity.pk,
                "status": status,
                "start": activity.start.isoformat(),
                "participants": len(people),
            },
        )
    return activity


def activity_update(*, actor: User, activity: Activity, data: Mapping[str, Any]) -> Activity:
    """Edit the fields given while ``planned``, ``draft`` or ``returned`` (else 409);
    ``participants``, when given, replace the list. ``status="draft"`` turns a planned
    activity into a report (its dates must then be past)."""
    _require_visible(actor, activity)
    require(actor, Action.RECORD_HOURS, activity.unit)
    with transaction.atomic():
        current = _locked(activity)
        if current.status not in EDITABLE:
            raise _refuse(current, "edit")
        was = current.status
        target = data.get("status") or was
        if target != was:
            if not (was == ActivityStatus.PLANNED and target == ActivityStatus.DRAFT):
                raise InvalidTransition(
                    _(
                        "Only a planned activity can be turned into a draft report here; "
                        "use submit, approve or return for the other steps."
                    )
                )
            current.status = target
        before = _snapshot(current)
        _apply(actor, current, {k: v for k, v in data.items() if k in FIELDS})
        if "participants" in data:
            people = _participants(actor, data["participants"], _length(current))
        else:
            people = []
            length = _length(current)
            kept = current.participants.order_by("pk").values_list("hours", flat=True)
            for index, hours in enumerate(kept):
                if hours > length:
                    raise _fail(
                        f"participants.{index}.hours",
                        _("%(hours)s hours are more than the activity lasted (%(length)s hours).")
                        % {"hours": hours, "length": length.quantize(Decimal("0.01"))},
                    )
        current.save()
        bump_on_commit(ACTIVITIES)
        if "participants" in data:
            _set_participants(current, people)
        after = _snapshot(current)
        changes: dict[str, Any] = {
            name: [before[name], after[name]] for name in FIELDS if before[name] != after[name]
        }
        if was != current.status:
            changes["status"] = [was, current.status]
        if "participants" in data:
            changes["participants"] = len(people)
        record_audit(
            actor=actor,
            action=AuditAction.ACTIVITY_CHANGED,
            unit=current.unit,
            object_repr=current.title,
            changes={"activity": current.pk, **changes},
        )
    return current


def activity_submit(*, actor: User, activity: Activity) -> Activity:
    """draft | returned → submitted, by RECORD_HOURS on the unit: pending service records
    for the participants (those without a live record), linked to them."""
    _require_visible(actor, activity)
    require(actor, Action.RECORD_HOURS, activity.unit)
    with transaction.atomic():
        current = _locked(activity)
        if current.status not in TRANSITIONS["submit"]:
            raise _refuse(current, "submit")
        if current.end > timezone.now():
            raise _fail(
                "end",
                _("The activity has not ended yet; submit it once it is over."),
                code="date_in_future",
            )
        was = current.status
        participants = list(current.participants.select_related("volunteer__unit", "record"))
        fresh = [
            p for p in participants if p.record is None or p.record.status == RecordStatus.VOID
        ]
        if fresh:
            records = records_create_pending(
                actor=actor,
                unit=current.unit,
                date=timezone.localtime(current.start).date(),
                category=current.category,
                source=RecordSource.ACTIVITY,
                source_id=current.pk,
                participants=[(p.volunteer, p.hours) for p in fresh],
                content=current.title[:200],
            )
            by_volunteer = {r.volunteer_id: r for r in records}
            for p in fresh:
                p.record = by_volunteer[p.volunteer_id]
            ActivityParticipant.objects.bulk_update(fresh, ["record"])
        current.status = ActivityStatus.SUBMITTED
        current.submitted_at = timezone.now()
        current.save(update_fields=["status", "submitted_at", "updated_at"])
        bump_on_commit(ACTIVITIES)
        record_audit(
            actor=actor,
            action=AuditAction.ACTIVITY_SUBMITTED,
            unit=current.unit,
            object_repr=current.title,
            changes={
                "activity": current.pk,
                "status": [was, current.status],
                "records": len(fresh),
            },
        )
    return current


def activity_approve(*, actor: User, activity: Activity) -> Activity:
    """submitted → approved by a coordinator strictly above the unit: each participant's
    pending record is confirmed (:func:`volunteers.hours.record_confirm` — refused, and
    nothing approved, if the approver recorded one of them)."""
    return _review(
        actor=actor,
        activity=activity,
        action="approve",
        to=ActivityStatus.APPROVED,
        audit=AuditAction.ACTIVITY_APPROVED,
        on_record=lambda record: record_confirm(actor=actor, record=record, through_review=True),
    )


def activity_return(*, actor: User, activity: Activity, reason: Any) -> Activity:
    """submitted → returned with a reason, by a coordinator strictly above the unit: the
    participants' pending records are voided (a resubmission records them anew)."""
    _require_review(actor, activity)
    reason_text = clean_text(reason, "reason", REASON_MAX, multiline=True, required=True)
    return _review(
        actor=actor,
        activity=activity,
        action="return",
        to=ActivityStatus.RETURNED,
        audit=AuditAction.ACTIVITY_RETURNED,
        on_record=lambda record: record_void(actor=actor, record=record, reason=reason_text),
        reason=reason_text,
    )


def _review(
    *,
    actor: User,
    activity: Activity,
    action: str,
    to: str,
    audit: str,
    on_record: Callable[[ServiceRecord], object],
    reason: str = "",
) -> Activity:
    """The reviewer's decision: ``on_record`` for each participant's pending record, the
    new status, who and when (and why, for a return), one audit entry."""
    _require_review(actor, activity)
    with transaction.atomic():
        current = _locked(activity)
        if current.status not in TRANSITIONS[action]:
            raise _refuse(current, action)
        pending = [
            p.record
            for p in current.participants.select_related("record__unit", "record__volunteer")
            if p.record is not None and p.record.status == RecordStatus.PENDING
        ]
        if pending:
            # Every volunteer's lock, in id order, before any record's or summary row's:
            # two reviews sharing volunteers (or a summary cell) cannot deadlock.
            locked = Volunteer.objects.select_for_update().filter(
                pk__in={r.volunteer_id for r in pending}
            )
            list(locked.order_by("pk").values_list("pk", flat=True))
        for record in pending:
            on_record(record)
        records = len(pending)
        current.status = to
        current.reviewed_by = actor
        current.reviewed_at = timezone.now()
        current.return_reason = reason
        current.save(
            update_fields=["status", "reviewed_by", "reviewed_at", "return_reason", "updated_at"]
        )
        if to == ActivityStatus.APPROVED:
            summary.on_activity_approved(current)  # counted in the same transaction
        bump_on_commit(ACTIVITIES)
        changes: dict[str, Any] = {
            "activity": current.pk,
            "status": [ActivityStatus.SUBMITTED, to],
        }
        if reason:
            changes["reason"] = reason
        changes["records"] = records
        record_audit(
            actor=actor, action=audit, unit=current.unit, object_repr=current.title, changes=changes
        )
    return current
