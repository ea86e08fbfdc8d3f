"""Reads of the practice network. Every function returns what a page or endpoint needs in a
fixed number of queries, whatever the size of the tree."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from mptt.utils import get_cached_trees

from .choices import Role, UnitKind
from .models import UNIT_EDITABLE_FIELDS, AuditEntry, Category, RoleAssignment, Unit, User
from .permissions import Action, has_any_role, scope_q

__all__ = [
    "audit_for_unit",
    "audit_in_scope",
    "categories",
    "children_with_counts",
    "network_counts",
    "role_assignments_for",
    "root_count",
    "roots_with_counts",
    "unit_ancestors",
    "unit_paths",
    "unit_stats",
    "unit_subtree",
    "units_for_export",
    "units_visible",
    "user_grants",
    "users_in_scope",
]


def units_visible(user: Any) -> QuerySet[Unit]:
    """Public (active) units plus the inactive ones in the user's staff scope."""
    return Unit.objects.visible_to(user)


def network_counts(*, within: Unit | None = None) -> dict[str, int]:
    """Active units per kind — over everything, or over one subtree (excluding its top)."""
    qs = Unit.objects.filter(is_active=True)
    if within is not None:
        qs = qs.within(within, include_self=False)
    counts = Counter(
        dict(qs.order_by().values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    )
    return {kind: counts.get(kind, 0) for kind in UnitKind.values}


def _station_count() -> Coalesce:
    stations = (
        Unit.objects.filter(
            tree_id=OuterRef("tree_id"),
            lft__gt=OuterRef("lft"),
            lft__lt=OuterRef("rght"),
            kind=UnitKind.STATION,
            is_active=True,
        )
        .order_by()
        .values("tree_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(stations), 0)


def root_count() -> int:
    return Unit.objects.filter(parent=None, is_active=True).count()


def roots_with_counts() -> list[Unit]:
    """Active top-level units, each with ``station_count`` (one query)."""
    return list(
        Unit.objects.filter(parent=None, is_active=True)
        .annotate(station_count=_station_count())
        .order_by("tree_id")
    )


def children_with_counts(
    unit: Unit, *, user: Any = None, kinds: list[str] | None = None
) -> list[Unit]:
    """The visible children of ``unit``, each with ``station_count`` (one query)."""
    qs = units_visible(user).filter(parent=unit)
    if kinds is not None:
        qs = qs.filter(kind__in=kinds)
    return list(qs.annotate(station_count=_station_count()).order_by("lft"))


def _chains(parent_ids: set[int]) -> dict[int, Unit]:
    """Every unit on the way up from ``parent_ids`` to their roots, in one query.

    A recursive walk along ``parent_id`` (primary-key look-ups): its cost is the number of
    ancestors, whatever the size of the tree — unlike a lft/rght range join.
    """
    if not parent_ids:
        return {}
    table = connection.ops.quote_name(Unit._meta.db_table)
    marks = ", ".join(["%s"] * len(parent_ids))
    sql = (
        "WITH RECURSIVE chain(id, parent_id, name, kind, level) AS ("  # noqa: S608 - table name from the model, values bound
        f" SELECT id, parent_id, name, kind, level FROM {table} WHERE id IN ({marks})"
        " UNION"
        f" SELECT u.id, u.parent_id, u.name, u.kind, u.level FROM {table} u"
        " JOIN chain c ON u.id = c.parent_id"
        ") SELECT id, parent_id, name, kind, level FROM chain"
    )
    return {u.pk: u for u in Unit.objects.raw(sql, list(parent_ids))}


def _walk_up(unit: Unit, chain: dict[int, Unit]) -> list[Unit]:
    ancestors: list[Unit] = []
    parent_id = unit.parent_id
    while parent_id is not None:
        parent = chain[parent_id]
        ancestors.append(parent)
        parent_id = parent.parent_id
    ancestors.reverse()
    return ancestors


def unit_ancestors(unit: Unit) -> list[Unit]:
    """The units above ``unit``, from its root down (one query)."""
    return _walk_up(unit, _chains({unit.parent_id} if unit.parent_id else set()))


def unit_paths(units: list[Unit]) -> dict[int, list[str]]:
    """For each unit, the names from its root down to itself — in one query."""
    chain = _chains({u.parent_id for u in units if u.parent_id})
    return {u.pk: [a.name for a in _walk_up(u, chain)] + [u.name] for u in units}


def unit_subtree(user: Any, *, top: Unit | None, depth: int) -> list[Unit]:
    """Visible units from ``top`` (or every root) down ``depth`` levels, as cached trees.

    One query; each returned node answers ``get_children()`` from memory. The visible set
    is closed under ancestors (an inactive unit never has active sub-units), so no visible
    node is cut off from its parent.
    """
    qs = units_visible(user).order_by("tree_id", "lft")
    if top is None:
        qs = qs.filter(level__lte=depth)
    else:
        qs = qs.filter(
            tree_id=top.tree_id, lft__gte=top.lft, lft__lte=top.rght, level__lte=top.level + depth
        )
    return get_cached_trees(qs)


# What a spreadsheet row of a unit needs (see practice.spreadsheets.COLUMNS).
EXPORT_FIELDS = ("pk", "parent_id", *UNIT_EDITABLE_FIELDS)


def units_for_export(unit: Unit) -> list[dict[str, Any]]:
    """The active units below ``unit``, in tree order, as plain rows (one query).

    Inactive units are left out: they are hidden from the public, and a sheet has no column
    to say so — re-imported, they would come back active. (An inactive unit never has
    active sub-units, so no exported unit loses its parent.)
    """
    return list(
        Unit.objects.within(unit, include_self=False)
        .filter(is_active=True)
        .order_by("lft")
        .values(*EXPORT_FIELDS)
    )


def user_grants(user: User) -> list[RoleAssignment]:
    return list(
        RoleAssignment.objects.filter(user=user)
        .select_related("unit")
        .order_by("unit__tree_id", "unit__lft")
    )


def role_assignments_for(user: Any, *, unit: Unit | None = None) -> QuerySet[RoleAssignment]:
    """Grants on units inside the user's staff view, optionally on one unit's subtree."""
    qs = RoleAssignment.objects.filter(scope_q(user, Action.VIEW, prefix="unit__"))
    if unit is not None:
        qs = qs.filter(
            unit__tree_id=unit.tree_id, unit__lft__gte=unit.lft, unit__lft__lte=unit.rght
        )
    return qs.select_related("user", "unit", "granted_by").order_by(
        "unit__lft", "role", "user__username"
    )


def users_in_scope(actor: User) -> QuerySet[User]:
    """Accounts ``actor`` manages: holding a role inside their scope, or created by them."""
    if actor.is_superuser:
        return User.objects.all()
    if not has_any_role(actor, Role.COORDINATOR):
        return User.objects.none()
    in_scope = RoleAssignment.objects.filter(scope_q(actor, Action.MANAGE_USERS, prefix="unit__"))
    return User.objects.filter(
        Q(pk__in=in_scope.values("user_id")) | Q(created_by=actor), is_superuser=False
    )


def audit_for_unit(unit: Unit, *, limit: int = 20) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            unit__tree_id=unit.tree_id, unit__lft__gte=unit.lft, unit__lft__lte=unit.rght
        ).select_related("actor", "unit")[:limit]
    )


def audit_in_scope(user: Any, *, limit: int = 15) -> list[AuditEntry]:
    """The latest changes to units the user may see as staff (one query)."""
    return list(
        AuditEntry.objects.filter(scope_q(user, Action.VIEW, prefix="unit__")).select_related(
            "actor", "unit"
        )[:limit]
    )


def categories() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True)


def unit_stats(unit: Unit, *, date_from: dt.date | None, date_to: dt.date | None) -> dict[str, Any]:
    """The rollup of ``GET /units/{id}/stats/`` over the unit's subtree.

    Unit counts are live. Volunteers, teams, activities and requests have no records yet
    (their issues add the models); their figures are counted from nothing, hence zero.
    """
    counts = network_counts(within=unit)
    children = list(
        Unit.objects.filter(parent=unit, is_active=True).order_by("lft").values("pk", "name")
    )
    return {
        "unit": unit.pk,
        "from": date_from,
        "to": date_to,
        "units": {k: counts[k] for k in (UnitKind.INSTITUTE, UnitKind.STATION, UnitKind.POINT)},
        "volunteers": 0,
        "teams": 0,
        "activities": 0,
        "beneficiaries": 0,
        "materials": 0,
        "volunteer_hours": "0.00",
        "requests": {
            "submitted": 0,
            "completed": 0,
            "rejected": 0,
            "open": 0,
            "average_rating": None,
        },
        "by_category": [
            {
                "category": code,
                "activities": 0,
                "beneficiaries": 0,
                "materials": 0,
                "volunteer_hours": "0.00",
            }
            for code in categories().values_list("code", flat=True)
        ],
        "by_child": [
            {"unit": c["pk"], "name": c["name"], "activities": 0, "beneficiaries": 0}
            for c in children
        ],
    }
