"""What residents see of activities: the readers of the public pages.

Only two statuses are ever public: ``approved`` (the news feed, 公示: what was done, for
how many people, by how many volunteers, with photos) and ``planned`` (the calendar of
what is coming). A draft, a report waiting for review or a returned one is never read
here, whoever asks. Each reader costs a fixed number of queries whatever the number of
activities: the rows (unit, platform and team joined; the volunteer and sign-up figures
as subqueries, :func:`activities.attendance.annotate_signups`) and one for the photos
of those rows.

The public pages are cached under the ``ACTIVITIES`` namespace (``portal.cache``), which
every activity write bumps on commit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from portal.cache import ACTIVITIES, NETWORK, versioned_value
from practice.models import Unit
from practice.selectors import KM_PER_DEGREE, distance_km
from practice.tree import subtree_q

from .attendance import annotate_signups
from .choices import ActivityStatus
from .models import Activity, ActivityParticipant, ActivityPhoto

__all__ = [
    "HOME_PUBLISHED",
    "HOME_UPCOMING",
    "PUBLIC_STATUSES",
    "UNIT_PUBLISHED",
    "UNIT_UPCOMING",
    "home_sections",
    "photo_url",
    "public_activity",
    "published",
    "unit_sections",
    "upcoming",
    "with_distance",
    "with_photo_urls",
]

# The only statuses a public page shows.
PUBLIC_STATUSES = (ActivityStatus.APPROVED, ActivityStatus.PLANNED)
# How many of each the unit page and the home page list.
UNIT_UPCOMING = 5
UNIT_PUBLISHED = 5
HOME_UPCOMING = 3
HOME_PUBLISHED = 5


def _photos() -> Prefetch:
    """The photos of the rows, in upload order, without their files' names (the
    ``activity-photo`` URL serves them): ``activity.public_photos``."""
    photos = ActivityPhoto.objects.order_by("pk").only(
        "id", "activity_id", "width", "height", "caption"
    )
    return Prefetch("photos", queryset=photos, to_attr="public_photos")


def _base(status: str) -> QuerySet[Activity]:
    return (
        Activity.objects.filter(status=status)
        .select_related("unit", "category", "team")
        .prefetch_related(_photos())
    )


def _with_figures(activities: QuerySet[Activity]) -> QuerySet[Activity]:
    """Each row with ``volunteers`` (how many took part) and ``volunteer_hours``."""
    rows = ActivityParticipant.objects.filter(activity=OuterRef("pk")).order_by().values("activity")
    return activities.annotate(
        volunteers=Coalesce(
            Subquery(rows.annotate(n=Count("pk")).values("n"), output_field=IntegerField()),
            Value(0),
        ),
        volunteer_hours=Coalesce(
            Subquery(
                rows.annotate(h=Sum("hours")).values("h"),
                output_field=DecimalField(max_digits=12, decimal_places=2),
            ),
            Value(Decimal(0)),
            output_field=DecimalField(max_digits=12, decimal_places=2),
        ),
    )


def published(within: Unit | None = None) -> QuerySet[Activity]:
    """The approved activities (公示) — of ``within``'s subtree, or all — newest first,
    with their figures (``volunteers``, ``volunteer_hours``) and ``public_photos``."""
    activities = _with_figures(_base(ActivityStatus.APPROVED))
    if within is not None:
        activities = activities.filter(subtree_q(within, prefix="unit__"))
    return activities.order_by("-start", "-pk")


def upcoming(
    within: Unit | None = None,
    near: tuple[float, float] | None = None,
    *,
    radius_km: float = 20.0,
) -> QuerySet[Activity]:
    """The planned activities not yet over — of ``within``'s subtree, or all — soonest
    first, with ``signed_up`` (no photos). ``near`` (latitude, longitude): only
    those whose place (the activity's coordinates, else its unit's) lies in a box of
    ``radius_km`` half-width around it (:func:`with_distance` then measures them)."""
    # Lists of planned activities show no photos: none are read.
    planned = _base(ActivityStatus.PLANNED).prefetch_related(None)
    activities = annotate_signups(planned).filter(end__gt=timezone.now())
    if within is not None:
        activities = activities.filter(subtree_q(within, prefix="unit__"))
    if near is not None:
        lat, lon = near
        dlat = radius_km / KM_PER_DEGREE
        dlon = min(radius_km / (KM_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01)), 180.0)
        activities = activities.annotate(
            place_lat=Cast(Coalesce(F("latitude"), F("unit__latitude")), FloatField()),
            place_lon=Cast(Coalesce(F("longitude"), F("unit__longitude")), FloatField()),
        ).filter(
            place_lat__range=(lat - dlat, lat + dlat),
            place_lon__range=(lon - dlon, lon + dlon),
        )
    return activities.order_by("start", "pk")


def public_activity(pk: int) -> Activity:
    """An approved or planned activity for its public page (404 for any other status),
    with its figures, sign-ups and ``public_photos`` — three queries."""
    found = (
        annotate_signups(_with_figures(Activity.objects.filter(status__in=PUBLIC_STATUSES)))
        .select_related("unit", "category", "team")
        .prefetch_related(_photos())
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404("No such public activity.")
    with_photo_urls([found])
    return found


def places_left(activity: Activity) -> int | None:
    """Places left for volunteers (``None``: no limit); needs ``signed_up``."""
    if activity.capacity is None:
        return None
    return max(activity.capacity - getattr(activity, "signed_up", 0), 0)


def photo_url(pk: int, size: str) -> str | None:
    """The address serving a photo (``activity-photo``), or None while it does not exist."""
    try:
        return reverse("activity-photo", args=[pk, size])
    except NoReverseMatch:
        return None


def with_photo_urls(activities: Iterable[Activity]) -> list[Activity]:
    """The activities, each photo with ``thumb_url`` and ``full_url`` and each activity
    with ``cover_url`` (its first photo's thumbnail, or None) and ``places_left``."""
    rows: list[Any] = list(activities)
    for activity in rows:
        photos = getattr(activity, "public_photos", [])
        for photo in photos:
            photo.thumb_url = photo_url(photo.pk, "thumb")
            photo.full_url = photo_url(photo.pk, "full")
        activity.cover_url = photos[0].thumb_url if photos else None
        activity.places_left = places_left(activity)
    return rows


def with_distance(
    activities: Iterable[Activity], near: tuple[float, float], *, radius_km: float | None = None
) -> list[Activity]:
    """The activities of :func:`upcoming` ``(near=…)``, each with ``distance_km`` from
    ``near`` (great circle), in their order; with ``radius_km``, only those within it (the
    query's box reaches further in its corners)."""
    rows: list[Any] = list(activities)
    for activity in rows:
        activity.distance_km = distance_km(*near, activity.place_lat, activity.place_lon)
    if radius_km is not None:
        rows = [a for a in rows if a.distance_km <= radius_km]
    return rows


def _not_over(activities: list[Activity]) -> list[Activity]:
    """What is still coming: a stored list may hold one that has ended since."""
    now = timezone.now()
    return [a for a in activities if a.end > now]


def _sections(within: Unit | None, *, upcoming_limit: int, published_limit: int) -> dict[str, Any]:
    """The next planned activities and the latest approved ones with their covers."""
    return {
        "coming_up": with_photo_urls(upcoming(within)[:upcoming_limit]),
        "recent_activities": with_photo_urls(published(within)[:published_limit]),
    }


def unit_sections(unit: Unit) -> dict[str, Any]:
    """A unit page's "Coming up" (planned, its subtree) and "Recent activities" (approved):
    read once per activity or unit write (``versioned_value``: they show units' and
    platforms' names), then from the cache."""
    found = versioned_value(
        f"activities-unit:{unit.pk}",
        (NETWORK, ACTIVITIES),
        functools.partial(
            _sections,
            unit,
            upcoming_limit=UNIT_UPCOMING,
            published_limit=UNIT_PUBLISHED,
        ),
    )
    return {**found, "coming_up": _not_over(found["coming_up"])}


def home_sections() -> dict[str, Any]:
    """The home page's next planned activities and latest approved ones (the whole
    network's), read once per activity or unit write."""
    found = versioned_value(
        "activities-home",
        (NETWORK, ACTIVITIES),
        functools.partial(
            _sections,
            None,
            upcoming_limit=HOME_UPCOMING,
            published_limit=HOME_PUBLISHED,
        ),
    )
    return {**found, "coming_up": _not_over(found["coming_up"])}
