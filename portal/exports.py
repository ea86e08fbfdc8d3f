"""Big spreadsheets written in the background, with progress, downloadable by their owner.

The flow every big export follows (activities now; any list can use it):

1. The page counts the rows its filters select. Up to ``settings.EXPORT_INLINE_ROWS`` it
   answers the workbook at once; above, it calls :func:`start` with ``kind`` — the dotted
   path of a *writer* ``write(job, progress) -> (content, filename)`` — and the filters as
   ``params``. The :class:`~portal.models.ExportJob` is stored and a Celery task
   (:func:`portal.tasks.run_export_job`, the job's id as its only argument) runs
   :func:`run_export`.
2. The writer reads its rows again as ``job.actor`` (scope is checked when the file is
   written, not only when it was asked for), in the job's language, and calls
   ``progress(done, total)`` as it goes (:func:`counted` does it every
   :data:`PROGRESS_EVERY` rows); each call stores ``done``/``total`` on the job, which the
   page (``/exports/<id>/``) polls through ``/exports/<id>/status/``.
3. The file is saved under ``MEDIA_ROOT/exports/`` and only the job's actor may download
   it (``/exports/<id>/download/``); anyone else gets a 404.

As for imports, nothing asked for is lost when the task queue is down: if the task cannot
be queued the export runs in the request, and a job no worker has taken within
:data:`STALLED_AFTER` may be run by its owner from the page. A job is claimed with a
conditional update, so it runs once however many ask for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from portal.errors import ApplicationError
from portal.models import ExportJob

__all__ = [
    "KEEP_JOBS",
    "PROGRESS_EVERY",
    "RUNNING_TIMEOUT",
    "STALLED_AFTER",
    "Progress",
    "Writer",
    "counted",
    "inline_limit",
    "is_stalled",
    "purge",
    "run_export",
    "run_stalled",
    "start",
    "status",
]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Writer = Callable[[ExportJob, Progress], tuple[bytes, str]]
Status = ExportJob.Status
T = TypeVar("T")

# Rows between two progress updates (one UPDATE of the job each).
PROGRESS_EVERY = 500
# A queued job no worker has taken by then may be run by its owner from the page.
STALLED_AFTER = dt.timedelta(minutes=2)
# A running job whose worker went away may be claimed again after this.
RUNNING_TIMEOUT = dt.timedelta(minutes=30)
# Jobs (and their files) older than this are deleted by the nightly purge.
KEEP_JOBS = dt.timedelta(days=7)


def inline_limit() -> int:
    """Rows an export may have to be answered at once (``settings.EXPORT_INLINE_ROWS``)."""
    return int(getattr(settings, "EXPORT_INLINE_ROWS", 2000))


def start(*, kind: str, actor: Any, params: Mapping[str, Any], total: int = 0) -> ExportJob:
    """Store an export job and queue it (run here and now when the queue is unreachable).

    ``kind`` must name a writer (checked now, so a typo fails in the request, not in the
    worker); ``total`` is the number of rows expected, for the progress bar."""
    import_string(kind)
    job = ExportJob.objects.create(
        kind=kind,
        actor=actor,
        params=dict(params),
        language=translation.get_language() or settings.LANGUAGE_CODE,
        total=total,
    )
    from portal.tasks import run_export_job

    try:
        run_export_job.delay(job.pk)
    except Exception:  # kombu's OperationalError, redis' ConnectionError, DNS, ...
        logger.warning(
            "export job %s: the task queue is unreachable; running it in the request",
            job.pk,
            exc_info=True,
        )
        run_export(job.pk)
    job.refresh_from_db()
    return job


def run_export(job_id: int) -> None:
    """Claim a queued job and write its file, recording the result or the error on it."""
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(
        status=Status.RUNNING, started_at__lt=now - RUNNING_TIMEOUT
    )
    claimed = ExportJob.objects.filter(claimable, pk=job_id).update(
        status=Status.RUNNING, started_at=now, done=0
    )
    if not claimed:
        return
    job = ExportJob.objects.select_related("actor").get(pk=job_id)

    def progress(done: int, total: int) -> None:
        ExportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(done=done, total=total)

    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            write: Writer = import_string(job.kind)
            content, filename = write(job, progress)
            job.file.save(filename, ContentFile(content), save=False)
            ExportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
                status=Status.DONE,
                file=job.file.name,
                filename=filename[:255],
                finished_at=timezone.now(),
            )
        except ApplicationError as exc:
            _fail(job, str(exc.message))
        except Exception:
            logger.exception("export job %s failed", job.pk)
            _fail(job, _("The export failed unexpectedly. Try again later."))


def _fail(job: ExportJob, message: str) -> None:
    ExportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.FAILED, error=message[:500], finished_at=timezone.now()
    )


def counted(rows: Iterable[T], *, total: int, progress: Progress) -> Iterator[T]:
    """``rows`` as they are written, reporting ``progress(done, total)`` every
    :data:`PROGRESS_EVERY` rows and once at the end."""
    done = 0
    progress(0, total)
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress(done, max(total, done))
    progress(done, max(total, done))


def is_stalled(job: ExportJob, *, now: dt.datetime | None = None) -> bool:
    """A queued job no worker took in time, or a running one whose worker went away."""
    now = now or timezone.now()
    if job.status == Status.QUEUED:
        return job.created_at < now - STALLED_AFTER
    if job.status == Status.RUNNING:
        return job.started_at is not None and job.started_at < now - RUNNING_TIMEOUT
    return False


def run_stalled(job: ExportJob) -> bool:
    """Run a stalled job in the caller's process; ``False`` if it is not stalled."""
    if not is_stalled(job):
        return False
    run_export(job.pk)
    return True


def status(job: ExportJob) -> dict[str, Any]:
    """What the progress page polls: the job's state and how far it has come."""
    return {
        "status": job.status,
        "label": str(Status(job.status).label),
        "finished": job.finished,
        "stalled": is_stalled(job),
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
    }


def purge(*, older_than: dt.timedelta = KEEP_JOBS) -> int:
    """Delete jobs created before ``older_than`` ago, and their files (nightly)."""
    old = ExportJob.objects.filter(created_at__lt=timezone.now() - older_than)
    for job in old.exclude(file="").only("pk", "file").iterator():
        job.file.delete(save=False)
    deleted, _by_model = old.delete()
    return deleted
