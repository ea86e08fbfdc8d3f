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
    from django.db.models import QuerySet

    from .models import RoleAssignment, Unit, User

__all__ = [
    "Action",
    "Grant",
    "can",
    "dominated_roles_q",
    "dominates",
    "grants_of",
    "has_any_role",
    "manageable_accounts",
    "may_manage_account",
    "require",
    "require_manages_account",
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
    # Volunteers whose home unit is here (see volunteers/): register them directly,
    # approve or reject registrations, edit, suspend; see their phones in full.
    MANAGE_VOLUNTEERS = "manage_volunteers"
    MANAGE_TEAMS = "manage_teams"  # teams owned by units here, their members
    RECORD_HOURS = "record_hours"  # service records organized here, corrections of them
    CONFIRM_HOURS = "confirm_hours"  # confirm records here (never one's own: a second person)
    REDEEM_POINTS = "redeem_points"  # a station's points shop: record redemptions
    MANAGE_POINTS = "manage_points"  # award or deduct points, set the points rate
    # Order — menu — deliver (see orders/): the menu of a unit, requests filed for residents,
    # and dispatching (or rejecting) residents' requests — coordinators only.
    MANAGE_MENU = "manage_menu"
    FILE_REQUEST = "file_request"
    DISPATCH = "dispatch"


ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.COORDINATOR: frozenset(Action),
    Role.MANAGER: frozenset(
        {
            Action.VIEW,
            Action.CHANGE,
            Action.ADD_CHILD,
            Action.MANAGE_VOLUNTEERS,
            Action.MANAGE_TEAMS,
            Action.RECORD_HOURS,
            Action.CONFIRM_HOURS,
            Action.REDEEM_POINTS,
            Action.MANAGE_MENU,
            Action.FILE_REQUEST,
        }
    ),
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


# --- accounts ------------------------------------------------------------------------------
#
# Who may act on whose account (reset a password, change a phone, disable it, revoke one of
# its roles, grant it a new one). Scope covers people as it covers units, with one more
# rule: nobody acts on an equal. A coordinator *dominates* a role granted on a unit
# strictly below one of their coordinator grants — never one on their own anchor unit,
# whatever its kind — so two coordinators on the same unit cannot act on each other (nor
# on a manager of that unit): that needs someone strictly above. An account is
# *manageable* by a coordinator when every role it holds is dominated by them — one role
# elsewhere (another county, or at or above their anchor) puts it out of their reach — or,
# for an account holding no role yet, when they created it or dominate every role of the
# coordinator who did. Superuser accounts are managed by superusers only. Grants go only to
# manageable accounts, so a grant can never be the way into somebody else's account.


def dominated_roles_q(actor: User | Any) -> Q:
    """A ``Q`` on ``RoleAssignment``: the grants ``actor`` dominates (see above)."""
    if _is_superuser(actor):
        return Q(pk__isnull=False)
    q = Q(pk__in=[])
    for g in _grants_for(actor, Action.MANAGE_USERS):
        q |= Q(unit__tree_id=g.tree_id, unit__lft__gt=g.lft, unit__lft__lt=g.rght)
    return q


def dominates(actor: User | Any, assignment: RoleAssignment) -> bool:
    """Does ``actor`` stand above ``assignment`` (may revoke it)? No query."""
    if _is_superuser(actor):
        return True
    return any(
        g.covers(assignment.unit, strict=True) for g in _grants_for(actor, Action.MANAGE_USERS)
    )


def manageable_accounts(actor: User | Any) -> QuerySet[User]:
    """The accounts ``actor`` may manage (see above), as one query."""
    from django.contrib.auth import get_user_model
    from django.db.models import Exists, OuterRef

    from .models import RoleAssignment

    users = get_user_model()._default_manager.all()
    if _is_superuser(actor):
        return users
    if not _grants_for(actor, Action.MANAGE_USERS):
        return users.none()
    dominated = dominated_roles_q(actor)
    # Holders of any role the actor does not dominate are out of reach altogether.
    out_of_reach = RoleAssignment.objects.exclude(dominated).values("user_id")
    holds_dominated = RoleAssignment.objects.filter(dominated).values("user_id")
    has_roles = Exists(RoleAssignment.objects.filter(user=OuterRef("pk")))
    # Coordinators below the actor whose role-less creations the actor may take in hand.
    creators = users.filter(pk__in=holds_dominated).exclude(pk__in=out_of_reach)
    return (
        users.filter(is_superuser=False)
        .exclude(pk=actor.pk)
        .exclude(pk__in=out_of_reach)
        .filter(
            Q(pk__in=holds_dominated)
            | (~has_roles & (Q(created_by=actor) | Q(created_by__in=creators)))
        )
    )


def may_manage_account(actor: User | Any, account: User) -> bool:
    """One query; ``False`` for oneself (one's own account has its own pages)."""
    if actor is None or not actor.is_authenticated or account.pk == actor.pk:
        return False
    return manageable_accounts(actor).filter(pk=account.pk).exists()


def require_manages_account(actor: User | Any, account: User) -> None:
    """Raise 403 unless ``actor`` manages ``account`` (the caller has already made sure the
    account is visible to them: an invisible one is a 404 before this)."""
    if not may_manage_account(actor, account):
        raise PermissionDenied(
            _(
                "This account holds a role at or above your own, or outside your area; "
                "ask a coordinator above you."
            )
        )
