"""The outbox: every message the portal sends outside itself — text messages (SMS) and
emails — is a row of :class:`~portal.models.OutboxMessage`, written in the caller's
transaction (see docs/notifications.md).

Once that transaction commits, the Celery task ``portal.tasks.send_outbox_message`` is
queued with the row's id only — never the address or the text. The task calls
:func:`deliver`, which claims the row (a conditional update: each message is sent once,
whoever runs it) and hands it to its channel: SMS through the backend named by
``settings.SMS_BACKEND`` (:mod:`portal.sms`), email through Django's email framework
(``EMAIL_BACKEND``). A failed send is retried with growing pauses, up to
:data:`MAX_ATTEMPTS` in all, then marked failed.

Nothing accepted is lost when the queue is down: a message whose task was never queued,
or whose worker died, stays ``queued``; ``manage.py send_queued_messages`` (and the Celery
beat entry of the same name) sends every message still queued after
``OUTBOX_RESEND_AFTER_MINUTES``.

Message texts must never hold an ID number; addresses are logged masked only.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.logging import scrub
from portal.models import OutboxMessage
from portal.validators import mask_email, mask_phone

__all__ = [
    "MAX_ATTEMPTS",
    "SendError",
    "deliver",
    "put",
    "retry_delay",
    "send_queued",
]

logger = logging.getLogger("portal.outbox")
Channel = OutboxMessage.Channel

# Sends per message in all (the first and the retries), then it is marked failed.
MAX_ATTEMPTS = 5
# How long one send may take before another process may try the message again.
SEND_LEASE = dt.timedelta(minutes=5)
# The pause before retry n (1, 2, …): 30 s, 60 s, 120 s, 240 s …, at most an hour.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


class SendError(Exception):
    """A channel could not send a message (the provider refused it or was unreachable)."""


def put(*, channel: str, address: str, text: str, purpose: str, subject: str = "") -> OutboxMessage:
    """Put a message into the outbox; it is sent after the caller's transaction commits
    (and never if it rolls back). ``address``: a normalized mobile number for SMS, an email
    address for email."""
    masked = mask_phone(address) if channel == Channel.SMS else mask_email(address)
    message = OutboxMessage.objects.create(
        channel=channel,
        address=address,
        address_masked=masked,
        subject=subject,
        text=text,
        purpose=purpose,
    )
    pk = message.pk
    transaction.on_commit(lambda: _enqueue(pk))
    return message


def _send(message: OutboxMessage) -> str:
    """Hand ``message`` to its channel; the provider's message id, or "" when it has none."""
    if message.channel == Channel.SMS:
        from portal.sms import SmsError, get_backend

        try:
            return get_backend().send(phone=message.address, text=message.text)
        except SmsError as exc:
            raise SendError(str(exc) or type(exc).__name__) from exc
    try:
        send_mail(
            message.subject,
            message.text,
            None,  # DEFAULT_FROM_EMAIL
            [message.address],
            fail_silently=False,
        )
    except (OSError, smtplib.SMTPException) as exc:  # refused, unreachable, timed out
        raise SendError(str(exc) or type(exc).__name__) from exc
    return ""


def _enqueue(pk: int) -> None:
    from portal.tasks import send_outbox_message

    try:
        send_outbox_message.delay(pk)
    except Exception:  # kombu's OperationalError, redis' ConnectionError, DNS, ...
        logger.warning(
            "Message %s: the task queue is unreachable; it stays in the outbox "
            "(manage.py send_queued_messages sends it)",
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
    channel = OutboxMessage.objects.filter(pk=pk).values_list("channel", flat=True).first()
    if channel == Channel.SMS:
        # Before claiming: a misconfigured backend fails loudly and costs the message nothing.
        from portal.sms import get_backend

        get_backend()
    now = timezone.now()
    claimed = (
        OutboxMessage.objects.filter(pk=pk, status=OutboxMessage.Status.QUEUED)
        .filter(Q(retry_after__isnull=True) | Q(retry_after__lte=now))
        .update(attempts=F("attempts") + 1, retry_after=now + SEND_LEASE)
    )
    if not claimed:
        return None
    message = OutboxMessage.objects.get(pk=pk)
    try:
        provider_id = _send(message)
    except SendError as exc:
        return _failed(message, str(exc) or type(exc).__name__)
    except Exception as exc:  # a bug or an unexpected reply of the provider's library
        # No traceback: its text could quote the address; the error is kept, masked.
        return _failed(message, f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
    OutboxMessage.objects.filter(pk=pk).update(
        status=OutboxMessage.Status.SENT,
        sent_at=timezone.now(),
        provider_id=(provider_id or "")[:100],
        last_error="",
        retry_after=None,
    )
    return None


def _without_number(text: str, message: OutboxMessage) -> str:
    """A provider's error text with the address masked — a number however it was written
    in it (``+86 138 1234 1234``, ``138-1234-1234``) — and any other mobile number too."""
    if message.channel != Channel.SMS:
        return scrub(text.replace(message.address, message.address_masked))
    spaced = r"[\s\-]*".join(re.escape(digit) for digit in message.address)
    text = re.sub(rf"(?:\+?86[\s\-]*)?{spaced}", message.address_masked, text)
    return scrub(text)


def _failed(message: OutboxMessage, error: str) -> int | None:
    error = _without_number(error, message)[:500]
    if message.attempts >= MAX_ATTEMPTS:
        logger.error(
            "Message %s to %s failed %s times; given up: %s",
            message.pk,
            message.address_masked,
            message.attempts,
            error,
        )
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=OutboxMessage.Status.FAILED, last_error=error, retry_after=None
        )
        return None
    delay = retry_delay(message.attempts)
    logger.warning(
        "Message %s to %s failed (attempt %s), retrying in %s s: %s",
        message.pk,
        message.address_masked,
        message.attempts,
        delay,
        error,
    )
    OutboxMessage.objects.filter(pk=message.pk).update(
        last_error=error, retry_after=timezone.now() + dt.timedelta(seconds=delay)
    )
    return delay


def resend_after() -> dt.timedelta:
    return dt.timedelta(minutes=settings.OUTBOX_RESEND_AFTER_MINUTES)


def send_queued(*, older_than: dt.timedelta | None = None, limit: int = 500) -> int:
    """Send, in this process, the messages still queued ``older_than`` after they were
    written (default ``OUTBOX_RESEND_AFTER_MINUTES``) and not waiting for a retry: those
    whose task was lost. Returns how many were sent."""
    now = timezone.now()
    cutoff = now - (resend_after() if older_than is None else older_than)
    pks = list(
        OutboxMessage.objects.filter(status=OutboxMessage.Status.QUEUED, created_at__lte=cutoff)
        .filter(Q(retry_after__isnull=True) | Q(retry_after__lte=now))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in pks:
        deliver(pk)
    return OutboxMessage.objects.filter(pk__in=pks, status=OutboxMessage.Status.SENT).count()
