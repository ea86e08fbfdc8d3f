"""Readers of the menu and of requests; each a fixed number of queries.

Staff read requests of units in their view (``scope_q``); a volunteer reads the requests
dispatched to a team they are an active member of, and those they claimed. A resident
reads their own request only through its code and phone (``services.request_for_requester``)
and sees :func:`public_timeline`: no staff or volunteer name, no internal note.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    Avg,
    Case,
    Count,
    DateField,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from practice.models import Unit
from practice.permissions import Action, scope_q
from practice.tree import path_q, subtree_q
from volunteers.choices import MembershipStatus
from volunteers.models import Team, Volunteer
from volunteers.selectors import volunteer_of

from .choices import OPEN_STATUSES, RequestStatus
from .models import MenuItem, RequestEvent, ServiceRequest

__all__ = [
    "TRANSPARENCY_SHOWN",
    "menu_for_unit",
    "menu_in_scope",
    "public_timeline",
    "recent_completed",
    "request_figures",
    "request_for_staff",
    "requests_in_scope",
    "requests_of_volunteer",
    "satisfaction",
    "status_counts",
    "team_tasks",
    "volunteer_may_see",
    "with_urgency",
]

TRANSPARENCY_SHOWN = 50


def menu_for_unit(unit: Unit, *, active_only: bool = True) -> QuerySet[MenuItem]:
    """What a resident of ``unit`` can order: the items of ``unit`` and of every unit above
    it, the nearest unit's first (2 queries with the teams)."""
    items = MenuItem.objects.filter(path_q(unit))
    if active_only:
        items = items.filter(is_active=True)
    return (
        items.select_related("unit", "category")
        .prefetch_related(Prefetch("teams", queryset=Team.objects.order_by("name")))
        .order_by("category__sort_order", "category__code", "-unit__level", "title", "pk")
    )


def menu_in_scope(user: Any) -> QuerySet[MenuItem]:
    """Menu items of the units in ``user``'s staff view (inactive ones too)."""
    return (
        MenuItem.objects.filter(scope_q(user, Action.VIEW, prefix="unit__"))
        .select_related("unit", "category")
        .prefetch_related(Prefetch("teams", queryset=Team.objects.order_by("name")))
        .order_by("unit__tree_id", "unit__lft", "category__sort_order", "title", "pk")
    )


def _base() -> QuerySet[ServiceRequest]:
    return ServiceRequest.objects.select_related(
        "unit", "category", "menu_item", "team", "claimed_by"
    )


def with_urgency(requests: QuerySet[ServiceRequest]) -> QuerySet[ServiceRequest]:
    """Overdue first, then low ratings to look at, then the waiting ones (submitted, then
    dispatched or claimed: the earliest due, then the oldest first), then the rest newest
    first — the dispatch queue's order."""
    return requests.annotate(
        waiting_since=Case(
            When(status__in=OPEN_STATUSES, then=F("created_at")),
            default=Value(None),
            output_field=DateTimeField(),
        ),
        due_open=Case(
            When(status__in=OPEN_STATUSES, then=F("due_date")),
            default=Value(None),
            output_field=DateField(),
        ),
        urgency=Case(
            When(overdue_at__isnull=False, status__in=OPEN_STATUSES, then=Value(0)),
            When(needs_review=True, then=Value(1)),
            When(status=RequestStatus.SUBMITTED, then=Value(2)),
            When(status__in=OPEN_STATUSES, then=Value(3)),
            default=Value(4),
            output_field=IntegerField(),
        ),
    ).order_by(
        "urgency",
        F("due_open").asc(nulls_last=True),
        F("waiting_since").asc(nulls_last=True),
        "-created_at",
        "-pk",
    )


def requests_in_scope(user: Any) -> QuerySet[ServiceRequest]:
    """Requests at units in ``user``'s staff view, newest first."""
    return (
        _base().filter(scope_q(user, Action.VIEW, prefix="unit__")).order_by("-created_at", "-pk")
    )


def status_counts(requests: QuerySet[ServiceRequest]) -> dict[str, int]:
    """How many of ``requests`` are in each status (one grouped query), every status named."""
    counts = dict.fromkeys(RequestStatus.values, 0)
    for row in requests.order_by().values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    counts["overdue"] = 0
    return counts


def request_for_staff(user: Any, pk: int) -> ServiceRequest | None:
    """The request ``pk`` if ``user`` may read it as staff or as a volunteer of its team."""
    found = (
        _base()
        .select_related("dispatched_by", "filed_by", "claimed_by__user", "team__leader")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        return None
    from practice.permissions import can

    if can(user, Action.VIEW, found.unit) or volunteer_may_see(user, found):
        return found
    return None


def volunteer_may_see(user: Any, request: ServiceRequest) -> bool:
    """A volunteer sees a request dispatched to a team of theirs, or one they claimed."""
    volunteer = volunteer_of(user)
    if volunteer is None:
        return False
    if request.claimed_by_id == volunteer.pk:
        return True
    if request.team is None:
        return False
    return request.team.memberships.filter(
        volunteer=volunteer, status=MembershipStatus.ACTIVE
    ).exists()


def team_tasks(volunteer: Volunteer) -> QuerySet[ServiceRequest]:
    """Requests waiting for a volunteer of ``volunteer``'s teams: dispatched, unclaimed."""
    return (
        _base()
        .filter(
            status=RequestStatus.DISPATCHED,
            team__memberships__volunteer=volunteer,
            team__memberships__status=MembershipStatus.ACTIVE,
        )
        .order_by("due_date", "dispatched_at", "pk")
    )


def requests_of_volunteer(volunteer: Volunteer) -> QuerySet[ServiceRequest]:
    """The requests ``volunteer`` claimed, the ones still to deliver first."""
    return (
        _base()
        .filter(claimed_by=volunteer)
        .annotate(
            done=Case(
                When(status=RequestStatus.CLAIMED, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("done", "due_date", "-claimed_at", "-pk")
    )


def public_timeline(request: ServiceRequest) -> list[dict[str, Any]]:
    """The requester's view of the timeline: each step's time and states, and only the
    notes meant for them (a rejection's reason, what was done, their own comment)."""
    events = (
        RequestEvent.objects.filter(request=request)
        .exclude(action="overdue")
        .exclude(action="review")
    )
    return [
        {
            "at": e.at,
            "action": e.action,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "note": e.note if e.public else "",
        }
        for e in events.order_by("at", "pk")
    ]


def recent_completed(unit: Unit, *, limit: int = TRANSPARENCY_SHOWN) -> list[ServiceRequest]:
    """Requests closed (rated) in ``unit``'s subtree, newest first — for the public pages,
    which show no name or phone (one query)."""
    return list(
        ServiceRequest.objects.filter(subtree_q(unit), status=RequestStatus.CLOSED)
        .select_related("unit", "category", "menu_item")
        .only(
            "pk",
            "title",
            "created_at",
            "responded_at",
            "delivered_at",
            "closed_at",
            "rating",
            "unit__name",
            "unit__kind",
            "category__code",
            "category__name",
            "category__name_en",
            "menu_item__title",
        )
        .order_by("-closed_at", "-pk")[:limit]
    )


def satisfaction(
    unit: Unit, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> dict[str, Any]:
    """Figures of ``unit``'s subtree (one query) for the requests submitted from ``since``
    and before ``until``: requests received, completed (delivered or closed), rejected, still
    open, rated and their average rating, the average time to a first answer and to
    delivery."""
    requests = ServiceRequest.objects.filter(subtree_q(unit))
    if since is not None:
        requests = requests.filter(created_at__gte=since)
    if until is not None:
        requests = requests.filter(created_at__lt=until)
    done = Q(status__in=[RequestStatus.DELIVERED, RequestStatus.CLOSED])
    row = requests.aggregate(
        received=Count("pk"),
        completed=Count("pk", filter=done),
        rejected=Count("pk", filter=Q(status=RequestStatus.REJECTED)),
        open=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
        rated=Count("pk", filter=Q(rating__isnull=False)),
        satisfied=Count("pk", filter=Q(rating__gte=4)),
        average_rating=Avg("rating"),
        response=Avg(
            ExpressionWrapper(F("responded_at") - F("created_at"), output_field=DurationField()),
            filter=Q(responded_at__isnull=False),
        ),
        delivery=Avg(
            ExpressionWrapper(F("delivered_at") - F("created_at"), output_field=DurationField()),
            filter=Q(delivered_at__isnull=False),
        ),
    )
    for key in ("response", "delivery"):
        value = row[key]
        if value is not None and not isinstance(value, dt.timedelta):  # SQLite: microseconds
            row[key] = dt.timedelta(microseconds=float(value))
    if row["average_rating"] is not None:
        row["average_rating"] = round(float(row["average_rating"]), 2)
    return row


def request_figures(
    unit: Unit, *, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> dict[str, Any]:
    """``requests`` of ``GET /units/{id}/stats/``: the requests submitted in ``unit``'s
    subtree on the days ``date_from``–``date_to`` (both included, in the portal's time zone)
    — ``submitted`` (all of them), ``completed`` (delivered or closed), ``rejected``,
    ``open`` (still submitted, dispatched or claimed) and their ``average_rating``. One
    aggregate over the subtree's ``(tree_id, lft)`` range (:func:`satisfaction`)."""

    def start_of(day: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time()))

    row = satisfaction(
        unit,
        since=start_of(date_from) if date_from is not None else None,
        until=start_of(date_to + dt.timedelta(days=1)) if date_to is not None else None,
    )
    return {
        "submitted": row["received"],
        "completed": row["completed"],
        "rejected": row["rejected"],
        "open": row["open"],
        "average_rating": row["average_rating"],
    }
