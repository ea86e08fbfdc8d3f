"""Concurrent writers on one tree, on PostgreSQL: the advisory lock keeps lft/rght sound.

django-mptt inserts a node with a read (where does it go?) followed by a shifting
``UPDATE ... SET lft = lft + 2 ...``. Two unlocked writers can read the same gap and
corrupt the nested set; ``practice.tree.lock_trees`` serializes them per tree with
``pg_advisory_xact_lock``. SQLite serializes writers itself, so these tests only run on
PostgreSQL (``DATABASE_URL=postgres://...``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from practice import services, tree
from practice.choices import UnitKind
from practice.models import Unit, User
from tests.factories import PASSWORD

pytestmark = pytest.mark.postgres

THREADS = 8
PER_THREAD = 6
INSTITUTES = ("一镇所", "二镇所", "三镇所")
TIMEOUT = 60.0


@pytest.fixture(autouse=True)
def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL (DATABASE_URL); the database is {connection.vendor}")


@pytest.fixture
def county(transactional_db: Any) -> tuple[User, Unit, list[Unit]]:
    """A superuser, a centre and three institutes, created (and committed) via services."""
    superuser = User.objects.create_superuser(username="root", password=PASSWORD)
    centre = services.unit_create(
        actor=superuser, parent=None, name="并发县中心", kind=UnitKind.CENTRE
    )
    institutes = [
        services.unit_create(actor=superuser, parent=centre, name=name, kind=UnitKind.INSTITUTE)
        for name in INSTITUTES
    ]
    return superuser, centre, institutes


def run_threads(workers: list[Callable[[], None]]) -> list[BaseException]:
    """Start ``workers`` together (a barrier), wait for all; return what they raised."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def wrap(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                barrier.wait(timeout=TIMEOUT)
                work()
            except BaseException as exc:  # reported by the test, not lost in the thread
                errors.append(exc)
            finally:
                connection.close()  # this thread's own connection

        return run

    threads = [threading.Thread(target=wrap(w), daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still running after {TIMEOUT}s (deadlock?): {stuck}"
    return errors


def test_concurrent_station_inserts_keep_the_tree_sound(
    county: tuple[User, Unit, list[Unit]],
) -> None:
    superuser, centre, institutes = county
    # Names in shuffled order, dealt round-robin: every thread inserts at the left, middle
    # and right of its siblings, so the mptt shifts of different threads overlap.
    names = [f"{n:03d}村站" for n in range(THREADS * PER_THREAD)]
    random.Random(20240501).shuffle(names)
    jobs: list[list[tuple[Unit, str]]] = [[] for _ in range(THREADS)]
    for i, name in enumerate(names):
        jobs[i % THREADS].append((institutes[i % len(institutes)], name))

    def inserter(job: list[tuple[Unit, str]]) -> Callable[[], None]:
        def work() -> None:
            for institute, name in job:
                services.unit_create(
                    actor=superuser, parent=institute, name=name, kind=UnitKind.STATION
                )

        return work

    errors = run_threads([inserter(job) for job in jobs])

    assert errors == []
    assert tree.tree_problems(centre.tree_id) == []
    expected = 1 + len(INSTITUTES) + THREADS * PER_THREAD
    assert Unit.objects.filter(tree_id=centre.tree_id).count() == expected
    assert Unit.objects.count() == expected
    centre.refresh_from_db()
    assert centre.descendant_total == expected - 1
    for institute in institutes:
        stations = list(
            Unit.objects.filter(parent=institute).order_by("lft").values_list("name", flat=True)
        )
        assert len(stations) == len(names[institutes.index(institute) :: len(institutes)])
        assert stations == sorted(stations), "siblings are kept in name order"


def test_lock_trees_takes_a_transaction_level_advisory_lock(transactional_db: Any) -> None:
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        tree.lock_trees(7, 3, 7)
    sql = [q["sql"] for q in ctx.captured_queries if "pg_advisory_xact_lock" in q["sql"]]
    # First the forest lock, shared (tree ids cannot be renumbered meanwhile) ...
    assert sql[0] == "SELECT pg_advisory_xact_lock_shared(20562, 0)"
    locks = sql[1:]
    assert len(locks) == 2, "one lock per distinct tree"
    # ... then sorted tree ids: two writers locking the same trees can never deadlock.
    assert locks[0].rstrip(")").endswith(", 3")
    assert locks[1].rstrip(")").endswith(", 7")


def test_lock_trees_refuses_to_run_outside_a_transaction(transactional_db: Any) -> None:
    with pytest.raises(RuntimeError, match="atomic"):
        tree.lock_trees(1)


def test_unit_create_locks_the_parents_tree(county: tuple[User, Unit, list[Unit]]) -> None:
    superuser, centre, institutes = county
    with CaptureQueriesContext(connection) as ctx:
        services.unit_create(
            actor=superuser, parent=institutes[0], name="锁村站", kind=UnitKind.STATION
        )
    sql = [q["sql"] for q in ctx.captured_queries]
    locks = [i for i, s in enumerate(sql) if "pg_advisory_xact_lock(" in s]
    assert locks, "unit_create must lock the tree"
    assert sql[locks[0]].rstrip(")").endswith(f", {centre.tree_id}")
    shifts = [i for i, s in enumerate(sql) if s.lstrip().startswith("UPDATE") and "rght" in s]
    assert shifts, "mptt shifts lft/rght to make room"
    assert locks[0] < shifts[0], "the lock is taken before mptt shifts lft/rght"


def test_a_writer_waits_while_another_transaction_holds_the_tree_lock(
    county: tuple[User, Unit, list[Unit]],
) -> None:
    """Deterministic: while one transaction holds the lock, a write to that tree blocks,
    and a write to another tree does not."""
    superuser, centre, institutes = county
    other = services.unit_create(
        actor=superuser, parent=None, name="另一县中心", kind=UnitKind.CENTRE
    )
    # Roots are kept in name order too: "另" sorts before "并", so creating ``other`` gave
    # it tree_id 1 and renumbered the first county's tree. Re-read both.
    centre.refresh_from_db()
    institutes[0].refresh_from_db()
    assert centre.tree_id != other.tree_id
    locked = threading.Event()
    release = threading.Event()
    done: dict[str, float] = {}

    def holder() -> None:
        with transaction.atomic():
            tree.lock_trees(centre.tree_id)
            locked.set()
            release.wait(timeout=TIMEOUT)

    def writer(parent: Unit, name: str, kind: str, key: str) -> Callable[[], None]:
        def work() -> None:
            assert locked.wait(timeout=TIMEOUT)
            services.unit_create(actor=superuser, parent=parent, name=name, kind=kind)
            done[key] = time.monotonic()

        return work

    def releaser() -> None:
        assert locked.wait(timeout=TIMEOUT)
        time.sleep(1.0)
        done["released"] = time.monotonic()
        release.set()

    errors = run_threads(
        [
            holder,
            writer(institutes[0], "等待村站", UnitKind.STATION, "same_tree"),
            writer(other, "自由镇所", UnitKind.INSTITUTE, "other_tree"),
            releaser,
        ]
    )

    assert errors == []
    assert done["other_tree"] < done["released"], "another tree's lock is independent"
    assert done["same_tree"] >= done["released"], "the write waited for the lock holder"
    assert tree.tree_problems(centre.tree_id) == []
    assert tree.tree_problems(other.tree_id) == []


def test_creating_top_level_units_while_stations_are_inserted_keeps_trees_sound(
    county: tuple[User, Unit, list[Unit]],
) -> None:
    superuser, _, institutes = county

    def stations(k: int) -> Callable[[], None]:
        def work() -> None:
            for j in range(PER_THREAD):
                services.unit_create(
                    actor=superuser,
                    parent=institutes[(k + j) % len(institutes)],
                    name=f"{k}-{j}村站",
                    kind=UnitKind.STATION,
                )

        return work

    def roots(k: int) -> Callable[[], None]:
        def work() -> None:
            for j in range(PER_THREAD):
                # Digits sort before the CJK names: each new root renumbers the county's tree.
                services.unit_create(
                    actor=superuser, parent=None, name=f"{k}{j}县中心", kind=UnitKind.CENTRE
                )

        return work

    half = THREADS // 2
    errors = run_threads([stations(k) for k in range(half)] + [roots(k) for k in range(half)])

    assert errors == []
    assert Unit.objects.count() == 1 + len(INSTITUTES) + THREADS * PER_THREAD
    tree_ids = set(Unit.objects.values_list("tree_id", flat=True))
    assert len(tree_ids) == 1 + half * PER_THREAD
    assert [p for t in sorted(tree_ids) for p in tree.tree_problems(t)] == []
