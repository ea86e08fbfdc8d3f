"""Activities at province scale: the province tree (``--counties`` Nanjing-shaped counties)
gets ``--activities`` approved activities (default 1,000,000) spread over its units, the
days of three years and the platforms, each with one volunteer's confirmed service record
(2 hours) — written by three ``INSERT … SELECT`` statements over a generated series, not
through the services. Then ``activities.summary.rebuild()`` (timed), and for the last full
year, for a county in the province and for the province root:

- the statistics dashboard (``unit-statistics``) and the stats API
  (``/api/v1/units/{id}/stats/``), as a coordinator of the province;
- the floor: one hand-written SQL aggregate over the raw activities of the subtree and
  period (count, people served, materials by platform), and the same aggregate over the
  summary table — which must give the same totals (checked and printed).

The ratios say what the pages cost above the floor, and how they grow from county to
province. ``docs/scaling.md`` has the figures."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from practice.choices import Role, UnitKind
from practice.models import Category, RoleAssignment, Unit, User
from volunteers.choices import VolunteerStatus
from volunteers.models import ServiceRecord, Volunteer

from .common import Context, Measurement, Ratio, Scope, Section, measure_get, timed

YEARS = 3  # the activities spread over the three years before this one
HOURS = Decimal("2.00")  # each activity's one service record
# Multipliers that spread consecutive activities over days and platforms (primes: with the
# 1,096 days of three years they give every day in turn).
DAY_STEP = 7919
PLATFORM_STEP = 31
CHUNK = 200_000  # activities per transaction of the seed
UNITS, VOLUNTEERS = "bench_seed_units", "bench_seed_volunteers"  # the seed's temporary tables


class Activities(Section):
    name = "activities"
    help = (
        "1,000,000 approved activities in the province (--activities); summary rebuild; "
        "dashboard and stats API of a county and the province against a SQL floor"
    )
    ratios = [
        Ratio(
            "dashboard ÷ raw SQL floor, county",
            "activities.county.page",
            "activities.county.floor_raw",
        ),
        Ratio(
            "dashboard ÷ raw SQL floor, province",
            "activities.province.page",
            "activities.province.floor_raw",
        ),
        Ratio(
            "stats API ÷ raw SQL floor, county",
            "activities.county.api",
            "activities.county.floor_raw",
        ),
        Ratio(
            "stats API ÷ raw SQL floor, province",
            "activities.province.api",
            "activities.province.floor_raw",
        ),
        Ratio(
            "summary SQL ÷ raw SQL, county",
            "activities.county.floor_summary",
            "activities.county.floor_raw",
        ),
        Ratio(
            "summary SQL ÷ raw SQL, province",
            "activities.province.floor_summary",
            "activities.province.floor_raw",
        ),
        Ratio(
            "dashboard ÷ summary SQL, province",
            "activities.province.page",
            "activities.province.floor_summary",
        ),
        Ratio("dashboard, province ÷ county", "activities.province.page", "activities.county.page"),
        Ratio("stats API, province ÷ county", "activities.province.api", "activities.county.api"),
    ]

    def scope(self, ctx: Context, scope: Scope) -> None:
        if scope.name != "province":
            return  # the lone county has no activities; the county measured is in the province
        root, county = scope.root, scope.county
        root.refresh_from_db()
        county.refresh_from_db()
        ctx.write(f"Activities: {ctx.activities:,} approved, in the province's units")
        seeded = self._seed(ctx, root)
        _analyze()
        self._rebuild(ctx)
        _analyze()
        year = seeded["first_year"] + YEARS - 1
        date_from, date_to = dt.date(year, 1, 1), dt.date(year, 12, 31)
        coordinator = User.objects.create_user(username="bench-statistics", password=None)
        RoleAssignment.objects.create(user=coordinator, unit=root, role=Role.COORDINATOR)
        client = Client()
        client.force_login(coordinator)
        for name, unit in (("county", county), ("province", root)):
            self._subtree(ctx, client, name, unit, date_from, date_to)

    def _seed(self, ctx: Context, root: Unit) -> dict[str, Any]:
        measurement = Measurement(
            "activities.seed",
            f"seed {ctx.activities:,} activities + records (INSERT … SELECT)",
        )
        elapsed, seeded = timed(lambda: seed_activities(root, ctx.activities, actor=ctx.actor))
        measurement.samples_ms.append(elapsed)
        measurement.info.update(seeded)
        measurement.info["rows_per_second"] = round(ctx.activities / max(elapsed / 1000, 1e-9))
        measurement.info["detail"] = (
            f"{seeded['units']:,} units, {seeded['volunteers']:,} volunteers, "
            f"{seeded['first_year']}–{seeded['first_year'] + YEARS - 1}"
        )
        ctx.store(measurement)
        return seeded

    def _rebuild(self, ctx: Context) -> None:
        from activities import summary

        measurement = Measurement("activities.rebuild", "activities.summary.rebuild()")
        elapsed, _value = timed(summary.rebuild)
        measurement.samples_ms.append(elapsed)
        from activities.models import ActivitySummary

        rows = ActivitySummary.objects.count()
        measurement.info["summary_rows"] = rows
        measurement.info["detail"] = f"{rows:,} summary rows"
        ctx.store(measurement)

    def _subtree(
        self,
        ctx: Context,
        client: Client,
        name: str,
        unit: Unit,
        date_from: dt.date,
        date_to: dt.date,
    ) -> None:
        period = f"from={date_from}&to={date_to}"
        raw = _floor_measurement(
            f"activities.{name}.floor_raw", f"raw SQL aggregate ({name})", unit
        )
        raw_rows = self._floor(ctx, raw, lambda: floor_raw(unit, date_from, date_to))
        summary = _floor_measurement(
            f"activities.{name}.floor_summary", f"summary SQL aggregate ({name})", unit
        )
        summary_rows = self._floor(ctx, summary, lambda: floor_summary(unit, date_from, date_to))
        if connection.vendor == "postgresql":  # where the floors' time goes
            for measurement, build in ((raw, _raw_sql), (summary, _summary_sql)):
                plan = explain(*build(unit, date_from, date_to))
                measurement.info["plan"] = plan
                ctx.write(f"    plan of the {measurement.label}:")
                for line in plan.splitlines():
                    ctx.write(f"      {line}")
        agree = _totals(raw_rows) == _totals(summary_rows)
        summary.info["agrees_with_raw"] = agree
        raw.info["totals"] = list(_totals(raw_rows))
        summary.info["detail"] = "same totals as raw" if agree else "TOTALS DIFFER FROM RAW"
        raw.info["detail"] = f"{_totals(raw_rows)[0]:,} activities in {date_from.year}"
        if not agree:
            ctx.write(
                f"    totals differ: raw {_totals(raw_rows)}, summary {_totals(summary_rows)}"
            )
        self._parts(ctx, name, unit, date_from, date_to)
        try:
            page = reverse("unit-statistics", args=[unit.pk])
        except NoReverseMatch:
            ctx.store(
                Measurement(
                    f"activities.{name}.page",
                    f"GET /units/<{name}>/statistics/",
                    error="no unit-statistics page",
                )
            )
        else:
            measure_get(
                ctx,
                client,
                f"activities.{name}.page",
                f"GET /units/<{name}>/statistics/ ({date_from.year})",
                f"{page}?{period}",
            )
        api = f"/api/v1/units/{unit.pk}/stats/?{period}"
        key = f"activities.{name}.api"
        measure_get(ctx, client, key, f"API /units/<{name}>/stats/ ({date_from.year})", api)
        response = client.get(api)
        if response.status_code == 200:  # the API's figures are the floor's
            figures = response.json()
            given = (figures["activities"], figures["beneficiaries"], figures["materials"])
            agree = given == _totals(raw_rows)
            ctx.results[key].info["agrees_with_floor"] = agree
            ctx.results[key].info["detail"] = (
                "same totals as the floor" if agree else f"TOTALS DIFFER: {given}"
            )

    def _parts(
        self, ctx: Context, name: str, unit: Unit, date_from: dt.date, date_to: dt.date
    ) -> None:
        """Where a dashboard's time goes: each figure function of ``activities.stats`` and
        the requests' figures, timed alone."""
        from activities import stats
        from orders.selectors import request_figures

        period = {"date_from": date_from, "date_to": date_to}
        month = date_to.replace(day=1)
        parts: list[tuple[str, Callable[[], Any]]] = [
            ("activity_figures", lambda: stats.activity_figures(unit, **period)),
            ("participants", lambda: stats.participants(unit, **period)),
            ("silent_children", lambda: stats.silent_children(unit, month=month)),
            ("request_timings", lambda: stats.request_timings(unit, **period)),
            ("request_figures", lambda: request_figures(unit, **period)),
        ]
        for part, run in parts:
            measurement = Measurement(f"activities.{name}.{part}", f"  {part}() ({name})")
            queries, sql, _value = ctx.captured(run)
            measurement.queries = queries
            for _ in range(ctx.repeat):
                elapsed, _value = timed(run)
                measurement.samples_ms.append(elapsed)
            ctx.store(measurement)
            if connection.vendor == "postgresql" and os.environ.get("BENCH_EXPLAIN_PARTS"):
                for statement in sql:  # as run (psycopg2 interpolated the values)
                    for line in explain(statement.replace("%", "%%"), []).splitlines():
                        ctx.write(f"      {line}")

    def _floor(
        self, ctx: Context, measurement: Measurement, run: Callable[[], list[tuple[Any, ...]]]
    ) -> list[tuple[Any, ...]]:
        queries, _sql, rows = ctx.captured(run)
        measurement.queries = queries
        for _ in range(ctx.repeat):
            elapsed, _rows = timed(run)
            measurement.samples_ms.append(elapsed)
        ctx.store(measurement)
        return rows


def _floor_measurement(key: str, label: str, unit: Unit) -> Measurement:
    measurement = Measurement(key, label)
    measurement.info["unit"] = unit.name
    return measurement


def _totals(rows: list[tuple[Any, ...]]) -> tuple[int, int, int]:
    """Activities, people served, materials: the sums over the platforms' rows."""
    return (
        sum(int(r[1] or 0) for r in rows),
        sum(int(r[2] or 0) for r in rows),
        sum(int(r[3] or 0) for r in rows),
    )


def _analyze() -> None:
    """Fresh planner statistics after a bulk load (autovacuum would, a little later)."""
    if connection.vendor != "postgresql":
        return
    from activities.models import Activity, ActivityParticipant, ActivitySummary

    with connection.cursor() as cursor:
        for model in (Activity, ActivityParticipant, ActivitySummary, ServiceRecord, Unit):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _bounds(day_from: dt.date, day_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period's first and last instant (exclusive), local midnights."""
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(day_from, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day_to + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start, end


def floor_raw(unit: Unit, day_from: dt.date, day_to: dt.date) -> list[tuple[Any, ...]]:
    """Count, people served and materials by platform of the approved activities that
    start in the period anywhere in ``unit``'s subtree: one aggregate over the raw rows."""
    return _fetch(*_raw_sql(unit, day_from, day_to))


def floor_summary(unit: Unit, day_from: dt.date, day_to: dt.date) -> list[tuple[Any, ...]]:
    """The same figures (and the hours) from the summary table."""
    return _fetch(*_summary_sql(unit, day_from, day_to))


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def explain(sql: str, params: list[Any]) -> str:
    """PostgreSQL's plan of ``sql`` as it ran (``EXPLAIN (ANALYZE, BUFFERS)``)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(str(row[0]) for row in cursor.fetchall())


def _raw_sql(unit: Unit, day_from: dt.date, day_to: dt.date) -> tuple[str, list[Any]]:
    from activities.models import Activity

    start, end = _bounds(day_from, day_to)
    q = connection.ops.quote_name
    sql = (
        f"SELECT a.category_id, COUNT(*), SUM(a.beneficiaries), SUM(a.materials) "  # noqa: S608
        f"FROM {q(Activity._meta.db_table)} a JOIN {q(Unit._meta.db_table)} u "
        f"ON u.id = a.unit_id "
        f"WHERE u.tree_id = %s AND u.lft >= %s AND u.lft <= %s AND a.status = 'approved' "
        f"AND a.{q('start')} >= %s AND a.{q('start')} < %s "
        f"GROUP BY a.category_id ORDER BY a.category_id"
    )
    params = [unit.tree_id, unit.lft, unit.rght, _db_datetime(start), _db_datetime(end)]
    return sql, params


def _summary_sql(unit: Unit, day_from: dt.date, day_to: dt.date) -> tuple[str, list[Any]]:
    from activities.models import ActivitySummary

    q = connection.ops.quote_name
    sql = (
        f"SELECT s.category_id, SUM(s.activities), SUM(s.beneficiaries), SUM(s.materials), "  # noqa: S608
        f"SUM(s.volunteer_hours) "
        f"FROM {q(ActivitySummary._meta.db_table)} s JOIN {q(Unit._meta.db_table)} u "
        f"ON u.id = s.unit_id "
        f"WHERE u.tree_id = %s AND u.lft >= %s AND u.lft <= %s "
        f"AND s.day >= %s AND s.day <= %s AND s.category_id IS NOT NULL "
        f"GROUP BY s.category_id ORDER BY s.category_id"
    )
    params: list[Any] = [unit.tree_id, unit.lft, unit.rght, day_from, day_to]
    return sql, params


def _db_datetime(value: dt.datetime) -> Any:
    """A datetime parameter as the backend stores it (SQLite: UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def seed_activities(root: Unit, n: int, *, actor: User) -> dict[str, Any]:
    """``n`` approved activities in ``root``'s subtree (every active unit but the root),
    each with one participant and a confirmed 2-hour service record, in three
    ``INSERT … SELECT`` statements (a transaction per 200,000). Deterministic: activity ``i`` is at
    unit ``i mod units``, on day ``7919·i mod days`` of the three years before this one,
    at 8–17 h local time, for two hours."""
    from activities.models import Activity, ActivityParticipant

    if n < 1:
        raise CommandError("--activities must be at least 1.")
    units = Unit.objects.filter(tree_id=root.tree_id, is_active=True, level__gt=0).count()
    platforms = Category.objects.filter(is_active=True).count()
    if not units or not platforms:
        raise CommandError("The bench province needs units and active platforms.")
    first_year = timezone.localdate().year - YEARS
    first_day = dt.date(first_year, 1, 1)
    days = (dt.date(first_year + YEARS, 1, 1) - first_day).days
    volunteers = _volunteers(root, max(50, min(5000, n // 200)))
    q = connection.ops.quote_name
    now = timezone.now()
    postgres = connection.vendor == "postgresql"
    zone = timezone.get_current_timezone()
    base = dt.datetime.combine(first_day, dt.time(8), tzinfo=zone)  # 08:00 local, day 0

    if postgres:
        series = "SELECT generate_series(%s::bigint, %s - 1) AS i"
        start = (
            f"%s::timestamptz + ((g.i * {DAY_STEP}) % {days}) * interval '1 day' "
            f"+ (g.i % 10) * interval '1 hour'"
        )
        end = "s.start + interval '2 hours'"
        local_day = f"(a.{q('start')} AT TIME ZONE %s)::date"
        local_day_params: list[Any] = [str(zone)]
        base_param: Any = base
    else:
        series = "SELECT %s AS i UNION ALL SELECT i + 1 FROM g WHERE i + 1 < %s"
        start = (
            f"datetime(%s, '+' || ((g.i * {DAY_STEP}) % {days}) || ' days', "
            f"'+' || (g.i % 10) || ' hours')"
        )
        end = "datetime(s.start, '+2 hours')"
        offset = _utc_offset_hours(zone, base)
        local_day = f"date(a.{q('start')}, '{offset:+d} hours')"
        local_day_params = []
        base_param = base.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    # Literal percent signs for the DB-API's parameter style.
    start = start.replace("%", "%%").replace("%%s", "%s")

    activity = q(Activity._meta.db_table)
    record = q(ServiceRecord._meta.db_table)
    participant = q(ActivityParticipant._meta.db_table)
    unit_table, category_table, volunteer_table = (
        q(Unit._meta.db_table),
        q(Category._meta.db_table),
        q(Volunteer._meta.db_table),
    )
    stamp = _db_datetime(now)
    # The units and volunteers numbered 0…k-1, indexed (SQLite would otherwise scan the
    # whole list for each activity).
    numbered = {
        UNITS: (
            f"SELECT ROW_NUMBER() OVER (ORDER BY lft) - 1 AS k, id FROM {unit_table} "  # noqa: S608
            f"WHERE tree_id = %s AND is_active AND level > 0",
            [root.tree_id],
        ),
        VOLUNTEERS: (
            f"SELECT ROW_NUMBER() OVER (ORDER BY id) - 1 AS k, id FROM {volunteer_table} "  # noqa: S608
            f"WHERE id IN ({', '.join(['%s'] * len(volunteers))})",
            volunteers,
        ),
    }
    with connection.cursor() as cursor:
        for name, (select, params) in numbered.items():
            cursor.execute(f"CREATE TEMPORARY TABLE {name} AS {select}", params)
            cursor.execute(f"CREATE UNIQUE INDEX {name}_k ON {name} (k)")
            if postgres:
                cursor.execute(f"ANALYZE {name}")
    try:
        for low in range(0, n, CHUNK):  # a transaction per chunk: bounded trigger queues
            high = min(n, low + CHUNK)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {activity}")  # noqa: S608
                row = cursor.fetchone()
                first_id = int(row[0]) if row else 0
                cursor.execute(
                    f"WITH RECURSIVE g(i) AS ({series}), "  # noqa: S608 - names from the models
                    f"c AS (SELECT id, ROW_NUMBER() OVER (ORDER BY sort_order, id) - 1 AS k "
                    f"FROM {category_table} WHERE is_active), "
                    f"s AS (SELECT g.i, u.id AS unit_id, c.id AS category_id, {start} AS start "
                    f"FROM g JOIN {UNITS} u ON u.k = g.i %% {units} "
                    f"JOIN c ON c.k = (g.i * {PLATFORM_STEP} + g.i / {units}) %% {platforms}) "
                    f"INSERT INTO {activity} (title, unit_id, category_id, {q('start')}, "
                    f"{q('end')}, location, description, beneficiaries, materials, checkin_key, "
                    f"status, return_reason, submitted_at, reviewed_by_id, reviewed_at, "
                    f"created_at, updated_at) "
                    f"SELECT 'Bench activity ' || s.i, s.unit_id, s.category_id, s.start, {end}, "
                    f"'', '', 10 + (s.i * 37) %% 120, (s.i * 53) %% 200, 'bench' || s.i, "
                    f"'approved', '', %s, %s, %s, %s, %s FROM s",
                    [low, high, base_param, stamp, actor.pk, stamp, stamp, stamp],
                )
                cursor.execute(
                    f"INSERT INTO {record} (volunteer_id, unit_id, date, hours, category_id, "  # noqa: S608
                    f"content, source, source_id, reason, status, recorded_at, confirmed_by_id, "
                    f"confirmed_at, void_reason) "
                    f"SELECT v.id, a.unit_id, {local_day}, %s, a.category_id, a.title, "
                    f"'activity', a.id, '', 'confirmed', %s, %s, %s, '' "
                    f"FROM {activity} a JOIN {VOLUNTEERS} v ON v.k = a.id %% {len(volunteers)} "
                    f"WHERE a.id > %s",
                    [*local_day_params, HOURS, stamp, actor.pk, stamp, first_id],
                )
                cursor.execute(
                    f"INSERT INTO {participant} (activity_id, volunteer_id, hours, record_id) "  # noqa: S608
                    f"SELECT r.source_id, r.volunteer_id, r.hours, r.id FROM {record} r "
                    f"WHERE r.source = 'activity' AND r.source_id > %s",
                    [first_id],
                )
    finally:
        with connection.cursor() as cursor:
            for name in numbered:
                cursor.execute(f"DROP TABLE {name}")
    return {
        "activities": n,
        "units": units,
        "platforms": platforms,
        "volunteers": len(volunteers),
        "first_year": first_year,
        "days": days,
    }


def _utc_offset_hours(zone: Any, when: dt.datetime) -> int:
    offset = when.astimezone(ZoneInfo(str(zone))).utcoffset() or dt.timedelta()
    return int(offset.total_seconds() // 3600)


def _volunteers(root: Unit, n: int) -> list[int]:
    """``n`` active volunteers at the province's stations (bulk-created; made-up
    identity numbers in the 900–999 sequence range, as the volunteers section makes)."""
    stations = list(
        Unit.objects.filter(tree_id=root.tree_id, kind=UnitKind.STATION).values_list(
            "pk", flat=True
        )[:500]
    ) or [root.pk]
    now = timezone.now()
    rows = []
    for i in range(n):
        number = f"35{i:06d}19800101{900 + i % 100:03d}X"
        phone = f"139{i:08d}"
        rows.append(
            Volunteer(
                name=f"基准志愿者{i}",
                id_number=number,
                id_number_hash=f"bench-activities-{i}",
                id_number_masked=number[:6] + "********" + number[-4:],
                gender="female" if i % 2 else "male",
                birth_date=dt.date(1980, 1, 1),
                phone=phone,
                phone_hash=f"bench-activities-phone-{i}",
                phone_masked=f"{phone[:3]}****{phone[-4:]}",
                unit_id=stations[i % len(stations)],
                status=VolunteerStatus.ACTIVE,
                created_at=now,
                updated_at=now,
            )
        )
    created = Volunteer.objects.bulk_create(rows, batch_size=1000)
    return [v.pk for v in created]


__all__ = ["Activities", "floor_raw", "floor_summary", "seed_activities"]
