"""Long imports: upload → preview → confirm → apply in the background, with progress.

The flow every import follows (units now, volunteers later):

1. The page reads the upload, asks the app's service for a *plan* (what would be
   created, changed, left alone; the problems by row) and, if there are no problems,
   stores an :class:`~portal.models.ImportJob` with the rows, the plan and its digest
   (:func:`create_job`). Nothing is written to the app's tables yet.
2. The person sees the preview and confirms (:func:`confirm`): the job is queued and a
   Celery task (:func:`portal.tasks.run_import_job`) runs :func:`run`, which calls the
   job's ``kind`` — the dotted path of a function ``apply(job, progress) -> dict`` — inside
   one transaction together with the job's own "done". The function makes its plan again
   and refuses to apply one that differs from the digest confirmed.
3. The page polls :func:`status` (a small JSON endpoint) and shows a progress bar; the
   running import reports ``progress(done, total)`` through the cache.

Nothing accepted is lost when the task queue is down: the job and its rows live in the
database. If the task cannot be queued, :func:`confirm` runs the job in the request; if
it was queued but no worker took it within :data:`STALLED_AFTER`, its owner may run it
from the page (:func:`run_stalled`). A job is claimed with a conditional update, so it
runs once however many of these ask for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from portal.errors import ApplicationError
from portal.models import ImportJob

__all__ = [
    "RUNNING_TIMEOUT",
    "STALLED_AFTER",
    "Apply",
    "confirm",
    "create_job",
    "is_stalled",
    "progress_of",
    "purge",
    "run",
    "run_stalled",
    "status",
]

logger = logging.getLogger(__name__)

Apply = Callable[[ImportJob, Callable[[int, int], None]], dict[str, Any]]
Status = ImportJob.Status

# A queued job no worker has taken by then may be run by its owner from the page.
STALLED_AFTER = dt.timedelta(minutes=2)
# A running job whose worker died (its transaction rolled back) may be claimed again.
RUNNING_TIMEOUT = dt.timedelta(minutes=30)
# Jobs older than this are deleted by the nightly purge.
KEEP_JOBS = dt.timedelta(days=14)
_PROGRESS_KEY = "portal:import-job:{pk}:progress"
_PROGRESS_SECONDS = 6 * 3600


def create_job(
    *,
    kind: str,
    actor: Any,
    target_id: int | None,
    filename: str,
    payload: Mapping[str, Any],
    plan: Mapping[str, Any],
    digest: str,
) -> ImportJob:
    """Keep a previewed upload until its owner confirms it."""
    return ImportJob.objects.create(
        kind=kind,
        actor=actor,
        target_id=target_id,
        filename=filename[:255],
        language=translation.get_language() or settings.LANGUAGE_CODE,
        payload=dict(payload),
        plan=dict(plan),
        digest=digest,
    )


def confirm(job: ImportJob) -> None:
    """Queue a previewed job (once: a second confirmation does nothing).

    When the task queue cannot be reached, the job runs here and now.
    """
    queued = ImportJob.objects.filter(pk=job.pk, status=Status.PREVIEW).update(
        status=Status.QUEUED, queued_at=timezone.now()
    )
    if not queued:
        return
    from portal.tasks import run_import_job

    try:
        run_import_job.delay(job.pk)
    except Exception:  # kombu's OperationalError, redis' ConnectionError, DNS, ...
        logger.warning(
            "import job %s: the task queue is unreachable; running it in the request",
            job.pk,
            exc_info=True,
        )
        run(job.pk)


def is_stalled(job: ImportJob, *, now: dt.datetime | None = None) -> bool:
    """A queued job no worker took in time, or a running one whose worker went away."""
    now = now or timezone.now()
    if job.status == Status.QUEUED:
        return job.queued_at is not None and job.queued_at < now - STALLED_AFTER
    if job.status == Status.RUNNING:
        return job.started_at is not None and job.started_at < now - RUNNING_TIMEOUT
    return False


def run_stalled(job: ImportJob) -> bool:
    """Run a stalled job in the caller's process; ``False`` if it is not stalled."""
    if not is_stalled(job):
        return False
    run(job.pk)
    return True


def run(job_pk: int) -> None:
    """Claim a queued job and apply it, recording the result or the error on the job."""
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(
        status=Status.RUNNING, started_at__lt=now - RUNNING_TIMEOUT
    )
    claimed = ImportJob.objects.filter(claimable, pk=job_pk).update(
        status=Status.RUNNING, started_at=now
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("actor").get(pk=job_pk)
    apply: Apply = import_string(job.kind)

    def progress(done: int, total: int) -> None:
        _set_progress(job.pk, done, total)

    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            with transaction.atomic():
                result = apply(job, progress)
                # In the same transaction: the rows and the job's "done" commit together.
                _finish(job, Status.DONE, result=result)
        except ApplicationError as exc:
            error = {"code": exc.code, "message": str(exc.message), "detail": exc.detail}
            _finish(job, Status.FAILED, error=error)
        except Exception:
            logger.exception("import job %s failed", job.pk)
            message = _("The import failed unexpectedly; nothing was imported. Try again later.")
            _finish(job, Status.FAILED, error={"code": "error", "message": message, "detail": {}})


def _finish(
    job: ImportJob,
    status: str,
    *,
    result: Mapping[str, Any] | None = None,
    error: Mapping[str, Any] | None = None,
) -> None:
    # The rows are no longer needed once the job has run.
    ImportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=status,
        result=dict(result or {}),
        error=dict(error or {}),
        payload={},
        finished_at=timezone.now(),
    )


def _set_progress(pk: int, done: int, total: int) -> None:
    try:
        cache.set(_PROGRESS_KEY.format(pk=pk), [done, total], _PROGRESS_SECONDS)
    except Exception:  # progress is a courtesy: a cache outage must not fail the import
        logger.warning("import job %s: progress not recorded", pk, exc_info=True)


def progress_of(job: ImportJob) -> tuple[int, int] | None:
    """``(done, total)`` as last reported by the running job, if known."""
    try:
        value = cache.get(_PROGRESS_KEY.format(pk=job.pk))
    except Exception:
        return None
    if isinstance(value, list | tuple) and len(value) == 2:
        return int(value[0]), int(value[1])
    return None


def status(job: ImportJob) -> dict[str, Any]:
    """What the progress page polls: the job's state and how far it has come."""
    done, total = progress_of(job) or (0, 0)
    if job.status == Status.DONE:
        done = total = max(total, 1)
    return {
        "status": job.status,
        "label": str(Status(job.status).label),
        "finished": job.finished,
        "stalled": is_stalled(job),
        "done": done,
        "total": total,
    }


def purge(*, older_than: dt.timedelta = KEEP_JOBS) -> int:
    """Delete jobs created before ``older_than`` ago (their rows and plans with them)."""
    deleted, _by_model = ImportJob.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
