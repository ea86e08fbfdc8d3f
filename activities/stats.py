"""Activity figures of a unit's subtree, for ``GET /units/{id}/stats/``, the dashboards
and the annual report.

Every figure but :func:`participants` and :func:`silent_children` is read from
:class:`~activities.models.ActivitySummary` (one row per unit, day and platform, kept
current by ``activities.summary``), rolled up by joining it to the units of the
subtree's ``(tree_id, lft)`` range: each function runs a fixed number of queries, and
their cost follows the summary rows of the subtree and period — never the number of
units, activities or records. Python only formats the rows the database returned.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connections, router
from django.db.models import (
    Avg,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone

from practice.models import Category, Unit
from practice.tree import subtree_q
from volunteers.choices import RecordSource, RecordStatus
from volunteers.models import ServiceRecord

from .choices import ActivityStatus
from .models import Activity, ActivitySummary
from .summary import as_date

__all__ = [
    "FIGURES",
    "MONTHS_MAX",
    "activity_figures",
    "month_range",
    "participants",
    "request_timings",
    "silent_children",
]

# The four summed figures, in the order every list gives them.
FIGURES = ("activities", "beneficiaries", "materials", "volunteer_hours")
# ``by_month`` covers at most this many months (the last ones of a longer period).
MONTHS_MAX = 120

_HUNDREDTH = Decimal("0.01")


def _zero() -> dict[str, Any]:
    return {"activities": 0, "beneficiaries": 0, "materials": 0, "volunteer_hours": Decimal(0)}


def _figures(row: dict[str, Any] | None) -> dict[str, Any]:
    """The four figures of an aggregate row (``None`` sums — no rows — are zeros; hours
    back to the hundredths they are stored in, whatever the database summed them as)."""
    if row is None:
        return _zero()
    hours = row.get("volunteer_hours")
    return {
        "activities": int(row.get("activities") or 0),
        "beneficiaries": int(row.get("beneficiaries") or 0),
        "materials": int(row.get("materials") or 0),
        "volunteer_hours": Decimal(str(hours or 0)).quantize(_HUNDREDTH),
    }


def _sums() -> dict[str, Sum]:
    return {name: Sum(name) for name in FIGURES}


def _in_period(
    queryset: QuerySet[Any], date_from: dt.date | None, date_to: dt.date | None, field: str
) -> QuerySet[Any]:
    if date_from is not None:
        queryset = queryset.filter(**{f"{field}__gte": date_from})
    if date_to is not None:
        queryset = queryset.filter(**{f"{field}__lte": date_to})
    return queryset


def _first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_range(
    date_from: dt.date | None = None, date_to: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The first and the last day of the months ``by_month`` lists: those of the period
    given, the last 12 months (this one included) when neither date is given, 12 months
    ending with ``date_to``'s or starting with ``date_from``'s when only one is — and at
    most :data:`MONTHS_MAX` months (the last ones)."""
    today = timezone.localdate()
    if date_to is None:
        date_to = today if date_from is None else max(today, date_from)
    if date_from is None:
        date_from = _add_months(_first_of_month(date_to), -11)
    first = _first_of_month(date_from)
    last_month = _first_of_month(date_to)
    if last_month < first:
        last_month = first
    months = (last_month.year - first.year) * 12 + last_month.month - first.month + 1
    if months > MONTHS_MAX:
        first = _add_months(last_month, 1 - MONTHS_MAX)
    end = _add_months(last_month, 1) - dt.timedelta(days=1)
    return max(first, date_from), min(end, date_to)


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    out = []
    month = _first_of_month(first)
    while month <= last:
        out.append(month)
        month = _add_months(month, 1)
    return out


def activity_figures(
    unit: Unit, *, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> dict[str, Any]:
    """Approved activities (count, people served, materials) and confirmed volunteer hours
    of ``unit``'s subtree on the days ``date_from``–``date_to`` (both included; ``None``:
    unbounded), from the summary table, in three queries (the summary read once):

    * ``activities``, ``beneficiaries``, ``materials`` (ints), ``volunteer_hours``
      (``Decimal``) — the totals (hours without a platform included);
    * ``by_category``: every active platform in platform order, zeros included:
      ``{"category": code, "name", "activities", "beneficiaries", "materials",
      "volunteer_hours"}``;
    * ``by_month``: every month of the period (the last 12 months when no date is given;
      see :func:`month_range`), zeros included: ``{"month": "YYYY-MM", ...figures}``;
    * ``by_child``: every active child unit in tree order, zeros included:
      ``{"unit": id, "name", "kind", ...figures}`` (each child's whole subtree).

    The one scan of the summary groups its rows of the period by child unit, platform and
    month (:func:`_cells`); the lists are sums of those cells — at most children × months
    × platforms of them, whatever the number of units, activities or records.
    """
    first, last = month_range(date_from, date_to)
    totals = _zero()
    by_code: dict[int | None, dict[str, Any]] = {}
    by_child_pk: dict[int, dict[str, Any]] = {}
    monthly: dict[str, dict[str, Any]] = {}
    window = (f"{first:%Y-%m}", f"{last:%Y-%m}")
    for child, category_id, month, figures in _cells(unit, date_from, date_to):
        for bucket in (
            totals,
            by_code.setdefault(category_id, _zero()),
            by_child_pk.setdefault(child, _zero()) if child is not None else None,
            monthly.setdefault(month, _zero()) if window[0] <= month <= window[1] else None,
        ):
            if bucket is not None:
                for name in FIGURES:
                    bucket[name] += figures[name]
    children = Unit.objects.filter(parent=unit, is_active=True).order_by("lft")
    return {
        **totals,
        "by_category": [
            {"category": c.code, "name": c.display_name, **by_code.get(c.pk, _zero())}
            for c in Category.objects.filter(is_active=True).order_by("sort_order", "code")
        ],
        "by_month": [
            {"month": f"{m:%Y-%m}", **monthly.get(f"{m:%Y-%m}", _zero())}
            for m in _months(first, last)
        ],
        "by_child": [
            {"unit": c.pk, "name": c.name, "kind": c.kind, **by_child_pk.get(c.pk, _zero())}
            for c in children.only("pk", "name", "kind")
        ],
    }


def _cells(
    unit: Unit, date_from: dt.date | None, date_to: dt.date | None
) -> list[tuple[int | None, int | None, str, dict[str, Any]]]:
    """One query: the summary rows of ``unit``'s subtree in the period, summed by (child
    unit — ``None`` for the unit's own rows —, platform, month ``"YYYY-MM"``). The units of
    the subtree are first mapped to their child (a range join over the units only, each
    unit against the children), then the summary is joined to that map by unit id."""
    units = Unit._meta.db_table
    summary = ActivitySummary._meta.db_table
    alias = router.db_for_read(ActivitySummary)
    connection = connections[alias]
    ops = connection.ops
    # The first day of the row's month, without PostgreSQL's date → timestamptz cast.
    if connection.vendor == "postgresql":
        month_sql = "CAST(date_trunc('month', s.day::timestamp) AS date)"
    else:
        month_sql = "strftime('%%Y-%%m-01', s.day)"
    period = ""
    params: list[Any] = [unit.tree_id, unit.lft, unit.rght]
    if date_from is not None:
        period += " AND s.day >= %s"
        params.append(ops.adapt_datefield_value(date_from))
    if date_to is not None:
        period += " AND s.day <= %s"
        params.append(ops.adapt_datefield_value(date_to))
    params += [unit.pk, unit.pk]
    # First the subtree's rows summed per unit, platform and month (the units by their
    # (tree_id, lft) range, each unit's rows by its index: the plan of the SQL floor), then
    # those sums mapped to the child whose range holds the unit — the children's units by
    # an index range scan each, and the unit itself with child NULL.
    sql = f"""
        SELECT m.child, x.category_id, x.month, SUM(x.a), SUM(x.b), SUM(x.m), SUM(x.h)
        FROM (
            SELECT s.unit_id, s.category_id, {month_sql} AS month,
                   SUM(s.activities) AS a, SUM(s.beneficiaries) AS b,
                   SUM(s.materials) AS m, SUM(s.volunteer_hours) AS h
            FROM {summary} s
            JOIN {units} u ON u.id = s.unit_id
            WHERE u.tree_id = %s AND u.lft >= %s AND u.lft <= %s{period}
            GROUP BY s.unit_id, s.category_id, {month_sql}
        ) x
        JOIN (
            SELECT u.id AS unit_id, c.id AS child
            FROM {units} c
            JOIN {units} u
              ON u.tree_id = c.tree_id AND u.lft >= c.lft AND u.lft <= c.rght
            WHERE c.parent_id = %s
            UNION ALL
            SELECT %s, NULL
        ) m ON m.unit_id = x.unit_id
        GROUP BY m.child, x.category_id, x.month
    """  # noqa: S608 - table names from the models, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        (
            child,
            category_id,
            f"{as_date(month):%Y-%m}",
            _figures({"activities": a, "beneficiaries": b, "materials": m, "volunteer_hours": h}),
        )
        for child, category_id, month, a, b, m, h in rows
    ]


def participants(
    unit: Unit, *, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> int:
    """Distinct volunteers with a confirmed record of an activity organized in ``unit``'s
    subtree in the period (one query). The one figure read from the records (a distinct
    count cannot be summed from daily rows); a record of an activity is confirmed only
    when the activity is approved, and a confirmed correction of one counts too."""
    records = _in_period(
        ServiceRecord.objects.filter(subtree_q(unit), status=RecordStatus.CONFIRMED).filter(
            Q(source=RecordSource.ACTIVITY)
            | Q(source=RecordSource.CORRECTION, corrects__source=RecordSource.ACTIVITY)
        ),
        date_from,
        date_to,
        "date",
    )
    return records.order_by().values("volunteer_id").distinct().count()


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def silent_children(unit: Unit, *, month: dt.date) -> list[Unit]:
    """Reporting compliance: the active children of ``unit`` (tree order) where nothing
    was logged in ``month`` — no activity (any status but planned) starting that month
    anywhere in the child's subtree. One query, over the activities (the summary holds
    approved ones only, and a report waiting for review counts as reported)."""
    first = _first_of_month(month)
    logged = Activity.objects.filter(
        unit__tree_id=OuterRef("tree_id"),
        unit__lft__gte=OuterRef("lft"),
        unit__lft__lte=OuterRef("rght"),
        start__gte=_day_start(first),
        start__lt=_day_start(_add_months(first, 1)),
    ).exclude(status=ActivityStatus.PLANNED)
    return list(
        Unit.objects.filter(parent=unit, is_active=True).exclude(Exists(logged)).order_by("lft")
    )


def request_timings(
    unit: Unit, *, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> dict[str, float | None]:
    """Of the service requests submitted in ``unit``'s subtree in the period (the days of
    ``orders.selectors.request_figures``): the average hours from submission to dispatch
    (``average_hours_to_dispatch``) and to delivery (``average_hours_to_complete``) of
    those that got there; ``None`` when none did. One query."""
    from orders.models import ServiceRequest  # the app above this one's

    requests = ServiceRequest.objects.filter(subtree_q(unit))
    if date_from is not None:
        requests = requests.filter(created_at__gte=_day_start(date_from))
    if date_to is not None:
        requests = requests.filter(created_at__lt=_day_start(date_to + dt.timedelta(days=1)))

    def wait(until: str) -> Avg:
        return Avg(
            ExpressionWrapper(F(until) - F("created_at"), output_field=DurationField()),
            filter=Q(**{f"{until}__isnull": False}),
        )

    row = requests.order_by().aggregate(
        dispatch=wait("dispatched_at"), complete=wait("delivered_at")
    )

    def hours(value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, dt.timedelta):
            seconds = value.total_seconds()
        else:  # a backend that averages durations as microseconds
            seconds = float(value) / 1_000_000
        return round(seconds / 3600, 2)

    return {
        "average_hours_to_dispatch": hours(row["dispatch"]),
        "average_hours_to_complete": hours(row["complete"]),
    }
