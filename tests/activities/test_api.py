"""``/api/v1/activities/``: the contract's fields, the transitions, filters, the
permission matrix and a constant query count for the list."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from activities import services
from activities.choices import ActivityStatus
from activities.models import Activity
from practice.models import Category
from practice.permissions import forget_grants
from tests.conftest import World
from tests.querycount import queries_of
from tests.volunteers.conftest import make_volunteer
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db

URL = "/api/v1/activities/"
FIELDS = {
    "id",
    "title",
    "unit",
    "unit_name",
    "category",
    "team",
    "team_name",
    "start",
    "end",
    "location",
    "latitude",
    "longitude",
    "capacity",
    "signed_up",
    "description",
    "beneficiaries",
    "materials",
    "participants",
    "status",
    "request",
    "reviewed_at",
    "return_reason",
    "photos",  # activities.photos (possible_duplicates: on the detail only)
    "possible_duplicates",
}


@pytest.fixture
def category(db: Any) -> Category:
    return Category.objects.get_or_create(code="culture", defaults={"name": "文化服务"})[0]


@pytest.fixture
def volunteer(world: World) -> Volunteer:
    return make_volunteer(world.station, name="王志愿")


def body(world: World, volunteer: Volunteer, **overrides: Any) -> dict[str, Any]:
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=2)
    data: dict[str, Any] = {
        "title": "理论宣讲进村",
        "unit": world.station.pk,
        "category": "culture",
        "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=3)).isoformat(),
        "location": "村文化礼堂",
        "description": "宣讲",
        "beneficiaries": 120,
        "materials": 300,
        "participants": [{"volunteer": volunteer.pk, "hours": "2"}],
    }
    data.update(overrides)
    return data


def create(api: Any, world: World, volunteer: Volunteer, user: Any = None, **kw: Any) -> Any:
    return api(user or world.station_manager).post(URL, body(world, volunteer, **kw), format="json")


def test_station_manager_logs_submits_and_the_county_approves(
    api: Any, world: World, category: Category, volunteer: Volunteer
) -> None:
    response = create(api, world, volunteer)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) == FIELDS
    assert data["status"] == "draft"
    assert data["category"] == "culture"
    assert data["unit_name"] == "一村站"
    assert data["participants"] == [
        {
            "volunteer": volunteer.pk,
            "volunteer_name": "王志愿",
            "hours": "2.00",
            "checked_hours": None,
            "record_status": None,
        }
    ]
    pk = data["id"]
    manager = api(world.station_manager)
    response = manager.patch(f"{URL}{pk}/", {"beneficiaries": 150}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["beneficiaries"] == 150
    response = manager.post(f"{URL}{pk}/submit/")
    assert response.status_code == 200
    assert response.json()["status"] == "submitted"
    assert response.json()["participants"][0]["record_status"] == "pending"
    # Their own unit: not theirs to approve; nor the town manager's (not a coordinator).
    assert manager.post(f"{URL}{pk}/approve/").status_code == 403
    assert api(world.town_manager).post(f"{URL}{pk}/approve/").status_code == 403
    assert api(world.other_coordinator).post(f"{URL}{pk}/approve/").status_code == 404
    response = api(world.coordinator).post(f"{URL}{pk}/approve/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"
    assert response.json()["reviewed_at"]
    assert response.json()["participants"][0]["record_status"] == "confirmed"
    volunteer.refresh_from_db()
    assert volunteer.confirmed_hours == Decimal("2.00")
    # Approved: no more edits or transitions.
    assert manager.patch(f"{URL}{pk}/", {"title": "x"}, format="json").status_code == 409
    assert manager.post(f"{URL}{pk}/submit/").status_code == 409
    response = api(world.coordinator).post(f"{URL}{pk}/approve/")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_return_with_a_reason(
    api: Any, world: World, category: Category, volunteer: Volunteer
) -> None:
    pk = create(api, world, volunteer).json()["id"]
    api(world.station_manager).post(f"{URL}{pk}/submit/")
    coordinator = api(world.coordinator)
    response = coordinator.post(f"{URL}{pk}/return/", {"reason": ""}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["detail"]
    response = coordinator.post(f"{URL}{pk}/return/", {"reason": "照片不清"}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["return_reason"]) == ("returned", "照片不清")
    assert data["participants"][0]["record_status"] == "void"
    response = api(world.station_manager).post(f"{URL}{pk}/submit/")
    assert response.json()["participants"][0]["record_status"] == "pending"


def test_centre_activity_needs_someone_above(
    api: Any, world: World, category: Category, volunteer: Volunteer
) -> None:
    response = create(api, world, volunteer, user=world.coordinator, unit=world.centre.pk)
    pk = response.json()["id"]
    api(world.coordinator).post(f"{URL}{pk}/submit/")
    response = api(world.coordinator).post(f"{URL}{pk}/approve/")
    assert response.status_code == 403
    assert response.json()["code"] == "review_not_allowed"


def test_validation_errors_name_the_fields(
    api: Any, world: World, category: Category, volunteer: Volunteer
) -> None:
    start = timezone.now() + dt.timedelta(days=2)
    response = create(
        api,
        world,
        volunteer,
        start=start.isoformat(),
        end=(start + dt.timedelta(hours=2)).isoformat(),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "date_in_future"
    response = create(
        api,
        world,
        volunteer,
        status="planned",
        start=start.isoformat(),
        end=(start + dt.timedelta(hours=2)).isoformat(),
    )
    assert response.status_code == 201
    assert response.json()["status"] == "planned"
    response = create(api, world, volunteer, beneficiaries=-1)
    assert response.status_code == 400
    assert "beneficiaries" in response.json()["detail"]
    response = create(
        api,
        world,
        volunteer,
        participants=[{"volunteer": volunteer.pk, "hours": "1"}] * 2,
    )
    assert response.status_code == 400
    assert "participants.1.volunteer" in response.json()["detail"]
    response = create(api, world, volunteer, status="approved")
    assert response.status_code == 400


def test_scope(api: Any, world: World, category: Category, volunteer: Volunteer) -> None:
    pk = create(api, world, volunteer).json()["id"]
    assert api().get(URL).status_code in (401, 403)
    assert api(world.no_role).get(URL).json()["count"] == 0
    assert api(world.other_coordinator).get(URL).json()["count"] == 0
    assert api(world.other_coordinator).get(f"{URL}{pk}/").status_code == 404
    assert (
        api(world.other_coordinator).patch(f"{URL}{pk}/", {"title": "x"}, format="json").status_code
        == 404
    )
    assert api(world.coordinator).get(f"{URL}{pk}/").status_code == 200
    assert api(world.town_manager).get(URL).json()["count"] == 1
    # A unit outside the caller's view reads as unknown.
    response = create(api, world, volunteer, unit=world.other_station.pk)
    assert response.status_code == 400
    assert "unit" in response.json()["detail"]
    # In view but not allowed to log there: the station manager at the town.
    response = create(api, world, volunteer, user=world.station_manager, unit=world.town.pk)
    assert response.status_code == 400  # the town is not in the station manager's view


def _activity(world: World, category: Category, unit: Any, days: int, status: str) -> Activity:
    start = timezone.now() - dt.timedelta(days=days)
    return Activity.objects.create(
        title=f"活动{days}",
        unit=unit,
        category=category,
        start=start,
        end=start + dt.timedelta(hours=2),
        status=status,
    )


def test_filters(api: Any, world: World, category: Category) -> None:
    other = Category.objects.get_or_create(code="theory", defaults={"name": "理论宣讲"})[0]
    a = _activity(world, category, world.station, 2, ActivityStatus.DRAFT)
    b = _activity(world, category, world.town, 20, ActivityStatus.SUBMITTED)
    c = _activity(world, other, world.station3, 40, ActivityStatus.APPROVED)
    client = api(world.coordinator)

    def ids(query: str) -> set[int]:
        response = client.get(URL + query)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids("") == {a.pk, b.pk, c.pk}
    assert ids(f"?unit={world.town.pk}") == {b.pk}
    assert ids(f"?within={world.town.pk}") == {a.pk, b.pk}
    assert ids("?status=submitted&status=approved") == {b.pk, c.pk}
    assert ids("?category=theory") == {c.pk}
    since = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    until = (timezone.localdate() - dt.timedelta(days=10)).isoformat()
    assert ids(f"?from={since}") == {a.pk, b.pk}
    assert ids(f"?from={since}&to={until}") == {b.pk}
    assert client.get(URL + "?unit=1.5").status_code == 400


def test_list_query_count_is_constant(api: Any, world: World, category: Category) -> None:
    def fill(n: int) -> None:
        for i in range(n):
            volunteer = make_volunteer(world.station, name=f"志愿{i}")
            activity = services.activity_create(
                actor=world.station_manager,
                data={
                    "title": f"活动{i}",
                    "unit": world.station,
                    "category": category,
                    "start": timezone.now() - dt.timedelta(days=2, hours=i),
                    "end": timezone.now() - dt.timedelta(days=2, hours=i) + dt.timedelta(hours=2),
                    "participants": [{"volunteer": volunteer.pk, "hours": "1"}],
                },
            )
            if i % 2:
                services.activity_submit(actor=world.station_manager, activity=activity)

    client = api(world.coordinator)
    fill(3)
    forget_grants(world.coordinator)  # read once per request, as in a real one
    small = queries_of(client, URL)
    fill(27)
    forget_grants(world.coordinator)
    large = queries_of(client, URL)
    assert len(small) == len(large), (small, large)
    assert len(large) <= 5  # grants, count, page, participants, photos
    assert client.get(URL).json()["count"] == 30
