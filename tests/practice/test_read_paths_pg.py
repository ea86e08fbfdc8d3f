"""On PostgreSQL, the public read paths use indexes (issue 6): ``EXPLAIN`` of every query the
home page, the tree page, its search, a station page and the API list run, on a network of
a few thousand units after ``ANALYZE``. SQLite has no planner worth asking: these tests run
only with ``DATABASE_URL=postgres://...`` (marker ``postgres``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from portal.pagination import BoundedPaginator
from practice.choices import UnitKind
from practice.models import Unit
from tests.practice.forest import add_counties
from tests.querycount import queries_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

COUNTIES = 500  # 1 centre, 3 towns, 18 stations each: 11,000 units in 500 trees
PER_COUNTY = 22


@pytest.fixture(autouse=True)
def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL (DATABASE_URL); the database is {connection.vendor}")


@pytest.fixture
def network(db: Any) -> Unit:
    add_counties(COUNTIES, towns=3, stations=6)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE practice_unit")
    station = Unit.objects.filter(kind=UnitKind.STATION, tree_id=COUNTIES // 2).first()
    assert station is not None
    return station


def _plan(sql: str) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def _nodes(plan: dict[str, Any], limited: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every node of ``plan`` and whether a ``Limit`` above it bounds the rows it reads."""
    limited = limited or plan["Node Type"] == "Limit"
    yield plan, limited
    for child in plan.get("Plans", []):
        yield from _nodes(child, limited)


# The whole network's figures on the home page: one count of every active unit, run once
# per network version (``portal.cache.versioned_value``), not per request — the one read
# allowed to cover the whole table (tests/practice/test_read_paths.py counts how often).
NETWORK_FIGURES = (
    'SELECT "practice_unit"."kind" AS "kind", COUNT("practice_unit"."id") AS "n" '
    'FROM "practice_unit" WHERE "practice_unit"."is_active" GROUP BY'
)


def _unit_plans(client: Any, url: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (sql, _plan(sql))
        for sql in queries_of(client, url)
        if sql.startswith("SELECT")
        and '"practice_unit"' in sql
        and not sql.startswith(NETWORK_FIGURES)
    ]


def _indexes(plan: dict[str, Any]) -> set[str]:
    return {node["Index Name"] for node, _limited in _nodes(plan) if "Index Name" in node}


def _unbounded_scans(plan: dict[str, Any]) -> list[str]:
    """Sequential reads of the unit table not stopped by a LIMIT: what grows with it."""
    return [
        node["Node Type"]
        for node, limited in _nodes(plan)
        if node["Node Type"] == "Seq Scan"
        and node.get("Relation Name") == "practice_unit"
        and not limited
    ]


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/units/",
        "/units/?page=3",
        "/units/?q=县00123",
        "/api/v1/units/?page_size=100",
        "/api/v1/units/?kind=station&page_size=100",
        "/api/v1/units/?q=县00123&page_size=100",
    ],
)
def test_no_public_read_scans_the_unit_table(network: Unit, client: Any, url: str) -> None:
    plans = _unit_plans(client, url)
    assert plans
    for sql, plan in plans:
        assert not _unbounded_scans(plan), f"{url}: {sql}\n{json.dumps(plan, indent=1)}"


def test_station_page_reads_its_own_range(network: Unit, client: Any) -> None:
    for sql, plan in _unit_plans(client, f"/units/{network.pk}/"):
        assert not _unbounded_scans(plan), sql


def test_home_reads_roots_and_their_trees_by_index(network: Unit, client: Any) -> None:
    used = set().union(*(_indexes(plan) for _sql, plan in _unit_plans(client, "/")))
    assert "unit_level_tree_idx" in used  # the first top-level units, in order
    # Their stations, by tree range: the planner takes the (kind, tree_id, lft) index or the
    # (tree_id, lft) one depending on the table's physical state after the tests before this
    # one (both read only those trees; test_no_public_read_scans_the_unit_table checks that).
    assert used & {"unit_kind_tree_idx", "practice_unit_tree_id_lft_idx"}


def test_tree_page_reads_a_page_of_roots_by_index(network: Unit, client: Any) -> None:
    plans = _unit_plans(client, "/units/?page=2")
    assert all(_indexes(plan) for _sql, plan in plans)
    used = set().union(*(_indexes(plan) for _sql, plan in plans))
    assert {"unit_level_tree_idx", "practice_unit_tree_id_lft_idx"} <= used


def test_name_search_uses_the_trigram_index(network: Unit, client: Any) -> None:
    for url in ("/units/?q=县00123", "/api/v1/units/?q=县00123镇1&page_size=100"):
        plans = _unit_plans(client, url)
        searching = [plan for sql, plan in plans if "LIKE UPPER(" in sql]
        assert searching, url
        for plan in searching:
            assert "unit_name_trgm_idx" in _indexes(plan), json.dumps(plan, indent=1)


def test_kind_filter_reads_in_tree_order_from_its_index(network: Unit, client: Any) -> None:
    plans = _unit_plans(client, "/api/v1/units/?kind=station&page_size=100")
    page = [plan for sql, plan in plans if not sql.startswith("SELECT COUNT(*)")]
    assert page and "unit_kind_tree_idx" in _indexes(page[0])


def test_an_unfiltered_count_above_the_limit_is_the_planner_estimate(network: Unit) -> None:
    class Small(BoundedPaginator):
        count_limit = 100

    total = Unit.objects.count()
    paginator = Small(Unit.objects.order_by("tree_id", "lft"), 60)
    assert paginator.count_is_exact is False
    assert total / 2 < paginator.count < total * 2
    last = paginator.page(total // 60 + 1)  # the rows, not the estimate, end the list
    assert len(last.object_list) == total % 60 and not last.has_next()
    exact = Small(Unit.objects.filter(tree_id=1), 60)
    assert (exact.count, exact.count_is_exact) == (PER_COUNTY, True)


def test_near_me_reads_a_box_of_places_from_the_location_index(network: Unit, client: Any) -> None:
    # Spread the stations and points over a province-sized area (about 5° × 5°).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE practice_unit SET latitude = 23 + (id % 997) / 200.0,"
            " longitude = 115 + (id % 991) / 200.0 WHERE kind IN ('station', 'point')"
        )
        cursor.execute("ANALYZE practice_unit")
    plans = _unit_plans(client, "/find/?lat=24.500&lon=117.500")
    nearest = [plan for sql, plan in plans if "latitude" in sql and "BETWEEN" in sql]
    assert nearest, [sql for sql, _plan in plans]
    for plan in nearest:
        assert "unit_location_idx" in _indexes(plan), json.dumps(plan, indent=1)
        assert not _unbounded_scans(plan)
