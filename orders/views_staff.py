"""Pages of the office: the dispatch queue, a request with its timeline and actions, filing
a request for a resident, and the service menu. Thin: :mod:`orders.selectors` reads,
:mod:`orders.services` writes (the API calls the same functions).

Who: accounts with a role (coordinators and managers) in their scope — outside it 404,
inside but not allowed 403 (``practice.permissions.require``). Volunteers of the team a
request was sent to open its page too (``selectors.request_for_staff``), without the
office's internal notes; any other account gets 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from activities.models import Activity
from portal.errors import ApplicationError, NotFound, PermissionDenied
from portal.http import AuthenticatedRequest
from portal.pagination import paginate, query_without_page
from portal.validators import parse_id
from practice import selectors as practice_selectors
from practice.models import Unit
from practice.permissions import Action, can, has_any_role, require
from volunteers.choices import MembershipStatus, RecordSource
from volunteers.models import ServiceRecord, TeamMembership
from volunteers.selectors import volunteer_of

from . import selectors, services
from .choices import OPEN_STATUSES, ActorKind, RequestStatus
from .filtersets import RequestFilterSet
from .forms import (
    DispatchForm,
    FileRequestForm,
    MenuItemForm,
    RejectForm,
    ReviewForm,
    show_errors,
    units_for,
)
from .models import RequestEvent, ServiceRequest

__all__ = [
    "menu_create",
    "menu_edit",
    "menu_list",
    "request_detail",
    "request_dispatch",
    "request_file",
    "request_list",
    "request_reject",
    "request_review",
]

REQUESTS_PER_PAGE = 50
MENU_PER_PAGE = 100


def _require_staff(request: AuthenticatedRequest) -> None:
    """Pages of the office: an account without a role is not told they exist (404)."""
    if not has_any_role(request.user):
        raise Http404


def _unit_from_query(request: AuthenticatedRequest, units: Any) -> Unit | None:
    """The unit of ``?unit=`` (or of the posted form) among ``units``; with only one unit
    to choose from, that one."""
    raw = request.POST.get("unit") or request.GET.get("unit") or ""
    if raw:
        try:
            pk = parse_id(raw)
        except ValidationError:
            return None
        return next((u for u in units if u.pk == pk), None)
    return units[0] if len(units) == 1 else None


# --- the dispatch queue ----------------------------------------------------------------------


def _status_links(request: AuthenticatedRequest, counts: dict[str, int]) -> list[dict[str, Any]]:
    """One link per status (and "all"), keeping the other filters."""
    base = request.GET.copy()
    base.pop("page", None)
    base.pop("status", None)
    chosen = request.GET.getlist("status")
    links = [
        {
            "value": "",
            "label": _("All"),
            "count": sum(counts[s] for s in RequestStatus.values),
            "query": base.urlencode(),
            "active": not chosen,
        }
    ]
    for value, label in RequestStatus.choices:
        query = base.copy()
        query["status"] = value
        links.append(
            {
                "value": value,
                "label": label,
                "count": counts[value],
                "query": query.urlencode(),
                "active": chosen == [value],
            }
        )
    return links


@login_required
def request_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    scoped = selectors.requests_in_scope(request.user)
    filterset = RequestFilterSet(request.GET, queryset=scoped)
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else scoped.none()
    # The counts per status follow every filter but the status itself (the links switch it).
    others = request.GET.copy()
    others.pop("status", None)
    counted = RequestFilterSet(others, queryset=scoped)
    counted_qs = counted.qs if valid and counted.is_valid() else scoped.none()
    counts = selectors.status_counts(counted_qs)
    counts["overdue"] = counted_qs.filter(
        overdue_at__isnull=False, status__in=OPEN_STATUSES
    ).count()
    page = paginate(request, selectors.with_urgency(queryset), REQUESTS_PER_PAGE)
    return render(
        request,
        "orders/staff/request_list.html",
        {
            "filterset": filterset,
            "page": page,
            "requests": page.object_list,
            "query": query_without_page(request),
            "counts": counts,
            "status_links": _status_links(request, counts),
            "statuses": RequestStatus.choices,
            "unit_choices": practice_selectors.audit_unit_choices(request.user),
            "categories": practice_selectors.categories(),
            "may_file": has_any_role(request.user),
        },
    )


# --- a request -------------------------------------------------------------------------------


def _visible(request: AuthenticatedRequest, pk: int) -> ServiceRequest:
    found = selectors.request_for_staff(request.user, pk)
    if found is None:
        raise Http404
    return found


def _timeline(req: ServiceRequest, *, staff: bool) -> list[dict[str, Any]]:
    """Every step with who did it; notes of the office only for the office (a team's
    volunteers read the resident's, the team's and those meant for the resident)."""
    rows = []
    for event in (
        RequestEvent.objects.filter(request=req).select_related("actor").order_by("at", "pk")
    ):
        shown = staff or event.public or event.actor_kind != ActorKind.STAFF
        if event.actor is not None:
            who = event.actor.display_name or event.actor.username
        else:
            who = event.get_actor_kind_display()
        rows.append(
            {
                "event": event,
                "who": who,
                "note": event.note if shown else "",
                "internal": bool(event.note) and not event.public,
            }
        )
    return rows


def _detail(
    request: AuthenticatedRequest,
    req: ServiceRequest,
    *,
    dispatch_form: DispatchForm | None = None,
    reject_form: RejectForm | None = None,
    review_form: ReviewForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    staff = can(user, Action.VIEW, req.unit)
    may_dispatch = can(user, Action.DISPATCH, req.unit)
    submitted = req.status == RequestStatus.SUBMITTED
    volunteer = volunteer_of(user)
    may_claim = (
        req.status == RequestStatus.DISPATCHED
        and volunteer is not None
        and req.team_id is not None
        and TeamMembership.objects.filter(
            team_id=req.team_id, volunteer=volunteer, status=MembershipStatus.ACTIVE
        ).exists()
    )
    team_side = volunteer is not None and services.may_act_as_team(user, req)
    activity = (
        Activity.objects.filter(request=req).only("pk", "title", "status").first()
        if req.delivered_at is not None
        else None
    )
    records = (
        list(
            ServiceRecord.objects.filter(source=RecordSource.REQUEST, source_id=req.pk)
            .select_related("volunteer")
            .order_by("pk")
        )
        if req.delivered_at is not None
        else []
    )
    if not staff and volunteer is not None:
        records = [r for r in records if r.volunteer_id == volunteer.pk]
    context = {
        "req": req,
        "staff": staff,
        "timeline": _timeline(req, staff=staff),
        "activity": activity,
        "records": records,
        "may_dispatch": may_dispatch,
        "dispatch_form": (
            dispatch_form or DispatchForm(user=user, request_obj=req)
            if may_dispatch and submitted
            else None
        ),
        "reject_form": (reject_form or RejectForm()) if may_dispatch and submitted else None,
        "review_form": (
            (review_form or ReviewForm()) if may_dispatch and req.needs_review else None
        ),
        "may_claim": may_claim,
        "may_decline": team_side
        and req.status in (RequestStatus.DISPATCHED, RequestStatus.CLAIMED),
        "may_deliver": team_side and req.status == RequestStatus.CLAIMED,
        "is_open": req.status in OPEN_STATUSES,
        "overdue": req.overdue_at is not None and req.status in OPEN_STATUSES,
    }
    return render(request, "orders/staff/request_detail.html", context, status=status)


@login_required
def request_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _detail(request, _visible(request, pk))


def _for_office(request: AuthenticatedRequest, pk: int) -> ServiceRequest:
    """The request of a dispatching action: 404 outside the user's view, 403 without the
    right to dispatch there."""
    req = selectors.request_for_staff(request.user, pk)
    if req is None:
        raise Http404
    require(request.user, Action.DISPATCH, req.unit)
    return req


def _refused(request: AuthenticatedRequest, req: ServiceRequest, exc: ApplicationError) -> None:
    if isinstance(exc, NotFound | PermissionDenied):
        raise exc
    messages.error(request, str(exc.message))


def _office_action(
    request: AuthenticatedRequest,
    req: ServiceRequest,
    form: Any,
    form_name: str,
    act: Callable[[dict[str, Any]], object],
    *,
    done: str | Callable[[dict[str, Any]], str],
    failed: str,
) -> HttpResponse:
    """Run ``act`` (a service call) with the valid ``form``'s data: back to the request with
    a message when it is done or refused in its state; the detail page with ``form`` and its
    errors (the service's too) when the input is wrong."""
    if form.is_valid():
        data = form.cleaned_data
        try:
            act(data)
        except ApplicationError as exc:
            if exc.detail:
                show_errors(form, exc)
            else:
                _refused(request, req, exc)
                return redirect(req.get_absolute_url())
        else:
            messages.success(request, done(data) if callable(done) else done)
            return redirect(req.get_absolute_url())
    messages.error(request, failed)
    return _detail(request, req, **{form_name: form})


@require_POST
@login_required
def request_dispatch(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    req = _for_office(request, pk)
    return _office_action(
        request,
        req,
        DispatchForm(request.POST, user=request.user, request_obj=req),
        "dispatch_form",
        lambda data: services.request_dispatch(
            actor=request.user,
            request=req,
            team=data["team"],
            due_date=data["due_date"],
            menu_item=data.get("menu_item"),
            note=data.get("note") or "",
        ),
        done=lambda data: (
            _("Sent to %(team)s. Its volunteers have been told.") % {"team": data["team"].name}
        ),
        failed=_("The request was not dispatched: see the form."),
    )


@require_POST
@login_required
def request_reject(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    req = _for_office(request, pk)
    return _office_action(
        request,
        req,
        RejectForm(request.POST),
        "reject_form",
        lambda data: services.request_reject(
            actor=request.user, request=req, reason=data["reason"]
        ),
        done=_("The request was rejected; the resident is told why."),
        failed=_("The request was not rejected: give the reason."),
    )


@require_POST
@login_required
def request_review(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    req = _for_office(request, pk)
    return _office_action(
        request,
        req,
        ReviewForm(request.POST),
        "review_form",
        lambda data: services.request_review(actor=request.user, request=req, note=data["note"]),
        done=_("Noted: the low rating has been looked at."),
        failed=_("Nothing was noted: say what was done."),
    )


# --- filing a request for a resident ---------------------------------------------------------


@login_required
def request_file(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    units = list(units_for(request.user, Action.FILE_REQUEST))
    if not units:
        raise PermissionDenied(_("Your role does not allow this here."))
    unit = _unit_from_query(request, units)
    form = None
    if unit is not None:
        form = FileRequestForm(
            request.POST or None,
            units=units_for(request.user, Action.FILE_REQUEST),
            unit=unit,
            initial={"unit": unit.pk},
        )
        if request.method == "POST" and form.is_valid():
            try:
                filed = services.request_submit(data=form.service_data(), actor=request.user)
            except (NotFound, PermissionDenied):
                raise
            except ApplicationError as exc:
                show_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("The request was filed. Give the resident its tracking code: %(code)s")
                    % {"code": filed.tracking_code},
                )
                return redirect(filed.get_absolute_url())
    elif request.method == "POST":
        messages.error(request, _("Choose the station first."))
    return render(
        request,
        "orders/staff/request_file.html",
        {"form": form, "unit": unit, "units": units},
    )


# --- the menu --------------------------------------------------------------------------------


@login_required
def menu_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    items = selectors.menu_in_scope(request.user)
    q = (request.GET.get("q") or "").strip()[:50]
    if q:
        items = items.filter(Q(title__icontains=q) | Q(unit__name__icontains=q))
    page = paginate(request, items, MENU_PER_PAGE)
    rows = list(page.object_list)
    for item in rows:
        item.may_edit = can(request.user, Action.MANAGE_MENU, item.unit)
    return render(
        request,
        "orders/staff/menu_list.html",
        {
            "page": page,
            "items": rows,
            "query": query_without_page(request),
            "q": q,
            "may_create": can(request.user, Action.MANAGE_MENU, None)
            or units_for(request.user, Action.MANAGE_MENU).exists(),
        },
    )


@login_required
def menu_create(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    units = list(units_for(request.user, Action.MANAGE_MENU))
    if not units:
        raise PermissionDenied(_("Your role does not allow this here."))
    unit = _unit_from_query(request, units)
    form = None
    if unit is not None:
        form = MenuItemForm(
            request.POST or None,
            user=request.user,
            unit=unit,
            units=units_for(request.user, Action.MANAGE_MENU),
            initial={"unit": unit.pk, "is_active": True},
        )
        if request.method == "POST" and form.is_valid():
            try:
                item = services.menu_item_create(actor=request.user, data=form.service_data())
            except (NotFound, PermissionDenied):
                raise
            except ApplicationError as exc:
                show_errors(form, exc)
            else:
                messages.success(request, _("“%(title)s” is on the menu.") % {"title": item.title})
                return redirect("menu-list")
    elif request.method == "POST":
        messages.error(request, _("Choose the unit first."))
    return render(
        request,
        "orders/staff/menu_form.html",
        {"form": form, "unit": unit, "units": units, "item": None},
    )


@login_required
def menu_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _require_staff(request)
    item = selectors.menu_in_scope(request.user).filter(pk=pk).first()
    if item is None:
        raise Http404
    require(request.user, Action.MANAGE_MENU, item.unit)
    if request.method == "POST" and "set_active" in request.POST:
        active = request.POST["set_active"] == "1"
        try:
            services.menu_item_update(actor=request.user, item=item, data={"is_active": active})
        except (NotFound, PermissionDenied):
            raise
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(
                request,
                _("“%(title)s” is offered again.") % {"title": item.title}
                if active
                else _("“%(title)s” is no longer offered.") % {"title": item.title},
            )
        return redirect("menu-edit", pk=item.pk)
    initial = {
        "category": item.category_id,
        "title": item.title,
        "description": item.description,
        "teams": [t.pk for t in item.teams.all()],
        "is_active": item.is_active,
    }
    form = MenuItemForm(
        request.POST or None, user=request.user, unit=item.unit, item=item, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.menu_item_update(actor=request.user, item=item, data=form.service_data())
        except (NotFound, PermissionDenied):
            raise
        except ApplicationError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("The changes were saved."))
            return redirect("menu-list")
    return render(
        request,
        "orders/staff/menu_form.html",
        {"form": form, "unit": item.unit, "units": [item.unit], "item": item},
    )
