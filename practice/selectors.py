"""Reads of the practice network. Every function returns what a page or endpoint needs in a
fixed number of queries, whatever the size of the tree."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    ExpressionWrapper,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce

from .choices import Role, UnitKind
from .filtersets import UnitFilterSet
from .models import UNIT_EDITABLE_FIELDS, AuditEntry, Category, RoleAssignment, Unit, User
from .permissions import Action, can, has_any_role, manageable_accounts, scope_q

__all__ = [
    "account_rows",
    "active_below",
    "audit_actors",
    "audit_entries",
    "audit_for_unit",
    "audit_in_scope",
    "audit_unit_choices",
    "categories",
    "children_with_counts",
    "closed_unit_context",
    "count_below",
    "counties",
    "mark_inactive_below",
    "nearest_places",
    "network_counts",
    "open_places_near",
    "places_in",
    "places_named",
    "role_assignments_for",
    "roots_with_counts",
    "towns_of",
    "tree_rows",
    "unit_ancestors",
    "unit_paths",
    "unit_stats",
    "unit_subtree",
    "units_for_export",
    "units_visible",
    "user_grants",
    "users_in_scope",
    "visible_roots",
]


def units_visible(user: Any) -> QuerySet[Unit]:
    """Public (active) units plus the inactive ones in the user's staff scope."""
    return Unit.objects.visible_to(user)


def network_counts(
    *, within: Unit | None = None, trees: Sequence[int] | None = None
) -> dict[str, int]:
    """Active units per kind — over one subtree (excluding its top), over whole trees
    (``trees``: tree ids; read through the ``(tree_id, lft)`` index), or, with neither,
    over everything (an index-only count of every active unit: the home page reads it
    through ``portal.cache.versioned_value``, so once per write, not per request)."""
    qs = Unit.objects.filter(is_active=True)
    if within is not None:
        qs = qs.within(within, include_self=False)
    if trees is not None:
        qs = qs.filter(tree_id__in=trees)
    counts = Counter(
        dict(qs.order_by().values_list("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    )
    return {kind: counts.get(kind, 0) for kind in UnitKind.values}


def active_below(*, kind: str | None = None, prefix: str = "") -> Coalesce:
    """An annotation: the number of active units strictly below each row (of ``kind``).

    A correlated subquery over the row's lft/rght range, so a list of units gets its
    public figures in the statement that reads it. ``prefix`` reaches the unit from
    another model (``"unit__"``). Public figures count active units only: the public
    never sees an inactive one.
    """
    below = Unit.objects.filter(
        tree_id=OuterRef(f"{prefix}tree_id"),
        lft__gt=OuterRef(f"{prefix}lft"),
        lft__lt=OuterRef(f"{prefix}rght"),
        is_active=True,
    )
    if kind is not None:
        below = below.filter(kind=kind)
    counted = below.order_by().values("tree_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


def _station_count() -> Coalesce:
    return active_below(kind=UnitKind.STATION)


def count_below(unit: Unit) -> dict[str, int]:
    """``{"active": n, "inactive": m}``: the units below ``unit`` (one query)."""
    return Unit.objects.within(unit, include_self=False).aggregate(
        active=Count("pk", filter=Q(is_active=True)),
        inactive=Count("pk", filter=Q(is_active=False)),
    )


def mark_inactive_below(user: Any, units: Iterable[Unit]) -> None:
    """Set ``inactive_below`` on units annotated with ``active_below``: the number of
    inactive units below, for the units in the user's staff view, else 0 (no query)."""
    for unit in units:
        hidden = unit.descendant_total - unit.active_below
        unit.inactive_below = hidden if hidden and can(user, Action.VIEW, unit) else 0


def visible_roots(user: Any) -> QuerySet[Unit]:
    """The top-level units the user sees, in name order (= ``tree_id`` order): read in
    order from the ``(level, tree_id)`` index, so a page of them costs its own rows."""
    return units_visible(user).filter(level=0).order_by("tree_id")


def roots_with_counts(*, limit: int) -> tuple[list[Unit], bool]:
    """The first ``limit`` active top-level units, each with ``station_count`` (counted
    over its own tree's range), and whether more follow (one query)."""
    roots = list(
        Unit.objects.filter(level=0, is_active=True)
        .annotate(station_count=_station_count())
        .order_by("tree_id")[: limit + 1]
    )
    return roots[:limit], len(roots) > limit


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
        "WITH RECURSIVE chain(id, parent_id, name, kind, level, is_active) AS ("  # noqa: S608 - table name from the model, values bound
        f" SELECT id, parent_id, name, kind, level, is_active FROM {table} WHERE id IN ({marks})"
        " UNION"
        f" SELECT u.id, u.parent_id, u.name, u.kind, u.level, u.is_active FROM {table} u"
        " JOIN chain c ON u.id = c.parent_id"
        ") SELECT id, parent_id, name, kind, level, is_active FROM chain"
    )
    return {u.pk: u for u in Unit.objects.raw(sql, list(parent_ids))}


def _walk_up(unit: Placed, chain: dict[int, Unit]) -> list[Unit]:
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


class Placed(Protocol):
    """A unit or a plain row of one (``practice.api.serializers.UnitListRow``)."""

    @property
    def pk(self) -> Any: ...

    @property
    def parent_id(self) -> int | None: ...

    @property
    def name(self) -> str: ...


def unit_paths(units: Sequence[Placed]) -> dict[int, list[str]]:
    """For each unit, the names from its root down to itself — in one query."""
    chain = _chains({u.parent_id for u in units if u.parent_id})
    return {u.pk: [a.name for a in _walk_up(u, chain)] + [u.name] for u in units}


# Where residents go: the kinds of unit a closed unit's page sends them to.
PLACE_KINDS = (UnitKind.STATION, UnitKind.POINT)
EARTH_RADIUS_KM = 6371.0
# Kilometres per degree of latitude (and of longitude at the equator).
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def nearest_places(
    lat: float,
    lon: float,
    *,
    limit: int,
    tree_id: int | None = None,
    radius_km: float | None = None,
) -> list[Unit]:
    """The ``limit`` active located stations and points nearest to (``lat``, ``lon``) —
    of one tree, or of all — each with ``distance_km``, nearest first (one query).

    The database orders them by an equirectangular approximation (exact enough within a
    county, and no trigonometry in SQL), so it returns ``limit`` rows whatever the size of
    the network; ``distance_km`` is then the great-circle distance. ``radius_km`` bounds
    the search by a box of that half-width around the point (a range on latitude and
    longitude the database can read from an index instead of measuring every place).
    """
    # Degrees of longitude shrink with the cosine of the latitude.
    shrink = max(math.cos(math.radians(lat)), 0.01)
    places = Unit.objects.filter(
        kind__in=PLACE_KINDS,
        is_active=True,
        latitude__isnull=False,
        longitude__isnull=False,
    )
    if tree_id is not None:
        places = places.filter(tree_id=tree_id)
    if radius_km is not None:
        dlat_box = radius_km / KM_PER_DEGREE
        dlon_box = min(radius_km / (KM_PER_DEGREE * shrink), 180.0)
        places = places.filter(
            latitude__range=(_degrees(lat - dlat_box), _degrees(lat + dlat_box)),
            longitude__range=(_degrees(lon - dlon_box), _degrees(lon + dlon_box)),
        )
    dlat = Cast("latitude", FloatField()) - Value(lat)
    dlon = (Cast("longitude", FloatField()) - Value(lon)) * Value(shrink)
    located = list(
        places.annotate(
            nearness=ExpressionWrapper(dlat * dlat + dlon * dlon, output_field=FloatField())
        ).order_by("nearness", "lft")[:limit]
    )
    for place in located:
        there = (float(place.latitude or 0), float(place.longitude or 0))
        place.distance_km = distance_km(lat, lon, *there)
    return located


def _degrees(value: float) -> Decimal:
    """A coordinate bound as the column's type (6 decimals), so the range reads an index."""
    return Decimal(f"{value:.6f}")


def open_places_near(unit: Unit, *, parent: Unit | None, limit: int = 3) -> list[Unit]:
    """Active stations and points to send the residents of a closed ``unit`` to.

    When ``unit`` has coordinates: the ``limit`` nearest located ones of its tree
    (:func:`nearest_places`). Otherwise, or when none is located: the active sub-units of
    ``parent`` (the closed unit's nearest active ancestor) in name order, at most
    ``3 * limit``, with ``distance_km`` None. One query, two at most.
    """
    if unit.latitude is not None and unit.longitude is not None:
        located = nearest_places(
            float(unit.latitude), float(unit.longitude), limit=limit, tree_id=unit.tree_id
        )
        if located:
            return located
    if parent is None:
        return []
    siblings = list(Unit.objects.filter(parent=parent, is_active=True).order_by("lft")[: 3 * limit])
    for place in siblings:
        place.distance_km = None
    return siblings


# What the lists of places read: no dates or contact details.
PLACE_FIELDS = ("name", "kind", "parent", "tree_id", "lft", "rght", "level", "address")


def counties() -> list[Unit]:
    """The active county centres, in tree order (one query; an installation has a few)."""
    return list(
        Unit.objects.filter(kind=UnitKind.CENTRE, is_active=True)
        .order_by("tree_id", "lft")
        .only(*TREE_FIELDS)
    )


def towns_of(county: Unit) -> list[Unit]:
    """The active towns (institutes) of ``county``, in tree order (one query)."""
    return list(
        Unit.objects.within(county, include_self=False)
        .filter(kind=UnitKind.INSTITUTE, is_active=True)
        .order_by("lft")
        .only(*TREE_FIELDS)
    )


def places_in(town: Unit) -> QuerySet[Unit]:
    """The active stations and points of ``town``, in tree order (a point after its
    station): a queryset to paginate."""
    return (
        Unit.objects.within(town, include_self=False)
        .filter(kind__in=PLACE_KINDS, is_active=True)
        .order_by("lft")
        .only(*PLACE_FIELDS)
    )


def places_named(text: str) -> QuerySet[Unit]:
    """Active stations and points whose name contains ``text`` (the unit list's own search,
    ``filtersets.UnitFilterSet``), in tree order: a queryset to paginate."""
    places = Unit.objects.filter(kind__in=PLACE_KINDS, is_active=True).only(*PLACE_FIELDS)
    return UnitFilterSet({"q": text}, queryset=places).qs.order_by("tree_id", "lft")


def closed_unit_context(unit: Unit) -> dict[str, Any]:
    """What the public page of an inactive unit shows: the nearest active unit above it
    and open places nearby (two or three queries, whatever the size of the tree)."""
    ancestors = unit_ancestors(unit)
    parent = next((a for a in reversed(ancestors) if a.is_active), None)
    return {"unit": unit, "parent": parent, "places": open_places_near(unit, parent=parent)}


def unit_subtree(user: Any, *, top: Unit | None, depth: int, trees: Any = None) -> list[Unit]:
    """Visible units from ``top`` down ``depth`` levels — or, with ``top`` None, from the
    roots of ``trees`` (tree ids: a list or a ``values_list`` queryset, e.g. a page of
    :func:`visible_roots`) — in tree order (``tree_id``, ``lft``): one query, each range
    read through the ``(tree_id, lft)`` index.

    The visible set is closed under ancestors (an inactive unit never has active
    sub-units), so no visible node is cut off from its parent. Each node carries
    ``active_below`` (the public figure) and ``inactive_below`` (staff in scope only, see
    :func:`mark_inactive_below`). :func:`tree_rows` lays the list out for a page.
    """
    qs = units_visible(user).order_by("tree_id", "lft")
    if top is None:
        qs = qs.filter(tree_id__in=trees if trees is not None else [], level__lte=depth)
    else:
        qs = qs.filter(
            tree_id=top.tree_id, lft__gte=top.lft, lft__lte=top.rght, level__lte=top.level + depth
        )
    # Only what a row shows and the tree needs (no dates or coordinates to convert).
    nodes = list(qs.only(*TREE_FIELDS).annotate(active_below=active_below()))
    mark_inactive_below(user, nodes)
    return nodes


# The fields of a unit a tree row needs (and django-mptt reads when it loads one).
TREE_FIELDS = ("name", "kind", "is_active", "parent", "tree_id", "lft", "rght", "level")


@dataclass(frozen=True, slots=True)
class TreeRow:
    """One unit of a tree page, in document order: ``closes`` nested lists end before it
    (the template repeats ``</ul></details></li>`` that often), ``has_children`` says
    whether its sub-units follow (rendered as an expandable ``<details>``, ``is_open``
    showing them at once) or it is a leaf."""

    unit: Unit
    closes: range
    has_children: bool
    is_open: bool


def tree_rows(nodes: Sequence[Unit], *, open_below: int) -> tuple[list[TreeRow], range]:
    """Lay out ``nodes`` (tree order, as :func:`unit_subtree` returns them) as the rows of
    nested lists, in one pass and without a query: the rows and the lists still open at the
    end (to close after the last row). Units above level ``open_below`` start open."""
    rows: list[TreeRow] = []
    open_levels: list[int] = []  # the levels of the units whose list of sub-units is open
    for index, unit in enumerate(nodes):
        closes = 0
        while open_levels and open_levels[-1] >= unit.level:
            open_levels.pop()
            closes += 1
        after = nodes[index + 1] if index + 1 < len(nodes) else None
        has_children = (
            after is not None and after.tree_id == unit.tree_id and after.level > unit.level
        )
        if has_children:
            open_levels.append(unit.level)
        rows.append(TreeRow(unit, range(closes), has_children, unit.level < open_below))
    return rows, range(len(open_levels))


# What a spreadsheet row of a unit needs (see practice.spreadsheets.COLUMNS).
EXPORT_FIELDS = ("pk", "parent_id", "is_active", *UNIT_EDITABLE_FIELDS)


def units_for_export(unit: Unit) -> list[dict[str, Any]]:
    """Every unit below ``unit`` — inactive ones included: the sheet marks them — in tree
    order, as plain rows (one query)."""
    return list(
        Unit.objects.within(unit, include_self=False).order_by("lft").values(*EXPORT_FIELDS)
    )


def user_grants(user: User) -> list[RoleAssignment]:
    """The user's roles, each unit with ``active_below`` and ``inactive_below`` (one query)."""
    annotated = (
        RoleAssignment.objects.filter(user=user)
        .select_related("unit")
        .annotate(unit_active_below=active_below(prefix="unit__"))
        .order_by("unit__tree_id", "unit__lft")
    )
    grants: list[RoleAssignment] = []
    for grant in annotated:
        grant.unit.active_below = grant.unit_active_below
        grants.append(grant)
    mark_inactive_below(user, [grant.unit for grant in grants])
    return grants


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
    """The accounts a coordinator sees in their list: those holding a role inside their
    area (peers and accounts with roles elsewhere too — shown, not manageable) and those
    they may manage (see ``permissions.manageable_accounts``: e.g. role-less accounts they
    or a coordinator below them created). Superusers see every account."""
    if actor.is_superuser:
        return User.objects.all()
    if not has_any_role(actor, Role.COORDINATOR):
        return User.objects.none()
    in_scope = RoleAssignment.objects.filter(scope_q(actor, Action.MANAGE_USERS, prefix="unit__"))
    return User.objects.filter(
        Q(pk__in=in_scope.values("user_id")) | Q(pk__in=manageable_accounts(actor).values("pk")),
        is_superuser=False,
    )


def account_rows(actor: User, accounts: QuerySet[User]) -> QuerySet[User]:
    """``accounts`` ready to show to ``actor``: each with only the roles inside the actor's
    staff view (an account's roles in another county are none of their business) and
    ``is_manageable`` (may the actor edit it). A fixed number of queries per page."""
    roles = RoleAssignment.objects.select_related("unit").order_by("unit__tree_id", "unit__lft")
    if not actor.is_superuser:
        roles = roles.filter(scope_q(actor, Action.VIEW, prefix="unit__"))
    manageable = manageable_accounts(actor).exclude(pk=actor.pk).filter(pk=OuterRef("pk"))
    return accounts.prefetch_related(Prefetch("role_assignments", queryset=roles)).annotate(
        is_manageable=Exists(manageable)
    )


def audit_entries(user: Any, *, within: Unit | None = None) -> QuerySet[AuditEntry]:
    """The audit entries ``user`` may read, newest first: those about units in their staff
    view (a superuser reads every entry, also those tied to no unit), optionally only
    those about ``within`` and the units below it."""
    qs = AuditEntry.objects.select_related("actor", "unit").order_by("-at", "-pk")
    if not can(user, Action.VIEW, None):  # only superusers act above every unit
        qs = qs.filter(scope_q(user, Action.VIEW, prefix="unit__"))
    if within is not None:
        qs = qs.filter(
            unit__tree_id=within.tree_id, unit__lft__gte=within.lft, unit__lft__lte=within.rght
        )
    return qs


def audit_actors(entries: QuerySet[AuditEntry]) -> QuerySet[User]:
    """The accounts that made ``entries`` (one query): a caller filters only by people
    whose actions they can already read."""
    return User.objects.filter(pk__in=entries.order_by().values("actor_id")).order_by("username")


def audit_unit_choices(user: Any) -> QuerySet[Unit]:
    """Units worth filtering the audit trail by (those with units below them: regions,
    centres, institutes) inside the user's staff view, in tree order (one query)."""
    return (
        Unit.objects.for_user(user, Action.VIEW)
        .filter(kind__in=[UnitKind.REGION, UnitKind.CENTRE, UnitKind.INSTITUTE])
        .order_by("tree_id", "lft")
        .only("pk", "name", "level", "kind")
    )


def audit_for_unit(unit: Unit, *, limit: int = 20) -> list[AuditEntry]:
    """The latest entries about ``unit`` and the units below it (one query)."""
    return list(
        AuditEntry.objects.filter(
            unit__tree_id=unit.tree_id, unit__lft__gte=unit.lft, unit__lft__lte=unit.rght
        ).select_related("actor", "unit")[:limit]
    )


def audit_in_scope(user: Any, *, limit: int = 15) -> list[AuditEntry]:
    """The latest entries the user may read (one query)."""
    return list(audit_entries(user)[:limit])


def categories() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True)


def unit_stats(unit: Unit, *, date_from: dt.date | None, date_to: dt.date | None) -> dict[str, Any]:
    """The rollup of ``GET /units/{id}/stats/`` over the unit's subtree.

    Unit counts are live; volunteers and teams are counted from their rows
    (``volunteers.stats``), requests from the service requests submitted in the period
    (``orders.selectors.request_figures``, one aggregate). Activities, people served,
    materials and volunteer hours — in total, by platform, by month and by child unit — are
    read from the activity summary table (``activities.stats.activity_figures``: approved
    activities and confirmed service records); ``participants`` (distinct volunteers of
    approved activities) from the records. Beyond API.md: ``by_month`` and
    ``participants``, and ``materials``/``volunteer_hours`` for each child.
    """
    from activities.stats import activity_figures, participants  # the apps above
    from orders.selectors import request_figures
    from volunteers.stats import volunteer_figures

    counts = network_counts(within=unit)
    figures = volunteer_figures(unit, with_hours=False)
    activity = activity_figures(unit, date_from=date_from, date_to=date_to)

    def summed(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "activities": row["activities"],
            "beneficiaries": row["beneficiaries"],
            "materials": row["materials"],
            "volunteer_hours": _hours(row["volunteer_hours"]),
        }

    return {
        "unit": unit.pk,
        "from": date_from,
        "to": date_to,
        "units": {k: counts[k] for k in (UnitKind.INSTITUTE, UnitKind.STATION, UnitKind.POINT)},
        "volunteers": figures["volunteers"],
        "teams": figures["teams"],
        **summed(activity),
        "participants": participants(unit, date_from=date_from, date_to=date_to),
        "requests": request_figures(unit, date_from=date_from, date_to=date_to),
        "by_category": [
            {"category": row["category"], **summed(row)} for row in activity["by_category"]
        ],
        "by_month": [{"month": row["month"], **summed(row)} for row in activity["by_month"]],
        "by_child": [
            {"unit": row["unit"], "name": row["name"], **summed(row)}
            for row in activity["by_child"]
        ],
    }


def _hours(value: Any) -> str:
    """Hours as API.md gives them: a string with two decimals."""
    return f"{Decimal(value):.2f}"
