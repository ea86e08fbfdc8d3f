"""The demo's menu and year of requests: built by ``seed_demo``, in every state, and as the
services would have left them."""

from __future__ import annotations

import time
from collections import defaultdict
from io import StringIO
from itertools import pairwise

import pytest
from django.core.management import call_command
from django.db.models import Count, Q, Sum
from django.utils import timezone

from activities.models import Activity, ActivityParticipant
from orders.choices import OPEN_STATUSES, TRANSITIONS, RequestStatus
from orders.models import MenuItem, RequestEvent, ServiceRequest
from orders.services import overdue_q
from volunteers.choices import MembershipStatus, RecordStatus, VolunteerStatus
from volunteers.demo import PLATFORM_TEAMS
from volunteers.models import PointsEntry, ServiceRecord, TeamMembership, Volunteer

pytestmark = pytest.mark.django_db

S = RequestStatus


def test_the_demo_menu_and_requests() -> None:
    started = time.monotonic()
    call_command("seed_demo", "--volunteers", "600", stdout=StringIO())
    assert time.monotonic() - started < 120  # SQLite; the requests are bulk inserts

    # the menu: a dozen county items over the seven platforms, each with its platform's
    # county team; a few town and village items
    county = MenuItem.objects.filter(unit__parent=None).prefetch_related("teams")
    assert county.count() >= 12
    assert {i.category.code for i in county} == set(PLATFORM_TEAMS)
    for item in county:
        assert [t.name for t in item.teams.all()] == [PLATFORM_TEAMS[item.category.code]]
    assert MenuItem.objects.filter(unit__kind="institute").exists()
    assert MenuItem.objects.filter(unit__kind="station").exists()

    requests = ServiceRequest.objects.all()
    assert requests.count() >= 300
    counts = dict(requests.values_list("status").annotate(n=Count("pk")))
    assert set(counts) == set(S.values), counts  # every status
    assert counts[S.CLOSED] > requests.count() / 3  # a year: most are done
    oldest = requests.order_by("created_at").first()
    assert oldest is not None and (timezone.now() - oldest.created_at).days > 300
    assert not requests.filter(created_at__gt=timezone.now()).exists()
    assert requests.filter(channel="on_behalf").exists() and requests.filter(channel="web").exists()
    assert requests.values("tracking_code").distinct().count() == requests.count()

    # the database's own rules, and the services' invariants
    assert not requests.filter(status=S.CLOSED, rating__isnull=True).exists()
    assert not requests.filter(status=S.CLOSED, closed_at__isnull=True).exists()
    assert not requests.filter(status__in=[S.CLAIMED, S.DELIVERED, S.CLOSED], claimed_by=None)
    assert not requests.filter(status__in=[S.DISPATCHED, S.CLAIMED], team=None).exists()
    assert not requests.filter(
        Q(status=S.REJECTED) | Q(status=S.DISPATCHED), responded_at=None
    ).exists()
    active_members = {
        (m.team_id, m.volunteer_id)
        for m in TeamMembership.objects.filter(
            status=MembershipStatus.ACTIVE, volunteer__status=VolunteerStatus.ACTIVE
        )
    }
    for req in requests.filter(claimed_by__isnull=False):
        assert (req.team_id, req.claimed_by_id) in active_members
    assert not requests.filter(overdue_q(), overdue_at__isnull=True).exists()  # beat has run

    events: dict[int, list[RequestEvent]] = defaultdict(list)
    for event in RequestEvent.objects.order_by("at", "pk"):
        events[event.request_id].append(event)
    for req in requests:
        timeline = events[req.pk]
        steps = [e for e in timeline if e.action not in ("overdue", "review")]
        assert steps[0].action == "submit" and steps[0].at == req.created_at
        state: str = S.SUBMITTED
        for event in steps[1:]:
            allowed, to = TRANSITIONS[event.action]
            assert event.from_status == state and state in allowed, (req.pk, event.action)
            assert event.to_status == to
            state = to
        assert state == req.status, req.pk
        assert all(a.at < b.at for a, b in pairwise(timeline))
        assert req.updated_at == timeline[-1].at
        assert timeline[-1].at <= timezone.now()
        marks = [e for e in timeline if e.action == "overdue"]
        assert len(marks) == (1 if req.overdue_at else 0)

    # delivered ones: an activity, its participants in the team, their service records
    done = requests.filter(status__in=[S.DELIVERED, S.CLOSED])
    assert Activity.objects.filter(request__in=done).count() == done.count()
    assert not Activity.objects.filter(request__isnull=False).exclude(request__in=done).exists()
    delivered_participants = ActivityParticipant.objects.filter(activity__request__isnull=False)
    for participant in delivered_participants.select_related("activity__request", "record"):
        delivered = participant.activity.request
        assert delivered is not None and delivered.claimed_by is not None
        assert (delivered.team_id, participant.volunteer_id) in active_members
        record = participant.record
        assert record is not None and record.source == "request"
        assert record.source_id == delivered.pk and record.hours == participant.hours
        assert record.recorded_by_id == delivered.claimed_by.user_id
    records = ServiceRecord.objects.filter(source="request")
    statuses = set(records.values_list("status", flat=True))
    assert statuses == {RecordStatus.PENDING, RecordStatus.CONFIRMED}
    assert not records.filter(status=RecordStatus.CONFIRMED).exclude(
        source_id__in=requests.filter(status=S.CLOSED).values("pk")
    )
    # confirmed hours earned their points; the volunteers' figures match their records
    confirmed = records.filter(status=RecordStatus.CONFIRMED)
    assert PointsEntry.objects.filter(record__in=confirmed).count() == confirmed.count()
    for volunteer in Volunteer.objects.filter(
        pk__in=records.values("volunteer_id")
    ).prefetch_related("points_entries"):
        total = ServiceRecord.objects.filter(
            volunteer=volunteer, status=RecordStatus.CONFIRMED
        ).aggregate(h=Sum("hours"))["h"]
        assert volunteer.confirmed_hours == (total or 0)
        ledger = sorted(volunteer.points_entries.all(), key=lambda e: e.pk)
        running = 0
        for entry in ledger:
            running += entry.points
            assert entry.balance == running
        assert volunteer.points_balance == running

    # open ones are still waiting; low ratings wait to be looked at or were
    assert requests.filter(status__in=OPEN_STATUSES).exists()
    for req in requests.filter(status=S.CLOSED, rating__lte=2):
        reviewed = any(e.action == "review" for e in events[req.pk])
        assert req.needs_review != reviewed


def test_the_demo_twice_changes_nothing() -> None:
    call_command("seed_demo", "--volunteers", "200", "--requests", "40", stdout=StringIO())
    before = (
        MenuItem.objects.count(),
        ServiceRequest.objects.count(),
        RequestEvent.objects.count(),
    )
    out = StringIO()
    call_command("seed_demo", "--volunteers", "200", "--requests", "40", stdout=out)
    after = (MenuItem.objects.count(), ServiceRequest.objects.count(), RequestEvent.objects.count())
    assert before == after and before[1] == 40
    assert "already has a service menu" in out.getvalue()
