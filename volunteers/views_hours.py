"""Pages of service records and points: the staff list, manual entry, a record's detail
with its corrections, the points shop; the volunteer's own hours and points. Thin: the
selectors and services of ``volunteers.hours`` and ``volunteers.points`` do the work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import BaseForm
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from portal.errors import ApplicationError, PermissionDenied, ValidationFailed
from portal.http import AuthenticatedRequest
from portal.pagination import paginate, query_without_page
from practice.choices import Role
from practice.models import Category, Unit
from practice.permissions import Action, can, has_any_role, scope_q

from . import hours, points
from .choices import RecordStatus
from .models import ServiceRecord, Volunteer
from .selectors import volunteer_of

RECORDS_PER_PAGE = 50
LEDGER_PER_PAGE = 50


def _show_errors(form: BaseForm, exc: ApplicationError) -> None:
    if not exc.detail:
        form.add_error(None, str(exc.message))
        return
    for field, errors in exc.detail.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _indented(units: list[Unit]) -> list[tuple[str, str]]:
    top = min((u.level for u in units), default=0)
    return [(str(u.pk), "\u3000" * (u.level - top) + u.name) for u in units]


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class RecordForm(forms.Form):
    volunteer_number = forms.CharField(label=gettext_lazy("Volunteer number"), max_length=20)
    unit = forms.ChoiceField(label=gettext_lazy("Organizing unit"))
    date = forms.DateField(label=gettext_lazy("Date"), widget=_date_input())
    hours = forms.CharField(
        label=gettext_lazy("Hours"),
        max_length=8,
        help_text=gettext_lazy("More than 0, at most 24, two decimals at most (1.5)."),
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    start_time = forms.TimeField(label=gettext_lazy("Start"), required=False, widget=_time_input())
    end_time = forms.TimeField(label=gettext_lazy("End"), required=False, widget=_time_input())
    category = forms.ModelChoiceField(
        label=gettext_lazy("Platform"), queryset=Category.objects.none(), required=False
    )
    content = forms.CharField(label=gettext_lazy("Service content"), max_length=200, required=False)
    reason = forms.CharField(
        label=gettext_lazy("Reason for the manual entry"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, units: list[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units = {str(u.pk): u for u in units}
        self.fields["unit"].choices = _indented(units)  # type: ignore[attr-defined]
        self.fields["category"].queryset = Category.objects.filter(  # type: ignore[attr-defined]
            is_active=True
        )


class VoidForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for voiding"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CorrectForm(forms.Form):
    hours = forms.CharField(
        label=gettext_lazy("Correct hours"),
        max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    date = forms.DateField(label=gettext_lazy("Correct date"), widget=_date_input())
    reason = forms.CharField(
        label=gettext_lazy("Reason for the correction"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RedeemForm(forms.Form):
    number = forms.CharField(widget=forms.HiddenInput)
    unit = forms.ChoiceField(label=gettext_lazy("Shop"))
    item = forms.CharField(label=gettext_lazy("Item"), max_length=100)
    points = forms.IntegerField(label=gettext_lazy("Points"), min_value=1)

    def __init__(self, *args: Any, units: list[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units = {str(u.pk): u for u in units}
        self.fields["unit"].choices = _indented(units)  # type: ignore[attr-defined]


def _require_staff(request: AuthenticatedRequest) -> None:
    if not has_any_role(request.user):
        raise Http404


def _actions(user: Any, record: ServiceRecord) -> dict[str, bool]:
    """Which buttons a record shows ``user`` (no query: grants are cached, units read)."""
    pending = record.status == RecordStatus.PENDING
    confirmed = record.status == RecordStatus.CONFIRMED
    return {
        "confirm": pending
        and record.source not in hours.REVIEWED_SOURCES
        and can(user, Action.CONFIRM_HOURS, record.unit)
        and record.recorded_by_id != user.pk,
        "void": (pending and can(user, Action.RECORD_HOURS, record.unit))
        or (confirmed and hours.may_void_confirmed(user, record)),
        "correct": confirmed and can(user, Action.RECORD_HOURS, record.unit),
    }


# --- staff pages -----------------------------------------------------------------------------


@login_required
def record_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    filterset = hours.RecordFilterSet(
        request.GET, queryset=hours.records_in_scope(request.user), request=request
    )
    records = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = paginate(request, hours.pending_first(records), RECORDS_PER_PAGE)
    rows = [(r, _actions(request.user, r)) for r in page.object_list]
    return render(
        request,
        "volunteers/record_list.html",
        {
            "page": page,
            "rows": rows,
            "filterset": filterset,
            "statuses": RecordStatus.choices,
            "query": query_without_page(request),
            "may_record": Unit.objects.for_user(request.user, Action.RECORD_HOURS).exists(),
            # Awarding, deducting and the points rate are coordinators' (no query: the
            # grants are read once per request).
            "may_manage_points": has_any_role(request.user, Role.COORDINATOR),
            "void_form": VoidForm(),
        },
    )


@login_required
def record_new(request: AuthenticatedRequest) -> HttpResponse:
    units = list(
        Unit.objects.for_user(request.user, Action.RECORD_HOURS)
        .filter(is_active=True)
        .order_by("tree_id", "lft")
    )
    if not units:
        raise Http404
    form = RecordForm(request.POST or None, units=units)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        volunteer = (
            Volunteer.objects.filter(
                scope_q(request.user, Action.VIEW, prefix="unit__"),
                number=data["volunteer_number"].strip().upper(),
            )
            .select_related("unit")
            .first()
        )
        if volunteer is None:
            form.add_error("volunteer_number", _("No volunteer with this number in your area."))
        else:
            try:
                record = hours.record_create(
                    actor=request.user,
                    volunteer=volunteer,
                    unit=form.units[data["unit"]],
                    date=data["date"],
                    hours=data["hours"],
                    category=data["category"],
                    content=data["content"],
                    start_time=data["start_time"],
                    end_time=data["end_time"],
                    reason=data["reason"],
                )
            except ValidationFailed as exc:
                _show_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("The hours were recorded; someone else must confirm them."),
                )
                return redirect("service-record-detail", pk=record.pk)
    return render(request, "volunteers/record_form.html", {"form": form})


def _record(request: AuthenticatedRequest, pk: int) -> ServiceRecord:
    return get_object_or_404(hours.records_in_scope(request.user), pk=pk)


@login_required
def record_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    record = _record(request, pk)
    actions = _actions(request.user, record)
    correct_form = None
    if actions["correct"]:
        correct_form = CorrectForm(
            request.POST or None, initial={"hours": record.hours, "date": record.date}
        )
        if request.method == "POST" and correct_form.is_valid():
            data = correct_form.cleaned_data
            try:
                correction = hours.record_correct(
                    actor=request.user,
                    record=record,
                    hours=data["hours"],
                    date=data["date"],
                    reason=data["reason"],
                )
            except ApplicationError as exc:
                if exc.status_code != 400:
                    raise
                _show_errors(correct_form, exc)
            else:
                messages.success(
                    request,
                    _("The correction was recorded; someone else must confirm it."),
                )
                return redirect("service-record-detail", pk=correction.pk)
    elif request.method == "POST":
        raise PermissionDenied(_("This record cannot be corrected by you, or not any more."))
    return render(
        request,
        "volunteers/record_detail.html",
        {
            "record": record,
            "actions": actions,
            "corrections": list(hours.corrections_of([record])),
            "correct_form": correct_form,
            "void_form": VoidForm(),
        },
    )


@login_required
@require_POST
def record_confirm(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    record = _record(request, pk)
    try:
        hours.record_confirm(actor=request.user, record=record)
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The record was confirmed."))
    return _back(request, record)


@login_required
@require_POST
def record_void(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    record = _record(request, pk)
    form = VoidForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for voiding the record."))
        return _back(request, record)
    try:
        hours.record_void(actor=request.user, record=record, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The record was voided."))
    return _back(request, record)


def _back(request: AuthenticatedRequest, record: ServiceRecord) -> HttpResponse:
    back = request.POST.get("next") or ""
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back)
    return redirect("service-record-detail", pk=record.pk)


@login_required
def points_shop(request: AuthenticatedRequest) -> HttpResponse:
    units = list(points.shop_units(request.user).filter(is_active=True))
    if not units:
        raise Http404
    number = (request.POST.get("number") or request.GET.get("number") or "").strip()
    volunteer = points.volunteer_for_shop(request.user, number) if number else None
    form = None
    if volunteer is not None:
        form = RedeemForm(request.POST or None, units=units, initial={"number": volunteer.number})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                entry = points.points_redeem(
                    actor=request.user,
                    volunteer=volunteer,
                    unit=form.units[data["unit"]],
                    item=data["item"],
                    points=data["points"],
                )
            except ValidationFailed as exc:
                _show_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("%(points)d points redeemed for “%(item)s”; the balance is %(balance)d.")
                    % {"points": -entry.points, "item": entry.item, "balance": entry.balance},
                )
                return redirect(f"{reverse('points-shop')}?number={volunteer.number}")
    elif request.method == "POST":
        raise Http404
    return render(
        request,
        "volunteers/points_shop.html",
        {
            "number": number,
            "volunteer": volunteer,
            "form": form,
            "recent": list(points.ledger_of(volunteer)[:10]) if volunteer else [],
        },
    )


# --- the volunteer's own pages -------------------------------------------------------------


def _own(request: AuthenticatedRequest) -> Volunteer:
    volunteer = volunteer_of(request.user)
    if volunteer is None:
        raise Http404
    return volunteer


@login_required
def me_hours(request: AuthenticatedRequest) -> HttpResponse:
    volunteer = _own(request)
    page = paginate(request, hours.records_of(volunteer), RECORDS_PER_PAGE)
    return render(
        request,
        "volunteers/me_hours.html",
        {
            "volunteer": volunteer,
            "summary": hours.hours_summary(volunteer),
            "page": page,
            "query": query_without_page(request),
        },
    )


@login_required
def me_points(request: AuthenticatedRequest) -> HttpResponse:
    volunteer = _own(request)
    page = paginate(request, points.ledger_of(volunteer), LEDGER_PER_PAGE)
    return render(
        request,
        "volunteers/me_points.html",
        {"volunteer": volunteer, "page": page, "query": query_without_page(request)},
    )
