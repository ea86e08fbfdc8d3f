"""The header's volunteer links: staff see "Volunteers", other logged-in accounts "My
volunteer service" (``/me/`` invites an account without a volunteer profile to register).

No query of its own: the grants are read once per request and cached on the user, and
most pages have read them already; whether the account is a volunteer is not asked (that
would cost every page a query).
"""

from __future__ import annotations

from typing import Any

from django import template

from practice.permissions import has_any_role

register = template.Library()


@register.simple_tag
def volunteer_menu(user: Any) -> dict[str, bool]:
    """``{"staff": …, "volunteer": …}`` for a logged-in ``user``."""
    if user is None or not user.is_authenticated:
        return {"staff": False, "volunteer": False}
    staff = has_any_role(user)
    return {"staff": staff, "volunteer": not staff}
