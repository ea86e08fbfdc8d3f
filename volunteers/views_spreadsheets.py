"""The volunteer spreadsheets: the import pages, the exports of the volunteer list and of a
volunteer's hours (``volunteers.spreadsheets``)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import imports as jobs
from portal.errors import ApplicationError
from portal.http import AuthenticatedRequest
from portal.models import ImportJob
from practice.models import Unit
from practice.permissions import Action, has_any_role

from . import selectors
from . import spreadsheets as sheets
from .choices import VolunteerStatus
from .hours import records_of

__all__ = [
    "me_hours_export",
    "volunteer_export",
    "volunteer_hours_export",
    "volunteer_import",
    "volunteer_import_job",
    "volunteer_import_problems",
    "volunteer_import_run",
    "volunteer_import_status",
    "volunteer_import_template",
]


class VolunteerImportForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Import into"), queryset=Unit.objects.none())
    file = forms.FileField(
        label=_("Excel workbook (.xlsx)"),
        widget=forms.FileInput(attrs={"accept": f".xlsx,{sheets.xlsx.XLSX_CONTENT_TYPE}"}),
    )

    filename = ""

    def __init__(self, *args: Any, units: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["unit"])
        field.queryset = Unit.objects.filter(pk__in=[u.pk for u in units]).order_by(
            "tree_id", "lft"
        )
        field.help_text = gettext(
            "The volunteers' home units are found under it (column “Home unit”)."
        )
        self.fields["file"].help_text = gettext("At most %(rows)d rows and %(megabytes)d MB.") % {
            "rows": sheets.MAX_ROWS,
            "megabytes": sheets.MAX_FILE_BYTES // (1024 * 1024),
        }

    def clean_file(self) -> list[dict[str, Any]]:
        upload = self.cleaned_data["file"]
        self.filename = upload.name or ""
        try:
            return sheets.read_upload(upload)
        except ApplicationError as exc:
            raise forms.ValidationError(str(exc.message), code=exc.code) from exc


@login_required
@require_http_methods(["GET", "POST"])
def volunteer_import(request: AuthenticatedRequest) -> HttpResponse:
    units = list(selectors.units_to_act_on(request.user, Action.MANAGE_VOLUNTEERS))
    if not units:
        return render(request, "404.html", status=404)
    posted = request.method == "POST"
    form = VolunteerImportForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        units=units,
        initial={"unit": units[0].pk},
    )
    if posted and form.is_valid():
        job = sheets.start_import(
            actor=request.user,
            unit=form.cleaned_data["unit"],
            filename=form.filename,
            rows=form.cleaned_data["file"],
        )
        return redirect("volunteer-import-job", job=job.pk)
    return render(
        request,
        "volunteers/import.html",
        {"form": form, "columns": sheets.COLUMNS, "max_rows": sheets.MAX_ROWS},
    )


@login_required
@require_GET
def volunteer_import_template(request: AuthenticatedRequest) -> HttpResponse:
    return sheets.template_download()


def _job(request: AuthenticatedRequest, job: int) -> ImportJob:
    """The person's own volunteer import (anyone else's is 404)."""
    return get_object_or_404(ImportJob, pk=job, actor=request.user, kind=sheets.IMPORT_KIND)


@login_required
@require_GET
def volunteer_import_job(request: AuthenticatedRequest, job: int) -> HttpResponse:
    found = _job(request, job)
    unit = Unit.objects.filter(pk=found.target_id).first()
    result = found.result or {}
    return render(
        request,
        "volunteers/import_job.html",
        {
            "job": found,
            "unit": unit,
            "progress": jobs.status(found),
            "result": result,
            "errors": result.get("errors", [])[: sheets.ERRORS_SHOWN],
            "more_errors": max(0, len(result.get("errors", [])) - sheets.ERRORS_SHOWN),
        },
    )


@login_required
@require_GET
def volunteer_import_status(request: AuthenticatedRequest, job: int) -> JsonResponse:
    return JsonResponse(jobs.status(_job(request, job)))


@login_required
@require_POST
def volunteer_import_run(request: AuthenticatedRequest, job: int) -> HttpResponse:
    found = _job(request, job)
    jobs.run_stalled(found)
    return redirect("volunteer-import-job", job=found.pk)


@login_required
@require_GET
def volunteer_import_problems(request: AuthenticatedRequest, job: int) -> HttpResponse:
    return sheets.error_report(_job(request, job))


# --- exports -------------------------------------------------------------------------------


@login_required
@require_GET
def volunteer_export(request: AuthenticatedRequest) -> HttpResponse:
    """The volunteer list as the person sees it (``?status=``, ``?q=``), masked. A search
    by ID or phone number is never in an address, so it is not taken from one here."""
    if not has_any_role(request.user):
        raise Http404
    status = request.GET.get("status", "")
    if status not in VolunteerStatus.values:
        status = ""
    q = request.GET.get("q", "").strip()[:100]
    if selectors.is_personal_query(q):
        q = ""
    volunteers = (
        selectors.volunteers_in_scope(request.user, Action.VIEW, q=q, status=status)
        .defer("id_number", "guardian_phone", "phone")
        .order_by("unit__tree_id", "unit__lft", "pk")
        .iterator(chunk_size=2000)
    )
    filename = f"{gettext('Volunteers')}-{timezone.localdate():%Y%m%d}.xlsx"
    return sheets.export_download(volunteers, filename)


@login_required
@require_GET
def volunteer_hours_export(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A volunteer's service records, for staff who see the volunteer."""
    volunteer = get_object_or_404(
        selectors.volunteers_in_scope(request.user, Action.VIEW).defer("id_number"), pk=pk
    )
    return sheets.hours_download(
        volunteer, records_of(volunteer).select_related("recorded_by", "confirmed_by")
    )


@login_required
@require_GET
def me_hours_export(request: AuthenticatedRequest) -> HttpResponse:
    """The logged-in volunteer's own service records."""
    volunteer = selectors.volunteer_of(request.user)
    if volunteer is None:
        raise Http404
    return sheets.hours_download(
        volunteer, records_of(volunteer).select_related("recorded_by", "confirmed_by")
    )
