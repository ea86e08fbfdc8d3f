"""The demo's activities (``activities.demo`` through ``seed_demo``): Nanjing County's 2021
figures and report sentences computed from individual approved records, the last weeks'
activities in every state, the calendar of the next weeks, and a second run that changes
nothing."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from decimal import Decimal
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.utils import timezone, translation

from activities import report, stats, summary
from activities.choices import ActivityStatus
from activities.demo import FIGURES_2021
from activities.models import Activity, ActivityParticipant, ActivitySummary, Attendance
from practice.choices import AuditAction
from practice.models import AuditEntry, Unit
from volunteers.choices import RecordSource, RecordStatus
from volunteers.demo import DEMO_VOLUNTEER_PHONE
from volunteers.identity import hash_phone
from volunteers.models import PointsEntry, ServiceRecord, Volunteer

pytestmark = pytest.mark.django_db

ARGS = ("--volunteers", "400", "--requests", "20")
Y2021 = {"date_from": dt.date(2021, 1, 1), "date_to": dt.date(2021, 12, 31)}


def _seed() -> Unit:
    call_command("seed_demo", *ARGS, stdout=StringIO())
    return Unit.objects.get(parent=None)


def _in_2021() -> Any:
    return Activity.objects.filter(
        start__gte=timezone.make_aware(dt.datetime(2021, 1, 1)),
        start__lt=timezone.make_aware(dt.datetime(2022, 1, 1)),
    )


def test_the_2021_figures_come_from_individual_approved_records() -> None:
    started = time.monotonic()
    county = _seed()
    assert time.monotonic() - started < 60

    figures = stats.activity_figures(county, **Y2021)
    by_code = {row["category"]: row for row in figures["by_category"]}
    # the source report's three figures
    assert by_code["theory"]["activities"] == 122
    assert 30_000 <= by_code["theory"]["beneficiaries"] < 40_000
    assert 200 <= by_code["publicity"]["activities"] == 206
    assert 30_000 <= by_code["publicity"]["materials"] < 40_000
    assert by_code["education"]["activities"] == 235
    assert 50_000 <= by_code["education"]["beneficiaries"] < 60_000
    for code, (count, served, materials) in FIGURES_2021.items():
        assert (
            by_code[code]["activities"],
            by_code[code]["beneficiaries"],
            by_code[code]["materials"],
        ) == (count, served, materials), code

    # ... each one an individual report, approved by the level above, in the county
    year = _in_2021().select_related("unit", "category", "reviewed_by", "created_by")
    activities = list(year)
    assert len(activities) == sum(c for c, _s, _m in FIGURES_2021.values())
    assert {a.status for a in activities} == {ActivityStatus.APPROVED}
    assert {a.unit.tree_id for a in activities} == {county.tree_id}
    assert {a.unit.kind for a in activities} == {"centre", "institute", "station"}
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for a in activities:
        assert a.request_id is None and a.end > a.start and a.team is not None
        assert a.submitted_at is not None and a.submitted_at < a.reviewed_at
        # the county coordinator reviews the towns and villages; nobody their own unit
        reviewer = "admin" if a.unit.kind == "centre" else "county"
        assert a.reviewed_by.username == reviewer
        assert a.created_by is None or a.created_by != a.reviewed_by
        row = expected[a.category.code]
        row[0] += 1
        row[1] += a.beneficiaries
        row[2] += a.materials
    assert {code: tuple(v) for code, v in expected.items()} == FIGURES_2021
    # no two reports of a unit and platform overlap (they would be flagged as duplicates)
    spans: dict[tuple[int, int], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for a in activities:
        spans[(a.unit_id, a.category_id)].append((a.start, a.end))
    for times in spans.values():
        times.sort()
        assert all(end <= nxt for (_s, end), (nxt, _e) in pairwise(times))

    # participants: confirmed records from the activity, confirmed by its reviewer
    participants = list(
        ActivityParticipant.objects.filter(activity__in=activities).select_related(
            "record", "activity"
        )
    )
    assert len(participants) > len(activities)
    for p in participants:
        record = p.record
        assert record is not None and record.status == RecordStatus.CONFIRMED
        assert (record.source, record.source_id, record.volunteer_id) == (
            RecordSource.ACTIVITY,
            p.activity_id,
            p.volunteer_id,
        )
        assert (
            record.hours
            == p.hours
            <= Decimal((p.activity.end - p.activity.start).total_seconds() / 3600)
        )
        assert record.unit_id == p.activity.unit_id
        assert record.date == timezone.localtime(p.activity.start).date()
        assert record.confirmed_by_id == p.activity.reviewed_by_id
        assert record.recorded_by_id == p.activity.created_by_id
    hours = sum((p.hours for p in participants), Decimal(0))
    assert figures["volunteer_hours"] == hours > 0
    assert stats.participants(county, **Y2021) == len({p.volunteer_id for p in participants})
    # each confirmed record earned its points; the volunteers' figures agree with the records
    earned = PointsEntry.objects.filter(record__in=[p.record_id for p in participants])
    assert earned.count() == len(participants)
    for volunteer in Volunteer.objects.filter(pk__in={p.volunteer_id for p in participants}):
        confirmed = ServiceRecord.objects.filter(volunteer=volunteer, status=RecordStatus.CONFIRMED)
        assert volunteer.confirmed_hours == sum(r.hours for r in confirmed)
        last = PointsEntry.objects.filter(volunteer=volunteer).order_by("-pk").first()
        assert last is not None and volunteer.points_balance == last.balance
    # and the summary the statistics read equals the records
    assert summary.differences() == []


def test_the_2021_annual_report_says_what_the_source_report_says() -> None:
    county = _seed()
    with translation.override("en"):
        sentences = report.annual_report(county, 2021)["sentences"]
    assert sentences[:3] == [
        "In 2021, 南靖县理论宣讲志愿服务队 held 122 themed lectures over the year, "
        "reaching more than 30,000 people.",
        "社会宣传志愿服务队 organized 206 activities, handing out more than 30,000 copies "
        "of materials.",
        "教育志愿服务队 held 235 activities, reaching more than 50,000 people.",
    ]
    assert len(sentences) == len(FIGURES_2021) + 1  # a sentence a platform, and the total
    with translation.override("zh-hans"):
        sentences = report.annual_report(county, 2021)["sentences"]
    # (needs the compiled catalog: ``make compilemessages``, as ``make test`` does)
    assert sentences[:3] == [
        "2021年，南靖县理论宣讲志愿服务队全年累计开展专题宣讲活动122次，受益群众3万余人。",
        "社会宣传志愿服务队组织开展活动206场次，发放宣传材料3万多份。",
        "教育志愿服务队开展活动235场次，受益群众5万多人。",
    ]


def test_recent_activities_in_every_state_and_the_calendar_of_the_next_weeks() -> None:
    _seed()
    now = timezone.now()
    recent = Activity.objects.filter(
        request__isnull=True, start__gte=now - dt.timedelta(days=70), start__lt=now
    )
    states = Counter(recent.values_list("status", flat=True))
    assert set(states) == set(ActivityStatus.values) - {ActivityStatus.PLANNED}, states
    for activity in recent.exclude(status=ActivityStatus.DRAFT).prefetch_related(
        "participants__record"
    ):
        # made through the services: audited, and the records follow the review
        assert AuditEntry.objects.filter(
            action=AuditAction.ACTIVITY_SUBMITTED, changes__activity=activity.pk
        ).exists()
        want: dict[str, str] = {
            ActivityStatus.APPROVED: RecordStatus.CONFIRMED,
            ActivityStatus.SUBMITTED: RecordStatus.PENDING,
            ActivityStatus.RETURNED: RecordStatus.VOID,
        }
        records = [p.record for p in activity.participants.all()]
        assert records and all(records)
        assert {r.status for r in records if r} == {want[activity.status]}
        if activity.status == ActivityStatus.RETURNED:
            assert activity.return_reason and activity.reviewed_by.username == "county"
    # check-in evidence, and a reported time the check-ins do not bear out
    checked = ActivityParticipant.objects.filter(
        activity__in=recent, checked_hours__isnull=False
    ).select_related("activity")
    assert checked.exists()
    assert any(p.hours != p.checked_hours for p in checked)
    for p in checked:
        attendance = Attendance.objects.get(activity=p.activity, volunteer=p.volunteer)
        arrived, left = attendance.checked_in_at, attendance.checked_out_at
        assert arrived is not None and left is not None and arrived >= p.activity.start
        spent = left - arrived
        assert Decimal(spent.total_seconds() / 3600) == p.checked_hours

    planned = Activity.objects.filter(status=ActivityStatus.PLANNED).annotate(
        signed=Count("attendances")
    )
    assert planned.count() >= 15
    assert not planned.filter(start__lte=now).exists()
    assert not planned.filter(start__gt=now + dt.timedelta(days=28)).exists()
    assert len({timezone.localtime(a.start).date() for a in planned}) >= 10
    assert len({a.unit_id for a in planned}) >= 8
    assert sum(a.signed for a in planned) > 0
    for a in planned:
        assert a.capacity is None or a.signed <= a.capacity
    assert any(a.capacity is not None and a.signed == a.capacity for a in planned)  # a full one
    assert planned.filter(capacity__isnull=True).exists()
    demo = Volunteer.objects.get(phone_hash=hash_phone(DEMO_VOLUNTEER_PHONE))
    assert Attendance.objects.filter(
        volunteer=demo, activity__status=ActivityStatus.PLANNED, signed_up_at__isnull=False
    ).exists()


def _snapshot() -> dict[str, Any]:
    """The demo's activities without ids or random keys: what must come out the same."""
    return {
        "activities": list(
            Activity.objects.filter(request__isnull=True)
            .order_by("start", "unit__lft", "title")
            .values_list(
                "unit__name",
                "category__code",
                "team__name",
                "title",
                "start",
                "end",
                "location",
                "beneficiaries",
                "materials",
                "capacity",
                "status",
                "created_by__username",
                "reviewed_by__username",
                "return_reason",
            )
        ),
        "participants": sorted(
            ActivityParticipant.objects.filter(activity__request__isnull=True).values_list(
                "activity__title",
                "activity__start",
                "volunteer__name",
                "hours",
                "checked_hours",
                "record__status",
            )
        ),
        "signups": sorted(
            Attendance.objects.values_list("activity__start", "volunteer__name", "checked_in_at")
        ),
        "summary": list(
            ActivitySummary.objects.order_by("unit__lft", "day", "category__code").values_list(
                "unit__name",
                "day",
                "category__code",
                "activities",
                "beneficiaries",
                "materials",
                "volunteer_hours",
            )
        ),
    }


def test_deterministic_and_a_second_run_changes_nothing() -> None:
    with transaction.atomic():
        _seed()
        first = _snapshot()
        transaction.set_rollback(True)
    assert not Activity.objects.exists()
    _seed()  # the same data again, from the same seed
    assert _snapshot() == first
    counts = (
        Activity.objects.count(),
        ServiceRecord.objects.count(),
        PointsEntry.objects.count(),
        AuditEntry.objects.count(),
        list(ActivitySummary.objects.order_by("pk").values_list("pk", "volunteer_hours")),
    )
    out = StringIO()
    call_command("seed_demo", *ARGS, stdout=out)
    assert "already has activities" in out.getvalue()
    assert _snapshot() == first
    assert (
        Activity.objects.count(),
        ServiceRecord.objects.count(),
        PointsEntry.objects.count(),
        AuditEntry.objects.count(),
        list(ActivitySummary.objects.order_by("pk").values_list("pk", "volunteer_hours")),
    ) == counts
