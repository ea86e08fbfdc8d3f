"""Background tasks shared by every app: applying import jobs, purging old ones; sending
text messages and emails from the outbox (:mod:`portal.outbox`)."""

from typing import Any

from celery import shared_task

from portal import imports

__all__ = [
    "purge_export_jobs",
    "purge_import_jobs",
    "run_export_job",
    "run_import_job",
    "send_outbox_message",
    "send_queued_messages",
]


@shared_task(ignore_result=True)
def run_import_job(job_pk: int) -> None:
    """Apply a confirmed import job (see :mod:`portal.imports`); the job records the
    outcome, so the task itself never fails."""
    imports.run(job_pk)


@shared_task(ignore_result=True)
def run_export_job(job_pk: int) -> None:
    """Write a big export in the background (see :mod:`portal.exports`); the job records
    the outcome, so the task itself never fails."""
    from portal import exports

    exports.run_export(job_pk)


@shared_task
def purge_export_jobs() -> int:
    """Delete export jobs and their files older than ``exports.KEEP_JOBS`` (nightly)."""
    from portal import exports

    return exports.purge()


@shared_task
def purge_import_jobs() -> int:
    """Delete import jobs older than ``imports.KEEP_JOBS`` (nightly, from Celery beat)."""
    return imports.purge()


@shared_task(bind=True, ignore_result=True, max_retries=None)
def send_outbox_message(self: Any, message_pk: int) -> None:
    """Send one outbox message (its id only: the address stays in the database). A failed
    send is retried with growing pauses; :func:`portal.outbox.deliver` counts the attempts
    and marks the message failed after the last one."""
    from portal import outbox

    delay = outbox.deliver(message_pk)
    # Run eagerly (no REDIS_URL) there is no queue to wait in: the message keeps its retry
    # time and send_queued_messages sends it.
    if delay is not None and not self.request.is_eager:
        # A little later than the message's retry time, so the claim never finds it early.
        raise self.retry(countdown=delay + 2)


@shared_task(ignore_result=True)
def send_queued_messages() -> int:
    """Send the messages still queued after ``OUTBOX_RESEND_AFTER_MINUTES`` (Celery beat)."""
    from portal import outbox

    return outbox.send_queued()
