"""Text messages (SMS): one outbox, one pluggable backend (see docs/sms.md).

:func:`send_sms` writes a :class:`~portal.models.SmsMessage` row in the caller's
transaction and, once that commits, queues the Celery task
``portal.tasks.send_sms_message`` with the row's id only — never the number. The task
calls :func:`deliver`, which hands the message to the backend named by
``settings.SMS_BACKEND`` (a dotted path to a class with
``send(self, *, phone: str, text: str) -> str`` returning the provider's message id and
raising :class:`SmsError` on failure). A failed send is retried with growing pauses,
up to :data:`MAX_ATTEMPTS` in all, then marked failed.

Nothing accepted is lost when the queue is down: a message whose task was never queued,
or whose worker died, stays ``queued``; ``manage.py send_queued_sms`` (and the Celery
beat entry of the same name) sends every message still queued after
``SMS_RESEND_AFTER``.

Message texts must never hold an ID number; numbers are logged masked only.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from portal.logging import scrub
from portal.models import SmsMessage
from portal.validators import mask_phone

__all__ = [
    "MAX_ATTEMPTS",
    "DevelopmentBackend",
    "SmsBackend",
    "SmsError",
    "deliver",
    "get_backend",
    "retry_delay",
    "send_queued",
    "send_sms",
]

logger = logging.getLogger("portal.sms")

# Sends per message in all (the first and the retries), then it is marked failed.
MAX_ATTEMPTS = 5
# How long one send may take before another process may try the message again.
SEND_LEASE = dt.timedelta(minutes=5)
# The pause before retry n (1, 2, …): 30 s, 60 s, 120 s, 240 s …, at most an hour.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


class SmsError(Exception):
    """A backend could not send a message (the provider refused it or was unreachable)."""


class SmsBackend(Protocol):
    """What ``settings.SMS_BACKEND`` names: a class built without arguments (it reads
    its own settings) whose ``send`` returns the provider's message id."""

    def send(self, *, phone: str, text: str) -> str: ...


class DevelopmentBackend:
    """Sends nothing: logs the message (number masked) on the ``portal.sms`` logger. The
    message stays in the outbox, marked sent; developers read it in the admin
    (``/admin/portal/smsmessage/``)."""

    def send(self, *, phone: str, text: str) -> str:
        logger.info("SMS to %s: %s", mask_phone(phone), text)
        return ""


def get_backend() -> SmsBackend:
    backend_class = import_string(settings.SMS_BACKEND)
    backend: SmsBackend = backend_class()
    return backend


def send_sms(*, phone: str, text: str, purpose: str) -> SmsMessage:
    """Put a message into the outbox; it is sent after the caller's transaction commits
    (and never if it rolls back). ``phone`` is a normalized 11-digit mobile number."""
    message = SmsMessage.objects.create(
        phone=phone, phone_masked=mask_phone(phone), text=text, purpose=purpose
    )
    pk = message.pk
    transaction.on_commit(lambda: _enqueue(pk))
    return message


def _enqueue(pk: int) -> None:
    from portal.tasks import send_sms_message

    try:
        send_sms_message.delay(pk)
    except Exception:  # kombu's OperationalError, redis' ConnectionError, DNS, ...
        logger.warning(
            "SMS %s: the task queue is unreachable; it stays in the outbox "
            "(manage.py send_queued_sms sends it)",
            pk,
            exc_info=True,
        )


def retry_delay(attempt: int) -> int:
    """Seconds to wait after the ``attempt``-th failed send (1, 2, …)."""
    return int(min(RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0), RETRY_MAX_SECONDS))


def deliver(pk: int) -> int | None:
    """Send message ``pk`` through the backend, if it is still queued and nobody else is
    sending it. Returns ``None`` when done (sent, failed for good, or not ours to send),
    or the seconds to wait before trying again."""
    # Before claiming: a misconfigured backend fails loudly and costs the message nothing.
    backend = get_backend()
    now = timezone.now()
    claimed = (
        SmsMessage.objects.filter(pk=pk, status=SmsMessage.Status.QUEUED)
        .filter(Q(retry_after__isnull=True) | Q(retry_after__lte=now))
        .update(attempts=F("attempts") + 1, retry_after=now + SEND_LEASE)
    )
    if not claimed:
        return None
    message = SmsMessage.objects.get(pk=pk)
    try:
        provider_id = backend.send(phone=message.phone, text=message.text)
    except SmsError as exc:
        return _failed(message, str(exc) or type(exc).__name__)
    except Exception as exc:  # a bug or an unexpected reply of the provider's library
        # No traceback: its text could quote the number; the error is kept, masked.
        return _failed(message, f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
    SmsMessage.objects.filter(pk=pk).update(
        status=SmsMessage.Status.SENT,
        sent_at=timezone.now(),
        provider_id=(provider_id or "")[:100],
        last_error="",
        retry_after=None,
    )
    return None


def _without_number(text: str, message: SmsMessage) -> str:
    """A provider's error text with the number masked, however it was written in it
    (``+86 138 1234 1234``, ``138-1234-1234``), and any other mobile number too."""
    spaced = r"[\s\-]*".join(re.escape(digit) for digit in message.phone)
    text = re.sub(rf"(?:\+?86[\s\-]*)?{spaced}", message.phone_masked, text)
    return scrub(text)


def _failed(message: SmsMessage, error: str) -> int | None:
    error = _without_number(error, message)[:500]
    if message.attempts >= MAX_ATTEMPTS:
        logger.error(
            "SMS %s to %s failed %s times; given up: %s",
            message.pk,
            message.phone_masked,
            message.attempts,
            error,
        )
        SmsMessage.objects.filter(pk=message.pk).update(
            status=SmsMessage.Status.FAILED, last_error=error, retry_after=None
        )
        return None
    delay = retry_delay(message.attempts)
    logger.warning(
        "SMS %s to %s failed (attempt %s), retrying in %s s: %s",
        message.pk,
        message.phone_masked,
        message.attempts,
        delay,
        error,
    )
    SmsMessage.objects.filter(pk=message.pk).update(
        last_error=error, retry_after=timezone.now() + dt.timedelta(seconds=delay)
    )
    return delay


def resend_after() -> dt.timedelta:
    return dt.timedelta(minutes=settings.SMS_RESEND_AFTER_MINUTES)


def send_queued(*, older_than: dt.timedelta | None = None, limit: int = 500) -> int:
    """Send, in this process, the messages still queued ``older_than`` after they were
    written (default ``SMS_RESEND_AFTER_MINUTES``) and not waiting for a retry: those
    whose task was lost. Returns how many were sent."""
    now = timezone.now()
    cutoff = now - (resend_after() if older_than is None else older_than)
    pks = list(
        SmsMessage.objects.filter(status=SmsMessage.Status.QUEUED, created_at__lte=cutoff)
        .filter(Q(retry_after__isnull=True) | Q(retry_after__lte=now))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in pks:
        deliver(pk)
    return SmsMessage.objects.filter(pk__in=pks, status=SmsMessage.Status.SENT).count()
