"""What every section of the bench shares: the throwaway database, the trees it measures,
timing, and the table it prints.

A section measures one part of the portal. The in-process sections (tree writes, reads,
uploads, and later volunteers, requests, activities) are :class:`Section` subclasses: the
runner builds a lone county, calls :meth:`Section.scope` with it, builds a province (many
counties under one region root, one tree), calls :meth:`Section.scope` again, then
:meth:`Section.finish`. The load section runs the portal in a server and has its own
database (``portal.bench.load``).
"""

from __future__ import annotations

import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import django
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import (
    CaptureQueriesContext,
    override_settings,
    setup_databases,
    teardown_databases,
)
from django.utils import timezone

from practice import services
from practice.choices import UnitKind
from practice.demo import county_spec
from practice.models import Unit, User
from practice.tree import NodeSpec

T = TypeVar("T")

COUNTY_NAME = "南靖县新时代文明实践中心"
PROVINCE_NAME = "福建省新时代文明实践（基准测试）"


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
    """The ratio of two measurements' medians, by key."""

    label: str
    numerator: str
    denominator: str


@dataclass
class Scope:
    """A tree the sections measure: ``root`` is its top, ``county`` a county in it (the
    root itself for a lone county)."""

    name: str
    root: Unit
    county: Unit


class Context:
    """The state of one in-process run: results, sizes, the actor, the client."""

    def __init__(
        self,
        *,
        repeat: int,
        counties: int,
        write: Callable[[str], None],
        volunteers: int = 50_391,
        activities: int = 1_000_000,
    ) -> None:
        self.repeat = repeat
        self.counties = counties
        self.volunteers = volunteers
        self.activities = activities
        self.write = write
        self.results: dict[str, Measurement] = {}
        self.sizes: dict[str, int] = {}
        self.builds: dict[str, float] = {}
        self.explain: dict[str, str] = {}
        self.client = Client()
        self.county: Unit | None = None
        self.actor = User.objects.create_superuser(username="bench", email="", password=None)

    def captured(self, run: Callable[[], T]) -> tuple[int, list[str], T]:
        with CaptureQueriesContext(connection) as ctx:
            value = run()
        return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries], value

    def store(self, measurement: Measurement) -> None:
        self.results[measurement.key] = measurement
        if measurement.error:
            self.write(f"  {measurement.label}: ERROR {measurement.error}")
        else:
            self.write(
                f"  {measurement.label}: {measurement.median_ms:.2f} ms, "
                f"{measurement.queries} queries"
            )


class Section:
    """One part of the in-process bench. Subclasses set ``name``, ``help`` and ``ratios``
    and override what they measure."""

    name: ClassVar[str]
    help: ClassVar[str]
    ratios: ClassVar[list[Ratio]] = []

    def scope(self, ctx: Context, scope: Scope) -> None:
        """Measure ``scope`` (called for the county, then for the province)."""

    def finish(self, ctx: Context) -> None:
        """Measure what needs both trees in the database (called once, at the end)."""


def timed(run: Callable[[], T]) -> tuple[float, T]:
    """``run()`` and the time it took, in milliseconds."""
    start = time.perf_counter()
    value = run()
    return (time.perf_counter() - start) * 1000, value


def settle(*, analyze: bool = False) -> None:
    """On PostgreSQL, reclaim the dead row versions that tree shifts leave behind.

    An insert at the start of the province rewrites ~16,000 rows (and its delete as many
    again); back to back, the repetitions would measure a table bloating faster than
    autovacuum lets a real one bloat, and the reads after them would pay for it.
    ``analyze`` also refreshes the planner's statistics, as autovacuum does shortly after a
    bulk load; without it the plans depend on when autovacuum last ran.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            verb = "VACUUM ANALYZE" if analyze else "VACUUM"
            cursor.execute(f"{verb} {Unit._meta.db_table}")


def import_county(
    actor: User, parent: Unit | None, name: str = COUNTY_NAME, index: int = 0
) -> Unit:
    """A county of the demo's shape (204 units) imported under ``parent`` (``None``: as a
    tree of its own) with ``services.unit_import_tree``, one INSERT per level. ``index`` 0
    is the demo county itself; others get their own codes and made-up villages."""
    code, seed = ("350627", 350627) if index == 0 else (f"{351000 + index:06d}", 1000 + index)
    spec = NodeSpec.from_mapping(county_spec(name=name, code=code, seed=seed))
    return services.unit_import_tree(actor=actor, parent=parent, spec=spec)[0]


def county_name(index: int) -> str:
    """Zero-padded, so that each county sorts after the previous one (and after the demo
    county): every import is appended and no tree is renumbered."""
    return f"第{index:03d}县新时代文明实践中心"


def scopes(ctx: Context) -> Iterator[Scope]:
    """Build the lone county and yield it; then the province, and yield it."""
    ctx.write("County: one Nanjing-shaped county as its own tree")
    elapsed, county = timed(lambda: import_county(ctx.actor, None))
    ctx.county = county
    ctx.builds["county"] = elapsed
    ctx.sizes["county"] = Unit.objects.filter(tree_id=county.tree_id).count()
    ctx.write(f"  built {ctx.sizes['county']} units in {elapsed:.0f} ms")
    settle(analyze=True)
    yield Scope("county", county, county)

    ctx.write(f"Province: {ctx.counties} counties under one region root, one tree")
    start = time.perf_counter()
    region = services.unit_create(
        actor=ctx.actor, parent=None, name=PROVINCE_NAME, kind=UnitKind.REGION
    )
    counties = [
        import_county(ctx.actor, region, county_name(i), i) for i in range(1, ctx.counties + 1)
    ]
    ctx.builds["province"] = (time.perf_counter() - start) * 1000
    region.refresh_from_db()
    ctx.sizes["province"] = Unit.objects.filter(tree_id=region.tree_id).count()
    ctx.sizes["database"] = Unit.objects.count()
    ctx.write(
        f"  built {ctx.sizes['province']} units in {ctx.builds['province']:.0f} ms "
        f"({ctx.sizes['database']} units in the database)"
    )
    settle(analyze=True)
    yield Scope("province", region, counties[len(counties) // 2])


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


@contextmanager
def own_cache_keys() -> Iterator[str]:
    """Give the run's cache keys a prefix of their own, and delete them at the end.

    The services bump the page-cache version on every write; with a Redis shared with a
    real portal, the bench would otherwise invalidate that portal's pages (and, in the
    load section, mix its pages with them)."""
    prefix = f"portal-bench-{secrets.token_hex(4)}"
    configured = {alias: {**c, "KEY_PREFIX": prefix} for alias, c in settings.CACHES.items()}
    try:
        with override_settings(CACHES=configured):
            yield prefix
    finally:
        for config in configured.values():
            if config["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
                _forget_redis_keys(str(config["LOCATION"]), prefix)


def _forget_redis_keys(location: str, prefix: str) -> None:
    import redis

    try:
        for url in location.split(","):
            client = redis.Redis.from_url(url)
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
    except redis.RedisError:
        pass  # Redis went away: the keys are the run's own, and pages expire


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def database_version() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            row = cursor.fetchone()
            return f"PostgreSQL {row[0] if row else '?'}"
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    return connection.vendor


def meta(**extra: Any) -> dict[str, Any]:
    """Where and when the figures were taken (needs the database connection)."""
    return {
        "date": timezone.localtime().isoformat(timespec="seconds"),
        "database": database_version(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "command": " ".join(["manage.py", *sys.argv[1:]]),
        **extra,
    }


def ratio(results: dict[str, Measurement], item: Ratio) -> float | None:
    top, bottom = results.get(item.numerator), results.get(item.denominator)
    if not top or not bottom or not top.samples_ms or not bottom.samples_ms:
        return None
    return top.median_ms / bottom.median_ms


def table(results: dict[str, Measurement], ratios: list[Ratio]) -> list[str]:
    """The measurements (median, min–max, queries, notes), then the ratios."""
    lines: list[str] = []
    if results:
        width = max(len(m.label) for m in results.values())
        header = (
            f"{'operation':<{width}}  {'median ms':>10}  {'min–max ms':>17}  {'queries':>7}  notes"
        )
        lines += [header, "-" * len(header)]
        for m in results.values():
            if m.error:
                lines.append(f"{m.label:<{width}}  {'—':>10}  {'':>17}  {m.queries:>7}  {m.error}")
                continue
            spread = f"{min(m.samples_ms):.2f}–{max(m.samples_ms):.2f}"
            lines.append(
                f"{m.label:<{width}}  {m.median_ms:>10.2f}  {spread:>17}  {m.queries:>7}  "
                f"{m.info.get('detail', '')}"
            )
    if ratios:
        lines.append("")
        width = max(len(r.label) for r in ratios)
        lines.append(f"{'ratio (of medians)':<{width}}  value")
        lines.append("-" * (width + 9))
        for item in ratios:
            value = ratio(results, item)
            shown = f"{value:.2f}×" if value is not None else "n/a"
            lines.append(f"{item.label:<{width}}  {shown}")
    return lines


def as_json(ctx: Context, ratios: list[Ratio]) -> dict[str, Any]:
    values = {}
    for item in ratios:
        value = ratio(ctx.results, item)
        values[item.label] = None if value is None else round(value, 3)
    return {
        "tree_sizes": ctx.sizes,
        "build_ms": {k: round(v, 1) for k, v in ctx.builds.items()},
        "measurements": {k: m.as_json() for k, m in ctx.results.items()},
        "ratios": values,
        "explain": ctx.explain,
    }


def measure_get(ctx: Context, client: Client, key: str, label: str, url: str) -> None:
    """``GET url`` with ``client``: its queries once, then ``ctx.repeat`` timed runs."""
    measurement = Measurement(key, label)
    queries, _sql, response = ctx.captured(lambda: client.get(url))
    if response.status_code != 200:
        measurement.error = f"HTTP {response.status_code}"
        ctx.store(measurement)
        return
    measurement.queries = queries
    measurement.info["bytes"] = len(response.content)
    for _ in range(ctx.repeat):
        elapsed, _response = timed(lambda: client.get(url))
        measurement.samples_ms.append(elapsed)
    ctx.store(measurement)
