"""The coordinators' points page: award or deduct points by hand (with a reason) and set
the points a confirmed hour earns (``volunteers.points``). The stations' shop, where
points are spent, is ``views_hours.points_shop``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from portal.errors import ApplicationError
from portal.http import AuthenticatedRequest
from practice.models import Unit
from practice.permissions import Action, scope_q

from . import points, selectors
from .models import PointsRate
from .views_hours import _indented, _show_errors

__all__ = ["points_manage"]


class AdjustForm(forms.Form):
    number = forms.CharField(label=gettext_lazy("Volunteer number"), max_length=20)
    points = forms.IntegerField(
        label=gettext_lazy("Points"),
        help_text=gettext_lazy("A positive number awards points, a negative one deducts them."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class RateForm(forms.Form):
    unit = forms.ChoiceField(label=gettext_lazy("Unit"))
    points_per_hour = forms.IntegerField(
        label=gettext_lazy("Points per confirmed hour"), min_value=0, max_value=1000
    )

    def __init__(self, *args: Any, units: list[Unit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units = {str(u.pk): u for u in units}
        self.fields["unit"].choices = _indented(units)  # type: ignore[attr-defined]


@login_required
@require_http_methods(["GET", "POST"])
def points_manage(request: AuthenticatedRequest) -> HttpResponse:
    units = list(selectors.units_to_act_on(request.user, Action.MANAGE_POINTS))
    if not units:
        raise Http404
    which = request.POST.get("form") if request.method == "POST" else None
    adjust = AdjustForm(request.POST if which == "adjust" else None, prefix="adjust")
    rate = RateForm(request.POST if which == "rate" else None, prefix="rate", units=units)
    if which == "adjust" and adjust.is_valid():
        data = adjust.cleaned_data
        volunteer = (
            selectors.volunteers_in_scope(request.user, Action.MANAGE_POINTS)
            .filter(number=data["number"].strip().upper())
            .first()
        )
        if volunteer is None:
            adjust.add_error("number", _("There is no volunteer with this number here."))
        else:
            try:
                entry = points.points_adjust(
                    actor=request.user,
                    volunteer=volunteer,
                    points=data["points"],
                    reason=data["reason"],
                )
            except ApplicationError as exc:
                _show_errors(adjust, exc)
            else:
                messages.success(
                    request,
                    _("%(name)s: %(points)+d points; the balance is %(balance)d.")
                    % {"name": volunteer.name, "points": entry.points, "balance": entry.balance},
                )
                return redirect("points-manage")
    if which == "rate" and rate.is_valid():
        unit = rate.units[rate.cleaned_data["unit"]]
        try:
            points.points_rate_set(
                actor=request.user,
                unit=unit,
                points_per_hour=rate.cleaned_data["points_per_hour"],
            )
        except ApplicationError as exc:
            _show_errors(rate, exc)
        else:
            messages.success(
                request,
                _("In %(unit)s and below, a confirmed hour now earns %(points)d points.")
                % {"unit": unit.name, "points": rate.cleaned_data["points_per_hour"]},
            )
            return redirect("points-manage")
    rates = (
        PointsRate.objects.filter(scope_q(request.user, Action.VIEW, prefix="unit__"))
        .select_related("unit")
        .order_by("unit__tree_id", "unit__lft")[:200]
    )
    return render(
        request,
        "volunteers/points_manage.html",
        {
            "adjust": adjust,
            "rate": rate,
            "rates": rates,
            "default_rate": settings.VOLUNTEER_POINTS_PER_HOUR,
        },
    )
