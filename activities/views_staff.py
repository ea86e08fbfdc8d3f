"""Pages of the managers and reviewers of activities: the list, the plan/report/edit form
(participants and photos), an activity's staff page with its evidence (checked-in hours,
attendance, photos, possible duplicates) and actions, and the review queue. Thin:
:mod:`activities.selectors` reads, :mod:`activities.services` writes (the API calls the
same functions).

Who: accounts with a role in their scope — outside it 404, inside but not allowed 403
(``practice.permissions.require``); an account without a role gets 404. Reviewing is for a
coordinator of a unit strictly above the activity's (:func:`services.may_review`).

Photos go through :mod:`activities.photos`, the evidence comes from
:mod:`activities.attendance` and :mod:`activities.duplicates`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orders.forms import units_for
from portal.errors import ApplicationError, NotFound, PermissionDenied
from portal.http import AuthenticatedRequest
from portal.pagination import paginate, query_without_page
from portal.validators import parse_id
from practice import selectors as practice_selectors
from practice.choices import Role
from practice.models import Unit
from practice.permissions import Action, can, grants_of, has_any_role, require

from . import services
from .attendance import attendance_for
from .choices import ActivityStatus
from .duplicates import duplicates_count, possible_duplicates
from .filtersets import ActivityFilterSet
from .forms import (
    ActivityForm,
    ReturnForm,
    participant_formset,
    participants_data,
    show_service_errors,
)
from .models import Activity, ActivityPhoto
from .photos import photo_add, photo_remove
from .selectors import activities_in_scope

__all__ = [
    "activity_approve",
    "activity_create",
    "activity_edit",
    "activity_list",
    "activity_manage",
    "activity_photo_delete",
    "activity_return",
    "activity_submit",
    "review_queue",
]

ACTIVITIES_PER_PAGE = 50


def _require_staff(request: AuthenticatedRequest) -> None:
    """Pages of the office: an account without a role is not told they exist (404)."""
    if not has_any_role(request.user):
        raise Http404


def _visible(request: AuthenticatedRequest, pk: int) -> Activity:
    """The activity in the user's staff view, with its people (else 404)."""
    found = (
        activities_in_scope(request.user)
        .select_related("created_by", "reviewed_by")
        .prefetch_related("photos")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    return found


def _totals(activities: list[Activity]) -> None:
    """Each activity's number of participants and their hours (prefetched rows)."""
    for activity in activities:
        people = list(activity.participants.all())
        activity.people_count = len(people)  # type: ignore[attr-defined]
        activity.people_hours = sum((p.hours for p in people), Decimal(0))  # type: ignore[attr-defined]


# --- the list --------------------------------------------------------------------------------


@login_required
def activity_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    scoped = activities_in_scope(request.user)
    filterset = ActivityFilterSet(request.GET, queryset=scoped)
    queryset = filterset.qs if filterset.is_valid() else scoped.none()
    page = paginate(request, queryset, ACTIVITIES_PER_PAGE)
    activities = list(page.object_list)
    _totals(activities)
    query = query_without_page(request)
    export = reverse("activity-export")
    reviewer = _reviews_anything(request)
    return render(
        request,
        "activities/staff/activity_list.html",
        {
            "filterset": filterset,
            "page": page,
            "activities": activities,
            "query": query,
            "statuses": ActivityStatus.choices,
            "unit_choices": practice_selectors.audit_unit_choices(request.user),
            "categories": practice_selectors.categories(),
            "may_log": bool(units_for(request.user, Action.RECORD_HOURS).exists()),
            "export_url": f"{export}?{query}" if query else export,
            "review_url": reverse("activity-review-queue") if reviewer else None,
            "to_review": reviewable(request.user).count() if reviewer else 0,
        },
    )


def _unit_from_query(request: AuthenticatedRequest, units: list[Unit]) -> Unit | None:
    """The unit of ``?unit=`` (else of the posted form) among ``units``; with only one
    unit to choose from, that one. The form's own unit field may then change it."""
    raw = request.GET.get("unit") or request.POST.get("unit") or ""
    if raw:
        try:
            pk = parse_id(raw)
        except ValidationError:
            return None
        return next((u for u in units if u.pk == pk), None)
    return units[0] if len(units) == 1 else None


# --- the form --------------------------------------------------------------------------------


def _add_photos(request: AuthenticatedRequest, activity: Activity, uploads: list[Any]) -> bool:
    """Each upload through ``activities.photos.photo_add``; a refusal is a message naming the
    file. True when every photo was added."""
    ok = True
    for upload in uploads:
        try:
            photo_add(actor=request.user, activity=activity, upload=upload)
        except (NotFound, PermissionDenied):
            raise
        except ApplicationError as exc:
            ok = False
            reasons = [str(m) for errors in (exc.detail or {}).values() for m in errors]
            messages.error(
                request,
                _("Photo %(name)s was not added: %(reason)s")
                % {"name": upload.name, "reason": " ".join(reasons) or str(exc.message)},
            )
    return ok


def _form_page(
    request: AuthenticatedRequest,
    *,
    activity: Activity | None,
    unit: Any = None,
) -> HttpResponse:
    """Show, check and save the form: the service writes; its refusals go next to the
    fields and rows they name; then the photos, each on its own."""
    user = request.user
    posted = request.method == "POST"
    initial = ActivityForm.initial_for(activity) if activity is not None else {}
    if activity is None and unit is not None:
        initial["unit"] = unit.pk
    form = ActivityForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        user=user,
        unit=unit,
        activity=activity,
        initial=initial,
    )
    formset = participant_formset(request.POST if posted else None, activity=activity)
    if posted:
        valid, rows_valid = form.is_valid(), formset.is_valid()
        people, positions = participants_data(formset)  # unknown numbers: row errors
        if valid and rows_valid and not any(f.errors for f in formset.forms):
            data = {**form.service_data(), "participants": people}
            try:
                if activity is None:
                    saved = services.activity_create(actor=user, data=data)
                else:
                    saved = services.activity_update(actor=user, activity=activity, data=data)
            except (NotFound, PermissionDenied):
                raise
            except ApplicationError as exc:
                show_service_errors(form, exc, formset, positions)
            else:
                messages.success(
                    request,
                    _("The activity was saved.")
                    if activity is not None
                    else _("The activity was recorded."),
                )
                done = _add_photos(request, saved, form.cleaned_data.get("photos") or [])
                if not done:
                    return redirect("activity-edit", pk=saved.pk)
                return redirect("activity-manage", pk=saved.pk)
        messages.error(request, _("Nothing was saved: see the form."))
    return render(
        request,
        "activities/staff/activity_form.html",
        {
            "form": form,
            "formset": formset,
            "activity": activity,
            "unit": unit,
            "units": units_for(user, Action.RECORD_HOURS) if activity is None else None,
            "photos": list(activity.photos.all()) if activity is not None else [],
        },
    )


@login_required
def activity_create(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    units = list(units_for(request.user, Action.RECORD_HOURS))
    if not units:
        raise PermissionDenied(_("Your role does not allow this here."))
    unit = _unit_from_query(request, units)
    if unit is None:
        if request.method == "POST":
            messages.error(request, _("Choose the unit first."))
        return render(
            request,
            "activities/staff/activity_form.html",
            {"form": None, "units": units, "unit": None, "activity": None},
        )
    return _form_page(request, activity=None, unit=unit)


@login_required
def activity_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    activity = _visible(request, pk)
    require(request.user, Action.RECORD_HOURS, activity.unit)
    if activity.status not in services.EDITABLE:
        messages.error(
            request,
            _("A %(status)s activity can no longer be edited.")
            % {"status": activity.get_status_display()},
        )
        return redirect("activity-manage", pk=activity.pk)
    return _form_page(request, activity=activity, unit=activity.unit)


# --- an activity -----------------------------------------------------------------------------


def _participant_rows(activity: Activity) -> list[dict[str, Any]]:
    """Each participant with the hours reported and checked in, and the difference."""
    rows = []
    for p in activity.participants.all():
        diff = None if p.checked_hours is None else p.hours - p.checked_hours
        rows.append({"p": p, "diff": diff, "differs": bool(diff)})
    return rows


def _photos(activity: Activity) -> list[dict[str, Any]]:
    return [
        {
            "photo": photo,
            "thumb": reverse("activity-photo", args=(photo.pk, "thumb")),
            "full": reverse("activity-photo", args=(photo.pk, "full")),
        }
        for photo in activity.photos.all()
    ]


def _manage_page(
    request: AuthenticatedRequest,
    activity: Activity,
    *,
    return_form: ReturnForm | None = None,
) -> HttpResponse:
    user = request.user
    may_record = can(user, Action.RECORD_HOURS, activity.unit)
    submitted = activity.status == ActivityStatus.SUBMITTED
    may_review = submitted and services.may_review(user, activity.unit)
    rows = _participant_rows(activity)
    public = activity.status in (ActivityStatus.APPROVED, ActivityStatus.PLANNED)
    return render(
        request,
        "activities/staff/activity_manage.html",
        {
            "activity": activity,
            "participants": rows,
            "differences": sum(1 for r in rows if r["differs"]),
            "total_hours": sum((r["p"].hours for r in rows), Decimal(0)),
            "attendance": attendance_for(activity),
            "photos": _photos(activity),
            "duplicates": possible_duplicates(activity),
            "may_edit": may_record and activity.status in services.EDITABLE,
            "may_submit": may_record and activity.status in services.TRANSITIONS["submit"],
            "ended": activity.end <= timezone.now(),
            "may_review": may_review,
            "return_form": (return_form or ReturnForm()) if may_review else None,
            "qr_url": reverse("activity-qr", args=[activity.pk]) if may_record else None,
            "public_url": reverse("activity-public", args=[activity.pk]) if public else None,
            "reviewer_hint": submitted and not may_review,
        },
    )


@login_required
def activity_manage(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _manage_page(request, _visible(request, pk))


def _act(
    request: AuthenticatedRequest,
    activity: Activity,
    act: Callable[[], object],
    done: str,
) -> HttpResponse:
    """Run a transition: back to the activity with a message (done or why not)."""
    try:
        act()
    except (NotFound, PermissionDenied):
        raise
    except ApplicationError as exc:
        reasons = [str(m) for errors in (exc.detail or {}).values() for m in errors]
        messages.error(request, " ".join(reasons) or str(exc.message))
    else:
        messages.success(request, done)
    return redirect("activity-manage", pk=activity.pk)


@require_POST
@login_required
def activity_submit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    activity = _visible(request, pk)
    require(request.user, Action.RECORD_HOURS, activity.unit)
    return _act(
        request,
        activity,
        lambda: services.activity_submit(actor=request.user, activity=activity),
        _("Submitted: the unit above reviews it."),
    )


@require_POST
@login_required
def activity_approve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    activity = _visible(request, pk)
    return _act(
        request,
        activity,
        lambda: services.activity_approve(actor=request.user, activity=activity),
        _("Approved: the participants' hours are confirmed and the activity is published."),
    )


@require_POST
@login_required
def activity_return(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    activity = _visible(request, pk)
    if not services.may_review(request.user, activity.unit):
        raise PermissionDenied(
            _("Only a coordinator of a unit above this activity's unit may review it.")
        )
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The activity was not returned: give the reason."))
        return _manage_page(request, activity, return_form=form)
    return _act(
        request,
        activity,
        lambda: services.activity_return(
            actor=request.user, activity=activity, reason=form.cleaned_data["reason"]
        ),
        _("Returned to the unit with your reason."),
    )


@require_POST
@login_required
def activity_photo_delete(request: AuthenticatedRequest, pk: int, photo_pk: int) -> HttpResponse:
    activity = _visible(request, pk)
    require(request.user, Action.RECORD_HOURS, activity.unit)
    photo = ActivityPhoto.objects.filter(pk=photo_pk, activity=activity).first()
    if photo is None:
        raise Http404
    return _act(
        request,
        activity,
        lambda: photo_remove(actor=request.user, photo=photo),
        _("The photo was removed."),
    )


# --- the review queue ------------------------------------------------------------------------


def _reviewable_q(user: Any) -> Q | None:
    """Units strictly below the user's coordinator grants (everything for a superuser);
    None when the user reviews nothing."""
    if user.is_superuser:
        return Q()
    where: Q | None = None
    for g in grants_of(user):
        if g.role != Role.COORDINATOR:
            continue
        below = Q(unit__tree_id=g.tree_id, unit__lft__gt=g.lft, unit__lft__lt=g.rght)
        where = below if where is None else where | below
    return where


def _reviews_anything(request: AuthenticatedRequest) -> bool:
    return _reviewable_q(request.user) is not None


def reviewable(user: Any) -> QuerySet[Activity]:
    """Submitted activities ``user`` may review, oldest submission first."""
    where = _reviewable_q(user)
    if where is None:
        return Activity.objects.none()
    return (
        activities_in_scope(user)
        .filter(where, status=ActivityStatus.SUBMITTED)
        .order_by("submitted_at", "pk")
    )


@login_required
def review_queue(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    page = paginate(request, reviewable(request.user), ACTIVITIES_PER_PAGE)
    activities = list(page.object_list)
    _totals(activities)
    flags = duplicates_count(activities)
    for activity in activities:
        activity.duplicate_flags = flags.get(activity.pk, 0)
    return render(
        request,
        "activities/staff/review_queue.html",
        {
            "page": page,
            "activities": activities,
            "query": query_without_page(request),
            "reviewer": _reviews_anything(request),
        },
    )
