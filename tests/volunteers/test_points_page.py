"""The coordinators' points page (/points/): award or deduct with a reason, set the rate;
managers and outsiders cannot."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import World
from volunteers.choices import PointsKind
from volunteers.models import PointsEntry, PointsRate

from .conftest import make_volunteer

URL = "/points/"


def test_a_coordinator_awards_and_deducts_with_a_reason(world: World, browser_client: Any) -> None:
    volunteer = make_volunteer(world.station, points=20)
    client = browser_client(world.coordinator)
    assert client.get(URL).status_code == 200
    response = client.post(
        URL,
        {
            "form": "adjust",
            "adjust-number": volunteer.number.lower(),
            "adjust-points": "15",
            "adjust-reason": "抗洪救灾表彰",
        },
    )
    assert response.status_code == 302
    response = client.post(
        URL,
        {
            "form": "adjust",
            "adjust-number": volunteer.number,
            "adjust-points": "-5",
            "adjust-reason": "重复记录扣回",
        },
    )
    assert response.status_code == 302
    entries = list(PointsEntry.objects.filter(volunteer=volunteer).order_by("pk"))
    assert [(e.kind, e.points, e.balance) for e in entries] == [
        (PointsKind.AWARDED, 15, 35),
        (PointsKind.DEDUCTED, -5, 30),
    ]
    volunteer.refresh_from_db()
    assert volunteer.points_balance == 30


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"adjust-points": "10", "adjust-reason": ""}, "reason"),
        ({"adjust-points": "-999", "adjust-reason": "扣"}, None),  # below zero
        ({"adjust-points": "0", "adjust-reason": "零"}, "points"),
    ],
)
def test_bad_adjustments_change_nothing(
    world: World, browser_client: Any, data: dict[str, str], field: str | None
) -> None:
    volunteer = make_volunteer(world.station, points=20)
    client = browser_client(world.coordinator)
    response = client.post(URL, {"form": "adjust", "adjust-number": volunteer.number, **data})
    assert response.status_code == 200
    assert response.context["adjust"].errors
    if field:
        assert field in response.context["adjust"].errors
    assert not PointsEntry.objects.exists()


def test_a_volunteer_of_another_county_is_not_found(world: World, browser_client: Any) -> None:
    outsider = make_volunteer(world.other_station, points=20)
    response = browser_client(world.coordinator).post(
        URL,
        {
            "form": "adjust",
            "adjust-number": outsider.number,
            "adjust-points": "5",
            "adjust-reason": "x",
        },
    )
    assert response.status_code == 200
    assert "number" in response.context["adjust"].errors
    assert not PointsEntry.objects.exists()


def test_a_coordinator_sets_the_rate_of_a_town(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    response = client.post(
        URL, {"form": "rate", "rate-unit": str(world.town.pk), "rate-points_per_hour": "20"}
    )
    assert response.status_code == 302
    assert PointsRate.objects.get(unit=world.town).points_per_hour == 20
    page = client.get(URL).content.decode()
    assert "一镇所" in page
    response = client.post(
        URL,
        {"form": "rate", "rate-unit": str(world.other_centre.pk), "rate-points_per_hour": "5"},
    )
    assert response.status_code == 200 and "unit" in response.context["rate"].errors


@pytest.mark.parametrize("who", ["station_manager", "town_manager", "no_role"])
def test_managers_and_others_do_not_get_the_page(
    world: World, browser_client: Any, who: str
) -> None:
    assert browser_client(getattr(world, who)).get(URL).status_code == 404


def test_the_service_records_page_links_it_for_coordinators(
    world: World, browser_client: Any
) -> None:
    link = 'id="points-manage-link"'
    assert link in browser_client(world.coordinator).get("/service-records/").content.decode()
    assert link not in browser_client(world.town_manager).get("/service-records/").content.decode()
