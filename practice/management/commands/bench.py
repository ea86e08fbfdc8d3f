"""``manage.py bench``: how the practice tree's costs grow with its size, from one run.

Everything happens in a throwaway test database (``test_<name>`` on PostgreSQL, a file in
a temporary directory on SQLite) that is created here and destroyed at the end; the
developer's own database and its demo are never read or written.

What is measured (median of ``--repeat`` runs; the query count comes from one extra,
untimed warm-up run under ``CaptureQueriesContext``):

1. ``services.unit_create`` of a station at the START of a tree (its name sorts first under
   the first institute, so django-mptt shifts ``lft``/``rght`` of nearly every node) and at
   the END (sorts last under the last institute: only the ancestors move), followed by
   ``services.unit_delete`` of the same station, which closes the gap again;
2. the same in one county (~200 nodes) and in a province (``--counties`` counties of the
   Nanjing shape under one region root: one tree of ~16,000 nodes); and, with both trees
   in the database, a new root whose name sorts first (django-mptt renumbers the
   ``tree_id`` of every tree after it) or last;
3. the public pages and the API list, anonymously, through ``django.test.Client``;
4. a hello-world view through the same client and middleware: the floor of any request;
5. spreadsheet uploads: the worst one — a sheet bomb, a small file whose sheet holds a
   million rows with one cell in the last column — read until it is refused, and a sheet
   of 5,000 units read and planned (``services.unit_import_plan``, nothing written).

Settings are the ones ``manage.py`` runs with, but with ``DEBUG`` off (no query log). On
PostgreSQL the unit table is vacuumed, untimed, before every timed write and analyzed
after every bulk load, so each repetition meets the steady state autovacuum keeps in real
use. On SQLite nothing runs ``ANALYZE`` before the timings, as in the portal today; the
plan of the shifting UPDATE is shown before and after it at the end.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar

import django
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.test.utils import (
    CaptureQueriesContext,
    override_settings,
    setup_databases,
    teardown_databases,
)
from django.urls import path
from django.utils import timezone

from portal import xlsx
from portal.errors import ValidationFailed
from practice import services, spreadsheets
from practice.choices import UnitKind
from practice.demo import county_spec
from practice.models import Unit, User
from practice.tree import NodeSpec

T = TypeVar("T")

COUNTY_NAME = "南靖县新时代文明实践中心"
PROVINCE_NAME = "福建省新时代文明实践（基准测试）"
# Sorts before every station name of the demo (digits precede CJK in every collation the
# portal runs on); where it really lands is checked after each insert.
FIRST_STATION_NAME = "0 基准站"
FIRST_ROOT_NAME = "0 基准区域"
LAST_SUFFIX = " 基准"


def hello_world(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello, world", content_type="text/plain")


# The URLconf of the hello-world ceiling: this module stands in for ROOT_URLCONF while that
# one request is timed, so the view is never part of the project's real URLs.
urlpatterns = [path("hello/", hello_world)]


@dataclass
class Measurement:
    """One operation: its timings (ms), the queries of one run, and what else is known."""

    key: str
    label: str
    samples_ms: list[float] = field(default_factory=list)
    queries: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms) if self.samples_ms else float("nan")

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "median_ms": None if not self.samples_ms else round(self.median_ms, 3),
            "min_ms": None if not self.samples_ms else round(min(self.samples_ms), 3),
            "max_ms": None if not self.samples_ms else round(max(self.samples_ms), 3),
            "samples_ms": [round(s, 3) for s in self.samples_ms],
            "queries": self.queries,
            "error": self.error or None,
            **self.info,
        }


@dataclass
class Ratio:
    label: str
    numerator: str
    denominator: str


# The ratios the issue asks for, by measurement keys (missing ones are reported as such).
RATIOS: list[Ratio] = [
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
    Ratio("/ (home), province ÷ county", "province.page.home", "county.page.home"),
    Ratio("/units/, province ÷ county", "province.page.tree", "county.page.tree"),
    Ratio(
        "/units/?within=root, province ÷ county",
        "province.page.tree_within_root",
        "county.page.tree_within_root",
    ),
    Ratio(
        "/units/?within=county, county in province ÷ alone",
        "province.page.tree_within_county",
        "county.page.tree_within_root",
    ),
    Ratio(
        "/units/<county>/, county in province ÷ alone",
        "province.page.detail_county",
        "county.page.detail_county",
    ),
    Ratio("API list, province ÷ county", "province.api.list", "county.api.list"),
    Ratio(
        "API ?within=root, province ÷ county",
        "province.api.within_root",
        "county.api.within_root",
    ),
    Ratio(
        "API ?within=county, county in province ÷ alone",
        "province.api.within_county",
        "county.api.within_root",
    ),
    Ratio("/units/ at county size ÷ hello world", "county.page.tree", "hello"),
    Ratio("/units/ at province size ÷ hello world", "province.page.tree", "hello"),
    Ratio("API list at county size ÷ hello world", "county.api.list", "hello"),
    Ratio("API list at province size ÷ hello world", "province.api.list", "hello"),
]


class Bench:
    """Runs the measurements against the (test) database ``connection`` points at."""

    def __init__(self, *, repeat: int, counties: int, write: Callable[[str], None]) -> None:
        self.repeat = repeat
        self.counties = counties
        self.write = write
        self.results: dict[str, Measurement] = {}
        self.sizes: dict[str, int] = {}
        self.builds: dict[str, float] = {}
        self.explain: dict[str, str] = {}
        # position → (institute, station name) of the province's station inserts.
        self.shift_cases: dict[str, tuple[Unit, str]] = {}
        self.client = Client()
        self.county: Unit | None = None
        self.actor = User.objects.create_superuser(username="bench", email="", password=None)

    # --- measuring -----------------------------------------------------------------------

    def _timed(self, run: Callable[[], T]) -> tuple[float, T]:
        start = time.perf_counter()
        value = run()
        return (time.perf_counter() - start) * 1000, value

    def _captured(self, run: Callable[[], T]) -> tuple[int, list[str], T]:
        with CaptureQueriesContext(connection) as ctx:
            value = run()
        return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries], value

    def _store(self, measurement: Measurement) -> None:
        self.results[measurement.key] = measurement
        if measurement.error:
            self.write(f"  {measurement.label}: ERROR {measurement.error}")
        else:
            self.write(
                f"  {measurement.label}: {measurement.median_ms:.2f} ms, "
                f"{measurement.queries} queries"
            )

    def insert_and_delete(self, scope: str, position: str, parent: Unit | None, name: str) -> None:
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
            return services.unit_create(actor=self.actor, parent=parent, name=name, kind=kind)

        def remove(unit: Unit) -> Callable[[], None]:
            return lambda: services.unit_delete(actor=self.actor, unit=unit)

        # Warm-up run, untimed: the queries, where the node landed and how many rows moved.
        self._settle()
        insert.queries, _sql, unit = self._captured(create)
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
            self.write(f"  warning: “{name}” did not land at the {position}")
        self._settle()
        delete.queries, _sql, _none = self._captured(remove(unit))
        for _ in range(self.repeat):
            self._settle()
            elapsed, unit = self._timed(create)
            insert.samples_ms.append(elapsed)
            self._settle()
            elapsed, _none = self._timed(remove(unit))
            delete.samples_ms.append(elapsed)
        insert.info["detail"] = f"{shifted} {of} shifted"
        delete.info["detail"] = f"{shifted} {of} shifted back" if parent is not None else ""
        self._store(insert)
        self._store(delete)

    def get(self, key: str, label: str, url: str) -> None:
        """Time an anonymous GET of ``url`` through the test client (full middleware stack)."""
        measurement = Measurement(key, label, info={"url": url})
        try:
            measurement.queries, _sql, response = self._captured(lambda: self.client.get(url))
        except Exception as exc:  # reported in the table; the bench goes on
            measurement.error = f"{type(exc).__name__}: {exc}"[:200]
            self._store(measurement)
            return
        if response.status_code != 200:
            measurement.error = f"HTTP {response.status_code}"
            self._store(measurement)
            return
        measurement.info["bytes"] = len(response.content)
        measurement.info["detail"] = f"{len(response.content) / 1024:.0f} KB"
        for _ in range(self.repeat):
            elapsed, _response = self._timed(lambda: self.client.get(url))
            measurement.samples_ms.append(elapsed)
        self._store(measurement)

    # --- building ------------------------------------------------------------------------

    def _import(self, parent: Unit | None, name: str, code: str, seed: int) -> Unit:
        spec = NodeSpec.from_mapping(county_spec(name=name, code=code, seed=seed))
        return services.unit_import_tree(actor=self.actor, parent=parent, spec=spec)[0]

    def _settle(self, *, analyze: bool = False) -> None:
        """On PostgreSQL, reclaim the dead row versions that tree shifts leave behind.

        An insert at the start of the province rewrites ~16,000 rows (and its delete as
        many again); back to back, the repetitions would measure a table bloating faster
        than autovacuum lets a real one bloat, and the reads after them would pay for it.
        ``analyze`` also refreshes the planner's statistics, as autovacuum does shortly
        after a bulk load; without it the plans depend on when autovacuum last ran.
        """
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                verb = "VACUUM ANALYZE" if analyze else "VACUUM"
                cursor.execute(f"{verb} {Unit._meta.db_table}")

    def _edges(self, root: Unit) -> tuple[Unit, Unit]:
        """The first institute of the tree's first county and the last of its last one."""
        institutes = Unit.objects.within(root).filter(kind=UnitKind.INSTITUTE)
        first = institutes.order_by("lft").first()
        last = institutes.order_by("-lft").first()
        if first is None or last is None:
            raise CommandError("The bench tree has no institutes.")
        return first, last

    def _last_name(self, parent: Unit | None) -> str:
        names = Unit.objects.filter(parent=parent).order_by("-name")
        return (names.values_list("name", flat=True).first() or "") + LAST_SUFFIX

    def _requests(self, scope: str, root: Unit, county: Unit) -> None:
        self.get(f"{scope}.page.home", f"GET / ({scope})", "/")
        self.get(f"{scope}.page.tree", f"GET /units/ ({scope})", "/units/")
        self.get(
            f"{scope}.page.tree_within_root",
            f"GET /units/?within=root ({scope})",
            f"/units/?within={root.pk}",
        )
        if county.pk != root.pk:
            self.get(
                f"{scope}.page.tree_within_county",
                f"GET /units/?within=county ({scope})",
                f"/units/?within={county.pk}",
            )
        self.get(
            f"{scope}.page.detail_county",
            f"GET /units/<county>/ ({scope})",
            f"/units/{county.pk}/",
        )
        self.get(
            f"{scope}.api.list", f"API list page_size=200 ({scope})", "/api/v1/units/?page_size=200"
        )
        self.get(
            f"{scope}.api.within_root",
            f"API ?within=root ({scope})",
            f"/api/v1/units/?page_size=200&within={root.pk}",
        )
        if county.pk != root.pk:
            self.get(
                f"{scope}.api.within_county",
                f"API ?within=county ({scope})",
                f"/api/v1/units/?page_size=200&within={county.pk}",
            )

    def run_county(self) -> None:
        self.write("County: one Nanjing-shaped county as its own tree")
        elapsed, county = self._timed(lambda: self._import(None, COUNTY_NAME, "350627", 350627))
        self.county = county
        self.builds["county"] = elapsed
        self.sizes["county"] = Unit.objects.filter(tree_id=county.tree_id).count()
        self.write(f"  built {self.sizes['county']} units in {elapsed:.0f} ms")
        self._settle(analyze=True)
        first, last = self._edges(county)
        self.insert_and_delete("county", "start", first, FIRST_STATION_NAME)
        self.insert_and_delete("county", "end", last, self._last_name(last))
        self._settle(analyze=True)
        self._requests("county", county, county)

    def run_province(self) -> None:
        self.write(f"Province: {self.counties} counties under one region root, one tree")
        start = time.perf_counter()
        region = services.unit_create(
            actor=self.actor, parent=None, name=PROVINCE_NAME, kind=UnitKind.REGION
        )
        counties = [
            # Zero-padded names: each import sorts after the previous one (appended).
            self._import(region, f"第{i:03d}县新时代文明实践中心", f"{351000 + i:06d}", 1000 + i)
            for i in range(1, self.counties + 1)
        ]
        self.builds["province"] = (time.perf_counter() - start) * 1000
        region.refresh_from_db()
        self.sizes["province"] = Unit.objects.filter(tree_id=region.tree_id).count()
        self.sizes["database"] = Unit.objects.count()
        self.write(
            f"  built {self.sizes['province']} units in {self.builds['province']:.0f} ms "
            f"({self.sizes['database']} units in the database)"
        )
        self._settle(analyze=True)
        first, last = self._edges(region)
        self.insert_and_delete("province", "start", first, FIRST_STATION_NAME)
        self.insert_and_delete("province", "end", last, self._last_name(last))
        # A new root: before every other tree in name order, and after them.
        self.insert_and_delete("province", "start", None, FIRST_ROOT_NAME)
        self.insert_and_delete("province", "end", None, self._last_name(None))
        self._settle(analyze=True)
        middle = counties[len(counties) // 2]
        self._requests("province", region, middle)

    def run_hello(self) -> None:
        self.write("Ceiling: a hello-world view through the same client and middleware")
        with override_settings(ROOT_URLCONF=__name__):
            self.get("hello", "GET hello world", "/hello/")

    def run_imports(self, county: Unit) -> None:
        """Time the worst upload (refused) and a full sheet of units (read and planned)."""
        self.write("Uploads: the sheet bomb, and a sheet of 5,000 units")
        bomb = _sheet_bomb(SHEET_BOMB_ROWS)
        bomb_read = Measurement(
            "upload.sheet_bomb",
            f"read a sheet bomb ({SHEET_BOMB_ROWS:,} rows, {len(bomb) // 1024} KB)",
        )
        for _ in range(self.repeat):
            elapsed, message = self._timed(lambda: _refusal(bomb))
            bomb_read.samples_ms.append(elapsed)
        bomb_read.info["detail"] = message[:60]
        self._store(bomb_read)

        county.refresh_from_db()  # new roots sorting first have renumbered the trees
        institute = Unit.objects.within(county).filter(kind=UnitKind.INSTITUTE).first()
        if institute is None:
            raise CommandError("The bench county has no institutes.")
        header = [str(column.label) for column in spreadsheets.COLUMNS]
        rows = [
            [
                {"name": f"基准导入站{i:05d}", "kind": "station"}.get(c.key)
                for c in spreadsheets.COLUMNS
            ]
            for i in range(spreadsheets.MAX_ROWS)
        ]
        sheet = xlsx.write_workbook(title="bench", headers=header, rows=rows)
        full = Measurement(
            "upload.units_5000",
            f"read and plan {spreadsheets.MAX_ROWS:,} units ({len(sheet) // 1024} KB)",
        )

        def read_and_plan() -> int:
            parsed = spreadsheets.read_rows(BytesIO(sheet))
            plan = services.unit_import_plan(actor=self.actor, parent=institute, rows=parsed)
            return len(plan.created)

        full.queries, _sql, created = self._captured(read_and_plan)
        for _ in range(min(self.repeat, 3)):
            elapsed, created = self._timed(read_and_plan)
            full.samples_ms.append(elapsed)
        full.info["detail"] = f"{created} to create"
        self._store(full)

    def _plan(self, sql: str) -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return [str(row[-1]) for row in cursor.fetchall()]

    def _statement_ms(self, sql: str) -> float:
        """Median time of ``sql`` alone, each run rolled back (the tree is left as it was)."""
        samples = []
        for _ in range(self.repeat):
            with transaction.atomic(), connection.cursor() as cursor:
                elapsed, _none = self._timed(lambda: cursor.execute(sql))
                transaction.set_rollback(True)
            samples.append(elapsed)
        return statistics.median(samples)

    def _shift_sql(self, parent: Unit, name: str) -> str | None:
        """mptt's shifting UPDATE for a station ``name`` under ``parent``, as it would run
        now (tree ids may have been renumbered since): the insert is rolled back."""
        with transaction.atomic():
            _count, sql, _unit = self._captured(
                lambda: services.unit_create(
                    actor=self.actor, parent=parent, name=name, kind=UnitKind.STATION
                )
            )
            transaction.set_rollback(True)
        shifts = [s for s in sql if s.lstrip().upper().startswith("UPDATE") and "CASE" in s]
        return shifts[0] if shifts else None

    def run_explain(self) -> None:
        """The plan of mptt's shifting UPDATE in the province tree. Runs last: on SQLite it
        ends with ``ANALYZE``, which changes the plans of everything after it."""
        statements: list[tuple[str, str]] = []
        for position in ("end", "start"):
            if position in self.shift_cases:
                sql = self._shift_sql(*self.shift_cases[position])
                if sql is not None:
                    statements.append((position, sql))
        for position, sql in statements:
            lines = [" ".join(sql.split()), ""]
            if connection.vendor == "postgresql":
                lines += self._plan("EXPLAIN " + sql)
                # Actual rows and buffers too: run it, then roll the change back.
                with transaction.atomic():
                    actual = self._plan("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    transaction.set_rollback(True)
                lines += ["", "EXPLAIN (ANALYZE, BUFFERS), rolled back:", *actual]
            elif connection.vendor == "sqlite":
                lines += self._plan("EXPLAIN QUERY PLAN " + sql)
                lines.append(f"the UPDATE alone: {self._statement_ms(sql):.3f} ms (median)")
            self.explain[f"insert at {position}"] = "\n".join(lines)
        if connection.vendor != "sqlite" or not statements:
            return
        # SQLite plans without statistics unless ANALYZE (or PRAGMA optimize) has run; the
        # timings above are as the portal runs today, this shows what statistics change.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        for position, sql in statements:
            lines = self._plan("EXPLAIN QUERY PLAN " + sql)
            lines.append(f"the UPDATE alone: {self._statement_ms(sql):.3f} ms (median)")
            self.explain[f"insert at {position}, after ANALYZE"] = "\n".join(lines)

    # --- reporting -----------------------------------------------------------------------

    def ratio(self, item: Ratio) -> float | None:
        top, bottom = self.results.get(item.numerator), self.results.get(item.denominator)
        if not top or not bottom or not top.samples_ms or not bottom.samples_ms:
            return None
        return top.median_ms / bottom.median_ms

    def table(self) -> list[str]:
        width = max(len(m.label) for m in self.results.values())
        header = (
            f"{'operation':<{width}}  {'median ms':>10}  {'min–max ms':>17}  {'queries':>7}  notes"
        )
        lines = [header, "-" * len(header)]
        for m in self.results.values():
            if m.error:
                lines.append(f"{m.label:<{width}}  {'—':>10}  {'':>17}  {m.queries:>7}  {m.error}")
                continue
            spread = f"{min(m.samples_ms):.2f}–{max(m.samples_ms):.2f}"
            lines.append(
                f"{m.label:<{width}}  {m.median_ms:>10.2f}  {spread:>17}  {m.queries:>7}  "
                f"{m.info.get('detail', '')}"
            )
        lines.append("")
        width = max(len(r.label) for r in RATIOS)
        lines.append(f"{'ratio (of medians)':<{width}}  value")
        lines.append("-" * (width + 9))
        for item in RATIOS:
            value = self.ratio(item)
            shown = f"{value:.2f}×" if value is not None else "n/a"
            lines.append(f"{item.label:<{width}}  {shown}")
        return lines

    def as_json(self, meta: dict[str, Any]) -> dict[str, Any]:
        ratios = {}
        for item in RATIOS:
            value = self.ratio(item)
            ratios[item.label] = None if value is None else round(value, 3)
        return {
            "meta": meta,
            "tree_sizes": self.sizes,
            "build_ms": {k: round(v, 1) for k, v in self.builds.items()},
            "measurements": {k: m.as_json() for k, m in self.results.items()},
            "ratios": ratios,
            "explain": self.explain,
        }


SHEET_BOMB_ROWS = 1_000_000


def _sheet_bomb(rows: int) -> bytes:
    """A header and ``rows`` rows with one cell each in column XFD: ~35 MB of sheet XML
    in a zip of ~100 KB (the shape of the upload that once took ~20 CPU-minutes)."""
    out = BytesIO()
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rels}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{ns}" xmlns:r="{rels}"><sheets>'
            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rels}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            part.write(f'<worksheet xmlns="{ns}"><sheetData>'.encode())
            part.write(
                b'<row><c t="inlineStr"><is><t>Name</t></is></c>'
                b'<c t="inlineStr"><is><t>Kind</t></is></c></row>'
            )
            block = b'<row><c r="XFD1"><v>1</v></c></row>' * 10_000
            for _ in range(rows // 10_000):
                part.write(block)
            part.write(b"</sheetData></worksheet>")
    return out.getvalue()


def _refusal(content: bytes) -> str:
    try:
        spreadsheets.read_rows(BytesIO(content))
    except ValidationFailed as exc:
        return str(exc.message)
    raise CommandError("The sheet bomb was read whole.")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _database_version() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    return connection.vendor


@contextmanager
def throwaway_database(write: Callable[[str], None]) -> Iterator[str]:
    """Create the test database, point ``connection`` at it, destroy it afterwards."""
    real_name = str(connection.settings_dict["NAME"])
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as workdir:
        if connection.vendor == "sqlite":
            # A file, as in real use (an in-memory database would flatter the writes).
            connection.settings_dict["TEST"]["NAME"] = os.path.join(workdir, "bench.sqlite3")
        old_config = setup_databases(
            verbosity=0, interactive=False, aliases={"default": False}, serialized_aliases=set()
        )
        try:
            test_name = str(connection.settings_dict["NAME"])
            if test_name == real_name:
                raise CommandError("Refusing to run: the test database is the real one.")
            write(f"Throwaway database: {test_name}")
            yield test_name
        finally:
            teardown_databases(old_config, verbosity=0)


class Command(BaseCommand):
    help = (
        "Benchmark tree inserts, the tree page and the units API at county and province "
        "size, in a throwaway test database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--repeat", type=int, default=7, help="timed runs per operation (median shown)"
        )
        parser.add_argument(
            "--counties", type=int, default=80, help="counties in the province tree"
        )
        parser.add_argument("--json", metavar="PATH", help="also write the raw figures here")

    def handle(self, *args: Any, **options: Any) -> None:
        repeat, counties = options["repeat"], options["counties"]
        if repeat < 1 or counties < 1:
            raise CommandError("--repeat and --counties must be at least 1.")
        started = time.perf_counter()
        # Production-like: no DEBUG query log or debug pages; the test client's host allowed.
        with (
            override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]),
            throwaway_database(self.stdout.write) as database,
        ):
            meta: dict[str, Any] = {
                "date": timezone.localtime().isoformat(timespec="seconds"),
                "database": _database_version(),
                "database_name": database,
                "python": platform.python_version(),
                "django": django.get_version(),
                "platform": platform.platform(),
                "cpu": _cpu_model(),
                "cpus": os.cpu_count(),
                "repeat": repeat,
                "counties": counties,
                "command": " ".join(["manage.py", *sys.argv[1:]]),
            }
            bench = Bench(repeat=repeat, counties=counties, write=self.stdout.write)
            gc.collect()
            bench.run_county()
            bench.run_province()
            bench.run_hello()
            bench.run_explain()
            if bench.county is not None:
                bench.run_imports(bench.county)
        meta["total_seconds"] = round(time.perf_counter() - started, 1)
        self.stdout.write("")
        self.stdout.write(
            f"{meta['database']} · Python {meta['python']} · Django {meta['django']} · "
            f"{meta['cpus']} CPUs ({meta['cpu']}) · {meta['date']}"
        )
        self.stdout.write(
            f"Trees: county {bench.sizes.get('county')} units, province "
            f"{bench.sizes.get('province')} units ({counties} counties); "
            f"median of {repeat} runs; queries from one warm-up run."
        )
        self.stdout.write("")
        for line in bench.table():
            self.stdout.write(line)
        for case, text in bench.explain.items():
            self.stdout.write("")
            self.stdout.write(f"Plan of the shifting UPDATE in the province tree, {case}:")
            for line in text.splitlines():
                self.stdout.write(f"  {line}")
        self.stdout.write("")
        self.stdout.write(f"Total {meta['total_seconds']} s; the throwaway database is gone.")
        if options.get("json"):
            target = Path(options["json"])
            target.write_text(json.dumps(bench.as_json(meta), ensure_ascii=False, indent=2) + "\n")
            self.stdout.write(f"Raw figures: {target}")
