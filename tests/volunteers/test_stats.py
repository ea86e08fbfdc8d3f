"""``GET /units/{id}/stats/`` counts volunteers, teams and confirmed hours of the subtree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from practice.models import Category
from tests.conftest import World
from volunteers.choices import RecordStatus, VolunteerStatus
from volunteers.models import ServiceRecord, Team

from .conftest import make_volunteer


def stats(api: Any, world: World, unit: Any, **query: str) -> dict[str, Any]:
    response = api(world.coordinator).get(f"/api/v1/units/{unit.pk}/stats/", query)
    assert response.status_code == 200, response.content
    return response.json()


def record(volunteer: Any, unit: Any, day: str, hours: str, status: str, world: World) -> None:
    created = ServiceRecord.objects.create(
        volunteer=volunteer,
        unit=unit,
        date=dt.date.fromisoformat(day),
        hours=Decimal(hours),
        category=Category.objects.get(code="culture"),
        status=status,
        recorded_by=world.station_manager,
        confirmed_by=world.coordinator if status == RecordStatus.CONFIRMED else None,
        reason="test",
    )
    if status == RecordStatus.CONFIRMED:  # as record_confirm counts it
        from activities import summary

        summary.on_record_confirmed(created)


def test_volunteers_teams_and_confirmed_hours_of_the_subtree(world: World, api: Any) -> None:
    village = make_volunteer(world.station)
    make_volunteer(world.station2)
    make_volunteer(world.station, status=VolunteerStatus.PENDING)  # not counted
    make_volunteer(world.other_station)  # another county
    Team.objects.create(name="一村队", unit=world.station)
    Team.objects.create(name="停用队", unit=world.station, is_active=False)
    Team.objects.create(name="他县队", unit=world.other_station)
    record(village, world.station, "2025-03-01", "2.50", RecordStatus.CONFIRMED, world)
    record(village, world.station, "2025-08-01", "1.25", RecordStatus.CONFIRMED, world)
    record(village, world.station, "2025-03-02", "4.00", RecordStatus.PENDING, world)

    county = stats(api, world, world.centre)
    assert (county["volunteers"], county["teams"], county["volunteer_hours"]) == (2, 1, "3.75")
    culture = next(c for c in county["by_category"] if c["category"] == "culture")
    assert culture["volunteer_hours"] == "3.75"
    assert {c["volunteer_hours"] for c in county["by_category"] if c["category"] != "culture"} == {
        "0.00"
    }

    first_half = stats(api, world, world.centre, **{"from": "2025-01-01", "to": "2025-06-30"})
    assert first_half["volunteer_hours"] == "2.50"

    town2 = stats(api, world, world.town2)
    assert (town2["volunteers"], town2["teams"], town2["volunteer_hours"]) == (0, 0, "0.00")


def test_the_public_pages_show_the_figures_and_follow_every_write(
    world: World, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Home and unit pages count volunteers, teams and confirmed hours; they are cached,
    and a registration's approval, a team and a confirmation each show at once."""
    from volunteers import hours, services, teams

    def figures(url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200
        return response.content.decode()

    town = f"/units/{world.town.pk}/"
    for url in ("/", town):
        figures(url)
        assert client.get(url)["X-Page-Cache"] == "hit"
    pending = make_volunteer(world.station, status=VolunteerStatus.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        services.volunteer_approve(actor=world.station_manager, volunteer=pending)
    home = figures("/")
    assert 'data-figure="volunteers">1<' in home
    with django_capture_on_commit_callbacks(execute=True):
        teams.team_create(actor=world.town_manager, unit=world.station, name="一村服务队")
    assert 'data-figure="teams">1<' in figures("/")
    with django_capture_on_commit_callbacks(execute=True):
        record = hours.record_create(
            actor=world.station_manager,
            volunteer=pending,
            unit=world.station,
            date=dt.date(2026, 1, 5),
            hours=Decimal("3.00"),
            reason="活动签到",
        )
        hours.record_confirm(actor=world.town_manager, record=record)
    assert 'data-figure="hours">3<' in figures("/")
    page = figures(town)
    assert "志愿服务队" in page or "volunteer teams" in page
