"""Reads of volunteers: whose record a user is, the scoped lists, who sees a phone."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet

from portal.validators import normalize_mobile
from practice.models import Unit
from practice.permissions import Action, can, grants_of, scope_q

from .choices import MembershipStatus
from .identity import hash_phone, id_number_hash, parse_id_number
from .models import TeamMembership, Volunteer

__all__ = [
    "is_personal_query",
    "phone_visible",
    "units_to_act_on",
    "volunteer_of",
    "volunteers_in_scope",
    "volunteers_visible",
    "with_list_relations",
]

_MOBILE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)


def volunteer_of(user: Any) -> Volunteer | None:
    """The volunteer whose login account ``user`` is, or ``None`` (one query, cached)."""
    if user is None or not user.is_authenticated:
        return None
    if not hasattr(user, "_volunteer_of"):
        user._volunteer_of = Volunteer.objects.filter(user=user).select_related("unit").first()
    volunteer: Volunteer | None = user._volunteer_of
    return volunteer


def is_personal_query(q: str) -> bool:
    """Is ``q`` an ID number or a mobile number (searched by hash, never put in a URL)?"""
    q = q.strip()
    if not q:
        return False
    try:
        parse_id_number(q)
    except ValidationError:
        return bool(_MOBILE.fullmatch(normalize_mobile(q)))
    return True


def _search(queryset: QuerySet[Volunteer], q: str) -> QuerySet[Volunteer]:
    """Name contains ``q``, or the volunteer number is ``q``; an ID number or a mobile
    number is looked up by its hash (they are stored encrypted)."""
    q = q.strip()
    if not q:
        return queryset
    try:
        parsed = parse_id_number(q)
    except ValidationError:
        parsed = None
    if parsed is not None:
        return queryset.filter(id_number_hash=id_number_hash(parsed.number))
    phone = normalize_mobile(q)
    if _MOBILE.fullmatch(phone):
        return queryset.filter(phone_hash=hash_phone(phone))
    return queryset.filter(Q(name__contains=q) | Q(number=q.upper()))


def volunteers_in_scope(
    user: Any,
    action: Action = Action.VIEW,
    *,
    q: str = "",
    status: str = "",
    within: Unit | None = None,
) -> QuerySet[Volunteer]:
    """Volunteers whose home unit is in ``user``'s scope for ``action``, filtered."""
    queryset = Volunteer.objects.filter(scope_q(user, action, prefix="unit__")).select_related(
        "unit"
    )
    return _filtered(queryset, q=q, status=status, within=within)


def volunteers_visible(
    user: Any, *, q: str = "", status: str = "", within: Unit | None = None
) -> QuerySet[Volunteer]:
    """What the API shows ``user``: the volunteers in their VIEW scope, and their own record."""
    own = Q(user=user) if user is not None and user.is_authenticated else Q(pk__in=[])
    queryset = Volunteer.objects.filter(
        scope_q(user, Action.VIEW, prefix="unit__") | own
    ).select_related("unit")
    return _filtered(queryset, q=q, status=status, within=within)


def _filtered(
    queryset: QuerySet[Volunteer], *, q: str, status: str, within: Unit | None
) -> QuerySet[Volunteer]:
    if status:
        queryset = queryset.filter(status=status)
    if within is not None:
        queryset = queryset.filter(
            unit__tree_id=within.tree_id, unit__lft__gte=within.lft, unit__lft__lte=within.rght
        )
    return _search(queryset, q)


def with_list_relations(queryset: QuerySet[Volunteer]) -> QuerySet[Volunteer]:
    """The volunteer's active team memberships (``active_memberships``) and interests."""
    return queryset.prefetch_related(
        Prefetch(
            "memberships",
            queryset=TeamMembership.objects.filter(status=MembershipStatus.ACTIVE).only(
                "pk", "team_id", "volunteer_id"
            ),
            to_attr="active_memberships",
        ),
        "categories",
    )


def phone_visible(user: Any, volunteer: Volunteer) -> bool:
    """May ``user`` see ``volunteer``'s full phone? MANAGE_VOLUNTEERS over the home unit, or
    the volunteer themself. No query once the user's grants are read."""
    if user is None or not user.is_authenticated:
        return False
    if volunteer.user_id is not None and volunteer.user_id == user.pk:
        return True
    return can(user, Action.MANAGE_VOLUNTEERS, volunteer.unit)


def units_to_act_on(user: Any, action: Action) -> QuerySet[Unit]:
    """Where ``user`` does ``action`` from a page that asks "where?": the units of their
    grants that allow it and the units directly below them (a county's coordinator: the
    county and its towns) — a short list, never a whole province's."""
    allowed = Unit.objects.filter(scope_q(user, action), is_active=True).order_by("tree_id", "lft")
    if user.is_superuser:
        return allowed.filter(level__lte=1)[:500]
    anchors = [g.unit_id for g in grants_of(user)]
    return allowed.filter(Q(pk__in=anchors) | Q(parent_id__in=anchors))
