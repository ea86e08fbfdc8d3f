"""The nested-set layer (practice/tree.py) and the bulk import built on it."""

from typing import Any

import pytest
from django.db import transaction
from django.utils import translation

from portal.errors import NotFound, PermissionDenied, ValidationFailed
from practice import services, tree
from practice.choices import AuditAction, UnitKind
from practice.models import AuditEntry, Unit
from practice.tree import NodeSpec
from tests.conftest import World


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def spec(name: str, kind: str, *children: NodeSpec, **fields: Any) -> NodeSpec:
    return NodeSpec({"name": name, "kind": kind, **fields}, list(children))


def town_spec(name: str = "三镇所", stations: int = 2) -> NodeSpec:
    return spec(
        name,
        UnitKind.INSTITUTE,
        *[spec(f"{name}{i}站", UnitKind.STATION) for i in range(stations)],
    )


def children_names(unit: Unit) -> list[str]:
    return list(unit.get_children().values_list("name", flat=True))


# --- NodeSpec / build_nodes ------------------------------------------------------------


def test_node_spec_from_mapping_reads_nested_children():
    parsed = NodeSpec.from_mapping(
        {
            "name": "县中心",
            "kind": "centre",
            "children": [{"name": "所", "kind": "institute", "children": [{"name": "站"}]}],
        }
    )
    assert parsed.fields == {"name": "县中心", "kind": "centre"}
    assert parsed.children[0].children[0].fields == {"name": "站"}
    assert parsed.count() == 3


def test_build_nodes_lays_out_a_nested_set_in_name_order():
    layout = spec(
        "C",
        UnitKind.CENTRE,
        spec("b", UnitKind.INSTITUTE, spec("x", UnitKind.STATION)),
        spec("a", UnitKind.INSTITUTE),
    )
    nodes = tree.build_nodes(layout, tree_id=7)
    coords = [(n.name, n.lft, n.rght, n.level, n.tree_id) for n in nodes]
    # Pre-order, siblings by name: "a" comes before "b" although listed after it.
    assert coords == [
        ("C", 1, 8, 0, 7),
        ("a", 2, 3, 1, 7),
        ("b", 4, 7, 1, 7),
        ("x", 5, 6, 2, 7),
    ]
    assert nodes[0].parent is None
    assert nodes[1].parent is nodes[0]
    assert nodes[3].parent is nodes[2]


def test_build_nodes_starts_at_the_given_cursor_and_level():
    nodes = tree.build_nodes(town_spec(stations=1), tree_id=3, cursor=10, level=1)
    assert [(n.lft, n.rght, n.level) for n in nodes] == [(10, 13, 1), (11, 12, 2)]


# --- insert_nodes ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["丙县中心", "新县中心", "龙县中心"])
def test_insert_nodes_as_a_new_tree_keeps_roots_in_name_order(world: World, name: str):
    layout = spec(name, UnitKind.CENTRE, town_spec("甲所"), town_spec("乙所"))
    with transaction.atomic():
        tree.lock_forest()
        nodes = tree.build_nodes(layout, tree_id=tree.new_tree_id(name))
        tree.insert_nodes(nodes)
    root = Unit.objects.get(name=name)
    assert root.is_root_node()
    assert root.get_descendant_count() == 6
    assert children_names(root) == ["乙所", "甲所"]  # name order (code points)
    roots = list(
        Unit.objects.filter(parent=None).order_by("tree_id").values_list("name", flat=True)
    )
    assert roots == sorted(roots)
    # The counties already there keep their units, whatever their tree ids became.
    world.refresh()
    for unit in (root, world.centre, world.other_centre):
        assert tree.tree_problems(unit.tree_id) == []
    assert world.point.get_root() == world.centre
    assert world.other_station.get_root() == world.other_centre


@pytest.mark.parametrize(
    ("name", "expected_order"),
    [
        ("三镇所", ["一镇所", "三镇所", "二镇所"]),  # between two siblings (一 < 三 < 二)
        ("七镇所", ["一镇所", "七镇所", "二镇所"]),
        ("A镇所", ["A镇所", "一镇所", "二镇所"]),  # before every sibling
        ("镇所", ["一镇所", "二镇所", "镇所"]),  # after every sibling
    ],
)
def test_insert_children_keeps_siblings_in_name_order(
    world: World, name: str, expected_order: list[str]
):
    assert name not in children_names(world.centre)
    with transaction.atomic():
        parent = tree.locked_units(world.centre.pk)[world.centre.pk]
        tree.insert_children(parent, [town_spec(name)])
    world.refresh()
    assert children_names(world.centre) == expected_order
    assert tree.tree_problems(world.centre.tree_id) == []
    assert world.centre.get_descendant_count() == 9
    # The new units are where the tree API finds them.
    new_town = Unit.objects.get(name=name)
    assert new_town.parent == world.centre
    assert [a.name for a in new_town.get_ancestors()] == ["甲县中心"]
    assert children_names(new_town) == [f"{name}0站", f"{name}1站"]
    # The other county is untouched.
    assert tree.tree_problems(world.other_centre.tree_id) == []


def test_insert_children_places_several_subtrees_in_one_pass(
    world: World, django_assert_num_queries: Any
):
    # Existing: 一镇所, 二镇所. New ones go before both, between them (two), and after both.
    new = ["A镇所", "三镇所", "七镇所", "镇所"]
    with transaction.atomic():
        parent = tree.locked_units(world.centre.pk)[world.centre.pk]
        # The existing children; one shifting UPDATE per gap (3); one INSERT per level (2).
        with django_assert_num_queries(1 + 3 + 2):
            nodes = tree.insert_children(parent, [town_spec(name) for name in new])
    assert [n.name for n in nodes if n.level == 1] == ["A镇所", "七镇所", "三镇所", "镇所"]
    world.refresh()
    assert children_names(world.centre) == ["A镇所", "一镇所", "七镇所", "三镇所", "二镇所", "镇所"]
    assert parent.rght == world.centre.rght
    assert tree.tree_problems(world.centre.tree_id) == []
    assert world.centre.get_descendant_count() == 6 + 4 * 3
    for name in new:
        assert children_names(Unit.objects.get(name=name)) == [f"{name}0站", f"{name}1站"]
    assert [u.name for u in world.town.get_children()] == ["一村站", "二村站"]


# --- tree_problems -----------------------------------------------------------------------


def test_tree_problems_is_empty_for_a_sound_tree(world: World):
    assert tree.tree_problems(world.centre.tree_id) == []
    assert tree.tree_problems(world.other_centre.tree_id) == []
    assert tree.tree_problems(9999) == []  # no such tree


@pytest.mark.parametrize(
    ("unit", "update", "problem"),
    [
        ("point", {"level": 5}, "level 5, parent's level 2"),
        ("point", {"lft": 40, "rght": 41}, "lft/rght values are not exactly"),
        ("station2", {"lft": 3, "rght": 2}, "lft 3 >= rght 2"),
        ("station3", {"lft": 5, "rght": 6}, "not nested inside its parent"),
        ("town2", {"parent_id": None, "kind": UnitKind.CENTRE}, "2 roots"),
    ],
)
def test_tree_problems_reports_each_broken_invariant(
    world: World, unit: str, update: dict[str, Any], problem: str
):
    Unit.objects.filter(pk=getattr(world, unit).pk).update(**update)
    problems = tree.tree_problems(world.centre.tree_id)
    assert any(problem in p for p in problems), problems


def test_tree_problems_reports_a_root_that_does_not_start_the_tree(world: World):
    # Swap the left edges of the root and its first child: the edges are still 1..2n.
    Unit.objects.filter(pk=world.centre.pk).update(lft=2)
    Unit.objects.filter(pk=world.town.pk).update(lft=1)
    problems = tree.tree_problems(world.centre.tree_id)
    assert f"unit {world.centre.pk}: root at level 0, lft 2" in problems


def test_tree_problems_reports_a_parent_in_another_tree(world: World):
    Unit.objects.filter(pk=world.station3.pk).update(parent_id=world.other_town.pk)
    problems = tree.tree_problems(world.centre.tree_id)
    assert f"unit {world.station3.pk}: parent {world.other_town.pk} is in another tree" in problems


# --- locks -------------------------------------------------------------------------------


def test_locked_units_rereads_the_units(world: World):
    Unit.objects.filter(pk=world.town.pk).update(name="改名镇所")
    with transaction.atomic():
        units = tree.locked_units(world.town.pk, world.station.pk)
    assert units[world.town.pk].name == "改名镇所"
    assert set(units) == {world.town.pk, world.station.pk}


# --- bulk import (services.unit_import_tree) ---------------------------------------------


def big_county(name: str = "大县中心", towns: int = 10, stations: int = 20) -> NodeSpec:
    return spec(
        name,
        UnitKind.CENTRE,
        *[
            spec(
                f"{name}{t:02d}所",
                UnitKind.INSTITUTE,
                *[spec(f"{name}{t:02d}所{s:02d}站", UnitKind.STATION) for s in range(stations)],
            )
            for t in range(towns)
        ],
    )


def test_import_creates_a_whole_county(world: World):
    nodes = services.unit_import_tree(actor=world.superuser, parent=None, spec=big_county())
    assert len(nodes) == 1 + 10 + 10 * 20
    root = Unit.objects.get(name="大县中心")
    assert root.parent is None
    assert root.get_descendant_count() == 210
    assert root.get_children().count() == 10
    assert tree.tree_problems(root.tree_id) == []
    assert Unit.objects.filter(tree_id=root.tree_id, kind=UnitKind.STATION).count() == 200
    entry = AuditEntry.objects.get(action=AuditAction.UNIT_IMPORTED)
    assert entry.actor == world.superuser
    assert entry.unit == root
    assert entry.changes == {"units": 211}


def test_import_under_a_unit_fits_into_the_existing_tree(world: World):
    services.unit_import_tree(actor=world.coordinator, parent=world.centre, spec=town_spec())
    world.refresh()
    assert children_names(world.centre) == ["一镇所", "三镇所", "二镇所"]
    assert tree.tree_problems(world.centre.tree_id) == []
    assert Unit.objects.get(name="三镇所0站").get_ancestors().first() == world.centre


def test_import_takes_a_handful_of_queries_not_one_per_unit(
    world: World, django_assert_max_num_queries: Any
):
    # Locks, one INSERT per level, at most one UPDATE making room for the new tree among the
    # roots in name order, and the audit entry.
    with django_assert_max_num_queries(10) as small:
        services.unit_import_tree(
            actor=world.superuser, parent=None, spec=big_county("小县", towns=1, stations=2)
        )
    # 52 times as many units, same depth: only SQLite's batches of at most 999 parameters
    # (58 rows) split the widest level into a few INSERTs.
    with django_assert_max_num_queries(len(small) + 3):
        services.unit_import_tree(actor=world.superuser, parent=None, spec=big_county())
    with django_assert_max_num_queries(len(small) + 3):
        services.unit_import_tree(
            actor=world.superuser, parent=world.centre, spec=town_spec(stations=150)
        )
    world.refresh()
    assert tree.tree_problems(world.centre.tree_id) == []


def test_import_is_all_or_nothing(world: World):
    bad = spec(
        "坏县中心",
        UnitKind.CENTRE,
        town_spec("好所"),
        spec("错所", UnitKind.INSTITUTE, spec("错点下的所", UnitKind.INSTITUTE)),
        spec("重名", UnitKind.INSTITUTE),
        spec("重名", UnitKind.INSTITUTE),
        spec("坏代码所", UnitKind.INSTITUTE, division_code="12345"),
    )
    before = Unit.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        services.unit_import_tree(actor=world.superuser, parent=None, spec=bad)
    assert caught.value.code == "invalid_import"
    problems = caught.value.detail["non_field_errors"]
    assert len(problems) == 3
    assert any("错点下的所" in p and "cannot be placed under" in p for p in problems)
    assert any("both called “重名”" in p for p in problems)
    assert any("坏代码所" in p and "division code: " in p for p in problems)
    assert Unit.objects.count() == before
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("parent", "top", "message"),
    [
        (None, spec("所", UnitKind.INSTITUTE), "cannot be at the top level"),
        ("station", spec("所", UnitKind.INSTITUTE), "cannot be placed under a Practice station"),
    ],
)
def test_import_checks_the_kind_of_its_top_against_the_parent(
    world: World, parent: str | None, top: NodeSpec, message: str
):
    with pytest.raises(ValidationFailed) as caught:
        services.unit_import_tree(
            actor=world.superuser, parent=getattr(world, parent) if parent else None, spec=top
        )
    assert message in caught.value.detail["non_field_errors"][0]


@pytest.mark.parametrize(("parent", "name"), [("centre", "一镇所"), (None, "乙县中心")])
def test_import_refuses_a_name_taken_among_its_siblings(
    world: World, parent: str | None, name: str
):
    layout = town_spec(name) if parent else spec(name, UnitKind.CENTRE)
    before = Unit.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        services.unit_import_tree(
            actor=world.superuser, parent=getattr(world, parent) if parent else None, spec=layout
        )
    assert "already exists" in str(caught.value.message)
    assert Unit.objects.count() == before


def test_import_refuses_an_inactive_parent(world: World):
    services.unit_set_active(actor=world.superuser, unit=world.station3, active=False)
    with pytest.raises(ValidationFailed) as caught:
        services.unit_import_tree(
            actor=world.superuser, parent=world.station3, spec=spec("点", UnitKind.POINT)
        )
    assert caught.value.code == "parent_inactive"


@pytest.mark.parametrize(
    ("who", "parent", "error"),
    [
        ("coordinator", None, PermissionDenied),
        ("station_manager", "town", NotFound),
        ("other_coordinator", "town", NotFound),
        ("no_role", "town", NotFound),
    ],
)
def test_import_needs_the_right_to_add_units_there(
    world: World, who: str, parent: str | None, error: type[Exception]
):
    with pytest.raises(error):
        services.unit_import_tree(
            actor=getattr(world, who),
            parent=getattr(world, parent) if parent else None,
            spec=spec("点", UnitKind.POINT) if parent else spec("县", UnitKind.CENTRE),
        )


def test_a_manager_may_import_under_their_own_unit(world: World):
    nodes = services.unit_import_tree(
        actor=world.town_manager, parent=world.town, spec=spec("三村站", UnitKind.STATION)
    )
    assert nodes[0].parent == world.town
    assert tree.tree_problems(world.town.tree_id) == []
