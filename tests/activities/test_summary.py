"""The activity summary table equals the records: kept in the same transaction by
approvals, confirmations and voids, rebuilt set-based, checked by the command and the
nightly task — after random approvals, returns, unit moves and voided hours."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from activities import services, summary
from activities.choices import ActivityStatus
from activities.models import Activity, ActivitySummary
from activities.tasks import check_activity_summary
from portal.models import InboxMessage
from practice import services as practice_services
from practice.choices import Role
from practice.models import Unit, User
from tests.conftest import World
from tests.factories import RoleFactory, UserFactory
from tests.volunteers.conftest import make_volunteer
from volunteers import hours
from volunteers.choices import RecordSource, RecordStatus
from volunteers.models import ServiceRecord, Volunteer

from .conftest import PLATFORMS, make_activity, platform

LOCAL = ZoneInfo(settings.TIME_ZONE)
FIGURES = ("activities", "beneficiaries", "materials", "volunteer_hours")


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LOCAL).date()


def table() -> dict[tuple[int, dt.date, int | None], tuple[int, int, int, Decimal]]:
    """The summary's non-empty cells."""
    out = {}
    for row in ActivitySummary.objects.all():
        figures = (row.activities, row.beneficiaries, row.materials, row.volunteer_hours)
        if any(figures):
            out[(row.unit_id, row.day, row.category_id)] = figures
    return out


# --- a random history, with its own ledger of what should be counted -------------------------


@dataclass
class Ledger:
    """What the test itself knows was approved and confirmed (no statistics code)."""

    world: World
    recorder: User
    rng: random.Random
    volunteers: list[Volunteer] = field(default_factory=list)
    # activity pk → (unit id, day, platform id, people served, materials)
    approved: dict[int, tuple[int, dt.date, int, int, int]] = field(default_factory=dict)
    # record pk → (unit id, day, platform id or None, hours, volunteer id, from an activity)
    confirmed: dict[int, tuple[int, dt.date, int | None, Decimal, int, bool]] = field(
        default_factory=dict
    )
    activities: list[Activity] = field(default_factory=list)

    def reviewer(self, unit: Unit) -> User:
        return self.world.superuser if unit.parent_id is None else self.world.coordinator

    def approve(self, activity: Activity) -> None:
        unit = Unit.objects.get(pk=activity.unit_id)
        services.activity_approve(actor=self.reviewer(unit), activity=activity)
        activity.refresh_from_db()
        self.approved[activity.pk] = (
            activity.unit_id,
            local_day(activity.start),
            activity.category_id,
            activity.beneficiaries,
            activity.materials,
        )
        for record in ServiceRecord.objects.filter(
            source=RecordSource.ACTIVITY, source_id=activity.pk, status=RecordStatus.CONFIRMED
        ):
            self.confirmed[record.pk] = (
                record.unit_id,
                record.date,
                record.category_id,
                record.hours,
                record.volunteer_id,
                True,
            )

    def log(self, unit: Unit, *, status: str) -> Activity:
        """An activity of ``unit`` at a random past moment, taken to ``status``."""
        rng = self.rng
        people = rng.sample(self.volunteers, rng.randint(0, 3))
        activity = make_activity(
            self.recorder,
            unit,
            category=rng.choice(list(PLATFORMS)),
            days_ago=rng.uniform(1, 420),
            hours=2,
            beneficiaries=rng.randint(0, 900),
            materials=rng.choice([0, 0, rng.randint(1, 2000)]),
            participants=[
                {"volunteer": v.pk, "hours": str(Decimal(rng.randint(1, 8)) / 4)} for v in people
            ],
        )
        self.activities.append(activity)
        if status == ActivityStatus.DRAFT:
            return activity
        services.activity_submit(actor=self.recorder, activity=activity)
        if status == ActivityStatus.SUBMITTED:
            return activity
        if status == ActivityStatus.RETURNED or rng.random() < 0.3:
            services.activity_return(
                actor=self.reviewer(unit), activity=activity, reason="照片不清楚"
            )
            if status == ActivityStatus.RETURNED:
                return activity
            services.activity_submit(actor=self.recorder, activity=activity)
        self.approve(activity)
        return activity

    def manual(self, unit: Unit) -> ServiceRecord:
        """Confirmed hours without a platform (a manager's entry)."""
        volunteer = self.rng.choice(self.volunteers)
        record = hours.record_create(
            actor=self.recorder,
            volunteer=volunteer,
            unit=unit,
            date=dt.date.today() - dt.timedelta(days=self.rng.randint(1, 400)),
            hours=str(Decimal(self.rng.randint(1, 12)) / 4),
            reason="补录",
        )
        record = hours.record_confirm(actor=self.world.coordinator, record=record)
        self.confirmed[record.pk] = (
            unit.pk,
            record.date,
            None,
            record.hours,
            volunteer.pk,
            False,
        )
        return record

    def void_some(self, share: float) -> int:
        voided = 0
        for pk in sorted(self.confirmed):
            if self.rng.random() >= share:
                continue
            record = ServiceRecord.objects.select_related("unit", "volunteer__unit").get(pk=pk)
            # A coordinator above the organizing unit (the superuser: units move counties).
            hours.record_void(actor=self.world.superuser, record=record, reason="重复登记")
            del self.confirmed[pk]
            voided += 1
        return voided

    def expected(self) -> dict[tuple[int, dt.date, int | None], tuple[int, int, int, Decimal]]:
        """Cell → figures, from the ledger alone."""
        cells: dict[tuple[int, dt.date, int | None], list[Any]] = defaultdict(
            lambda: [0, 0, 0, Decimal(0)]
        )
        for unit, day, category, people, handed in self.approved.values():
            cell = cells[(unit, day, category)]
            cell[0] += 1
            cell[1] += people
            cell[2] += handed
        for cell_unit, cell_day, maybe, amount, _v, _a in self.confirmed.values():
            cells[(cell_unit, cell_day, maybe)][3] += amount
        return {k: (v[0], v[1], v[2], v[3]) for k, v in cells.items() if any(v)}


def make_ledger(world: World, seed: int) -> Ledger:
    for code in PLATFORMS:
        platform(code)
    recorder = RoleFactory(
        user=UserFactory(username=f"countymgr{seed}"), unit=world.centre, role=Role.MANAGER
    ).user
    ledger = Ledger(world=world, recorder=recorder, rng=random.Random(seed))
    homes = [world.station, world.station2, world.town, world.town2, world.point]
    ledger.volunteers = [make_volunteer(homes[i % len(homes)]) for i in range(8)]
    return ledger


COUNTY_UNITS = ("centre", "town", "town2", "station", "station2", "station3", "point")


def random_history(ledger: Ledger, activities: int, units: tuple[str, ...] = COUNTY_UNITS) -> None:
    w = ledger.world
    statuses = [ActivityStatus.APPROVED] * 5 + [
        ActivityStatus.DRAFT,
        ActivityStatus.SUBMITTED,
        ActivityStatus.RETURNED,
    ]
    for _i in range(activities):
        unit = getattr(w, ledger.rng.choice(units))
        ledger.log(unit, status=ledger.rng.choice(statuses))
    for _i in range(4):
        ledger.manual(getattr(w, ledger.rng.choice(units)))


# --- the hooks ---------------------------------------------------------------------------------


def test_approval_counts_the_activity_and_confirms_the_hours_in_one_go(
    world: World, town_coordinator: User
) -> None:
    ledger = make_ledger(world, 1)
    volunteer = ledger.volunteers[0]
    activity = make_activity(
        world.station_manager,
        world.station,
        category="theory",
        beneficiaries=120,
        materials=30,
        participants=[{"volunteer": volunteer.pk, "hours": "1.50"}],
    )
    services.activity_submit(actor=world.station_manager, activity=activity)
    assert table() == {}  # submitted: pending records, nothing counted
    services.activity_approve(actor=town_coordinator, activity=activity)
    cell = (world.station.pk, local_day(activity.start), platform("theory").pk)
    assert table() == {cell: (1, 120, 30, Decimal("1.50"))}
    assert summary.differences() == []


def test_a_returned_activity_counts_nothing_until_it_is_approved(
    world: World, town_coordinator: User
) -> None:
    ledger = make_ledger(world, 2)
    activity = make_activity(
        world.station_manager,
        world.station,
        beneficiaries=40,
        participants=[{"volunteer": ledger.volunteers[0].pk, "hours": "2"}],
    )
    services.activity_submit(actor=world.station_manager, activity=activity)
    services.activity_return(actor=town_coordinator, activity=activity, reason="人数不对")
    assert table() == {}
    assert summary.differences() == []
    services.activity_submit(actor=world.station_manager, activity=activity)
    services.activity_approve(actor=town_coordinator, activity=activity)
    assert list(table().values()) == [(1, 40, 0, Decimal("2.00"))]


def test_voids_take_back_confirmed_hours_only(world: World) -> None:
    ledger = make_ledger(world, 3)
    kept = ledger.manual(world.station)
    pending = hours.record_create(
        actor=ledger.recorder,
        volunteer=ledger.volunteers[1],
        unit=world.station,
        date=kept.date,
        hours="3",
        reason="补录",
    )
    before = table()
    hours.record_void(actor=ledger.recorder, record=pending, reason="录错了")
    assert table() == before  # a pending record was never counted
    hours.record_void(actor=world.coordinator, record=kept, reason="重复")
    assert table() == {}
    assert summary.differences() == []


def test_a_confirmed_correction_replaces_the_hours_it_corrects(world: World) -> None:
    ledger = make_ledger(world, 4)
    original = ledger.manual(world.station)
    correction = hours.record_correct(
        actor=ledger.recorder, record=original, hours="0.75", reason="实际时长"
    )
    hours.record_confirm(actor=world.coordinator, record=correction)
    assert table() == {(world.station.pk, original.date, None): (0, 0, 0, Decimal("0.75"))}
    assert summary.differences() == []


def test_hours_without_a_platform_add_up_in_their_own_cell(world: World) -> None:
    ledger = make_ledger(world, 5)
    day = dt.date.today() - dt.timedelta(days=3)
    for volunteer, amount in zip(ledger.volunteers[:3], ("1.25", "2", "0.5"), strict=True):
        record = hours.record_create(
            actor=ledger.recorder,
            volunteer=volunteer,
            unit=world.town,
            date=day,
            hours=amount,
            reason="补录",
        )
        hours.record_confirm(actor=world.coordinator, record=record)
    assert table() == {(world.town.pk, day, None): (0, 0, 0, Decimal("3.75"))}
    assert ActivitySummary.objects.count() == 1  # upserted, not one row per record


def test_an_activity_counts_on_the_local_day_of_its_start(
    world: World, town_coordinator: User
) -> None:
    """23:30 in China is 15:30 UTC the same day, 00:30 is the day before in UTC: the
    incremental upsert and the set-based rebuild agree on the local day."""
    make_ledger(world, 6)
    late = dt.datetime(2025, 3, 1, 23, 30, tzinfo=LOCAL)
    early = dt.datetime(2025, 3, 2, 0, 30, tzinfo=LOCAL)
    for start in (late, early):
        activity = services.activity_create(
            actor=world.station_manager,
            data={
                "title": "夜间巡逻",
                "unit": world.station,
                "category": platform("civility"),
                "start": start,
                "end": start + dt.timedelta(minutes=20),
            },
        )
        services.activity_submit(actor=world.station_manager, activity=activity)
        services.activity_approve(actor=town_coordinator, activity=activity)
    days = sorted(day for _unit, day, _category in table())
    assert days == [dt.date(2025, 3, 1), dt.date(2025, 3, 2)]
    assert summary.differences() == []
    summary.rebuild()
    assert sorted(day for _unit, day, _category in table()) == days


def test_the_hooks_cost_one_statement_each(world: World, town_coordinator: User) -> None:
    """Approving with two participants: one upsert for the activity and one per confirmed
    record, inside the approval's transaction."""
    ledger = make_ledger(world, 7)
    activity = make_activity(
        ledger.recorder,
        world.station,
        participants=[{"volunteer": v.pk, "hours": "1"} for v in ledger.volunteers[:2]],
    )
    services.activity_submit(actor=ledger.recorder, activity=activity)
    with CaptureQueriesContext(connection) as captured:
        services.activity_approve(actor=town_coordinator, activity=activity)
    upserts = [q["sql"] for q in captured if "activities_activitysummary" in q["sql"]]
    assert len(upserts) == 3
    assert all("ON CONFLICT" in sql for sql in upserts)


# --- random history: summary equals records -----------------------------------------------------


@pytest.mark.parametrize("seed", [11, 12])
def test_the_summary_equals_the_records_after_a_random_history(world: World, seed: int) -> None:
    """Random approvals, returns, resubmissions, manual hours, voids and unit moves (within
    the county and to another county): the summary equals the test's own ledger and the
    records at every step, and a rebuild writes the same table."""
    ledger = make_ledger(world, seed)
    random_history(ledger, 24)
    assert table() == ledger.expected()
    assert summary.differences() == []

    assert ledger.void_some(0.3) > 0
    assert table() == ledger.expected()
    assert summary.differences() == []

    # Moves change no row (they follow the unit's id) and need no rebuild.
    practice_services.unit_move(actor=world.superuser, unit=world.station2, parent=world.town2)
    practice_services.unit_move(actor=world.superuser, unit=world.station3, parent=world.other_town)
    # More history after the moves (station3 now belongs to the other county).
    random_history(ledger, 8, tuple(u for u in COUNTY_UNITS if u != "station3"))
    ledger.void_some(0.2)
    assert table() == ledger.expected()
    assert summary.differences() == []

    incremental = table()
    assert summary.rebuild() >= len(incremental)
    assert table() == incremental
    assert summary.differences() == []


def test_differences_name_each_cell_that_disagrees_and_rebuild_repairs_them(
    world: World,
) -> None:
    ledger = make_ledger(world, 21)
    random_history(ledger, 10)
    expected = ledger.expected()
    assert expected
    (unit, day, category), figures = sorted(expected.items(), key=str)[0]
    row = ActivitySummary.objects.get(unit_id=unit, day=day, **{"category_id": category})
    row.beneficiaries += 7
    row.volunteer_hours += Decimal("0.25")
    row.save()
    ghost_day = dt.date(2020, 1, 1)
    ActivitySummary.objects.create(unit=world.point, day=ghost_day, category=None, activities=2)
    missing = sorted((k for k in expected if k != (unit, day, category)), key=str)[0]
    ActivitySummary.objects.filter(
        unit_id=missing[0], day=missing[1], **{"category_id": missing[2]}
    ).delete()

    found = {(d["unit"], d["day"], d["category"]): d for d in summary.differences()}
    assert set(found) == {(unit, day, category), (world.point.pk, ghost_day, None), missing}
    changed = found[(unit, day, category)]
    assert changed["expected"]["beneficiaries"] == figures[1]
    assert changed["summary"]["beneficiaries"] == figures[1] + 7
    assert changed["summary"]["volunteer_hours"] == figures[3] + Decimal("0.25")
    assert found[(world.point.pk, ghost_day, None)]["summary"]["activities"] == 2
    assert found[missing]["summary"] == dict.fromkeys(FIGURES, 0)
    assert len(summary.differences(limit=2)) == 2

    summary.rebuild()
    assert summary.differences() == []
    assert table() == expected


def test_rebuild_is_set_based(world: World) -> None:
    """The same few statements whatever the number of records."""
    ledger = make_ledger(world, 22)
    random_history(ledger, 6)
    with CaptureQueriesContext(connection) as captured:
        summary.rebuild()
    statements = [q["sql"] for q in captured if "activitysummary" in q["sql"]]
    assert len(statements) == (3 if connection.vendor == "postgresql" else 2)
    assert statements[-1].startswith("INSERT INTO") and "GROUP BY" in statements[-1]


# --- the command and the nightly check -----------------------------------------------------------


def test_the_command_checks_and_rebuilds(world: World, capsys: Any) -> None:
    ledger = make_ledger(world, 31)
    random_history(ledger, 6)
    call_command("activity_summary", "--check")
    assert "equals the records" in capsys.readouterr().out
    call_command("activity_summary")  # the check is the default
    assert "equals the records" in capsys.readouterr().out

    ActivitySummary.objects.all().delete()
    with pytest.raises(CommandError) as raised:
        call_command("activity_summary", "--check")
    assert raised.value.returncode == 1  # the shell's exit status (run_from_argv)
    assert "--rebuild" in str(raised.value)
    assert "records activities=" in capsys.readouterr().err

    call_command("activity_summary", "--rebuild", "--check")
    out = capsys.readouterr().out
    assert "Summary rebuilt" in out and "equals the records" in out
    assert table() == ledger.expected()


def test_the_nightly_check_logs_and_tells_the_superusers(world: World, caplog: Any) -> None:
    ledger = make_ledger(world, 41)
    random_history(ledger, 4)
    record = ledger.manual(world.station)
    assert check_activity_summary() == {"differences": 0}
    assert not InboxMessage.objects.filter(purpose="summary_check").exists()

    ActivitySummary.objects.filter(
        unit=world.station, day=record.date, category__isnull=True
    ).update(volunteer_hours=Decimal(99))
    caplog.set_level("ERROR", logger="activities.tasks")
    assert check_activity_summary() == {"differences": 1}
    assert "activity summary differs" in caplog.text
    messages = InboxMessage.objects.filter(purpose="summary_check")
    assert [m.recipient_id for m in messages] == [world.superuser.pk]
    assert "--rebuild" in messages[0].text


def test_the_check_runs_nightly_from_beat() -> None:
    entries = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "activities.tasks.check_activity_summary" in entries


# --- concurrency (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_approvals_add_up_without_deadlock(world: World, town_coordinator: User) -> None:
    """Four activities of one station, day and platform sharing two volunteers (listed in
    opposite orders), approved at once: the reviews lock the volunteers in id order before
    the records and the summary cell, so none deadlocks, and the upserts add up."""
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL (DATABASE_URL); the database is {connection.vendor}")
    from tests.volunteers.test_hours_concurrency import run_threads

    ledger = make_ledger(world, 81)
    a, b = ledger.volunteers[0], ledger.volunteers[5]  # both of the station
    reports = []
    for i in range(4):
        pair = [a, b] if i % 2 else [b, a]
        activity = make_activity(
            ledger.recorder,
            world.station,
            category="sports",
            days_ago=3,
            hours=1,
            beneficiaries=10 + i,
            participants=[{"volunteer": v.pk, "hours": "1"} for v in pair],
        )
        services.activity_submit(actor=ledger.recorder, activity=activity)
        reports.append(activity)
    results, errors = run_threads(
        [partial(services.activity_approve, actor=town_coordinator, activity=r) for r in reports]
    )
    assert errors == [] and len(results) == 4
    assert list(table().values()) == [(4, 46, 0, Decimal("8.00"))]
    assert summary.differences() == []
