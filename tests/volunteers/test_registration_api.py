"""``/api/v1/volunteers/``: fields, the permission matrix, registration, decisions, the
throttle, and a list whose queries do not grow with the volunteers."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings
from rest_framework.settings import api_settings

from practice.choices import AuditAction
from practice.models import AuditEntry, Category, User
from tests.conftest import World
from tests.querycount import queries_of
from tests.volunteers.conftest import make_id_number, make_phone, make_volunteer
from volunteers.choices import MembershipStatus, VolunteerStatus
from volunteers.identity import hash_phone, id_number_hash, mask_id_number
from volunteers.models import Team, TeamMembership, Volunteer

pytestmark = pytest.mark.django_db

URL = "/api/v1/volunteers/"
PASSWORD = "river-lantern-4417"


def _body(world: World, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "王小明",
        "id_number": make_id_number(),
        "phone": make_phone(),
        "unit": world.station.pk,
    }
    body.update(overrides)
    return body


def test_register_public(world: World, api: Any) -> None:
    body = _body(world, password=PASSWORD, categories=[Category.objects.first().pk])
    response = api().post(f"{URL}register/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "pending"
    assert data["id_number_masked"] == mask_id_number(body["id_number"])
    assert "id_number" not in data and "password" not in data
    assert "phone" not in data  # an anonymous caller never sees it
    assert data["phone_masked"].startswith(body["phone"][:3])
    assert data["volunteer_number"].startswith("V")
    assert data["total_hours"] == "0.00"
    assert data["teams"] == []
    volunteer = Volunteer.objects.get(pk=data["id"])
    assert volunteer.self_registered


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"password": "12345678"}, "password", "weak_password"),
        ({"id_number": "350627199002301234"}, "id_number", "invalid_id_number"),
        ({"phone": "123"}, "phone", "invalid_phone"),
        ({"name": "龘" * 31}, "name", "too_long"),
        ({"unit": 1.5}, "unit", None),
    ],
)
def test_register_bad_input(
    world: World, api: Any, change: dict[str, Any], field: str, code: str | None
) -> None:
    body = _body(world, **{"password": PASSWORD, **change})
    response = api().post(f"{URL}register/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"]
    if code:
        assert response.json()["code"] == code
    assert not Volunteer.objects.exists()


def test_register_duplicate(world: World, api: Any) -> None:
    idn = make_id_number()
    make_volunteer(world.other_station, id_number=idn, name="李秘密")
    response = api().post(f"{URL}register/", _body(world, id_number=idn, password=PASSWORD))
    assert response.status_code == 400
    assert response.json()["code"] == "duplicate_volunteer"
    assert "李秘密" not in response.content.decode()


def test_register_is_throttled_per_address(world: World, api: Any) -> None:
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "volunteer_register": "2/hour"}
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": rates}):
        client = api()
        for _ in range(2):
            assert client.post(f"{URL}register/", {}, format="json").status_code == 400
        response = client.post(f"{URL}register/", {}, format="json")
        assert response.status_code == 429


def test_list_fields_and_phone_visibility(world: World, api: Any) -> None:
    v = make_volunteer(world.station, hours=123)
    team = Team.objects.create(name="一村队", unit=world.station)
    TeamMembership.objects.create(team=team, volunteer=v, status=MembershipStatus.ACTIVE)
    old = Team.objects.create(name="旧队", unit=world.station)
    TeamMembership.objects.create(team=old, volunteer=v, status=MembershipStatus.LEFT)
    response = api(world.station_manager).get(URL)
    assert response.status_code == 200
    (row,) = response.json()["results"]
    for key in (
        "name",
        "id_number_masked",
        "phone_masked",
        "volunteer_number",
        "gender",
        "birth_date",
        "unit",
        "unit_name",
        "user",
        "status",
        "teams",
        "total_hours",
        "skills",
        "categories",
        "available_time",
        "status_reason",
        "star_level",
    ):
        assert key in row, key
    assert "id_number" not in row
    assert row["phone"] == v.phone
    assert row["teams"] == [team.pk]
    assert row["total_hours"] == "123.00"
    assert row["star_level"] == 1


@pytest.mark.parametrize(
    ("who", "count"),
    [
        ("coordinator", 3),
        ("town_manager", 2),
        ("station_manager", 1),
        ("other_coordinator", 1),
        ("no_role", 0),
        ("superuser", 4),
    ],
)
def test_list_is_scoped(world: World, api: Any, who: str, count: int) -> None:
    make_volunteer(world.station)
    make_volunteer(world.station2)
    make_volunteer(world.station3)
    make_volunteer(world.other_station)
    response = api(getattr(world, who)).get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == count


def test_list_anonymous_401(world: World, api: Any) -> None:
    assert api().get(URL).status_code in (401, 403)


def test_list_filters(world: World, api: Any) -> None:
    a = make_volunteer(world.station, name="张三", status=VolunteerStatus.PENDING)
    b = make_volunteer(world.station3, name="李四")
    client = api(world.coordinator)

    def ids(query: str) -> set[int]:
        response = client.get(URL + query)
        assert response.status_code == 200, response.json()
        return {r["id"] for r in response.json()["results"]}

    assert ids("?status=pending") == {a.pk}
    assert ids(f"?within={world.town2.pk}") == {b.pk}
    assert ids(f"?unit={world.station.pk}") == {a.pk}
    assert ids("?q=李") == {b.pk}
    assert ids(f"?q={a.number}") == {a.pk}
    assert ids(f"?q={a.id_number}") == {a.pk}
    assert ids(f"?q=%2B86{b.phone}") == {b.pk}
    assert client.get(URL + "?status=nope").status_code == 400
    assert client.get(URL + "?within=1.5").status_code == 400


def test_search_by_hash_only(world: World) -> None:
    # The selector never decrypts: an ID number is found by its hash.
    from volunteers.selectors import volunteers_in_scope

    v = make_volunteer(world.station)
    qs = volunteers_in_scope(world.coordinator, q=v.id_number)
    assert id_number_hash(v.id_number) in str(qs.query)
    qs = volunteers_in_scope(world.coordinator, q=v.phone)
    assert hash_phone(v.phone) in str(qs.query)


def test_list_query_count_constant(world: World, api: Any, client: Any) -> None:
    def add(n: int) -> None:
        start = Volunteer.objects.count()
        rows = []
        for i in range(start, start + n):
            idn = make_id_number()
            phone = make_phone()
            rows.append(
                Volunteer(
                    name=f"志愿者{i}",
                    number=f"B{i:09d}",
                    id_number=idn,
                    id_number_hash=id_number_hash(idn),
                    id_number_masked=mask_id_number(idn),
                    gender="male",
                    birth_date="1990-01-01",
                    phone=phone,
                    phone_hash=hash_phone(phone),
                    phone_masked=phone[:3] + "****" + phone[-4:],
                    unit=world.station if i % 2 else world.point,
                )
            )
        made = Volunteer.objects.bulk_create(rows)
        team = Team.objects.get_or_create(name="队", unit=world.station)[0]
        TeamMembership.objects.bulk_create(
            TeamMembership(team=team, volunteer=v, status=MembershipStatus.ACTIVE)
            for v in made[:50]
        )

    client.force_login(world.coordinator)
    add(5)
    small = queries_of(client, URL + "?page_size=100")
    small_page = queries_of(client, "/volunteers/")
    add(495)
    large = queries_of(client, URL + "?page_size=100")
    large_page = queries_of(client, "/volunteers/")
    assert len(small) == len(large), (small, large)
    assert len(small_page) == len(large_page)


def test_retrieve_matrix(world: World, api: Any) -> None:
    account = User.objects.create_user("vself", password=PASSWORD)
    v = make_volunteer(world.station, user=account)
    other_account = User.objects.create_user("vother", password=PASSWORD)
    make_volunteer(world.station2, user=other_account)
    url = f"{URL}{v.pk}/"
    assert api(world.station_manager).get(url).status_code == 200
    assert api(world.coordinator).get(url).status_code == 200
    assert api(world.other_coordinator).get(url).status_code == 404
    assert api(world.no_role).get(url).status_code == 404
    assert api(other_account).get(url).status_code == 404
    own = api(account).get(url)
    assert own.status_code == 200
    assert own.json()["phone"] == v.phone
    # A volunteer's list is their own record only.
    assert [r["id"] for r in api(account).get(URL).json()["results"]] == [v.pk]


def test_patch_matrix(world: World, api: Any) -> None:
    account = User.objects.create_user("vself", password=PASSWORD)
    v = make_volunteer(world.station, user=account)
    url = f"{URL}{v.pk}/"
    assert api(world.other_coordinator).patch(url, {"skills": "x"}).status_code == 404
    assert api(world.no_role).patch(url, {"skills": "x"}).status_code == 404
    response = api(account).patch(url, {"skills": "急救", "phone": "13866667777"})
    assert response.status_code == 200, response.json()
    assert response.json()["phone"] == "13866667777"
    assert api(account).patch(url, {"name": "改名"}).status_code == 403
    response = api(world.station_manager).patch(url, {"name": "张五"})
    assert response.status_code == 200
    assert response.json()["name"] == "张五"
    response = api(world.station_manager).patch(url, {"unit": world.station2.pk})
    assert response.status_code == 403
    response = api(world.station_manager).patch(url, {"id_number": make_id_number()})
    assert response.status_code == 400


def test_patch_status(world: World, api: Any) -> None:
    v = make_volunteer(world.station)
    url = f"{URL}{v.pk}/"
    response = api(world.coordinator).patch(
        url, {"status": "suspended", "status_reason": "长期未参加"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "suspended"
    assert response.json()["status_reason"] == "长期未参加"
    response = api(world.coordinator).patch(url, {"status": "pending"})
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_staff_create(world: World, api: Any) -> None:
    response = api(world.station_manager).post(URL, _body(world), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "active"
    response = api(world.station_manager).post(
        URL, _body(world, unit=world.station2.pk), format="json"
    )
    assert response.status_code == 403
    assert api(world.no_role).post(URL, _body(world), format="json").status_code == 403
    assert api().post(URL, _body(world), format="json").status_code in (401, 403)


def test_approve_reject_endpoints(world: World, api: Any) -> None:
    a = make_volunteer(world.station, status=VolunteerStatus.PENDING)
    b = make_volunteer(world.station, status=VolunteerStatus.PENDING)
    assert api(world.other_coordinator).post(f"{URL}{a.pk}/approve/").status_code == 404
    assert api(world.no_role).post(f"{URL}{a.pk}/approve/").status_code == 404
    response = api(world.station_manager).post(f"{URL}{a.pk}/approve/")
    assert response.status_code == 200
    assert response.json()["status"] == "active"
    response = api(world.station_manager).post(f"{URL}{a.pk}/approve/")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    response = api(world.station_manager).post(f"{URL}{b.pk}/reject/", {"reason": ""})
    assert response.status_code == 400
    response = api(world.station_manager).post(f"{URL}{b.pk}/reject/", {"reason": "信息不实"})
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["status_reason"] == "信息不实"


def test_volunteer_cannot_approve_self(world: World, api: Any) -> None:
    account = User.objects.create_user("vself", password=PASSWORD)
    v = make_volunteer(world.station, user=account, status=VolunteerStatus.PENDING)
    assert api(account).post(f"{URL}{v.pk}/approve/").status_code == 403


def test_reveal_id_endpoint(world: World, api: Any) -> None:
    v = make_volunteer(world.station)
    url = f"{URL}{v.pk}/reveal-id/"
    assert api(world.coordinator).post(url).status_code == 403
    assert api(world.other_coordinator).post(url).status_code == 404
    world.coordinator.user_permissions.add(Permission.objects.get(codename="reveal_id_number"))
    coordinator = User.objects.get(pk=world.coordinator.pk)
    response = api(coordinator).post(url)
    assert response.status_code == 200
    assert response.json() == {"id_number": v.id_number}
    assert "no-store" in response["Cache-Control"]
    assert AuditEntry.objects.filter(action=AuditAction.VOLUNTEER_ID_REVEALED).count() == 1
