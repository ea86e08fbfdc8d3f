"""Pages of volunteer registration and profiles. Thin: selectors read, services write.

Public: ``/volunteer/register/`` (a stable address, printed on posters). The volunteer's
own area: ``/me/``. Staff: ``/volunteers/…`` (scoped: outside the caller's scope is 404).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.errors import Conflict, PermissionDenied, ValidationFailed
from portal.http import AuthenticatedRequest
from portal.pagination import paginate, query_without_page
from portal.validators import parse_id
from practice.choices import UnitKind
from practice.models import Unit
from practice.permissions import Action, can, has_any_role, require

from . import selectors, services
from .choices import STAR_LEVELS, VolunteerStatus
from .forms import (
    OwnProfileForm,
    RegisterForm,
    RejectForm,
    StatusForm,
    VolunteerCreateForm,
    VolunteerEditForm,
)
from .models import Volunteer

PER_PAGE = 50
VILLAGE_KINDS = (UnitKind.STATION, UnitKind.POINT)


def _show_errors(form: BaseForm, exc: ValidationFailed) -> None:
    if not exc.detail:
        form.add_error(None, str(exc.message))
        return
    for field, errors in exc.detail.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _param(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    if not raw:
        return None
    try:
        return parse_id(raw)
    except ValidationError:
        return None


def _forgot_password_url() -> str | None:
    try:
        return reverse("password-forgot")
    except NoReverseMatch:
        return None


# --- public registration -----------------------------------------------------------------


def _registration_place(request: HttpRequest) -> dict[str, Any]:
    """Step by step, with GET: the county (when the installation has several), the town,
    then the village among the form's fields."""
    counties = list(
        Unit.objects.filter(kind=UnitKind.CENTRE, is_active=True)
        .order_by("tree_id", "lft")
        .only("pk", "name", "tree_id", "lft", "rght", "level")
    )
    county = None
    if len(counties) == 1:
        county = counties[0]
    else:
        county_id = _param(request, "county")
        county = next((c for c in counties if c.pk == county_id), None)
    towns: list[Unit] = []
    town = None
    villages = Unit.objects.none()
    if county is not None:
        towns = list(
            Unit.objects.within(county, include_self=False)
            .filter(kind=UnitKind.INSTITUTE, is_active=True)
            .order_by("lft")
            .only("pk", "name", "tree_id", "lft", "rght", "level")
        )
        town_id = _param(request, "town")
        town = next((t for t in towns if t.pk == town_id), None)
    if town is not None:
        villages = (
            Unit.objects.within(town, include_self=False)
            .filter(kind__in=VILLAGE_KINDS, is_active=True)
            .order_by("lft")
        )
        if not villages.exists():  # a town with no stations yet: its institute itself
            villages = Unit.objects.filter(pk=town.pk)
    return {
        "counties": counties,
        "county": county,
        "towns": towns,
        "town": town,
        "villages": villages,
    }


def _registration_allowed(request: HttpRequest) -> bool:
    """The API's limit of public registrations per client address, shared by the page."""
    from .api.volunteers import VolunteerRegisterThrottle

    return VolunteerRegisterThrottle().allow_request(request, None)  # type: ignore[arg-type]


@never_cache
def register(request: HttpRequest) -> HttpResponse:
    place = _registration_place(request)
    town = place["town"]
    form = None
    if town is not None:
        form = RegisterForm(
            request.POST or None, units=place["villages"], base_level=town.level + 1
        )
        if request.method == "POST" and form.is_valid():
            if not _registration_allowed(request):
                form.add_error(
                    None, _("Too many registrations from this address; please try again later.")
                )
                return render(
                    request, "volunteers/register.html", {**place, "form": form}, status=429
                )
            try:
                services.volunteer_register(data=form.service_data())
            except ValidationFailed as exc:
                _show_errors(form, exc)
            else:
                return redirect("volunteer-register-done")
    return render(request, "volunteers/register.html", {**place, "form": form})


def register_done(request: HttpRequest) -> HttpResponse:
    return render(request, "volunteers/register_done.html")


# --- the volunteer's own area --------------------------------------------------------------


@login_required
def me(request: AuthenticatedRequest) -> HttpResponse:
    volunteer = selectors.volunteer_of(request.user)
    if volunteer is None:
        return render(request, "volunteers/me.html", {"volunteer": None})
    initial = {
        "phone": volunteer.phone,
        "skills": volunteer.skills,
        "categories": list(volunteer.categories.all()),
        "available_time": volunteer.available_time,
    }
    form = OwnProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.volunteer_update(
                actor=request.user, volunteer=volunteer, data=form.cleaned_data
            )
        except ValidationFailed as exc:
            _show_errors(form, exc)
        else:
            messages.success(request, _("Your changes were saved."))
            return redirect("volunteer-me")
    next_star = next((h for h in STAR_LEVELS if volunteer.confirmed_hours < h), None)
    return render(
        request,
        "volunteers/me.html",
        {
            "volunteer": volunteer,
            "form": form,
            "stars": range(volunteer.star_level),
            "next_star": next_star,
            "forgot_password_url": _forgot_password_url(),
        },
    )


# --- staff pages -------------------------------------------------------------------------

STATUS_TABS = [
    VolunteerStatus.PENDING,
    VolunteerStatus.ACTIVE,
    VolunteerStatus.SUSPENDED,
    VolunteerStatus.WITHDRAWN,
    VolunteerStatus.REJECTED,
]


def _require_staff(request: AuthenticatedRequest) -> None:
    if not has_any_role(request.user):
        raise PermissionDenied(_("These pages are for managers and coordinators."))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def volunteer_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    # The search form is POSTed: an ID or mobile number is searched without ever being put
    # in an address (logs, history); any other search is redirected to a GET address.
    source = request.POST if request.method == "POST" else request.GET
    status = source.get("status", "")
    if status not in VolunteerStatus.values:
        status = ""
    q = source.get("q", "").strip()[:100]
    personal = selectors.is_personal_query(q)
    if request.method == "POST" and not personal:
        params = urlencode({k: v for k, v in (("status", status), ("q", q)) if v})
        return redirect(reverse("volunteer-list") + (f"?{params}" if params else ""))
    queryset = selectors.volunteers_in_scope(request.user, Action.VIEW, q=q, status=status)
    # A list never decrypts ID numbers (the masked form is stored beside them).
    page = paginate(request, queryset.defer("id_number", "guardian_phone"), PER_PAGE)
    return render(
        request,
        "volunteers/volunteer_list.html",
        {
            "page": page,
            "volunteers": page.object_list,
            "status": status,
            "q": q,
            "link_q": "" if personal else q,
            "tabs": [(s, VolunteerStatus(s).label) for s in STATUS_TABS],
            "query": query_without_page(request),
            "may_create": has_any_role(request.user)
            and Unit.objects.for_user(request.user, Action.MANAGE_VOLUNTEERS).exists(),
        },
    )


def _manageable_units(request: AuthenticatedRequest) -> Any:
    return (
        Unit.objects.for_user(request.user, Action.MANAGE_VOLUNTEERS)
        .filter(is_active=True)
        .order_by("tree_id", "lft")
    )


@login_required
def volunteer_new(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    units = _manageable_units(request)
    if not units.exists():
        raise PermissionDenied(_("Your role does not allow registering volunteers."))
    form = VolunteerCreateForm(request.POST or None, units=units)
    if request.method == "POST" and form.is_valid():
        try:
            volunteer = services.volunteer_create(actor=request.user, data=form.cleaned_data)
        except ValidationFailed as exc:
            _show_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s was registered as volunteer %(number)s.")
                % {"name": volunteer.name, "number": volunteer.number},
            )
            return redirect("volunteer-detail", pk=volunteer.pk)
    return render(request, "volunteers/volunteer_form.html", {"form": form, "volunteer": None})


def _staff_volunteer(request: AuthenticatedRequest, pk: int) -> Volunteer:
    queryset = selectors.volunteers_in_scope(request.user, Action.VIEW)
    return get_object_or_404(queryset, pk=pk)


def _detail(
    request: AuthenticatedRequest, volunteer: Volunteer, *, revealed: str | None = None
) -> HttpResponse:
    user = request.user
    manage = can(user, Action.MANAGE_VOLUNTEERS, volunteer.unit)
    response = render(
        request,
        "volunteers/volunteer_detail.html",
        {
            "volunteer": volunteer,
            "categories": list(volunteer.categories.all()),
            "phone_visible": selectors.phone_visible(user, volunteer),
            "may_manage": manage,
            "may_reveal": user.is_superuser or user.has_perm("volunteers.reveal_id_number"),
            "revealed_id": revealed,
            "reject_form": RejectForm(),
            "transitions": sorted(services.ALLOWED_STATUS_CHANGES.get(volunteer.status, ())),
            "status_labels": dict(VolunteerStatus.choices),
        },
    )
    if revealed is not None:
        response["Cache-Control"] = "no-store"
    return response


@login_required
def volunteer_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    own = selectors.volunteer_of(request.user)
    if own is not None and own.pk == pk and not can(request.user, Action.VIEW, own.unit):
        return redirect("volunteer-me")
    return _detail(request, _staff_volunteer(request, pk))


@login_required
def volunteer_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    volunteer = _staff_volunteer(request, pk)
    require(request.user, Action.MANAGE_VOLUNTEERS, volunteer.unit)
    initial = {
        "name": volunteer.name,
        "phone": volunteer.phone,
        "unit": volunteer.unit,
        "skills": volunteer.skills,
        "categories": list(volunteer.categories.all()),
        "available_time": volunteer.available_time,
        "guardian_name": volunteer.guardian_name,
        "guardian_phone": volunteer.guardian_phone,
        "guardian_consent": volunteer.guardian_consent,
    }
    form = VolunteerEditForm(
        request.POST or None, initial=initial, units=_manageable_units(request)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.volunteer_update(
                actor=request.user, volunteer=volunteer, data=form.cleaned_data
            )
        except ValidationFailed as exc:
            _show_errors(form, exc)
        else:
            messages.success(request, _("Your changes were saved."))
            return redirect("volunteer-detail", pk=volunteer.pk)
    return render(request, "volunteers/volunteer_form.html", {"form": form, "volunteer": volunteer})


def _after_action(request: HttpRequest, volunteer: Volunteer, done: str) -> HttpResponse:
    messages.success(request, done)
    return redirect("volunteer-detail", pk=volunteer.pk)


@login_required
@require_POST
def volunteer_approve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    volunteer = _staff_volunteer(request, pk)
    try:
        services.volunteer_approve(actor=request.user, volunteer=volunteer)
    except Conflict as exc:
        messages.error(request, str(exc.message))
        return redirect("volunteer-detail", pk=pk)
    return _after_action(request, volunteer, _("The registration was approved."))


@login_required
@require_POST
def volunteer_reject(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    volunteer = _staff_volunteer(request, pk)
    try:
        services.volunteer_reject(
            actor=request.user, volunteer=volunteer, reason=request.POST.get("reason", "")
        )
    except (Conflict, ValidationFailed) as exc:
        messages.error(request, str(exc.message))
        return redirect("volunteer-detail", pk=pk)
    return _after_action(request, volunteer, _("The registration was rejected."))


@login_required
@require_POST
def volunteer_status(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    volunteer = _staff_volunteer(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose what to do."))
        return redirect("volunteer-detail", pk=pk)
    try:
        services.volunteer_set_status(
            actor=request.user,
            volunteer=volunteer,
            status=form.cleaned_data["status"],
            reason=form.cleaned_data["reason"],
        )
    except (Conflict, ValidationFailed) as exc:
        messages.error(request, str(exc.message))
        return redirect("volunteer-detail", pk=pk)
    return _after_action(request, volunteer, _("The volunteer's status was changed."))


@login_required
@require_POST
def volunteer_reveal_id(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    volunteer = _staff_volunteer(request, pk)
    number = services.volunteer_reveal_id(actor=request.user, volunteer=volunteer)
    return _detail(request, volunteer, revealed=number)
