"""Text messages (SMS): the pluggable backend of the outbox's SMS channel (docs/sms.md).

:func:`send_sms` puts a message into the outbox (:mod:`portal.outbox`), which sends it
after the caller's transaction commits through the class named by ``settings.SMS_BACKEND``:
a class built without arguments (it reads its own settings) with
``send(self, *, phone: str, text: str) -> str`` returning the provider's message id and
raising :class:`SmsError` on failure.
"""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from portal import outbox
from portal.models import OutboxMessage
from portal.validators import mask_phone

__all__ = ["DevelopmentBackend", "SmsBackend", "SmsError", "get_backend", "send_sms"]

logger = logging.getLogger("portal.sms")


class SmsError(Exception):
    """A backend could not send a message (the provider refused it or was unreachable)."""


class SmsBackend(Protocol):
    """What ``settings.SMS_BACKEND`` names: a class built without arguments (it reads
    its own settings) whose ``send`` returns the provider's message id."""

    def send(self, *, phone: str, text: str) -> str: ...


class DevelopmentBackend:
    """Sends nothing: logs the message (number masked) on the ``portal.sms`` logger. The
    message stays in the outbox, marked sent; developers read it in the admin
    (``/admin/portal/outboxmessage/``)."""

    def send(self, *, phone: str, text: str) -> str:
        logger.info("SMS to %s: %s", mask_phone(phone), text)
        return ""


def get_backend() -> SmsBackend:
    backend_class = import_string(settings.SMS_BACKEND)
    backend: SmsBackend = backend_class()
    return backend


def send_sms(*, phone: str, text: str, purpose: str) -> OutboxMessage:
    """Put a text message into the outbox; it is sent after the caller's transaction
    commits (and never if it rolls back). ``phone`` is a normalized 11-digit mobile number."""
    return outbox.put(channel=OutboxMessage.Channel.SMS, address=phone, text=text, purpose=purpose)
