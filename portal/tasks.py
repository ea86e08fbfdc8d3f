"""Background tasks shared by every app: applying import jobs, purging old ones."""

from celery import shared_task

from portal import imports

__all__ = ["purge_import_jobs", "run_import_job"]


@shared_task(ignore_result=True)
def run_import_job(job_pk: int) -> None:
    """Apply a confirmed import job (see :mod:`portal.imports`); the job records the
    outcome, so the task itself never fails."""
    imports.run(job_pk)


@shared_task
def purge_import_jobs() -> int:
    """Delete import jobs older than ``imports.KEEP_JOBS`` (nightly, from Celery beat)."""
    return imports.purge()
