"""Volunteer figures of a unit's subtree, for ``GET /units/{id}/stats/`` and the pages.

Each is one aggregate over an index-friendly ``(tree_id, lft)`` range of the home or
organizing unit: the cost follows the rows counted, never the number of units.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
)

from practice.models import Unit
from practice.tree import subtree_q

from .choices import RecordStatus, VolunteerStatus
from .models import ServiceRecord, Team, Volunteer

__all__ = ["subtree_totals", "volunteer_figures"]


def volunteer_figures(
    unit: Unit | None,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    with_hours: bool = True,
) -> dict[str, Any]:
    """``volunteers`` (active, home unit in the subtree), ``teams`` (active, owned in the
    subtree), ``volunteer_hours`` (confirmed records organized in the subtree, in the
    period) and ``hours_by_category`` (category code → hours), three queries. ``unit``
    ``None``: the whole installation (the home page, counted once per write: see
    ``portal.cache.versioned_value``). ``with_hours=False``: the two counts only (two queries;
    the stats API reads hours from the activity summary table instead of the records)."""
    where = subtree_q(unit) if unit is not None else Q()
    volunteers = Volunteer.objects.filter(where, status=VolunteerStatus.ACTIVE).count()
    teams = Team.objects.filter(where, is_active=True).count()
    if not with_hours:
        return {"volunteers": volunteers, "teams": teams}
    records = ServiceRecord.objects.filter(where, status=RecordStatus.CONFIRMED)
    if date_from is not None:
        records = records.filter(date__gte=date_from)
    if date_to is not None:
        records = records.filter(date__lte=date_to)
    by_category: dict[str | None, Decimal] = {}
    total = Decimal(0)
    for row in records.values("category__code").annotate(hours=Sum("hours"), n=Count("pk")):
        hours = row["hours"] or Decimal(0)
        by_category[row["category__code"]] = hours
        total += hours
    return {
        "volunteers": volunteers,
        "teams": teams,
        "volunteer_hours": total,
        "hours_by_category": by_category,
    }


def subtree_totals(unit: Unit) -> dict[str, Any]:
    """What a unit's public page shows: ``volunteers``, ``teams`` and ``volunteer_hours``
    (all time) of the subtree, as :func:`volunteer_figures` counts them, in one query."""
    within = _within_outer("unit__")

    def scalar(queryset: Any, value: Any) -> Subquery:
        return Subquery(
            queryset.filter(within).order_by().values(total=value)[:1],
            output_field=value.output_field,
        )

    row = (
        Unit.objects.filter(pk=unit.pk)
        .annotate(
            active_volunteers=scalar(
                Volunteer.objects.filter(status=VolunteerStatus.ACTIVE),
                Func(F("pk"), function="COUNT", output_field=IntegerField()),
            ),
            active_teams=scalar(
                Team.objects.filter(is_active=True),
                Func(F("pk"), function="COUNT", output_field=IntegerField()),
            ),
            confirmed_hours=scalar(
                ServiceRecord.objects.filter(status=RecordStatus.CONFIRMED),
                Func(
                    F("hours"),
                    function="SUM",
                    output_field=DecimalField(max_digits=12, decimal_places=2),
                ),
            ),
        )
        .values("active_volunteers", "active_teams", "confirmed_hours")
        .get()
    )
    return {
        "volunteers": row["active_volunteers"] or 0,
        "teams": row["active_teams"] or 0,
        "volunteer_hours": row["confirmed_hours"] or Decimal(0),
    }


def _within_outer(prefix: str) -> Q:
    """The rows whose unit lies in the subtree of the outer query's unit."""
    return Q(
        **{
            f"{prefix}tree_id": OuterRef("tree_id"),
            f"{prefix}lft__gte": OuterRef("lft"),
            f"{prefix}lft__lte": OuterRef("rght"),
        }
    )
