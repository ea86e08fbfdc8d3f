"""The header's inbox link: how many of the person's messages are unread.

One query (an index-only count on the partial index of unread messages), only for
logged-in people: the count is read when the header renders.
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
