"""The pages of a background export (:mod:`portal.exports`): its progress, the JSON the
page polls, the download, and "run it now" for a job no worker took. Every one belongs to
the job's actor alone: anyone else gets a 404, as for a job that does not exist."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from portal import exports
from portal.http import AuthenticatedRequest
from portal.models import ExportJob
from portal.xlsx import XLSX_CONTENT_TYPE

__all__ = ["export_job", "export_job_download", "export_job_run", "export_job_status"]


def _own_job(request: AuthenticatedRequest, pk: int) -> ExportJob:
    return get_object_or_404(ExportJob.objects.filter(actor=request.user), pk=pk)


@login_required
@require_GET
def export_job(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The job's progress bar (``static/portal/export-job.js`` follows it; without
    JavaScript the page reloads itself), then its download link or its error."""
    job = _own_job(request, pk)
    return render(request, "portal/export_job.html", {"job": job, "progress": exports.status(job)})


@login_required
@require_GET
def export_job_status(request: AuthenticatedRequest, pk: int) -> JsonResponse:
    """``{"status", "label", "finished", "stalled", "done", "total", "percent"}``."""
    response = JsonResponse(exports.status(_own_job(request, pk)))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def export_job_download(request: AuthenticatedRequest, pk: int) -> FileResponse:
    """The finished workbook (404 while it is not written, or for anyone but its actor)."""
    job = _own_job(request, pk)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404
    response = FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=job.filename or "export.xlsx",
        content_type=XLSX_CONTENT_TYPE,
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def export_job_run(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Run a stalled job in this request (no worker took it); then back to its page."""
    job = _own_job(request, pk)
    exports.run_stalled(job)
    return redirect("export-job", pk=job.pk)
