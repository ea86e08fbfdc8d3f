"""Volunteer figures of a unit's subtree, for ``GET /units/{id}/stats/`` and the pages.

Each is one aggregate over an index-friendly ``(tree_id, lft)`` range of the home or
organizing unit: the cost follows the rows counted, never the number of units.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from practice.models import Unit

from .choices import RecordStatus, VolunteerStatus
from .models import ServiceRecord, Team, Volunteer

__all__ = ["volunteer_figures"]


def _within(unit: Unit, prefix: str) -> Q:
    return Q(
        **{
            f"{prefix}tree_id": unit.tree_id,
            f"{prefix}lft__gte": unit.lft,
            f"{prefix}lft__lte": unit.rght,
        }
    )


def volunteer_figures(
    unit: Unit | None, *, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> dict[str, Any]:
    """``volunteers`` (active, home unit in the subtree), ``teams`` (active, owned in the
    subtree), ``volunteer_hours`` (confirmed records organized in the subtree, in the
    period) and ``hours_by_category`` (category code → hours), three queries. ``unit``
    ``None``: the whole installation (the home page, counted once per write: see
    ``portal.cache.versioned_value``)."""
    where = _within(unit, "unit__") if unit is not None else Q()
    volunteers = Volunteer.objects.filter(where, status=VolunteerStatus.ACTIVE).count()
    teams = Team.objects.filter(where, is_active=True).count()
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
