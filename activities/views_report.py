"""A unit's annual report: the printable page, its workbook and its Word document
(:mod:`activities.report`). Staff with VIEW on the unit only (404 otherwise)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from portal.http import AuthenticatedRequest, attachment
from portal.xlsx import XLSX_CONTENT_TYPE
from practice.models import Unit
from practice.permissions import Action, require

from . import report

__all__ = ["DOCX_CONTENT_TYPE", "unit_annual_report", "unit_annual_report_docx"]

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _report(request: AuthenticatedRequest, pk: int, year: int) -> dict[str, Any]:
    unit = get_object_or_404(Unit, pk=pk)
    require(request.user, Action.VIEW, unit)
    if not report.MIN_YEAR <= year <= timezone.localdate().year:
        raise Http404
    return report.annual_report(unit, year)


def _filenames(data: dict[str, Any], extension: str) -> tuple[str, str]:
    # Translators: a file name, without its extension.
    label = pgettext("file name", "annual-report")
    unit, year = data["unit"], data["year"]
    return (
        f"{label}-{unit.name}-{year}.{extension}",
        f"annual-report-{unit.pk}-{year}.{extension}",
    )


@login_required
@require_GET
def unit_annual_report(request: AuthenticatedRequest, pk: int, year: int) -> HttpResponse:
    """``/units/<id>/report/<year>/``: the sentences and tables, printable."""
    data = _report(request, pk, year)
    this_year = timezone.localdate().year
    return render(
        request,
        "activities/report/annual.html",
        {
            **data,
            "title": report.report_title(data),
            "tables": report.report_tables(data),
            "text": report.report_text(data),
            "previous": year - 1 if year > report.MIN_YEAR else None,
            "next": year + 1 if year < this_year else None,
        },
    )


@login_required
@require_GET
def unit_annual_report_xlsx(request: AuthenticatedRequest, pk: int, year: int) -> HttpResponse:
    data = _report(request, pk, year)
    filename, fallback = _filenames(data, "xlsx")
    return attachment(
        report.report_xlsx(data),
        content_type=XLSX_CONTENT_TYPE,
        filename=filename,
        fallback=fallback,
    )


@login_required
@require_GET
def unit_annual_report_docx(request: AuthenticatedRequest, pk: int, year: int) -> HttpResponse:
    data = _report(request, pk, year)
    filename, fallback = _filenames(data, "docx")
    return attachment(
        report.report_docx(data),
        content_type=DOCX_CONTENT_TYPE,
        filename=filename,
        fallback=fallback,
    )
