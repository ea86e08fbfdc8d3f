"""Everything that touches the nested-set columns. ``mptt`` calls stay inside this app.

* :func:`lock_trees` serializes writes per tree: on PostgreSQL a transaction-level
  advisory lock keyed by ``tree_id`` (NetBox's ``MPTTLockedMixin`` idea); on SQLite the
  ``BEGIN IMMEDIATE`` transaction already holds the database's single write lock.
  Every such writer also holds the *forest* lock in shared mode; :func:`lock_forest`
  takes it exclusively for the operations that renumber or allocate ``tree_id``s
  (django-mptt keeps roots in name order by shifting the ids of the trees after them),
  so no writer ever works with a ``tree_id`` that is changing under it.
* :func:`build_nodes` lays out a whole subtree in memory so it can be written with one
  ``bulk_create`` per level: :func:`insert_nodes` writes a new tree, :func:`insert_children`
  one or several subtrees under an existing parent (a spreadsheet's rows), making room for
  them with one shifting ``UPDATE`` per gap between its existing children.
* :func:`tree_problems` checks a tree's invariants (used by tests and a nightly task).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connections, transaction
from django.db.models import Q

from .models import Unit

__all__ = [
    "NodeSpec",
    "UnitRow",
    "build_nodes",
    "insert_children",
    "insert_nodes",
    "lock_forest",
    "lock_trees",
    "locked_units",
    "path_q",
    "subtree_q",
    "tree_problems",
]


def subtree_q(unit: Unit, prefix: str = "unit__") -> Q:
    """Rows whose unit (reached through ``prefix``; ``""`` for units) is ``unit`` or below
    it: one range on the ``(tree_id, lft)`` index."""
    return Q(
        **{
            f"{prefix}tree_id": unit.tree_id,
            f"{prefix}lft__gte": unit.lft,
            f"{prefix}lft__lte": unit.rght,
        }
    )


def path_q(unit: Unit, prefix: str = "unit__") -> Q:
    """Rows whose unit is ``unit`` or one above it (what is offered or in force there)."""
    return Q(
        **{
            f"{prefix}tree_id": unit.tree_id,
            f"{prefix}lft__lte": unit.lft,
            f"{prefix}rght__gte": unit.rght,
        }
    )


# Advisory-lock namespace (the first int of pg_advisory_xact_lock(int, int)).
_LOCK_NAMESPACE = 0x5052  # "PR"
# Key of the forest lock (tree ids start at 1, so 0 is free).
_FOREST = 0


def _postgres_cursor() -> Any:
    if not transaction.get_connection(Unit.objects.db).in_atomic_block:
        raise RuntimeError("Tree locks must be taken inside transaction.atomic().")
    connection = connections[Unit.objects.db]
    return connection.cursor() if connection.vendor == "postgresql" else None


def lock_trees(*tree_ids: int) -> None:
    """Hold a write lock on each tree until the surrounding transaction ends."""
    cursor = _postgres_cursor()
    if cursor is None:
        return
    with cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [_LOCK_NAMESPACE, _FOREST])
        for tree_id in sorted(set(tree_ids)):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, tree_id])


def lock_forest() -> None:
    """Hold every tree until the transaction ends: for creating, (un)rooting or renaming a root."""
    cursor = _postgres_cursor()
    if cursor is None:
        return
    with cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, _FOREST])


def locked_units(*pks: int, forest: bool = False) -> dict[int, Unit]:
    """Lock the trees of the given units and return the units re-read under the lock.

    With ``forest`` every tree is locked at once. Otherwise a unit may move to another
    tree between the first read and the lock; then that tree is locked as well and the
    units are read again.
    """
    if forest:
        lock_forest()
        return Unit.objects.in_bulk(list(pks))
    locked: set[int] = set()
    while True:
        units = Unit.objects.in_bulk(list(pks))
        needed = {u.tree_id for u in units.values()} - locked
        if not needed:
            return units
        lock_trees(*needed)
        locked |= needed


@dataclass
class NodeSpec:
    """One unit to create, with its children (as parsed from JSON or a spreadsheet).

    ``row`` is the spreadsheet row it came from, if any: problems are reported by row.
    """

    fields: dict[str, Any]
    children: list[NodeSpec] = field(default_factory=list)
    row: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> NodeSpec:
        fields = {k: v for k, v in data.items() if k != "children"}
        return cls(fields, [cls.from_mapping(c) for c in data.get("children", [])])

    def count(self) -> int:
        return 1 + sum(c.count() for c in self.children)


@dataclass(frozen=True)
class UnitRow:
    """One unit to create or update, as a spreadsheet row: its fields and the name of its
    parent.

    ``parent`` is empty for a unit that goes directly under the unit imported into, else
    the name of a unit defined in an earlier row. ``id`` names the existing unit the row
    updates (``None``: a new unit; anything but an ``int`` is reported as a problem);
    ``active`` is the status the row asks for (``None``: unsaid; anything but a ``bool``
    is reported as a problem).
    """

    row: int
    parent: str
    fields: dict[str, Any]
    id: int | str | None = None
    active: bool | str | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as JSON (decimals as text), to keep an upload until it is applied."""
        return {
            "row": self.row,
            "parent": self.parent,
            "fields": {k: str(v) if isinstance(v, Decimal) else v for k, v in self.fields.items()},
            "id": self.id,
            "active": self.active,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UnitRow:
        return cls(
            row=int(data["row"]),
            parent=str(data["parent"]),
            fields=dict(data["fields"]),
            id=data.get("id"),
            active=data.get("active"),
        )


def build_nodes(spec: NodeSpec, *, tree_id: int, cursor: int = 1, level: int = 0) -> list[Unit]:
    """Lay out ``spec`` as unsaved units (pre-order, siblings by name) from ``cursor`` on.

    The first node's parent is left unset; each other node's parent is its laid-out parent.
    """
    nodes: list[Unit] = []

    def place(s: NodeSpec, up: Unit | None, cursor: int, level: int) -> int:
        node = Unit(**s.fields)
        node.parent = up
        node.tree_id = tree_id
        node.level = level
        node.lft = cursor
        nodes.append(node)
        for child in sorted(s.children, key=lambda c: c.fields["name"]):
            cursor = place(child, node, cursor + 1, level + 1)
        node.rght = cursor + 1
        return cursor + 1

    place(spec, None, cursor, level)
    return nodes


def insert_children(parent: Unit, specs: Sequence[NodeSpec]) -> list[Unit]:
    """Write ``specs`` as new subtrees of ``parent``, each among its siblings in name order.

    The caller holds the tree lock, has re-read ``parent`` under it and has checked that no
    child of ``parent`` already bears one of the new names. New subtrees that fall between
    the same two existing children are laid out side by side: one shifting UPDATE per such
    gap (one in all when ``parent`` has no children yet), then one INSERT per level for all
    of them. Returns the new units, each subtree in pre-order, the subtrees in name order.
    """
    existing = list(Unit.objects.filter(parent=parent).order_by("lft").values_list("name", "lft"))
    # Compared as Python orders strings, like build_nodes; a database collation that orders
    # the existing siblings otherwise only moves a new unit among them, never out of place.
    names = [name for name, _lft in existing]
    gaps: dict[int, list[NodeSpec]] = {}  # lft of the next existing sibling → new subtrees
    for spec in sorted(specs, key=lambda s: s.fields["name"]):
        index = bisect_right(names, spec.fields["name"])
        gaps.setdefault(existing[index][1] if index < len(existing) else parent.rght, []).append(
            spec
        )
    sizes = {at: 2 * sum(spec.count() for spec in group) for at, group in gaps.items()}
    # From the right: each shift moves only what lies right of its gap, so the positions of
    # the gaps further left stay as they were read.
    for at in sorted(gaps, reverse=True):
        Unit.objects._create_space(sizes[at], at - 1, parent.tree_id)
    nodes: list[Unit] = []
    shifted = 0  # room made at the gaps left of this one
    for at in sorted(gaps):
        cursor = at + shifted
        for spec in gaps[at]:
            subtree = build_nodes(
                spec, tree_id=parent.tree_id, cursor=cursor, level=parent.level + 1
            )
            subtree[0].parent = parent
            nodes.extend(subtree)
            cursor = subtree[0].rght + 1
        shifted += sizes[at]
    parent.rght += shifted
    insert_nodes(nodes)
    return nodes


def insert_nodes(nodes: Sequence[Unit]) -> None:
    """Write laid-out nodes, one INSERT per level (a few for a very wide level).

    A new tree (see :func:`new_tree_id`; the caller holds the forest lock) is written as
    is; new units under an existing parent go through :func:`insert_children`, which makes
    room for them first.
    """
    by_level: dict[int, list[Unit]] = {}
    for node in nodes:
        by_level.setdefault(node.level, []).append(node)
    for level in sorted(by_level):
        batch = by_level[level]
        for node in batch:
            # The parent was saved by the previous batch (or before): copy its primary key.
            if node.parent is not None:
                node.parent_id = node.parent.pk
        Unit.objects.bulk_create(batch, batch_size=500)


def new_tree_id(name: str) -> int:
    """Make room for a new tree so roots stay in name order, as django-mptt keeps them.

    The caller holds the forest lock.
    """
    after = Unit.objects.filter(parent=None, name__gt=name).order_by("tree_id").first()
    if after is None:
        return int(Unit.objects._get_next_tree_id())
    Unit.objects._create_tree_space(after.tree_id - 1)
    return after.tree_id


def tree_problems(tree_id: int) -> list[str]:
    """Every violated nested-set invariant of one tree (empty list: the tree is sound)."""
    rows = list(
        Unit.objects.filter(tree_id=tree_id)
        .order_by("lft")
        .values_list("pk", "parent_id", "lft", "rght", "level")
    )
    problems: list[str] = []
    if not rows:
        return problems
    by_pk = {pk: (parent, lft, rght, level) for pk, parent, lft, rght, level in rows}
    edges = sorted(v for _, _, lft, rght, _ in rows for v in (lft, rght))
    if edges != list(range(1, 2 * len(rows) + 1)):
        problems.append(f"tree {tree_id}: lft/rght values are not exactly 1..{2 * len(rows)}")
    roots = [pk for pk, parent, *_ in rows if parent is None]
    if len(roots) != 1:
        problems.append(f"tree {tree_id}: {len(roots)} roots")
    for pk, parent, lft, rght, level in rows:
        if lft >= rght:
            problems.append(f"unit {pk}: lft {lft} >= rght {rght}")
        if parent is None:
            if level != 0 or lft != 1:
                problems.append(f"unit {pk}: root at level {level}, lft {lft}")
            continue
        if parent not in by_pk:
            problems.append(f"unit {pk}: parent {parent} is in another tree")
            continue
        _, plft, prght, plevel = by_pk[parent]
        if not (plft < lft and rght < prght):
            problems.append(f"unit {pk}: not nested inside its parent {parent}")
        if level != plevel + 1:
            problems.append(f"unit {pk}: level {level}, parent's level {plevel}")
    return problems
