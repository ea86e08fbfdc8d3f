"""The policy: the one place that answers "may this user do X here?".

A role granted on a unit covers the unit's whole subtree. Every scoped queryset in the
portal is built from :func:`unit_scope_q` (units) or :func:`scope_q` (anything with a
``unit`` foreign key), so a list, a page and an API endpoint can never disagree, and an
object outside the caller's scope is simply not found (404).

Grants are read once per request and cached on the user object.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.errors import NotFound, PermissionDenied

from .choices import Role

if TYPE_CHECKING:
    from .models import Unit, User

__all__ = [
    "Action",
    "Grant",
    "can",
    "grants_of",
    "has_any_role",
    "require",
    "scope_q",
    "unit_scope_q",
]


class Action(StrEnum):
    VIEW = "view"  # staff view: inactive units, statistics, the audit trail
    CHANGE = "change"  # edit a unit's details, deactivate or reactivate it
    ADD_CHILD = "add_child"  # create units under it
    MOVE = "move"  # give it another parent
    DELETE = "delete"
    MANAGE_ROLES = "manage_roles"  # grant and revoke roles on it
    MANAGE_USERS = "manage_users"  # create and disable the accounts of its staff


ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.COORDINATOR: frozenset(Action),
    Role.MANAGER: frozenset({Action.VIEW, Action.CHANGE, Action.ADD_CHILD}),
}

# Actions that reshape the tree at a unit need authority from strictly above it: nobody
# moves or deletes the unit their own role is anchored at (a superuser excepted).
STRICT_ACTIONS: frozenset[Action] = frozenset({Action.MOVE, Action.DELETE})


@dataclass(frozen=True, slots=True)
class Grant:
    role: str
    unit_id: int
    tree_id: int
    lft: int
    rght: int

    def covers(self, unit: Unit, *, strict: bool = False) -> bool:
        if unit.tree_id != self.tree_id:
            return False
        if strict:
            return self.lft < unit.lft < self.rght
        return self.lft <= unit.lft <= self.rght


def _is_superuser(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_superuser)


def grants_of(user: User | Any) -> list[Grant]:
    """The user's grants with their units' tree coordinates; one query, cached on ``user``."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    cached: list[Grant] | None = getattr(user, "_portal_grants", None)
    if cached is None:
        from .models import RoleAssignment

        cached = [
            Grant(role, unit_id, tree_id, lft, rght)
            for role, unit_id, tree_id, lft, rght in RoleAssignment.objects.filter(
                user=user
            ).values_list("role", "unit_id", "unit__tree_id", "unit__lft", "unit__rght")
        ]
        user._portal_grants = cached  # type: ignore[union-attr]  # per-request cache
    return cached


def forget_grants(user: Any) -> None:
    """Drop the cached grants (after a grant, a revoke or a tree move)."""
    if user is not None and hasattr(user, "_portal_grants"):
        del user._portal_grants


def has_any_role(user: Any, role: str | None = None) -> bool:
    if _is_superuser(user):
        return True
    return any(role is None or g.role == role for g in grants_of(user))


def _grants_for(user: Any, action: Action) -> list[Grant]:
    return [g for g in grants_of(user) if action in ROLE_ACTIONS.get(g.role, frozenset())]


def scope_q(user: User | Any, action: Action, *, prefix: str = "") -> Q:
    """A ``Q`` selecting rows whose unit (reached through ``prefix``) is in the user's scope.

    ``prefix`` is the path to the unit, e.g. ``"unit__"`` for a model with a ``unit`` FK;
    empty for ``Unit`` itself. Superusers get everything; no grant, nothing.
    """
    if _is_superuser(user):
        # Not ``Q()``: an empty Q vanishes when OR-ed (``Q(is_active=True) | Q()`` is just
        # ``Q(is_active=True)``), which hid inactive units from superusers.
        return Q(**{f"{prefix}pk__isnull": False})
    strict = action in STRICT_ACTIONS
    q = Q(pk__in=[]) if not prefix else Q(**{f"{prefix}pk__in": []})
    for g in _grants_for(user, action):
        if strict:
            cond = {f"{prefix}lft__gt": g.lft, f"{prefix}lft__lt": g.rght}
        else:
            cond = {f"{prefix}lft__gte": g.lft, f"{prefix}lft__lte": g.rght}
        q |= Q(**{f"{prefix}tree_id": g.tree_id}, **cond)
    return q


def unit_scope_q(user: User | Any, action: Action) -> Q:
    return scope_q(user, action)


def can(user: User | Any, action: Action, unit: Unit | None) -> bool:
    """May ``user`` do ``action`` on ``unit``? ``unit=None`` means the top level (no parent)."""
    if _is_superuser(user):
        return True
    if unit is None:
        return False
    strict = action in STRICT_ACTIONS
    return any(g.covers(unit, strict=strict) for g in _grants_for(user, action))


def require(user: User | Any, action: Action, unit: Unit | None) -> None:
    """Raise 404 if ``unit`` is outside the user's scope, 403 if inside but not allowed."""
    if can(user, action, unit):
        return
    if unit is not None and not can(user, Action.VIEW, unit):
        raise NotFound()
    raise PermissionDenied(_("Your role does not allow this here."))
