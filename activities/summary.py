"""Keeping :class:`~activities.models.ActivitySummary` equal to the records.

The summary holds, per unit, day and platform, the approved activities (count, people
served, materials) and the confirmed volunteer hours. It is kept current **in the same
transaction** as each change of the records it sums:

* :func:`on_activity_approved` — +1 activity, its people served and materials, on
  (the activity's unit, the local date of its start, its platform);
* :func:`on_record_confirmed` / :func:`on_record_voided` — ± a confirmed record's hours on
  (its organizing unit, its date, its platform). Only confirmed records count: voiding a
  pending one changes nothing.

Each is one ``INSERT … ON CONFLICT (…) [WHERE …] DO UPDATE SET x = x + excluded.x``
statement (SQLite ≥ 3.24 and PostgreSQL), so concurrent writers add up instead of
overwriting each other. Rows are keyed by the unit's id: moving a unit moves its rows with
it, since the statistics roll them up by the units' tree ranges (``activities.stats``).

:func:`rebuild` rewrites the table from the records in two set-based statements (``DELETE``
and ``INSERT … SELECT … GROUP BY``); :func:`differences` compares it with the records in one
grouped query. ``manage.py activity_summary [--rebuild] [--check]`` and the nightly task
``activities.tasks.check_activity_summary`` use them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from volunteers.choices import RecordStatus
from volunteers.models import ServiceRecord

from .choices import ActivityStatus
from .models import Activity, ActivitySummary

__all__ = [
    "activity_day",
    "as_date",
    "differences",
    "on_activity_approved",
    "on_record_confirmed",
    "on_record_voided",
    "rebuild",
]

_COLUMNS = ("activities", "beneficiaries", "materials", "volunteer_hours")
# Hours are stored with two decimals; SQLite sums them as floating point.
_TOLERANCE = Decimal("0.005")


def activity_day(activity: Activity) -> dt.date:
    """The day an activity counts on: the date of its start in the portal's time zone
    (``TIME_ZONE``, whatever zone a request activated), as :func:`rebuild` computes it."""
    return timezone.localtime(activity.start, timezone.get_default_timezone()).date()


def _add(
    *,
    unit_id: int,
    day: dt.date,
    category_id: int | None,
    activities: int = 0,
    beneficiaries: int = 0,
    materials: int = 0,
    hours: Decimal = Decimal(0),
) -> None:
    """Add the figures to the (unit, day, platform) row, creating it when missing: one
    upsert, on the partial unique index that matches ``category_id``."""
    table = ActivitySummary._meta.db_table
    alias = router.db_for_write(ActivitySummary)
    ops = connections[alias].ops
    if category_id is None:
        target = "(unit_id, day) WHERE category_id IS NULL"
    else:
        target = "(unit_id, day, category_id) WHERE category_id IS NOT NULL"
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _COLUMNS)
    sql = (
        f"INSERT INTO {table} (unit_id, day, category_id, {', '.join(_COLUMNS)}) "  # noqa: S608
        f"VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT {target} DO UPDATE SET {updates}"
    )
    with connections[alias].cursor() as cursor:
        cursor.execute(
            sql,
            [
                unit_id,
                ops.adapt_datefield_value(day),
                category_id,
                activities,
                beneficiaries,
                materials,
                ops.adapt_decimalfield_value(hours, 14, 2),
            ],
        )


def on_activity_approved(activity: Activity) -> None:
    """An activity has just been approved: count it, its people served and materials.
    Call inside the approving transaction."""
    _add(
        unit_id=activity.unit_id,
        day=activity_day(activity),
        category_id=activity.category_id,
        activities=1,
        beneficiaries=activity.beneficiaries,
        materials=activity.materials,
    )


def on_record_confirmed(record: ServiceRecord) -> None:
    """A record has just been confirmed: add its hours. Call inside the confirming
    transaction."""
    _add(
        unit_id=record.unit_id, day=record.date, category_id=record.category_id, hours=record.hours
    )


def on_record_voided(record: ServiceRecord, *, was: str = RecordStatus.CONFIRMED) -> None:
    """A record has just been voided: take back its hours if it was confirmed (``was``,
    its status before; a pending record was never counted). Call inside the voiding
    transaction."""
    if was != RecordStatus.CONFIRMED:
        return
    _add(
        unit_id=record.unit_id,
        day=record.date,
        category_id=record.category_id,
        hours=-record.hours,
    )


# --- set-based rebuild and check ----------------------------------------------------------------


def _expected_sql(alias: str) -> tuple[str, list[Any]]:
    """A ``SELECT unit_id, day, category_id, activities, beneficiaries, materials,
    volunteer_hours`` of what the summary should hold, from the records (approved
    activities, confirmed service records) — up to two rows per cell, one of each kind."""
    activities = (
        Activity.objects.filter(status=ActivityStatus.APPROVED)
        .order_by()
        .annotate(day=TruncDate("start", tzinfo=timezone.get_default_timezone()))
        .values("unit_id", "day", "category_id")
        .annotate(n=Count("pk"), people=Sum("beneficiaries"), handed=Sum("materials"))
    )
    records = (
        ServiceRecord.objects.filter(status=RecordStatus.CONFIRMED)
        .order_by()
        .values("unit_id", "date", "category_id")
        .annotate(total=Sum("hours"))
    )
    a_sql, a_params = activities.query.get_compiler(using=alias).as_sql()
    r_sql, r_params = records.query.get_compiler(using=alias).as_sql()
    sql = (
        "SELECT a.unit_id, a.day, a.category_id, a.n AS activities, a.people AS beneficiaries,"  # noqa: S608
        " a.handed AS materials, 0 AS volunteer_hours"
        f" FROM ({a_sql}) a"
        " UNION ALL"
        " SELECT r.unit_id, r.date AS day, r.category_id, 0, 0, 0, r.total"
        f" FROM ({r_sql}) r"
    )
    return sql, [*a_params, *r_params]


def rebuild() -> int:
    """Rewrite the whole summary from the records, in one transaction: ``DELETE`` then one
    ``INSERT … SELECT … GROUP BY`` (no Python loop over rows). On PostgreSQL the table is
    locked against the incremental writers meanwhile, so an approval committed during the
    rebuild is neither lost nor counted twice. Returns the number of rows written."""
    alias = router.db_for_write(ActivitySummary)
    table = ActivitySummary._meta.db_table
    expected, params = _expected_sql(alias)
    columns = ", ".join(_COLUMNS)
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        if connections[alias].vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {table} (unit_id, day, category_id, {columns})"  # noqa: S608
            " SELECT unit_id, day, category_id, SUM(activities), SUM(beneficiaries),"
            " SUM(materials), SUM(volunteer_hours)"
            f" FROM ({expected}) e GROUP BY unit_id, day, category_id",
            params,
        )
        return max(cursor.rowcount, 0)


def as_date(value: Any) -> dt.date:
    """A date as the database gives it back (a date, a datetime or an ISO string)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def differences(limit: int | None = 1000) -> list[dict[str, Any]]:
    """The cells where the summary and the records disagree (at most ``limit``, in unit,
    day, platform order), each ``{"unit": id, "day": date, "category": id or None,
    "expected": figures, "summary": figures}`` — figures being ``activities``,
    ``beneficiaries``, ``materials``, ``volunteer_hours``. One grouped query over both
    (a cell missing on one side counts as zeros there). Empty: they agree."""
    alias = router.db_for_read(ActivitySummary)
    table = ActivitySummary._meta.db_table
    expected, params = _expected_sql(alias)
    sums = ", ".join(f"SUM({side}{c[0]})" for side in ("e", "s") for c in ("a", "b", "m", "h"))
    sql = (
        f"SELECT unit_id, day, category_id, {sums} FROM ("  # noqa: S608
        " SELECT unit_id, day, category_id, activities AS ea, beneficiaries AS eb,"
        " materials AS em, volunteer_hours AS eh, 0 AS sa, 0 AS sb, 0 AS sm, 0 AS sh"
        f" FROM ({expected}) e"
        " UNION ALL"
        " SELECT unit_id, day, category_id, 0, 0, 0, 0, activities, beneficiaries,"
        f" materials, volunteer_hours FROM {table}"
        ") d GROUP BY unit_id, day, category_id"
        " HAVING SUM(ea) <> SUM(sa) OR SUM(eb) <> SUM(sb) OR SUM(em) <> SUM(sm)"
        f" OR ABS(SUM(eh) - SUM(sh)) >= {_TOLERANCE}"
        " ORDER BY unit_id, day, category_id"
    )
    if limit is not None:
        sql += " LIMIT %s"
        params.append(int(limit))
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()

    def figures(a: Any, b: Any, m: Any, h: Any) -> dict[str, Any]:
        return {
            "activities": int(a or 0),
            "beneficiaries": int(b or 0),
            "materials": int(m or 0),
            "volunteer_hours": Decimal(str(h or 0)).quantize(Decimal("0.01")),
        }

    return [
        {
            "unit": row[0],
            "day": as_date(row[1]),
            "category": row[2],
            "expected": figures(*row[3:7]),
            "summary": figures(*row[7:11]),
        }
        for row in rows
    ]
