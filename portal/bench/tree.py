"""Tree writes: ``services.unit_create`` and ``unit_delete`` at the start and at the end of
a tree, in a county and in a province, new roots first and last in name order, and the
plan of django-mptt's shifting UPDATE."""

from __future__ import annotations

import statistics
from collections.abc import Callable

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Q

from practice import services
from practice.choices import UnitKind
from practice.models import Unit

from .common import Context, Measurement, Ratio, Scope, Section, settle, timed

# Sorts before every station name of the demo (digits precede CJK in every collation the
# portal runs on); where it really lands is checked after each insert.
FIRST_STATION_NAME = "0 基准站"
FIRST_ROOT_NAME = "0 基准区域"
LAST_SUFFIX = " 基准"


class TreeWrites(Section):
    name = "tree"
    help = "unit_create/unit_delete at the start and end of a county and of a province"
    ratios = [
        Ratio(
            "insert at start ÷ end, county",
            "county.insert_station.start",
            "county.insert_station.end",
        ),
        Ratio(
            "insert at start ÷ end, province",
            "province.insert_station.start",
            "province.insert_station.end",
        ),
        Ratio(
            "insert at start, province ÷ county",
            "province.insert_station.start",
            "county.insert_station.start",
        ),
        Ratio(
            "insert at end, province ÷ county",
            "province.insert_station.end",
            "county.insert_station.end",
        ),
        Ratio(
            "delete at start ÷ end, province",
            "province.delete_station.start",
            "province.delete_station.end",
        ),
        Ratio(
            "new root first ÷ last in name order",
            "province.insert_root.start",
            "province.insert_root.end",
        ),
    ]

    def __init__(self) -> None:
        # position → (institute, station name) of the province's station inserts.
        self.shift_cases: dict[str, tuple[Unit, str]] = {}

    def scope(self, ctx: Context, scope: Scope) -> None:
        first, last = _edges(scope.root)
        self.insert_and_delete(ctx, scope.name, "start", first, FIRST_STATION_NAME)
        self.insert_and_delete(ctx, scope.name, "end", last, _last_name(last))
        if scope.name == "province":
            # A new root: before every other tree in name order, and after them.
            self.insert_and_delete(ctx, scope.name, "start", None, FIRST_ROOT_NAME)
            self.insert_and_delete(ctx, scope.name, "end", None, _last_name(None))

    def finish(self, ctx: Context) -> None:
        self.run_explain(ctx)

    def insert_and_delete(
        self, ctx: Context, scope: str, position: str, parent: Unit | None, name: str
    ) -> None:
        """Time ``unit_create`` of a station under ``parent`` (``None``: of a new region
        root, a tree of its own), then its ``unit_delete``."""
        what = "station" if parent is not None else "root"
        insert = Measurement(
            f"{scope}.insert_{what}.{position}", f"insert {what} at {position} ({scope})"
        )
        delete = Measurement(
            f"{scope}.delete_{what}.{position}", f"delete {what} at {position} ({scope})"
        )
        kind = UnitKind.STATION if parent is not None else UnitKind.REGION

        def create() -> Unit:
            return services.unit_create(actor=ctx.actor, parent=parent, name=name, kind=kind)

        def remove(unit: Unit) -> Callable[[], None]:
            return lambda: services.unit_delete(actor=ctx.actor, unit=unit)

        # Warm-up run, untimed: the queries, where the node landed and how many rows moved.
        settle()
        insert.queries, _sql, unit = ctx.captured(create)
        if scope == "province" and parent is not None:
            self.shift_cases[position] = (parent, name)
        if parent is not None:
            parent.refresh_from_db()
            edge = (
                unit.lft == parent.lft + 1 if position == "start" else unit.rght == parent.rght - 1
            )
            # Rows now right of the new node or enclosing it: exactly the ones shifted.
            moved = Unit.objects.filter(tree_id=unit.tree_id).filter(
                Q(lft__gt=unit.rght) | Q(rght__gt=unit.rght)
            )
            size = Unit.objects.filter(tree_id=unit.tree_id).count() - 1
            of = f"of {size} rows in its tree"
        else:
            others = Unit.objects.filter(parent=None).exclude(pk=unit.pk)
            if position == "start":
                edge = not others.filter(tree_id__lt=unit.tree_id).exists()
            else:
                edge = not others.filter(tree_id__gt=unit.tree_id).exists()
            # django-mptt keeps roots in name order by renumbering the trees after it.
            moved = Unit.objects.filter(tree_id__gt=unit.tree_id)
            size = Unit.objects.count() - 1
            of = f"of {size} rows in the database"
        shifted = moved.count()
        insert.info = {"rows_shifted": shifted, "rows": size, "at_edge": edge}
        delete.info = {"rows_shifted": shifted, "rows": size}
        if not edge:
            ctx.write(f"  warning: “{name}” did not land at the {position}")
        settle()
        delete.queries, _sql, _none = ctx.captured(remove(unit))
        for _ in range(ctx.repeat):
            settle()
            elapsed, unit = timed(create)
            insert.samples_ms.append(elapsed)
            settle()
            elapsed, _none = timed(remove(unit))
            delete.samples_ms.append(elapsed)
        insert.info["detail"] = f"{shifted} {of} shifted"
        delete.info["detail"] = f"{shifted} {of} shifted back" if parent is not None else ""
        ctx.store(insert)
        ctx.store(delete)

    # --- the plan of the shifting UPDATE ----------------------------------------------------

    def _shift_sql(self, ctx: Context, parent: Unit, name: str) -> str | None:
        """mptt's shifting UPDATE for a station ``name`` under ``parent``, as it would run
        now (tree ids may have been renumbered since): the insert is rolled back."""
        with transaction.atomic():
            _count, sql, _unit = ctx.captured(
                lambda: services.unit_create(
                    actor=ctx.actor, parent=parent, name=name, kind=UnitKind.STATION
                )
            )
            transaction.set_rollback(True)
        shifts = [s for s in sql if s.lstrip().upper().startswith("UPDATE") and "CASE" in s]
        return shifts[0] if shifts else None

    def run_explain(self, ctx: Context) -> None:
        """The plan of mptt's shifting UPDATE in the province tree. Runs last among the
        tree measurements: on SQLite it ends with ``ANALYZE``, which changes the plans of
        everything after it."""
        statements: list[tuple[str, str]] = []
        for position in ("end", "start"):
            if position in self.shift_cases:
                sql = self._shift_sql(ctx, *self.shift_cases[position])
                if sql is not None:
                    statements.append((position, sql))
        for position, sql in statements:
            lines = [" ".join(sql.split()), ""]
            if connection.vendor == "postgresql":
                lines += _plan("EXPLAIN " + sql)
                # Actual rows and buffers too: run it, then roll the change back.
                with transaction.atomic():
                    actual = _plan("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    transaction.set_rollback(True)
                lines += ["", "EXPLAIN (ANALYZE, BUFFERS), rolled back:", *actual]
            elif connection.vendor == "sqlite":
                lines += _plan("EXPLAIN QUERY PLAN " + sql)
                lines.append(f"the UPDATE alone: {_statement_ms(ctx, sql):.3f} ms (median)")
            ctx.explain[f"insert at {position}"] = "\n".join(lines)
        if connection.vendor != "sqlite" or not statements:
            return
        # SQLite plans without statistics unless ANALYZE (or PRAGMA optimize) has run; the
        # timings above are as the portal runs today, this shows what statistics change.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        for position, sql in statements:
            lines = _plan("EXPLAIN QUERY PLAN " + sql)
            lines.append(f"the UPDATE alone: {_statement_ms(ctx, sql):.3f} ms (median)")
            ctx.explain[f"insert at {position}, after ANALYZE"] = "\n".join(lines)


def _edges(root: Unit) -> tuple[Unit, Unit]:
    """The first institute of the tree's first county and the last of its last one."""
    institutes = Unit.objects.within(root).filter(kind=UnitKind.INSTITUTE)
    first = institutes.order_by("lft").first()
    last = institutes.order_by("-lft").first()
    if first is None or last is None:
        raise CommandError("The bench tree has no institutes.")
    return first, last


def _last_name(parent: Unit | None) -> str:
    names = Unit.objects.filter(parent=parent).order_by("-name")
    return (names.values_list("name", flat=True).first() or "") + LAST_SUFFIX


def _plan(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [str(row[-1]) for row in cursor.fetchall()]


def _statement_ms(ctx: Context, sql: str) -> float:
    """Median time of ``sql`` alone, each run rolled back (the tree is left as it was)."""
    samples = []
    for _ in range(ctx.repeat):
        with transaction.atomic(), connection.cursor() as cursor:
            elapsed, _none = timed(lambda: cursor.execute(sql))
            transaction.set_rollback(True)
        samples.append(elapsed)
    return statistics.median(samples)
