"""Points (积分): the ledger and the points shop.

Every change of a volunteer's points is one ``PointsEntry`` holding the balance after it;
``Volunteer.points_balance`` is the sum of the entries, kept in the same transaction under
the volunteer row's lock (``Volunteer.objects.select_for_update()``), so two redemptions
racing for the last points are serialized and the second sees what the first left. The
database refuses a negative balance on both tables as the last line.

Points are earned when a service record is confirmed (``volunteers.hours``), at the rate of
the nearest ``PointsRate`` on the organizing unit's ancestor-or-self chain, else
``settings.VOLUNTEER_POINTS_PER_HOUR``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from portal.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from portal.errors import field_error as _fail
from portal.validators import MULTILINE, TEXT
from practice.choices import AuditAction
from practice.models import Unit, User
from practice.permissions import Action, can, require, scope_q
from practice.services import record_audit

from .choices import PointsKind, VolunteerStatus
from .models import PointsEntry, PointsRate, ServiceRecord, Volunteer

__all__ = [
    "POINTS_MAX",
    "RATE_MAX",
    "clean_text",
    "ledger_append",
    "ledger_in_scope",
    "ledger_of",
    "lock_volunteer",
    "points_adjust",
    "points_for_hours",
    "points_rate_set",
    "points_redeem",
    "rate_for",
    "shop_units",
    "volunteer_for_shop",
]

# One redemption or adjustment moves at most this many points (a typing slip of a few
# zeros is refused rather than written to a ledger nobody may edit).
POINTS_MAX = 100_000
RATE_MAX = 1000
ITEM_MAX = 100
REASON_MAX = 500


def lock_volunteer(volunteer: Volunteer | int) -> Volunteer:
    """Re-read the volunteer under its row lock (inside a transaction). Every writer of a
    volunteer's hours or points takes this lock first, so they never deadlock on it."""
    pk = volunteer if isinstance(volunteer, int) else volunteer.pk
    return Volunteer.objects.select_for_update(of=("self",)).select_related("unit").get(pk=pk)


def clean_text(value: Any, field: str, max_length: int, *, multiline: bool, required: bool) -> str:
    """Plain text under the portal's rules; a 400 naming ``field`` when wrong or missing."""
    rules = MULTILINE if multiline else TEXT
    try:
        text = rules.clean(str(value or ""))
    except ValidationError as exc:
        raise _fail(field, " ".join(str(m) for m in exc.messages)) from exc
    if required and not text:
        raise _fail(field, _("This field is required."), code="required")
    if len(text) > max_length:
        raise _fail(
            field,
            _("At most %(max)d characters (this has %(n)d).") % {"max": max_length, "n": len(text)},
            code="too_long",
        )
    return text


def _clean_points(value: Any, *, allow_negative: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail("points", _("Enter a whole number of points."))
    try:
        points = int(str(value).strip())
    except ValueError as exc:
        raise _fail("points", _("Enter a whole number of points.")) from exc
    if points == 0 or (points < 0 and not allow_negative):
        message = (
            _("Enter a number of points other than 0.")
            if allow_negative
            else _("Enter a number of points greater than 0.")
        )
        raise _fail("points", message)
    if abs(points) > POINTS_MAX:
        raise _fail("points", _("At most %(max)d points at a time.") % {"max": POINTS_MAX})
    return points


def _insufficient(balance: int, points: int) -> ValidationFailed:
    return _fail(
        "points",
        _("Not enough points: the balance is %(balance)d, %(points)d were asked for.")
        % {"balance": balance, "points": points},
        code="insufficient_points",
    )


def ledger_append(
    volunteer: Volunteer,
    *,
    kind: str,
    points: int,
    actor: User | None,
    unit: Unit | None = None,
    record: ServiceRecord | None = None,
    item: str = "",
    reason: str = "",
) -> PointsEntry:
    """Write one entry and the new balance. ``volunteer`` must be the row read under its
    lock (:func:`lock_volunteer`) in the caller's transaction; a balance that would go
    below zero raises 400 ``insufficient_points`` (callers refuse earlier with their own
    message where it means something else)."""
    balance = volunteer.points_balance + points
    if balance < 0:
        raise _insufficient(volunteer.points_balance, -points)
    entry = PointsEntry(
        volunteer=volunteer,
        kind=kind,
        points=points,
        balance=balance,
        unit=unit,
        record=record,
        item=item,
        reason=reason,
        actor=actor if actor is not None and actor.pk else None,
    )
    try:
        with transaction.atomic():  # the constraints are the last line
            entry.save()
            volunteer.points_balance = balance
            volunteer.save(update_fields=["points_balance"])
    except IntegrityError as exc:
        raise Conflict(
            _("The points changed meanwhile; reload and try again."), code="conflict"
        ) from exc
    return entry


def rate_for(unit: Unit) -> int:
    """Points per confirmed hour for records organized at ``unit``: the nearest rate on
    its ancestor-or-self chain, else ``VOLUNTEER_POINTS_PER_HOUR`` (one query)."""
    rate = (
        PointsRate.objects.filter(
            unit__tree_id=unit.tree_id, unit__lft__lte=unit.lft, unit__rght__gte=unit.rght
        )
        .order_by("-unit__level")
        .values_list("points_per_hour", flat=True)
        .first()
    )
    return int(settings.VOLUNTEER_POINTS_PER_HOUR if rate is None else rate)


def points_for_hours(hours: Decimal, rate: int) -> int:
    """``round(hours × rate)``, halves rounded up (0.25 h × 10 → 3)."""
    return int((hours * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- who may use the shop ------------------------------------------------------------------


def shop_units(user: Any) -> QuerySet[Unit]:
    """The units where ``user`` may record redemptions, in tree order."""
    return Unit.objects.for_user(user, Action.REDEEM_POINTS).order_by("tree_id", "lft")


def volunteer_for_shop(user: Any, number: str) -> Volunteer | None:
    """The volunteer with this number whose home unit is in the same county (tree) as one
    of the units where ``user`` records redemptions — a shop serves the whole county, not
    only its own village. ``None`` if there is no such volunteer (one query once the
    user's grants are read)."""
    number = number.strip().upper()
    if not number:
        return None
    trees = set(shop_units(user).values_list("tree_id", flat=True))
    if not trees:
        return None
    return (
        Volunteer.objects.filter(number=number, unit__tree_id__in=trees)
        .select_related("unit")
        .first()
    )


# --- services ------------------------------------------------------------------------------


def points_redeem(
    *, actor: User, volunteer: Volunteer, unit: Unit, item: Any, points: Any
) -> PointsEntry:
    """A redemption at the shop of ``unit`` (REDEEM_POINTS there): ``points`` > 0 taken off
    the volunteer's balance for ``item``. The volunteer's home unit must be in the same
    county as the shop (else 404), the volunteer active, the balance enough (400
    ``insufficient_points`` saying the balance)."""
    require(actor, Action.REDEEM_POINTS, unit)
    if volunteer.unit.tree_id != unit.tree_id:
        raise NotFound()
    item_text = clean_text(item, "item", ITEM_MAX, multiline=False, required=True)
    amount = _clean_points(points, allow_negative=False)
    with transaction.atomic():
        locked = lock_volunteer(volunteer)
        if locked.status != VolunteerStatus.ACTIVE:
            raise _fail(
                "volunteer",
                _("Only active volunteers may redeem points."),
                code="volunteer_not_active",
            )
        if locked.points_balance < amount:
            raise _insufficient(locked.points_balance, amount)
        entry = ledger_append(
            locked,
            kind=PointsKind.REDEEMED,
            points=-amount,
            actor=actor,
            unit=unit,
            item=item_text,
        )
        record_audit(
            actor=actor,
            action=AuditAction.POINTS_CHANGED,
            unit=unit,
            object_repr=f"{locked.number or locked.pk} {locked.name}",
            changes={
                "kind": PointsKind.REDEEMED,
                "points": -amount,
                "item": item_text,
                "balance": entry.balance,
            },
        )
    volunteer.points_balance = locked.points_balance
    return entry


def points_adjust(*, actor: User, volunteer: Volunteer, points: Any, reason: Any) -> PointsEntry:
    """Award (+) or deduct (−) points by hand: MANAGE_POINTS over the volunteer's home
    unit; a reason is required. A deduction may not take the balance below zero."""
    if not can(actor, Action.MANAGE_POINTS, volunteer.unit):
        if can(actor, Action.VIEW, volunteer.unit):
            raise PermissionDenied(_("Your role does not allow awarding or deducting points."))
        raise NotFound()
    amount = _clean_points(points, allow_negative=True)
    reason_text = clean_text(reason, "reason", REASON_MAX, multiline=True, required=True)
    kind = PointsKind.AWARDED if amount > 0 else PointsKind.DEDUCTED
    with transaction.atomic():
        locked = lock_volunteer(volunteer)
        entry = ledger_append(
            locked, kind=kind, points=amount, actor=actor, unit=locked.unit, reason=reason_text
        )
        record_audit(
            actor=actor,
            action=AuditAction.POINTS_CHANGED,
            unit=locked.unit,
            object_repr=f"{locked.number or locked.pk} {locked.name}",
            changes={
                "kind": kind,
                "points": amount,
                "reason": reason_text,
                "balance": entry.balance,
            },
        )
    volunteer.points_balance = locked.points_balance
    return entry


def points_rate_set(*, actor: User, unit: Unit, points_per_hour: Any) -> PointsRate:
    """Set the points a confirmed hour earns in ``unit``'s subtree (MANAGE_POINTS there),
    a whole number 0…1000. Records confirmed afterwards use it; earned points stay."""
    require(actor, Action.MANAGE_POINTS, unit)
    if isinstance(points_per_hour, bool) or not isinstance(points_per_hour, int | str):
        raise _fail("points_per_hour", _("Enter a whole number from 0 to 1000."))
    try:
        rate = int(str(points_per_hour).strip())
    except ValueError as exc:
        raise _fail("points_per_hour", _("Enter a whole number from 0 to 1000.")) from exc
    if not 0 <= rate <= RATE_MAX:
        raise _fail("points_per_hour", _("Enter a whole number from 0 to 1000."))
    with transaction.atomic():
        current = PointsRate.objects.select_for_update().filter(unit=unit).first()
        old = current.points_per_hour if current is not None else None
        if current is None:
            current = PointsRate.objects.create(unit=unit, points_per_hour=rate)
        else:
            current.points_per_hour = rate
            current.save(update_fields=["points_per_hour"])
        record_audit(
            actor=actor,
            action=AuditAction.POINTS_RATE_SET,
            unit=unit,
            object_repr=unit.name,
            changes={"points_per_hour": [old, rate]},
        )
    return current


# --- selectors -----------------------------------------------------------------------------


def _ledger(queryset: QuerySet[PointsEntry]) -> QuerySet[PointsEntry]:
    return queryset.select_related("volunteer", "unit", "actor", "record").order_by("-at", "-pk")


def ledger_of(volunteer: Volunteer) -> QuerySet[PointsEntry]:
    """The volunteer's ledger, newest first."""
    return _ledger(PointsEntry.objects.filter(volunteer=volunteer))


def ledger_in_scope(user: Any, *, volunteer: int | None = None) -> QuerySet[PointsEntry]:
    """Entries of the volunteers whose home unit is in ``user``'s staff view, and the
    user's own (a volunteer account sees only its own ledger)."""
    own = Q(volunteer__user=user) if user is not None and user.is_authenticated else Q(pk__in=[])
    queryset = PointsEntry.objects.filter(
        scope_q(user, Action.VIEW, prefix="volunteer__unit__") | own
    )
    if volunteer is not None:
        queryset = queryset.filter(volunteer_id=volunteer)
    return _ledger(queryset)
