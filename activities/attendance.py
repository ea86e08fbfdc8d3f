"""Volunteers sign up for planned activities and check in and out by their QR codes.

Sign-up: the logged-in account's own active volunteer, for a planned activity that has not
started; the places (``Activity.capacity``, none: no limit) are counted under a row lock on
the activity, so two volunteers taking the last place at once cannot both get it (409
``activity_full``).

Check-in and check-out: the two QR codes of an activity carry its ``checkin_key``; a wrong
key is 404 (nothing says the activity exists). Check-in is open from
``ACTIVITY_CHECKIN_EARLY_MINUTES`` before the start to the end, check-out from the start to
``ACTIVITY_CHECKOUT_LATE_MINUTES`` after the end; when the phone gives a position and the
place has one (the activity's coordinates, else its unit's), the volunteer must be within
``ACTIVITY_CHECKIN_RADIUS_METRES``. Sign-up and check-in are for the volunteers of the
activity's unit and the units below it (403 ``not_in_unit`` for others): those are the
volunteers whoever logs the activity can see, so their hours can be submitted. Walk-ins
without a sign-up may check in (they are there; the cap is for sign-ups). Only an activity
that is still being reported (planned, draft or returned) takes check-ins.

At check-out the checked time (out − in, at most the activity's length and 24 hours) is
the volunteer's proposed hours: their :class:`ActivityParticipant` row gets it as
``checked_hours``, and as ``hours`` when the row is new. A manager's own ``hours`` on an
existing row are kept: the difference is what the reviewer sees.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal.cache import ACTIVITIES, bump_on_commit
from portal.errors import Conflict, NotFound, PermissionDenied
from portal.errors import field_error as _fail
from practice.models import User
from practice.selectors import distance_km
from volunteers.choices import VolunteerStatus
from volunteers.models import Volunteer
from volunteers.selectors import volunteer_of

from .choices import ActivityStatus
from .models import Activity, ActivityParticipant, Attendance
from .services import clean_coordinate

__all__ = [
    "CHECKIN_OPEN",
    "annotate_signups",
    "attendance_for",
    "check_in",
    "check_out",
    "checked_hours",
    "key_matches",
    "place_of",
    "signup",
    "signup_cancel",
    "signup_counts",
    "signup_state",
]

# The states in which an activity takes check-ins (it is still being reported).
CHECKIN_OPEN = frozenset({ActivityStatus.PLANNED, ActivityStatus.DRAFT, ActivityStatus.RETURNED})
HOURS_MAX = Decimal(24)
CENT = Decimal("0.01")


# --- reading ----------------------------------------------------------------------------------


def annotate_signups(queryset: QuerySet[Activity]) -> QuerySet[Activity]:
    """``queryset`` with ``signed_up``: how many volunteers signed up (a subquery in the
    same query — no GROUP BY, so it adds up with other annotations)."""
    signed = (
        Attendance.objects.filter(activity=OuterRef("pk"), signed_up_at__isnull=False)
        .order_by()
        .values("activity")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(signed_up=Coalesce(Subquery(signed), 0))


def signup_counts(activities: Iterable[Activity | int]) -> dict[int, int]:
    """Sign-ups per activity id (one query; activities without any are left out)."""
    ids = [a if isinstance(a, int) else a.pk for a in activities]
    if not ids:
        return {}
    rows = (
        Attendance.objects.filter(activity_id__in=ids, signed_up_at__isnull=False)
        .values("activity_id")
        .annotate(n=Count("pk"))
        .values_list("activity_id", "n")
    )
    return dict(rows)


def attendance_for(activity: Activity) -> list[Attendance]:
    """The activity's sign-ups and check-ins with their volunteers (one query)."""
    return list(
        Attendance.objects.filter(activity=activity)
        .select_related("volunteer")
        .order_by("signed_up_at", "checked_in_at", "pk")
    )


def signup_state(
    activity: Activity, user: Any, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """What the sign-up box of a public activity page shows (``_signup.html``): the count,
    the places left (None: no limit), whether sign-up is open, and the user's own row.
    Uses ``activity.signed_up`` when annotated (:func:`annotate_signups`); at most two
    queries otherwise."""
    now = now or timezone.now()
    count = getattr(activity, "signed_up", None)
    if count is None:
        count = signup_counts([activity]).get(activity.pk, 0)
    places_left = None if activity.capacity is None else max(activity.capacity - count, 0)
    volunteer = volunteer_of(user)
    mine = None
    if volunteer is not None:
        mine = Attendance.objects.filter(activity=activity, volunteer=volunteer).first()
    return {
        "signed_up": count,
        "places_left": places_left,
        "signup_open": activity.status == ActivityStatus.PLANNED and activity.start > now,
        "my_attendance": mine,
    }


def place_of(activity: Activity) -> tuple[float, float] | None:
    """Where the activity happens: its coordinates, else its unit's, else None."""
    if activity.latitude is not None and activity.longitude is not None:
        return float(activity.latitude), float(activity.longitude)
    unit = activity.unit
    if unit.latitude is not None and unit.longitude is not None:
        return float(unit.latitude), float(unit.longitude)
    return None


def checked_hours(activity: Activity, checked_in: dt.datetime, checked_out: dt.datetime) -> Decimal:
    """Out − in in hours, at most the activity's length and 24, to the hundredth."""
    seconds = (checked_out - checked_in).total_seconds()
    length = (activity.end - activity.start).total_seconds()
    hours = Decimal(min(seconds, length)) / 3600
    return min(hours, HOURS_MAX).quantize(CENT, rounding=ROUND_HALF_UP)


# --- helpers ----------------------------------------------------------------------------------


def _own_volunteer(actor: User) -> Volunteer:
    """The actor's own active volunteer, else 403 saying who this is for."""
    volunteer = volunteer_of(actor)
    if volunteer is None or volunteer.status != VolunteerStatus.ACTIVE:
        raise PermissionDenied(
            _("Only active volunteers can sign up and check in; register as a volunteer first."),
            code="not_a_volunteer",
        )
    return volunteer


def _require_member(volunteer: Volunteer, activity: Activity) -> None:
    """The volunteer belongs to the activity's unit or a unit below it — the volunteers
    whoever logs the activity can see and record hours for (else 403)."""
    unit, top = volunteer.unit, activity.unit
    if unit.tree_id == top.tree_id and top.lft <= unit.lft <= top.rght:
        return
    raise PermissionDenied(
        _("This activity is for the volunteers of %(unit)s and the units below it.")
        % {"unit": top.name},
        code="not_in_unit",
    )


def _locked(activity: Activity) -> Activity:
    return (
        Activity.objects.select_for_update(of=("self",)).select_related("unit").get(pk=activity.pk)
    )


def _local(when: dt.datetime) -> str:
    return date_format(timezone.localtime(when), "Y-m-d H:i")


def _position(latitude: Any, longitude: Any) -> tuple[float, float] | None:
    lat = clean_coordinate(latitude, "latitude", 90)
    lng = clean_coordinate(longitude, "longitude", 180)
    if lat is None and lng is None:
        return None
    if lat is None or lng is None:
        raise _fail(
            "latitude" if lat is None else "longitude",
            _("Give both the latitude and the longitude, or neither."),
        )
    return float(lat), float(lng)


def _distance(activity: Activity, position: tuple[float, float] | None) -> int | None:
    """Metres from the place (None without both positions); 400 beyond the radius."""
    place = place_of(activity)
    if position is None or place is None:
        return None
    metres = round(distance_km(position[0], position[1], place[0], place[1]) * 1000)
    radius = settings.ACTIVITY_CHECKIN_RADIUS_METRES
    if metres > radius:
        raise _fail(
            "latitude",
            _(
                "You are %(distance)s m from the activity's place; check in and out within "
                "%(radius)s m of it."
            )
            % {"distance": f"{metres:,}", "radius": f"{radius:,}"},
            code="too_far",
        )
    return metres


def key_matches(activity: Activity, key: Any) -> bool:
    """Is ``key`` the activity's check-in key (compared in constant time)?"""
    if not isinstance(key, str) or not key:
        return False
    return secrets.compare_digest(key.encode(), activity.checkin_key.encode())


def _keyed(activity: Activity, key: Any) -> Activity:
    """The activity under its lock when ``key`` is its check-in key (else 404) and it still
    takes check-ins (else 409)."""
    if not key_matches(activity, key):
        raise NotFound()
    current = _locked(activity)
    if not key_matches(current, key):
        raise NotFound()
    if current.status not in CHECKIN_OPEN:
        raise Conflict(
            _("This activity is %(status)s: it no longer takes check-ins.")
            % {"status": current.get_status_display()},
            code="checkin_closed",
        )
    return current


# --- sign-up ----------------------------------------------------------------------------------


def signup(*, actor: User, activity: Activity, now: dt.datetime | None = None) -> Attendance:
    """Sign the actor's volunteer up for a planned activity that has not started; 409 when
    it is full (counted under the activity's row lock), already signed up or closed."""
    volunteer = _own_volunteer(actor)
    now = now or timezone.now()
    with transaction.atomic():
        current = _locked(activity)
        if current.status != ActivityStatus.PLANNED or current.start <= now:
            raise Conflict(
                _("Sign-up is closed: the activity has started or is no longer planned."),
                code="signup_closed",
            )
        _require_member(volunteer, current)
        row = Attendance.objects.filter(activity=current, volunteer=volunteer).first()
        if row is not None and row.signed_up_at is not None:
            raise Conflict(_("You have already signed up."), code="already_signed_up")
        if current.capacity is not None:
            taken = Attendance.objects.filter(activity=current, signed_up_at__isnull=False).count()
            if taken >= current.capacity:
                raise Conflict(_("No places left."), code="activity_full")
        if row is None:
            try:
                with transaction.atomic():
                    row = Attendance.objects.create(
                        activity=current, volunteer=volunteer, signed_up_at=now
                    )
            except IntegrityError as exc:  # the same volunteer twice at once
                raise Conflict(_("You have already signed up."), code="already_signed_up") from exc
        else:
            row.signed_up_at = now
            row.save(update_fields=["signed_up_at"])
        bump_on_commit(ACTIVITIES)
    return row


def signup_cancel(*, actor: User, activity: Activity, now: dt.datetime | None = None) -> None:
    """Give the place back, before the start and before checking in (else 409)."""
    volunteer = _own_volunteer(actor)
    now = now or timezone.now()
    with transaction.atomic():
        current = _locked(activity)
        row = (
            Attendance.objects.select_for_update()
            .filter(activity=current, volunteer=volunteer, signed_up_at__isnull=False)
            .first()
        )
        if row is None:
            raise Conflict(_("You have not signed up for this activity."), code="not_signed_up")
        if row.checked_in_at is not None or current.start <= now:
            raise Conflict(
                _("The activity has started: the sign-up can no longer be cancelled."),
                code="signup_closed",
            )
        row.delete()
        bump_on_commit(ACTIVITIES)


# --- check-in and check-out -------------------------------------------------------------------


def check_in(
    *,
    actor: User,
    activity: Activity,
    key: Any,
    latitude: Any = None,
    longitude: Any = None,
    now: dt.datetime | None = None,
) -> Attendance:
    """Check the actor's volunteer in (see the module's docstring for the rules)."""
    volunteer = _own_volunteer(actor)
    now = now or timezone.now()
    position = _position(latitude, longitude)
    with transaction.atomic():
        current = _keyed(activity, key)
        opens = current.start - dt.timedelta(minutes=settings.ACTIVITY_CHECKIN_EARLY_MINUTES)
        if now < opens:
            raise Conflict(
                _("Check-in opens at %(time)s.") % {"time": _local(opens)}, code="too_early"
            )
        if now > current.end:
            raise Conflict(
                _("Check-in closed at the end of the activity (%(time)s).")
                % {"time": _local(current.end)},
                code="too_late",
            )
        _require_member(volunteer, current)
        metres = _distance(current, position)
        row = (
            Attendance.objects.select_for_update()
            .filter(activity=current, volunteer=volunteer)
            .first()
        )
        if row is not None and row.checked_in_at is not None:
            raise Conflict(
                _("You already checked in at %(time)s.") % {"time": _local(row.checked_in_at)},
                code="already_checked_in",
            )
        if row is None:
            row = Attendance(activity=current, volunteer=volunteer)
        row.checked_in_at = now
        row.check_in_distance = metres
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError as exc:  # the same volunteer scanning twice at once
            raise Conflict(_("You already checked in."), code="already_checked_in") from exc
    return row


def check_out(
    *,
    actor: User,
    activity: Activity,
    key: Any,
    latitude: Any = None,
    longitude: Any = None,
    now: dt.datetime | None = None,
) -> Attendance:
    """Check the actor's volunteer out; the checked time becomes their proposed hours."""
    volunteer = _own_volunteer(actor)
    now = now or timezone.now()
    position = _position(latitude, longitude)
    with transaction.atomic():
        current = _keyed(activity, key)
        if now < current.start:
            raise Conflict(
                _("Check-out opens at the start of the activity (%(time)s).")
                % {"time": _local(current.start)},
                code="too_early",
            )
        closes = current.end + dt.timedelta(minutes=settings.ACTIVITY_CHECKOUT_LATE_MINUTES)
        if now > closes:
            raise Conflict(
                _("Check-out closed at %(time)s.") % {"time": _local(closes)}, code="too_late"
            )
        metres = _distance(current, position)
        row = (
            Attendance.objects.select_for_update()
            .filter(activity=current, volunteer=volunteer)
            .first()
        )
        if row is None or row.checked_in_at is None:
            raise Conflict(
                _("You have not checked in to this activity: scan its check-in code first."),
                code="not_checked_in",
            )
        if row.checked_out_at is not None:
            raise Conflict(
                _("You already checked out at %(time)s.") % {"time": _local(row.checked_out_at)},
                code="already_checked_out",
            )
        hours = checked_hours(current, row.checked_in_at, now)
        if hours <= 0:
            raise Conflict(
                _("You checked in less than a minute ago: check out when you leave."),
                code="too_short",
            )
        row.checked_out_at = now
        row.check_out_distance = metres
        row.save(update_fields=["checked_out_at", "check_out_distance"])
        participant = ActivityParticipant.objects.filter(
            activity=current, volunteer=volunteer
        ).first()
        if participant is None:
            ActivityParticipant.objects.create(
                activity=current, volunteer=volunteer, hours=hours, checked_hours=hours
            )
        else:
            participant.checked_hours = hours
            participant.save(update_fields=["checked_hours"])
    row.hours = hours  # type: ignore[attr-defined]
    return row
