"""Activity statistics (``activities.stats``) and ``GET /api/v1/units/{id}/stats/``: the
figures equal sums the test computes itself from what it created — random data, several
subtrees and periods — and cost a constant number of queries whatever the subtree's size."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from activities import stats, summary
from activities.choices import ActivityStatus
from activities.models import ActivitySummary
from orders.choices import RequestStatus
from orders.models import ServiceRequest
from practice import services as practice_services
from practice.choices import Role
from practice.models import Category, Unit, User
from practice.tree import NodeSpec
from tests.conftest import World
from tests.factories import RoleFactory
from tests.orders.conftest import OrdersWorld, advance, new_request, ow  # noqa: F401
from tests.querycount import queries_of

from .conftest import PLATFORMS, make_activity, platform
from .test_summary import COUNTY_UNITS, Ledger, make_ledger, random_history

FIGURES = ("activities", "beneficiaries", "materials", "volunteer_hours")


# --- independent sums --------------------------------------------------------------------------


def below(unit: Unit) -> set[int]:
    """The unit and every unit under it, by the tree's own parent links (no ranges)."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent in Unit.objects.values_list("pk", "parent_id"):
        children[parent].append(pk)
    found, todo = set(), [unit.pk]
    while todo:
        pk = todo.pop()
        found.add(pk)
        todo.extend(children[pk])
    return found


def sums(
    ledger: Ledger, units: set[int], first: dt.date | None, last: dt.date | None, **where: Any
) -> dict[str, Any]:
    """The four figures of the ledger's approved activities and confirmed hours organized
    in ``units`` on the days ``first``–``last`` (and of one platform, with ``category``)."""

    def wanted(unit: int, day: dt.date, category: int | None) -> bool:
        if unit not in units:
            return False
        if (first is not None and day < first) or (last is not None and day > last):
            return False
        return "category" not in where or category == where["category"]

    out: dict[str, Any] = {"activities": 0, "beneficiaries": 0, "materials": 0}
    hours = Decimal(0)
    for unit, day, category, people, handed in ledger.approved.values():
        if wanted(unit, day, category):
            out["activities"] += 1
            out["beneficiaries"] += people
            out["materials"] += handed
    for r_unit, r_day, r_category, amount, _v, _a in ledger.confirmed.values():
        if wanted(r_unit, r_day, r_category):
            hours += amount
    out["volunteer_hours"] = f"{hours:.2f}"
    return out


def people(ledger: Ledger, units: set[int], first: dt.date | None, last: dt.date | None) -> int:
    return len(
        {
            volunteer
            for unit, day, _c, _h, volunteer, from_activity in ledger.confirmed.values()
            if from_activity
            and unit in units
            and (first is None or day >= first)
            and (last is None or day <= last)
        }
    )


def months_of(first: dt.date, last: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """(``YYYY-MM``, first day, last day) of each month from ``first`` to ``last``, clipped."""
    out = []
    month = first.replace(day=1)
    while month <= last:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        out.append((f"{month:%Y-%m}", max(month, first), min(following - dt.timedelta(1), last)))
        month = following
    return out


def api_stats(api: Any, user: User, unit: Unit, first: Any, last: Any) -> dict[str, Any]:
    query = {k: v.isoformat() for k, v in (("from", first), ("to", last)) if v is not None}
    response = api(user).get(f"/api/v1/units/{unit.pk}/stats/", query)
    assert response.status_code == 200, response.content
    return response.json()


def figures_of(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in FIGURES}


@pytest.mark.parametrize("seed", [51, 52])
def test_the_stats_api_equals_independent_sums(world: World, api: Any, seed: int) -> None:
    ledger = make_ledger(world, seed)
    random_history(ledger, 36)
    make_activity(ledger.recorder, world.station, status=ActivityStatus.PLANNED, days_ago=-3)
    ledger.void_some(0.15)
    practice_services.unit_move(actor=world.superuser, unit=world.station3, parent=world.other_town)
    random_history(ledger, 6, tuple(u for u in COUNTY_UNITS if u != "station3"))
    world.refresh()

    today = timezone.localdate()
    some_day = sorted(day for _u, day, *_rest in ledger.approved.values())[3]
    periods = [
        (None, None),
        (today - dt.timedelta(days=365), today),
        (today - dt.timedelta(days=200), today - dt.timedelta(days=40)),
        (some_day, some_day),
        (None, today - dt.timedelta(days=100)),
    ]
    codes = {c.pk: c.code for c in Category.objects.all()}
    checked = 0
    for unit in (world.centre, world.town, world.town2, world.station, world.other_centre):
        units = below(unit)
        children = list(Unit.objects.filter(parent=unit, is_active=True).order_by("lft"))
        for first, last in periods:
            body = api_stats(api, world.superuser, unit, first, last)
            where = (unit.name, first, last)
            assert figures_of(body) == sums(ledger, units, first, last), where
            assert body["participants"] == people(ledger, units, first, last), where
            for row in body["by_category"]:
                (pk,) = [pk for pk, code in codes.items() if code == row["category"]]
                assert figures_of(row) == sums(ledger, units, first, last, category=pk), where
            assert [row["category"] for row in body["by_category"]] == list(PLATFORMS)
            assert [row["unit"] for row in body["by_child"]] == [c.pk for c in children]
            for row, child in zip(body["by_child"], children, strict=True):
                assert figures_of(row) == sums(ledger, below(child), first, last), where
            start = first or (today.replace(day=1) - dt.timedelta(days=320)).replace(day=1)
            if first is None and last is not None:
                start = (last.replace(day=1) - dt.timedelta(days=320)).replace(day=1)
            months = months_of(start, last or today)
            assert [row["month"] for row in body["by_month"]] == [m for m, _f, _l in months]
            for row, (_m, month_first, month_last) in zip(body["by_month"], months, strict=True):
                assert figures_of(row) == sums(ledger, units, month_first, month_last), where
            checked += body["activities"]
    assert checked > 0  # the random history gave figures to compare


def test_activity_figures_give_every_platform_month_and_child(
    world: World, town_coordinator: User
) -> None:
    for code in PLATFORMS:
        platform(code)
    activity = make_activity(
        world.station_manager, world.point, category="education", beneficiaries=50, materials=5
    )
    from activities import services

    services.activity_submit(actor=world.station_manager, activity=activity)
    services.activity_approve(actor=town_coordinator, activity=activity)
    figures = stats.activity_figures(world.centre)
    assert (figures["activities"], figures["beneficiaries"], figures["materials"]) == (1, 50, 5)
    assert figures["volunteer_hours"] == Decimal("0.00")
    assert isinstance(figures["volunteer_hours"], Decimal)
    assert [(c["category"], c["activities"]) for c in figures["by_category"]] == [
        (code, 1 if code == "education" else 0) for code in PLATFORMS
    ]
    assert figures["by_category"][0]["name"] == "理论宣讲"
    assert len(figures["by_month"]) == 12  # the last 12 months, zeros included
    assert figures["by_month"][-1]["month"] == f"{timezone.localdate():%Y-%m}"
    assert sum(m["activities"] for m in figures["by_month"]) == 1
    assert [(c["unit"], c["kind"], c["activities"]) for c in figures["by_child"]] == [
        (world.town.pk, "institute", 1),
        (world.town2.pk, "institute", 0),
    ]
    # A closed child is left out of by_child; its figures stay in the totals.
    Unit.objects.filter(pk=world.town.pk).update(is_active=False)
    figures = stats.activity_figures(world.centre)
    assert [c["unit"] for c in figures["by_child"]] == [world.town2.pk]
    assert figures["activities"] == 1


def test_month_range() -> None:
    d = dt.date
    assert stats.month_range(d(2021, 1, 1), d(2021, 12, 31)) == (d(2021, 1, 1), d(2021, 12, 31))
    assert stats.month_range(d(2021, 3, 15), d(2021, 3, 20)) == (d(2021, 3, 15), d(2021, 3, 20))
    assert stats.month_range(None, d(2021, 6, 10)) == (d(2020, 7, 1), d(2021, 6, 10))
    first, last = stats.month_range(d(1990, 1, 1), d(2021, 12, 31))
    assert (first, last) == (d(2012, 1, 1), d(2021, 12, 31))  # at most MONTHS_MAX months


def test_participants_are_distinct_volunteers_of_approved_activities(
    world: World, town_coordinator: User
) -> None:
    ledger = make_ledger(world, 61)
    a, b, c = ledger.volunteers[:3]
    from activities import services

    def report(unit: Unit, volunteers: list[Any], days_ago: float) -> Any:
        activity = make_activity(
            ledger.recorder,
            unit,
            days_ago=days_ago,
            participants=[{"volunteer": v.pk, "hours": "1"} for v in volunteers],
        )
        services.activity_submit(actor=ledger.recorder, activity=activity)
        return activity

    services.activity_approve(actor=town_coordinator, activity=report(world.station, [a, b], 5))
    services.activity_approve(actor=town_coordinator, activity=report(world.station2, [a], 6))
    services.activity_return(
        actor=town_coordinator, activity=report(world.station, [c], 7), reason="重报"
    )
    ledger.manual(world.station)  # hours, but not of an activity
    assert stats.participants(world.centre) == 2
    assert stats.participants(world.station2) == 1
    assert stats.participants(world.town2) == 0
    today = timezone.localdate()
    assert stats.participants(world.centre, date_from=today - dt.timedelta(days=5)) <= 2
    assert stats.participants(world.centre, date_to=today - dt.timedelta(days=30)) == 0


def test_silent_children_logged_nothing_that_month(world: World, town_coordinator: User) -> None:
    platform()
    start = timezone.now() - dt.timedelta(days=2)
    month = timezone.localtime(start).date()
    # A draft deep in town's subtree counts as reporting; a planned one does not.
    make_activity(world.station_manager, world.point, days_ago=2)
    make_activity(world.coordinator, world.town2, days_ago=-3, status=ActivityStatus.PLANNED)
    assert stats.silent_children(world.centre, month=month) == [world.town2]
    assert stats.silent_children(world.town, month=month) == [world.station2]
    earlier = (month.replace(day=1) - dt.timedelta(days=40)).replace(day=1)
    assert stats.silent_children(world.centre, month=earlier) == [world.town, world.town2]
    Unit.objects.filter(pk=world.town2.pk).update(is_active=False)
    assert stats.silent_children(world.centre, month=earlier) == [world.town]


def test_request_timings(ow: OrdersWorld) -> None:  # noqa: F811 - the fixture
    w = ow.w
    base = timezone.now() - dt.timedelta(days=10)
    dispatched = advance(ow, new_request(ow, contact_phone="13900001111"), RequestStatus.DISPATCHED)
    delivered = advance(ow, new_request(ow, contact_phone="13900002222"), RequestStatus.DELIVERED)
    waiting = new_request(ow, contact_phone="13900003333")
    ServiceRequest.objects.filter(pk=dispatched.pk).update(
        created_at=base, dispatched_at=base + dt.timedelta(hours=2)
    )
    ServiceRequest.objects.filter(pk=delivered.pk).update(
        created_at=base,
        dispatched_at=base + dt.timedelta(hours=4),
        delivered_at=base + dt.timedelta(hours=30),
    )
    ServiceRequest.objects.filter(pk=waiting.pk).update(created_at=base)
    unit = Unit.objects.get(pk=dispatched.unit_id)
    county = w.centre if unit.tree_id == w.centre.tree_id else unit
    timings = stats.request_timings(county)
    assert timings == {"average_hours_to_dispatch": 3.0, "average_hours_to_complete": 30.0}
    day = timezone.localtime(base).date()
    assert stats.request_timings(county, date_from=day + dt.timedelta(days=1)) == {
        "average_hours_to_dispatch": None,
        "average_hours_to_complete": None,
    }
    assert stats.request_timings(county, date_from=day, date_to=day)[
        "average_hours_to_complete"
    ] == pytest.approx(30.0)


# --- constant queries --------------------------------------------------------------------------


def _county(name: str, towns: int, stations: int) -> NodeSpec:
    return NodeSpec.from_mapping(
        {
            "name": name,
            "kind": "centre",
            "children": [
                {
                    "name": f"{name}{t:02d}所",
                    "kind": "institute",
                    "children": [
                        {"name": f"{name}{t:02d}所{s:02d}站", "kind": "station"}
                        for s in range(stations)
                    ],
                }
                for t in range(towns)
            ],
        }
    )


@pytest.fixture
def sized(world: World) -> dict[int, Unit]:
    """Two counties of 5 and 211 units, with summary rows on every unit (12 days × 2
    platforms), coordinated by ``world.coordinator``."""
    culture, theory = platform("culture"), platform("theory")
    out = {}
    for size, towns, per_town in ((5, 1, 3), (200, 10, 20)):
        county = practice_services.unit_import_tree(
            actor=world.superuser, parent=None, spec=_county(f"县{size}", towns, per_town)
        )[0]
        RoleFactory(user=world.coordinator, unit=county, role=Role.COORDINATOR)
        units = Unit.objects.filter(tree_id=county.tree_id)
        ActivitySummary.objects.bulk_create(
            ActivitySummary(
                unit=u,
                day=timezone.localdate() - dt.timedelta(days=30 * i),
                category=category,
                activities=1,
                beneficiaries=10,
                materials=i,
                volunteer_hours=Decimal("1.50"),
            )
            for u in units
            for i in range(12)
            for category in (culture, theory)
        )
        out[size] = county
    world.refresh()
    # Roots are kept in name order: a new county may have renumbered the trees.
    return {size: Unit.objects.get(pk=county.pk) for size, county in out.items()}


def test_the_stats_api_queries_do_not_grow_with_the_subtree(
    world: World, api: Any, sized: dict[int, Unit]
) -> None:
    counts = {}
    for size, county in sized.items():
        client = api(User.objects.get(pk=world.coordinator.pk))  # grants not yet read
        url = f"/api/v1/units/{county.pk}/stats/?from=2020-01-01"
        counts[size] = len(queries_of(client, url))
        body = client.get(url).json()
        units = Unit.objects.filter(tree_id=county.tree_id).count()
        assert body["activities"] == units * 24
        assert body["volunteer_hours"] == f"{Decimal('1.50') * units * 24:.2f}"
        assert len(body["by_child"]) == {5: 1, 200: 10}[size]
    # grants, unit, unit counts; volunteers, teams; the activity summary (one scan),
    # platforms, children; participants; requests
    assert counts[5] == counts[200] == 10, counts


def test_each_figure_is_a_fixed_number_of_queries(world: World, sized: dict[int, Unit]) -> None:
    month = timezone.localdate()
    calls = {
        "activity_figures": (lambda u: stats.activity_figures(u), 3),
        "participants": (lambda u: stats.participants(u), 1),
        "silent_children": (lambda u: stats.silent_children(u, month=month), 1),
        "request_timings": (lambda u: stats.request_timings(u), 1),
    }
    for name, (call, expected) in calls.items():
        for county in sized.values():
            with CaptureQueriesContext(connection) as captured:
                call(county)
            assert len(captured) == expected, (name, [q["sql"] for q in captured])


def test_moving_a_unit_moves_its_figures_without_a_rebuild(world: World) -> None:
    ledger = make_ledger(world, 71)
    for _i in range(3):
        ledger.log(world.station3, status=ActivityStatus.APPROVED)
    before = stats.activity_figures(world.centre)["activities"]
    assert stats.activity_figures(world.town2)["activities"] == 3
    practice_services.unit_move(actor=world.superuser, unit=world.station3, parent=world.other_town)
    world.refresh()
    assert stats.activity_figures(world.town2)["activities"] == 0
    assert stats.activity_figures(world.other_centre)["activities"] == 3
    assert stats.activity_figures(world.centre)["activities"] == before - 3
    assert summary.differences() == []
