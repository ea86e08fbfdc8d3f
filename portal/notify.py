"""Notices to people: the in-portal inbox, email and text messages (docs/notifications.md).

:func:`notify_users` writes, in the caller's transaction, one :class:`InboxMessage` per
person (their inbox shows it once the change commits) and, for those with an email address,
an email in the outbox (:mod:`portal.outbox`); :func:`notify_phone` puts a text message in
the outbox. The outbox sends each message once after the transaction commits, retries with
back-off, and ``send_queued_messages`` sends whatever the queue lost — so a notice is never
lost with a change, nor sent for a change that rolled back.

Notices are written in the portal's language (``LANGUAGE_CODE``): the person they go to is
not the one making the request. Callers give texts already translated; :func:`in_portal_language`
is the context to build them in. Never put an ID number in a notice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation

from portal import outbox
from portal.models import InboxMessage, OutboxMessage
from portal.sms import send_sms

__all__ = [
    "absolute_url",
    "in_portal_language",
    "inbox_of",
    "mark_read",
    "notify_phone",
    "notify_users",
    "unread_count",
]

SUBJECT_MAX = 200


@contextlib.contextmanager
def in_portal_language() -> Iterator[None]:
    with translation.override(settings.LANGUAGE_CODE):
        yield


def absolute_url(path: str) -> str:
    """``path`` on the portal's public address (``PORTAL_BASE_URL``)."""
    if not path or path.startswith(("http://", "https://")):
        return path
    return f"{settings.PORTAL_BASE_URL}{path}"


def notify_users(
    *, users: Iterable[Any], subject: str, text: str, link: str = "", purpose: str
) -> list[InboxMessage]:
    """An inbox message for each active person in ``users`` (once each) and an email to
    those with an address. Must run inside the transaction of the change it reports."""
    people: dict[int, Any] = {}
    for user in users:
        if user is not None and user.is_active and user.pk not in people:
            people[user.pk] = user
    if not people:
        return []
    subject = subject[:SUBJECT_MAX]
    with transaction.atomic():
        messages = InboxMessage.objects.bulk_create(
            InboxMessage(recipient=user, subject=subject, text=text, link=link, purpose=purpose)
            for user in people.values()
        )
        body = f"{text}\n\n{absolute_url(link)}" if link else text
        for user in people.values():
            if user.email:
                outbox.put(
                    channel=OutboxMessage.Channel.EMAIL,
                    address=user.email,
                    subject=subject,
                    text=body,
                    purpose=purpose,
                )
    return messages


def notify_phone(*, phone: str, text: str, purpose: str) -> OutboxMessage | None:
    """A text message to ``phone`` (a normalized mobile number), or nothing without one."""
    if not phone:
        return None
    return send_sms(phone=phone, text=text, purpose=purpose)


def inbox_of(user: Any) -> QuerySet[InboxMessage]:
    return InboxMessage.objects.filter(recipient=user).order_by("-created_at", "-pk")


def unread_count(user: Any) -> int:
    if not user.is_authenticated:
        return 0
    return InboxMessage.objects.filter(recipient=user, read_at__isnull=True).count()


def mark_read(*, user: Any, pks: Iterable[int] | None = None) -> int:
    """Mark ``user``'s messages read (``pks`` of theirs, or all); how many changed."""
    messages = InboxMessage.objects.filter(recipient=user, read_at__isnull=True)
    if pks is not None:
        messages = messages.filter(pk__in=list(pks))
    return messages.update(read_at=timezone.now())
