"""Many top-level trees at once, for the read-path tests (pages must not grow with them)."""

from __future__ import annotations

from django.db.models import Max

from practice import tree
from practice.choices import UnitKind
from practice.models import Unit


def county(number: int, *, towns: int = 2, stations: int = 2) -> tree.NodeSpec:
    """A small county: a centre, ``towns`` institutes, ``stations`` stations each."""
    return tree.NodeSpec.from_mapping(
        {
            "name": f"县{number:05d}中心",
            "kind": UnitKind.CENTRE,
            "children": [
                {
                    "name": f"县{number:05d}镇{t}",
                    "kind": UnitKind.INSTITUTE,
                    "children": [
                        {"name": f"县{number:05d}镇{t}村{s}站", "kind": UnitKind.STATION}
                        for s in range(stations)
                    ],
                }
                for t in range(towns)
            ],
        }
    )


def add_counties(count: int, *, start: int = 0, towns: int = 2, stations: int = 2) -> None:
    """Write ``count`` counties as new trees after the existing ones, one INSERT per level
    (names ``县{start:05d}中心`` on, so roots stay in name order as django-mptt keeps them).

    Straight through ``practice.tree`` (no audit entries, no cache versions): a fixture,
    not a service call; callers that measure cached pages clear the cache."""
    first = (Unit.objects.aggregate(top=Max("tree_id"))["top"] or 0) + 1
    nodes: list[Unit] = []
    for offset in range(count):
        spec = county(start + offset, towns=towns, stations=stations)
        nodes.extend(tree.build_nodes(spec, tree_id=first + offset))
    tree.insert_nodes(nodes)
