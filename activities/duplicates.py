"""Possible duplicates, flagged for the reviewer (never refused: two events of the same
platform at one station on the same afternoon can be real).

Two signs, each one query:

- ``overlap`` — another activity of the same unit and platform whose time overlaps this
  one's (``start < other.end`` and ``end > other.start``; the index
  ``activity_overlap_idx`` on unit, category, start serves it);
- ``photo`` — another activity with a photo whose perceptual hash (dHash, 64 bits, see
  :func:`activities.photos.dhash`) equals one of this activity's. The match is *exact*: the
  copied reports this catches reuse the same picture — the same file gives the same pixels
  and so the same hash, and re-encoding, scaling or stripping its metadata usually leave
  the dHash unchanged (a re-encoded copy with large flat areas may flip a bit and is then
  missed) — so equality finds them with one indexed lookup (``phash`` has an index)
  whatever the number of photos stored. A "near" match (Hamming
  distance of a few bits) would need a scan of every photo or a special index, and at 64
  bits it starts pairing different pictures of similar scenes (the same meeting room, the
  same banner) — false alarms a reviewer learns to ignore. Pictures without any structure
  (one flat colour: all bits equal) give the same hash and are never matched.

Planned activities (announcements, not reports) are neither flagged nor matched.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery

from .choices import ActivityStatus
from .models import Activity, ActivityPhoto

__all__ = ["FLAT_HASHES", "duplicates_count", "possible_duplicates"]

# The hashes of pictures with no structure (a flat colour, a plain gradient): never a match.
FLAT_HASHES = ("0000000000000000", "ffffffffffffffff")


def _overlapping(activity: Any) -> Q:
    return Q(
        unit_id=activity.unit_id,
        category_id=activity.category_id,
        start__lt=activity.end,
        end__gt=activity.start,
    )


def _others(pk: Any) -> QuerySet[Activity]:
    return Activity.objects.exclude(pk=pk).exclude(status=ActivityStatus.PLANNED)


def possible_duplicates(activity: Activity) -> list[dict[str, Any]]:
    """``[{"activity": Activity, "reason": "overlap" | "photo"}]``: overlapping activities
    first, then those sharing a photo, each oldest first (an activity may appear once for
    each reason). Two queries."""
    if activity.pk is None:
        return []
    overlapping = (
        _others(activity.pk)
        .filter(_overlapping(activity))
        .select_related("unit", "category")
        .order_by("start", "pk")
    )
    hashes = (
        ActivityPhoto.objects.filter(activity_id=activity.pk)
        .exclude(phash__in=FLAT_HASHES)
        .values("phash")
    )
    sharing = (
        _others(activity.pk)
        .filter(pk__in=ActivityPhoto.objects.filter(phash__in=hashes).values("activity_id"))
        .select_related("unit", "category")
        .order_by("start", "pk")
    )
    found = [{"activity": other, "reason": "overlap"} for other in overlapping]
    found += [{"activity": other, "reason": "photo"} for other in sharing]
    return found


class _Count(Func):
    """``COUNT(DISTINCT x)`` as a plain function, so a subquery counts without GROUP BY."""

    function = "COUNT"
    template = "COUNT(DISTINCT %(expressions)s)"
    output_field = IntegerField()


def duplicates_count(activities: Iterable[Activity]) -> dict[int, int]:
    """For a page of activities: ``{pk: number of flags}`` (overlapping activities plus
    activities sharing a photo; one that does both counts twice). One query whatever the
    number of activities; activities without a flag are left out."""
    ids = [a.pk for a in activities if a.pk is not None]
    if not ids:
        return {}
    overlap = (
        Activity.objects.filter(
            unit_id=OuterRef("unit_id"),
            category_id=OuterRef("category_id"),
            start__lt=OuterRef("end"),
            end__gt=OuterRef("start"),
        )
        .exclude(pk=OuterRef("pk"))
        .exclude(status=ActivityStatus.PLANNED)
        .order_by()
        .values(n=_Count(F("pk")))
    )
    hashes = (
        ActivityPhoto.objects.filter(activity_id=OuterRef(OuterRef("pk")))
        .exclude(phash__in=FLAT_HASHES)
        .values("phash")
    )
    sharing = (
        ActivityPhoto.objects.filter(phash__in=hashes)
        .exclude(activity_id=OuterRef("pk"))
        .exclude(activity__status=ActivityStatus.PLANNED)
        .order_by()
        .values(n=_Count(F("activity_id")))
    )
    rows = (
        Activity.objects.filter(pk__in=ids)
        .order_by()
        .annotate(
            overlaps=Subquery(overlap, output_field=IntegerField()),
            shared=Subquery(sharing, output_field=IntegerField()),
        )
        .values_list("pk", "overlaps", "shared")
    )
    return {pk: (o or 0) + (s or 0) for pk, o, s in rows if (o or 0) + (s or 0)}
