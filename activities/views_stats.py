"""The statistics dashboard of a unit (figures, ECharts, tables), its Excel export, and the
Excel export of the staff activity list (inline when small, else a background job)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from portal import exports as background
from portal.db_router import reads_from_replica
from portal.http import AuthenticatedRequest, attachment
from portal.xlsx import XLSX_CONTENT_TYPE
from practice.models import Unit
from practice.permissions import Action, has_any_role, require

from . import exports
from .stats import activity_figures, participants, request_timings, silent_children

__all__ = ["Period", "activity_export", "dashboard_figures", "period_of", "unit_statistics"]


@dataclass(frozen=True)
class Period:
    """The days a dashboard covers (both included), which choice gave them, and what was
    wrong with the query string, if anything (then the default period is shown)."""

    date_from: dt.date
    date_to: dt.date
    choice: str  # "year", "last-year", "month", "custom"
    error: str = ""

    @property
    def month_value(self) -> str:
        return f"{self.date_from:%Y-%m}"


def _month_end(first: dt.date) -> dt.date:
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def period_of(request: HttpRequest, today: dt.date | None = None) -> Period:
    """``?month=YYYY-MM`` (a month), else ``?from=&to=`` (days, either may be left out),
    else this year until today. A bad value (or "to" before "from") gives this year with
    a message saying what was wrong."""
    today = today or timezone.localdate()
    this_year = Period(dt.date(today.year, 1, 1), today, "year")
    get = request.GET
    month = get.get("month", "").strip()
    if month:
        try:
            first = dt.datetime.strptime(month, "%Y-%m").date()
        except ValueError:
            return _bad(this_year, _("“%(value)s” is not a month (YYYY-MM).") % {"value": month})
        return Period(first, _month_end(first), "month")
    given = {}
    for key in ("from", "to"):
        value = get.get(key, "").strip()
        if not value:
            continue
        try:
            given[key] = dt.date.fromisoformat(value)
        except ValueError:
            return _bad(this_year, _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value})
    if not given:
        return this_year
    date_from = given.get("from") or dt.date(given["to"].year, 1, 1)
    date_to = given.get("to") or max(today, date_from)
    if date_to < date_from:
        return _bad(this_year, _("“to” must not be before “from”."))
    if date_from.year < 1900 or date_to.year > 9000:
        return _bad(this_year, _("Choose dates between 1900 and 9000."))
    if (date_from, date_to) == (dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)):
        return Period(date_from, date_to, "last-year")
    if (date_from, date_to) == (this_year.date_from, this_year.date_to):
        return this_year
    return Period(date_from, date_to, "custom")


def _bad(period: Period, message: str) -> Period:
    return Period(period.date_from, period.date_to, period.choice, message)


def _staff_unit(request: HttpRequest, pk: int) -> Unit:
    """The unit if it is in the user's staff view, else 404 (as if it did not exist)."""
    unit = get_object_or_404(Unit, pk=pk)
    require(request.user, Action.VIEW, unit)
    return unit


def dashboard_figures(unit: Unit, period: Period, today: dt.date | None = None) -> dict[str, Any]:
    """Everything the dashboard and its export show, in a fixed number of queries."""
    from orders.selectors import request_figures  # the app above this one's

    today = today or timezone.localdate()
    month = today.replace(day=1)
    span = {"date_from": period.date_from, "date_to": period.date_to}
    return {
        "unit": unit,
        "from": period.date_from,
        "to": period.date_to,
        "figures": activity_figures(unit, **span),
        "participants": participants(unit, **span),
        "requests": request_figures(unit, **span),
        "timings": request_timings(unit, **span),
        "month": month,
        "silent": silent_children(unit, month=month),
    }


def _chart_data(stats: dict[str, Any]) -> dict[str, Any]:
    """What static/portal/dashboard.js draws (numbers as numbers, labels translated)."""
    figures = stats["figures"]

    def numbers(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "activities": row["activities"],
            "beneficiaries": row["beneficiaries"],
            "materials": row["materials"],
            "hours": float(row["volunteer_hours"]),
        }

    return {
        "labels": {
            "activities": _("Activities"),
            "beneficiaries": _("People served"),
            "hours": _("Volunteer hours"),
        },
        "months": [{"month": r["month"], **numbers(r)} for r in figures["by_month"]],
        "categories": [{"name": r["name"], **numbers(r)} for r in figures["by_category"]],
        "children": sorted(
            ({"id": r["unit"], "name": r["name"], **numbers(r)} for r in figures["by_child"]),
            key=lambda r: (-r["activities"], -r["hours"]),
        ),
    }


def _presets(today: dt.date) -> list[tuple[str, str, str]]:
    """(choice, label, query string) of the period picker's quick choices."""
    last = today.year - 1
    return [
        ("year", _("This year"), f"from={today.year}-01-01&to={today:%Y-%m-%d}"),
        ("last-year", _("Last year"), f"from={last}-01-01&to={last}-12-31"),
        ("month", _("This month"), f"month={today:%Y-%m}"),
    ]


@login_required
@require_GET
@reads_from_replica()
def unit_statistics(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """``/units/<id>/statistics/``: the dashboard of the unit's subtree for a period."""
    unit = _staff_unit(request, pk)
    today = timezone.localdate()
    period = period_of(request, today)
    stats = dashboard_figures(unit, period, today)
    query = f"from={period.date_from:%Y-%m-%d}&to={period.date_to:%Y-%m-%d}"
    return render(
        request,
        "activities/stats/dashboard.html",
        {
            **stats,
            "period": period,
            "presets": _presets(today),
            "chart": _chart_data(stats),
            "query": query,
            "years": range(today.year, today.year - 5, -1),
        },
    )


@login_required
@require_GET
@reads_from_replica()
def unit_statistics_xlsx(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The dashboard's tables for the same period as an Excel workbook."""
    unit = _staff_unit(request, pk)
    period = period_of(request)
    if period.error:
        return redirect(f"{reverse('unit-statistics', args=[unit.pk])}?{request.GET.urlencode()}")
    stats = dashboard_figures(unit, period)
    # Translators: a file name, without its extension.
    label = pgettext("file name", "statistics")
    span = f"{period.date_from:%Y%m%d}-{period.date_to:%Y%m%d}"
    return attachment(
        exports.statistics_workbook(stats),
        content_type=XLSX_CONTENT_TYPE,
        filename=f"{label}-{unit.name}-{span}.xlsx",
        fallback=f"statistics-{unit.pk}-{span}.xlsx",
    )


@login_required
@require_GET
def activity_export(request: AuthenticatedRequest) -> HttpResponse:
    """``/activities/export.xlsx?within=&status=&category=&from=&to=``: the staff list's
    activities as a workbook — at once up to ``settings.EXPORT_INLINE_ROWS`` rows, else a
    background job whose progress page the user is sent to."""
    if not has_any_role(request.user):
        raise Http404
    filterset = exports.activity_filterset(request.user, request.GET)
    if not filterset.is_valid():
        try:
            page = reverse("activity-list")
        except NoReverseMatch:  # the staff list belongs to another part of the issue
            page = "/"
        return HttpResponseRedirect(f"{page}?{request.GET.urlencode()}")
    activities = filterset.qs
    total = activities.count()
    if total > background.inline_limit():
        params = dict(request.GET.lists())
        job = background.start(kind=exports.WRITER, actor=request.user, params=params, total=total)
        return redirect("export-job", pk=job.pk)
    rows = exports.activity_rows(activities.iterator(chunk_size=1000))
    filename = exports.activity_filename()
    return attachment(
        exports.activity_workbook(rows),
        content_type=XLSX_CONTENT_TYPE,
        filename=filename,
        fallback=f"activities-{timezone.localdate():%Y%m%d}.xlsx",
    )
