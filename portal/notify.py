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
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
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

logger = logging.getLogger("portal.notify")

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
        recipients = list(people)
        transaction.on_commit(lambda: _forget_unread(recipients))
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


# The header shows every logged-in person their unread count on every page: it is kept
# in the cache (a round trip, no query), dropped when their inbox changes, and at most this
# old in any case (a count computed just before a change commits is dropped with it).
UNREAD_SECONDS = 60


def _unread_key(user_pk: int) -> str:
    return f"inbox-unread:{user_pk}"


def _forget_unread(user_pks: Iterable[int]) -> None:
    keys = [_unread_key(pk) for pk in user_pks]
    try:
        cache.delete_many(keys)
    except Exception:  # the cache down: the counts expire on their own
        logger.warning("Could not drop cached inbox counts", exc_info=True)


def unread_count(user: Any) -> int:
    """How many of ``user``'s messages are unread (cached; one query when not)."""
    if not user.is_authenticated:
        return 0
    key = _unread_key(user.pk)
    try:
        found = cache.get(key)
    except Exception:
        found = None
    if found is not None:
        return int(found)
    count = InboxMessage.objects.filter(recipient=user, read_at__isnull=True).count()
    try:
        cache.set(key, count, UNREAD_SECONDS)
    except Exception:
        logger.warning("Could not cache an inbox count", exc_info=True)
    return count


def mark_read(*, user: Any, pks: Iterable[int] | None = None) -> int:
    """Mark ``user``'s messages read (``pks`` of theirs, or all); how many changed."""
    messages = InboxMessage.objects.filter(recipient=user, read_at__isnull=True)
    if pks is not None:
        messages = messages.filter(pk__in=list(pks))
    changed = messages.update(read_at=timezone.now())
    pk = user.pk
    transaction.on_commit(lambda: _forget_unread([pk]))
    return changed
