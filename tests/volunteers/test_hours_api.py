"""``/api/v1/service-records/`` and ``/api/v1/points/``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from practice.models import Category
from tests.factories import UserFactory
from tests.querycount import queries_of
from tests.volunteers.conftest import make_volunteer
from volunteers import hours
from volunteers.choices import PointsKind, RecordStatus
from volunteers.models import PointsEntry, ServiceRecord, Volunteer

pytestmark = pytest.mark.django_db

URL = "/api/v1/service-records/"
TODAY = dt.date(2026, 5, 20)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)


def body(volunteer: Volunteer, unit: Any, **kw: Any) -> dict[str, Any]:
    return {
        "volunteer": volunteer.pk,
        "unit": unit.pk,
        "date": TODAY.isoformat(),
        "hours": "2.5",
        "reason": "补录",
        **kw,
    }


def test_manual_entry_then_confirm_by_another(world: Any, api: Any) -> None:
    v = make_volunteer(world.station)
    Category.objects.get_or_create(code="culture", defaults={"name": "文化"})
    response = api(world.station_manager).post(
        URL, body(v, world.station, category="culture", content="读书会"), format="json"
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "pending" and data["hours"] == "2.50"
    assert data["category"] == "culture" and data["source"] == "manual"
    assert data["volunteer_name"] == v.name and data["unit_name"] == world.station.name
    assert data["recorded_by_name"] and data["confirmed_by_name"] is None
    own = api(world.station_manager).post(f"{URL}{data['id']}/confirm/")
    assert own.status_code == 403
    assert own.json()["code"] == "confirm_own_record"
    done = api(world.town_manager).post(f"{URL}{data['id']}/confirm/")
    assert done.status_code == 200
    assert done.json()["status"] == "confirmed" and done.json()["confirmed_at"]
    again = api(world.coordinator).post(f"{URL}{data['id']}/confirm/")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    v.refresh_from_db()
    assert v.confirmed_hours == Decimal("2.5") and v.points_balance == 25


@pytest.mark.parametrize("value", ["0", "24.01", "1.001", "x", 0, 25])
def test_bad_hours_400_with_a_field_message(world: Any, api: Any, value: Any) -> None:
    v = make_volunteer(world.station)
    response = api(world.station_manager).post(
        URL, body(v, world.station, hours=value), format="json"
    )
    assert response.status_code == 400
    assert "hours" in response.json()["detail"]


def test_day_limit_over_the_api(world: Any, api: Any) -> None:
    v = make_volunteer(world.station)
    client = api(world.station_manager)
    assert client.post(URL, body(v, world.station, hours="23"), format="json").status_code == 201
    response = client.post(URL, body(v, world.station, hours="2"), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "day_hours_exceeded"
    assert "1.00" in response.json()["message"]


def test_create_permission_matrix(world: Any, api: Any) -> None:
    v = make_volunteer(world.station)
    assert api().post(URL, body(v, world.station), format="json").status_code in (401, 403)
    # A volunteer outside the caller's view is no such volunteer (400, like an unknown id).
    r = api(world.other_coordinator).post(URL, body(v, world.other_station), format="json")
    assert r.status_code == 400 and "volunteer" in r.json()["detail"]
    r = api(world.no_role).post(URL, body(v, world.station), format="json")
    assert r.status_code == 400
    assert not ServiceRecord.objects.exists()


def test_records_are_never_edited_or_deleted(world: Any, api: Any) -> None:
    v = make_volunteer(world.station)
    record = hours.record_create(
        actor=world.station_manager,
        volunteer=v,
        unit=world.station,
        date=TODAY,
        hours="3",
        reason="补录",
    )
    hours.record_confirm(actor=world.town_manager, record=record)
    client = api(world.superuser)
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(f"{URL}{record.pk}/", {"hours": "1"}, format="json")
        assert response.status_code == 405, method
    record.refresh_from_db()
    assert record.hours == 3 and record.status == RecordStatus.CONFIRMED


def test_void_and_correct_over_the_api(world: Any, api: Any) -> None:
    v = make_volunteer(world.station)
    record = hours.record_create(
        actor=world.station_manager,
        volunteer=v,
        unit=world.station,
        date=TODAY,
        hours="3",
        reason="补录",
    )
    hours.record_confirm(actor=world.town_manager, record=record)
    r = api(world.station_manager).post(f"{URL}{record.pk}/void/", {"reason": "x"}, format="json")
    assert r.status_code == 403
    r = api(world.station_manager).post(
        f"{URL}{record.pk}/correct/", {"hours": "2", "reason": "多记"}, format="json"
    )
    assert r.status_code == 201
    correction = r.json()
    assert correction["corrects"] == record.pk and correction["source"] == "correction"
    r = api(world.town_manager).post(f"{URL}{correction['id']}/confirm/")
    assert r.status_code == 200
    assert api(world.town_manager).get(f"{URL}{record.pk}/").json()["status"] == "void"
    r = api(world.town_manager).post(
        f"{URL}{correction['id']}/void/", {"reason": ""}, format="json"
    )
    assert r.status_code == 400 and "reason" in r.json()["detail"]
    r = api(world.town_manager).post(
        f"{URL}{correction['id']}/void/", {"reason": "不实"}, format="json"
    )
    assert r.status_code == 200 and r.json()["status"] == "void"
    v.refresh_from_db()
    assert v.confirmed_hours == 0 and v.points_balance == 0


def test_list_filters_and_scope(world: Any, api: Any) -> None:
    v = make_volunteer(world.station)
    w = make_volunteer(world.station3)
    a = hours.record_create(
        actor=world.station_manager,
        volunteer=v,
        unit=world.station,
        date=TODAY,
        hours="1",
        reason="r",
    )
    b = hours.record_create(
        actor=world.coordinator,
        volunteer=w,
        unit=world.station3,
        date=TODAY - dt.timedelta(days=3),
        hours="1",
        reason="r",
    )
    ids = lambda r: {row["id"] for row in r.json()["results"]}  # noqa: E731
    coord = api(world.coordinator)
    assert ids(coord.get(URL)) == {a.pk, b.pk}
    assert ids(coord.get(f"{URL}?volunteer={v.pk}")) == {a.pk}
    assert ids(coord.get(f"{URL}?unit={world.station3.pk}")) == {b.pk}
    assert ids(coord.get(f"{URL}?within={world.town.pk}")) == {a.pk}
    assert ids(coord.get(f"{URL}?from={TODAY.isoformat()}")) == {a.pk}
    assert ids(coord.get(f"{URL}?to={(TODAY - dt.timedelta(days=1)).isoformat()}")) == {b.pk}
    assert coord.get(f"{URL}?volunteer=1.5").status_code == 400
    assert ids(api(world.station_manager).get(URL)) == {a.pk}
    assert ids(api(world.other_coordinator).get(URL)) == set()
    assert api(world.other_coordinator).get(f"{URL}{a.pk}/").status_code == 404


def test_a_volunteer_sees_only_their_own_records_and_ledger(world: Any, api: Any) -> None:
    account = UserFactory(username="volunteer1")
    mine = make_volunteer(world.station, user=account)
    other = make_volunteer(world.station)
    for person in (mine, other):
        r = hours.record_create(
            actor=world.station_manager,
            volunteer=person,
            unit=world.station,
            date=TODAY,
            hours="1",
            reason="r",
        )
        hours.record_confirm(actor=world.town_manager, record=r)
    client = api(account)
    rows = client.get(URL).json()["results"]
    assert [row["volunteer"] for row in rows] == [mine.pk]
    assert client.get(f"{URL}?volunteer={other.pk}").json()["results"] == []
    ledger = client.get("/api/v1/points/").json()["results"]
    assert [row["volunteer"] for row in ledger] == [mine.pk]
    assert client.get(f"/api/v1/points/?volunteer={other.pk}").json()["results"] == []
    # Their own record, but not theirs to confirm or void.
    assert client.post(f"{URL}{rows[0]['id']}/void/", {"reason": "x"}).status_code == 403


def test_points_endpoints(world: Any, api: Any) -> None:
    v = make_volunteer(world.station, points=50)
    client = api(world.station_manager)
    r = client.post(
        "/api/v1/points/redeem/",
        {"volunteer": v.pk, "unit": world.station.pk, "item": "毛巾", "points": 60},
        format="json",
    )
    assert r.status_code == 400 and r.json()["code"] == "insufficient_points"
    assert "50" in r.json()["message"]
    r = client.post(
        "/api/v1/points/redeem/",
        {"volunteer": v.pk, "unit": world.station.pk, "item": "毛巾", "points": 0},
        format="json",
    )
    assert r.status_code == 400 and "points" in r.json()["detail"]
    r = client.post(
        "/api/v1/points/redeem/",
        {"volunteer": v.pk, "unit": world.station.pk, "item": "毛巾", "points": 20},
        format="json",
    )
    assert r.status_code == 201 and r.json()["balance"] == 30 and r.json()["kind"] == "redeemed"
    # A manager may not adjust points (403); the coordinator may.
    r = client.post(
        "/api/v1/points/adjust/", {"volunteer": v.pk, "points": 5, "reason": "x"}, format="json"
    )
    assert r.status_code == 403
    r = api(world.coordinator).post(
        "/api/v1/points/adjust/", {"volunteer": v.pk, "points": -5, "reason": ""}, format="json"
    )
    assert r.status_code == 400 and "reason" in r.json()["detail"]
    r = api(world.coordinator).post(
        "/api/v1/points/adjust/", {"volunteer": v.pk, "points": -5, "reason": "违规"}, format="json"
    )
    assert r.status_code == 201 and r.json()["kind"] == PointsKind.DEDUCTED
    r = api(world.coordinator).post(
        "/api/v1/points/rate/", {"unit": world.town.pk, "points_per_hour": 1001}, format="json"
    )
    assert r.status_code == 400
    r = api(world.coordinator).post(
        "/api/v1/points/rate/", {"unit": world.town.pk, "points_per_hour": 12}, format="json"
    )
    assert r.status_code == 200 and r.json()["points_per_hour"] == 12
    ledger = api(world.coordinator).get(f"/api/v1/points/?volunteer={v.pk}").json()
    assert [e["balance"] for e in ledger["results"]] == [25, 30]
    assert (
        api(world.other_coordinator).get(f"/api/v1/points/?volunteer={v.pk}").json()["results"]
        == []
    )


def _bulk(world: Any, n: int) -> None:
    recorder = world.station_manager
    volunteers = [make_volunteer(world.station) for _ in range(2)]
    ServiceRecord.objects.bulk_create(
        ServiceRecord(
            volunteer=volunteers[i % 2],
            unit=world.station,
            date=TODAY - dt.timedelta(days=i),
            hours=Decimal(1),
            reason="r",
            recorded_by=recorder,
            status=RecordStatus.CONFIRMED if i % 2 else RecordStatus.PENDING,
            confirmed_by=world.town_manager if i % 2 else None,
        )
        for i in range(n)
    )
    PointsEntry.objects.bulk_create(
        PointsEntry(
            volunteer=volunteers[0],
            kind=PointsKind.AWARDED,
            points=1,
            balance=i + 1,
            actor=world.coordinator,
            unit=world.station,
        )
        for i in range(n)
    )


def test_lists_take_constant_queries(world: Any, client: Any, api: Any) -> None:
    client.force_login(world.coordinator)
    urls = [URL, "/api/v1/points/", "/service-records/", "/service-records/?status=pending"]

    def measure() -> dict[str, int]:
        return {url: len(queries_of(client, url)) for url in urls}

    _bulk(world, 5)
    small = measure()
    _bulk(world, 495)
    assert measure() == small
