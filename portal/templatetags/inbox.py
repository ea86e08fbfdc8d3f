"""The header's inbox link: how many of the person's messages are unread.

Only for logged-in people, read from the cache (``portal.notify.unread_count``: no query
while it is cached; one index-only count on the partial index of unread messages when not).
"""

from __future__ import annotations

from typing import Any

from django import template

from portal.notify import unread_count

register = template.Library()


@register.simple_tag
def inbox_unread(user: Any) -> int:
    if user is None or not user.is_authenticated:
        return 0
    return unread_count(user)
