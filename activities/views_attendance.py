"""The attendance pages (phone first): sign up and cancel, the check-in and check-out pages
the QR codes open, the staff's QR poster, and the volunteer's "My activities". Thin:
:mod:`activities.attendance` decides and writes.

Who sees what: the check-in pages need a login and the activity's key (else 404); only an
active volunteer may check in (the page says so to anyone else). The poster is for staff
who may log the activity's hours (``RECORD_HOURS``; outside their view 404, inside without
the role 403). Sign-up needs a planned activity (else 404).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.errors import ApplicationError, NotFound
from portal.http import AuthenticatedRequest
from practice.permissions import Action, require
from practice.qr import qr_svg
from volunteers.choices import VolunteerStatus
from volunteers.selectors import volunteer_of

from . import attendance, selectors
from .choices import ActivityStatus
from .models import Activity, ActivityParticipant, Attendance

__all__ = [
    "activity_check_in",
    "activity_check_out",
    "activity_qr",
    "activity_signup",
    "activity_signup_cancel",
    "my_activities",
]

# Bounded lists of "My activities" (the page costs the same queries however many there are).
MINE_SHOWN = 50


def _public_url(activity: Activity) -> str:
    """The activity's public page (made by the public pages' part), else "My activities"."""
    try:
        return reverse("activity-public", args=[activity.pk])
    except NoReverseMatch:
        return reverse("my-activities")


def _back(request: AuthenticatedRequest, activity: Activity) -> str:
    """Where a sign-up form came from (a local address only), else the activity's page."""
    url = request.POST.get("next", "")
    if url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return url
    return _public_url(activity)


def _planned(pk: int) -> Activity:
    return get_object_or_404(
        Activity.objects.select_related("unit"), pk=pk, status=ActivityStatus.PLANNED
    )


# --- sign-up ----------------------------------------------------------------------------------


@login_required
@require_POST
def activity_signup(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    activity = _planned(pk)
    try:
        attendance.signup(actor=request.user, activity=activity)
    except NotFound:
        raise
    except ApplicationError as exc:  # full, closed, already signed up, not a volunteer
        messages.error(request, str(exc.message))
        return redirect(_back(request, activity))
    messages.success(
        request,
        _("You signed up for “%(title)s”. Scan its QR code at the place to check in.")
        % {"title": activity.title},
    )
    return redirect(_back(request, activity))


@login_required
@require_POST
def activity_signup_cancel(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    activity = _planned(pk)
    try:
        attendance.signup_cancel(actor=request.user, activity=activity)
    except NotFound:
        raise
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
        return redirect(_back(request, activity))
    messages.success(
        request, _("Your sign-up for “%(title)s” is cancelled.") % {"title": activity.title}
    )
    return redirect(_back(request, activity))


# --- check-in and check-out -------------------------------------------------------------------


def _keyed_page(request: AuthenticatedRequest, pk: int, key: str, step: str) -> HttpResponse:
    """GET: the phone page with the activity and one big button; POST: check in or out
    (``step``), then back to the page (which shows the time, and the hours after check-out);
    a refusal is shown on the page with its status (400, 403 or 409)."""
    activity = Activity.objects.select_related("unit", "category").filter(pk=pk).first()
    if activity is None or not attendance.key_matches(activity, key):
        raise Http404
    error: str | None = None
    status = 200
    if request.method == "POST":
        service = attendance.check_in if step == "in" else attendance.check_out
        try:
            service(
                actor=request.user,
                activity=activity,
                key=key,
                latitude=request.POST.get("latitude") or None,
                longitude=request.POST.get("longitude") or None,
            )
        except NotFound:
            raise
        except ApplicationError as exc:
            error, status = str(exc.message), exc.status_code
        else:
            messages.success(
                request,
                _("You are checked in.") if step == "in" else _("You are checked out."),
            )
            return redirect(request.path)
    volunteer = volunteer_of(request.user)
    active = volunteer is not None and volunteer.status == VolunteerStatus.ACTIVE
    row: Attendance | None = None
    participant: ActivityParticipant | None = None
    if active:
        row = Attendance.objects.filter(activity=activity, volunteer=volunteer).first()
        if row is not None and row.checked_out_at is not None:
            participant = ActivityParticipant.objects.filter(
                activity=activity, volunteer=volunteer
            ).first()
    hours = (
        attendance.checked_hours(activity, row.checked_in_at, row.checked_out_at)
        if row is not None and row.checked_in_at and row.checked_out_at
        else None
    )
    return render(
        request,
        "activities/attendance/check.html",
        {
            "activity": activity,
            "step": step,
            "volunteer": volunteer,
            "active": active,
            "attendance": row,
            "participant": participant,
            "hours": hours,
            "error": error,
            "open": activity.status in attendance.CHECKIN_OPEN,
            "check_in_url": reverse("activity-check-in", args=[activity.pk, key]),
            "check_out_url": reverse("activity-check-out", args=[activity.pk, key]),
        },
        status=status,
    )


@login_required
def activity_check_in(request: AuthenticatedRequest, pk: int, key: str) -> HttpResponse:
    return _keyed_page(request, pk, key, "in")


@login_required
def activity_check_out(request: AuthenticatedRequest, pk: int, key: str) -> HttpResponse:
    return _keyed_page(request, pk, key, "out")


# --- the staff's poster -----------------------------------------------------------------------


@login_required
def activity_qr(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A printable sheet with the two QR codes (check-in at the start, check-out at the
    end), for staff who may log the activity (404 outside their view, 403 without the role)."""
    activity = get_object_or_404(
        selectors.activities_in_scope(request.user).prefetch_related(None), pk=pk
    )
    require(request.user, Action.RECORD_HOURS, activity.unit)
    codes: list[dict[str, Any]] = []
    for step, name, label in (
        ("in", "activity-check-in", _("Check in")),
        ("out", "activity-check-out", _("Check out")),
    ):
        url = request.build_absolute_uri(reverse(name, args=[activity.pk, activity.checkin_key]))
        codes.append(
            {
                "step": step,
                "label": label,
                "url": url,
                # segno's SVG of our own URL: no script, no style attribute.
                "svg": mark_safe(qr_svg(url).decode()),  # noqa: S308
            }
        )
    return render(
        request,
        "activities/attendance/qr.html",
        {
            "activity": activity,
            "codes": codes,
            "open": activity.status in attendance.CHECKIN_OPEN,
            "back": _manage_url(activity),
        },
    )


def _calendar_url() -> str | None:
    try:
        return reverse("activity-calendar")
    except NoReverseMatch:
        return None


def _manage_url(activity: Activity) -> str:
    try:
        return reverse("activity-manage", args=[activity.pk])
    except NoReverseMatch:
        return reverse("volunteer-me")


# --- My activities ----------------------------------------------------------------------------


@login_required
def my_activities(request: AuthenticatedRequest) -> HttpResponse:
    """The volunteer's sign-ups still to come, then the activities they took part in —
    checked in, or listed by a manager — with hours and checked-in hours (three queries
    after the volunteer's, whatever the number)."""
    volunteer = volunteer_of(request.user)
    if volunteer is None:
        return render(request, "activities/attendance/mine.html", {"volunteer": None})
    now = timezone.now()
    rows = list(
        Attendance.objects.filter(volunteer=volunteer)
        .select_related("activity__unit", "activity__category")
        .order_by("-activity__start", "-pk")[: MINE_SHOWN * 2]
    )
    taken = list(
        ActivityParticipant.objects.filter(volunteer=volunteer)
        .select_related("activity__unit", "activity__category", "record")
        .order_by("-activity__start", "-pk")[:MINE_SHOWN]
    )
    upcoming = [
        r
        for r in reversed(rows)
        if r.signed_up_at is not None
        and r.checked_in_at is None
        and r.activity.end > now
        and r.activity.status == ActivityStatus.PLANNED
    ]
    by_activity: dict[int, dict[str, Any]] = {}
    for p in taken:
        by_activity[p.activity_id] = {"activity": p.activity, "participant": p, "attendance": None}
    for r in rows:
        if r.checked_in_at is None:
            continue
        entry = by_activity.setdefault(
            r.activity_id, {"activity": r.activity, "participant": None, "attendance": None}
        )
        entry["attendance"] = r
        if r.checked_out_at is not None:
            entry["hours"] = attendance.checked_hours(r.activity, r.checked_in_at, r.checked_out_at)
    past = sorted(by_activity.values(), key=lambda e: (e["activity"].start, e["activity"].pk))
    past.reverse()
    return render(
        request,
        "activities/attendance/mine.html",
        {
            "volunteer": volunteer,
            "active": volunteer.status == VolunteerStatus.ACTIVE,
            "upcoming": upcoming[:MINE_SHOWN],
            "past": past[:MINE_SHOWN],
            "more": len(rows) >= MINE_SHOWN * 2 or len(taken) >= MINE_SHOWN,
            "now": now,
            "calendar_url": _calendar_url(),
        },
    )
