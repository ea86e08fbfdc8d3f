"""Pages: /service-records/ (list, new, detail, confirm, void, correct), /points/shop/,
/me/hours/, /me/points/."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from tests.factories import UserFactory
from tests.querycount import queries_of
from tests.volunteers.conftest import make_volunteer
from volunteers import hours
from volunteers.choices import PointsKind, RecordStatus
from volunteers.models import PointsEntry, ServiceRecord

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 5, 20)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)


def record(world: Any, volunteer: Any, h: str = "2", **kw: Any) -> ServiceRecord:
    kw.setdefault("actor", world.station_manager)
    kw.setdefault("unit", world.station)
    return hours.record_create(volunteer=volunteer, date=TODAY, hours=h, reason="补录", **kw)


def test_list_permission_matrix(world: Any, browser_client: Any) -> None:
    v = make_volunteer(world.station)
    r = record(world, v)
    assert browser_client(None).get("/service-records/").status_code == 302
    assert browser_client(world.no_role).get("/service-records/").status_code == 404
    page = browser_client(world.station_manager).get("/service-records/")
    assert page.status_code == 200 and v.name in page.content.decode()
    assert f"/service-records/{r.pk}/confirm/" not in page.content.decode()  # own record
    page = browser_client(world.town_manager).get("/service-records/")
    assert f"/service-records/{r.pk}/confirm/" in page.content.decode()
    page = browser_client(world.other_coordinator).get("/service-records/")
    assert v.name not in page.content.decode()
    assert (
        browser_client(world.other_coordinator).get(f"/service-records/{r.pk}/").status_code == 404
    )


def test_pending_first(world: Any, browser_client: Any) -> None:
    v = make_volunteer(world.station)
    old_pending = record(world, v, "1")
    confirmed = hours.record_create(
        actor=world.station_manager,
        volunteer=v,
        unit=world.station,
        date=TODAY,
        hours="1",
        reason="r",
    )
    hours.record_confirm(actor=world.town_manager, record=confirmed)
    page = browser_client(world.coordinator).get("/service-records/")
    assert [r.pk for r, _a in page.context["rows"]] == [old_pending.pk, confirmed.pk]


def test_manual_entry_page(world: Any, browser_client: Any) -> None:
    v = make_volunteer(world.station)
    client = browser_client(world.station_manager)
    form = client.get("/service-records/new/")
    assert form.status_code == 200
    data = {
        "volunteer_number": v.number.lower(),
        "unit": world.station.pk,
        "date": TODAY.isoformat(),
        "hours": "24.01",
        "reason": "补录",
    }
    bad = client.post("/service-records/new/", data)
    assert bad.status_code == 200 and "24" in bad.content.decode()
    assert not ServiceRecord.objects.exists()
    unknown = client.post("/service-records/new/", {**data, "volunteer_number": "T999"})
    assert unknown.status_code == 200 and not ServiceRecord.objects.exists()
    done = client.post("/service-records/new/", {**data, "hours": "3"})
    created = ServiceRecord.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/service-records/{created.pk}/"
    assert created.hours == 3 and created.recorded_by == world.station_manager
    assert browser_client(world.no_role).get("/service-records/new/").status_code == 404


def test_confirm_void_and_correct_on_the_pages(world: Any, browser_client: Any) -> None:
    v = make_volunteer(world.station)
    r = record(world, v, "4")
    # The recorder's confirm is refused with the message, nothing changes.
    client = browser_client(world.station_manager)
    response = client.post(f"/service-records/{r.pk}/confirm/", follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert shown == ["Someone other than the person who recorded it must confirm it."] or (
        len(shown) == 1 and "确认" in shown[0]
    )
    r.refresh_from_db()
    assert r.status == RecordStatus.PENDING
    browser_client(world.town_manager).post(f"/service-records/{r.pk}/confirm/")
    r.refresh_from_db()
    assert r.status == RecordStatus.CONFIRMED
    detail = browser_client(world.station_manager).get(f"/service-records/{r.pk}/")
    assert 'id="record-correct"' in detail.content.decode()
    assert 'id="void"' not in detail.content.decode()  # confirmed: not voided by its unit
    response = browser_client(world.station_manager).post(
        f"/service-records/{r.pk}/", {"hours": "3", "date": TODAY.isoformat(), "reason": "多记"}
    )
    correction = ServiceRecord.objects.get(corrects=r)
    assert response.status_code == 302
    page = browser_client(world.town_manager).get(f"/service-records/{r.pk}/")
    assert f"/service-records/{correction.pk}/" in page.content.decode()
    browser_client(world.town_manager).post(f"/service-records/{correction.pk}/confirm/")
    r.refresh_from_db()
    assert r.status == RecordStatus.VOID
    # Void a pending record with a reason.
    p = record(world, v, "1")
    browser_client(world.station_manager).post(f"/service-records/{p.pk}/void/", {"reason": ""})
    p.refresh_from_db()
    assert p.status == RecordStatus.PENDING
    browser_client(world.station_manager).post(f"/service-records/{p.pk}/void/", {"reason": "重复"})
    p.refresh_from_db()
    assert p.status == RecordStatus.VOID
    assert (
        browser_client(world.station_manager).get(f"/service-records/{p.pk}/void/").status_code
        == 405
    )


def test_points_shop(world: Any, browser_client: Any) -> None:
    v = make_volunteer(world.town2, points=40)
    far = make_volunteer(world.other_station, points=40)
    client = browser_client(world.station_manager)
    page = client.get(f"/points/shop/?number={v.number}")
    assert page.status_code == 200 and 'id="shop-balance">40<' in page.content.decode()
    assert (
        'id="shop-not-found"' in client.get(f"/points/shop/?number={far.number}").content.decode()
    )
    data = {"number": v.number, "unit": world.station.pk, "item": "洗衣液", "points": "50"}
    refused = client.post("/points/shop/", data)
    assert refused.status_code == 200 and "40" in refused.content.decode()
    done = client.post("/points/shop/", {**data, "points": "30"})
    assert done.status_code == 302
    v.refresh_from_db()
    assert v.points_balance == 10
    entry = PointsEntry.objects.get(volunteer=v)
    assert (entry.kind, entry.points, entry.unit, entry.item) == (
        PointsKind.REDEEMED,
        -30,
        world.station,
        "洗衣液",
    )
    assert browser_client(world.no_role).get("/points/shop/").status_code == 404


def test_me_pages(world: Any, browser_client: Any) -> None:
    account = UserFactory(username="vol")
    v = make_volunteer(world.station, user=account)
    r = record(world, v, "2.5")
    hours.record_confirm(actor=world.town_manager, record=r)
    record(world, v, "1")
    client = browser_client(account)
    page = client.get("/me/hours/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="me-hours-total">2.50<' in html
    records = html.split('id="me-records"', 1)[1].split("</ul>", 1)[0]
    assert "2026" in records and records.count("<li ") == 2  # the two records
    page = client.get("/me/points/")
    assert page.status_code == 200 and 'id="me-points-balance">25<' in page.content.decode()
    assert browser_client(world.no_role).get("/me/hours/").status_code == 404
    assert browser_client(world.no_role).get("/me/points/").status_code == 404


def test_me_pages_take_constant_queries(world: Any, client: Any) -> None:
    account = UserFactory(username="vol")
    v = make_volunteer(world.station, user=account)
    client.force_login(account)

    def add(n: int, start: int) -> None:
        ServiceRecord.objects.bulk_create(
            ServiceRecord(
                volunteer=v,
                unit=world.station,
                date=TODAY - dt.timedelta(days=start + i),
                hours=Decimal(1),
                reason="r",
                recorded_by=world.station_manager,
            )
            for i in range(n)
        )
        PointsEntry.objects.bulk_create(
            PointsEntry(volunteer=v, kind=PointsKind.AWARDED, points=1, balance=start + i + 1)
            for i in range(n)
        )

    add(5, 0)
    small = {u: len(queries_of(client, u)) for u in ("/me/hours/", "/me/points/")}
    add(495, 5)
    assert {u: len(queries_of(client, u)) for u in ("/me/hours/", "/me/points/")} == small
