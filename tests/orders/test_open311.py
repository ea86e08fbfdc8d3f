"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): the specification's example
requests answered in its shapes, field names and status codes; errors as its JSON array."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.settings import api_settings

from orders import services
from orders.admin import issue_key
from orders.choices import RequestStatus
from orders.models import Open311Client, RequestEvent, ServiceRequest
from portal.models import OutboxMessage
from tests.orders.conftest import RESIDENT_PHONE, OrdersWorld, advance, new_request
from tests.querycount import queries_of

pytestmark = pytest.mark.django_db

BASE = "/open311/v2/"
SERVICE_KEYS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
REQUEST_KEYS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


def spec_error(response: Any, status: int) -> list[dict[str, Any]]:
    """The specification's error: the HTTP status, and a JSON array of {code, description}."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list) and body
    for entry in body:
        assert set(entry) == {"code", "description"}
        assert entry["code"] == status and entry["description"]
    return body


@pytest.fixture
def key(ow: OrdersWorld) -> str:
    client = Open311Client(name="12345 热线")
    secret = issue_key(client)
    client.save()
    return secret


def post_form(key: str, ow: OrdersWorld, **overrides: Any) -> dict[str, Any]:
    data = {
        "api_key": key,
        "jurisdiction_id": str(ow.w.station.pk),
        "service_code": str(ow.county_item.pk),
        "lat": "24.514812",
        "long": "117.357122",
        "address_string": "一村村委会旁",
        "description": "想请文艺队来村里演一场",
        "first_name": "大爷",
        "last_name": "张",
        "phone": "13900001111",
        "email": "ignored@example.com",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- discovery and services --------------------------------------------------------------------


def test_discovery(client: Client) -> None:
    body = client.get(BASE + "discovery.json").json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/")
    assert endpoint["formats"] == ["application/json"]
    assert endpoint["type"] == "production"


def test_services_of_a_jurisdiction(ow: OrdersWorld, client: Client) -> None:
    ow.county_item.description = "县文化服务队送戏下乡"
    ow.county_item.save()
    hidden = ow.station_item.__class__.objects.create(
        unit=ow.w.station, category=ow.category, title="已停用", is_active=False
    )
    response = client.get(BASE + "services.json", {"jurisdiction_id": ow.w.station.pk})
    assert response.status_code == 200
    services = response.json()
    by_code = {s["service_code"]: s for s in services}
    # the station's own items and the county's, not another county's nor inactive ones
    assert set(by_code) == {str(ow.county_item.pk), str(ow.station_item.pk)}
    assert str(hidden.pk) not in by_code and str(ow.other_county_item.pk) not in by_code
    county = by_code[str(ow.county_item.pk)]
    assert set(county) == SERVICE_KEYS
    assert county == {
        "service_code": str(ow.county_item.pk),
        "service_name": "文艺演出",
        "description": "县文化服务队送戏下乡",
        "metadata": False,
        "type": "realtime",
        "keywords": ow.category.name,
        "group": "culture",
    }
    # the town's residents do not see the station's item
    town = client.get(BASE + "services.json", {"jurisdiction_id": ow.w.town.pk}).json()
    assert [s["service_code"] for s in town] == [str(ow.county_item.pk)]


@pytest.mark.parametrize(
    ("query", "status"),
    [({}, 400), ({"jurisdiction_id": "999999"}, 404), ({"jurisdiction_id": "city.gov"}, 404)],
)
def test_services_refuse_a_missing_or_unknown_jurisdiction(
    ow: OrdersWorld, client: Client, query: dict[str, str], status: int
) -> None:
    spec_error(client.get(BASE + "services.json", query), status)


def test_an_inactive_unit_is_no_jurisdiction(ow: OrdersWorld, client: Client) -> None:
    from practice.models import Unit

    Unit.objects.filter(pk=ow.w.point.pk).update(is_active=False)
    spec_error(client.get(BASE + "services.json", {"jurisdiction_id": ow.w.point.pk}), 404)


def test_service_definition(ow: OrdersWorld, client: Client) -> None:
    code = str(ow.county_item.pk)
    body = client.get(f"{BASE}services/{code}.json").json()
    assert body == {"service_code": code, "attributes": []}
    spec_error(client.get(f"{BASE}services/999999.json"), 404)
    spec_error(client.get(f"{BASE}services/abc.json"), 404)
    # offered at the station, not at the other county
    query = {"jurisdiction_id": ow.w.other_station.pk}
    spec_error(client.get(f"{BASE}services/{code}.json", query), 404)


@pytest.mark.parametrize(
    "path", ["discovery.xml", "services.xml", "services/1.xml", "requests.xml", "requests/1.xml"]
)
def test_json_only(ow: OrdersWorld, client: Client, path: str) -> None:
    spec_error(client.get(BASE + path, {"jurisdiction_id": ow.w.station.pk}), 400)


def test_an_unknown_address_answers_the_spec_404(client: Client) -> None:
    spec_error(client.get(BASE + "nothing/here"), 404)


# --- GET requests ------------------------------------------------------------------------------


def test_requests_list_shape_and_no_personal_data(ow: OrdersWorld, client: Client) -> None:
    req = new_request(
        ow, address="一村三组", latitude="24.500000", longitude="117.300000", contact_name="张大爷"
    )
    req = advance(ow, req, RequestStatus.DISPATCHED)
    response = client.get(BASE + "requests.json")
    assert response.status_code == 200
    (row,) = response.json()
    assert set(row) == REQUEST_KEYS
    assert row["service_request_id"] == str(req.pk)
    assert row["status"] == "open"
    assert row["service_code"] == str(ow.county_item.pk)
    assert row["service_name"] == "文艺演出"
    assert row["agency_responsible"] == ow.w.station.name
    # Where it is served, not where the resident lives: the station's address and position.
    assert row["address"] == (ow.w.station.address or None)
    assert (row["lat"], row["long"]) == (
        float(ow.w.station.latitude) if ow.w.station.latitude is not None else None,
        float(ow.w.station.longitude) if ow.w.station.longitude is not None else None,
    )
    assert row["description"] is None
    assert row["requested_datetime"].endswith("+08:00")
    assert row["expected_datetime"] == f"{req.due_date.isoformat()}T23:59:59+08:00"
    text = response.content.decode()
    for secret in ("张大爷", RESIDENT_PHONE, req.tracking_code, "138****5678", "一村三组", "24.5"):
        assert secret not in text


def test_status_notes_are_the_last_public_note(ow: OrdersWorld, client: Client) -> None:
    rejected = advance(ow, new_request(ow), RequestStatus.REJECTED)
    closed = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    services.request_rate(
        request=closed,
        code=closed.tracking_code,
        phone=RESIDENT_PHONE,
        rating=4,
        comment="我家住三组",
    )
    rows = {r["service_request_id"]: r for r in client.get(BASE + "requests.json").json()}
    assert rows[str(rejected.pk)]["status"] == "closed"
    assert rows[str(rejected.pk)]["status_notes"] == "超出服务范围"
    # what was done (public) — not the dispatch note (internal), nor the resident's comment
    assert rows[str(closed.pk)]["status"] == "closed"
    assert rows[str(closed.pk)]["status_notes"] == "演出一场，观众很多"


def test_requests_filters(ow: OrdersWorld, client: Client) -> None:
    submitted = new_request(ow)
    claimed = advance(ow, new_request(ow, contact_phone="13900000002"), RequestStatus.CLAIMED)
    cancelled = advance(ow, new_request(ow), RequestStatus.CANCELLED)
    station_item = new_request(ow, menu_item=ow.station_item, contact_phone="13900000003")
    old = new_request(ow, contact_phone="13900000004")
    ServiceRequest.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=120)
    )

    def ids(**query: Any) -> set[int]:
        response = client.get(BASE + "requests.json", query)
        assert response.status_code == 200, response.content
        return {int(r["service_request_id"]) for r in response.json()}

    recent = {submitted.pk, claimed.pk, cancelled.pk, station_item.pk}
    assert ids() == recent  # the last 90 days by default
    assert ids(status="open") == {submitted.pk, claimed.pk, station_item.pk}
    assert ids(status="closed") == {cancelled.pk}
    assert ids(service_code=str(ow.station_item.pk)) == {station_item.pk}
    assert ids(service_request_id=f"{old.pk},{claimed.pk}") == {old.pk, claimed.pk}
    # with ids, the other parameters are ignored (the specification)
    assert ids(service_request_id=str(old.pk), status="closed") == {old.pk}
    start = (timezone.localdate() - dt.timedelta(days=200)).isoformat()
    end = (timezone.localdate() - dt.timedelta(days=100)).isoformat()
    assert ids(start_date=start + "T00:00:00+08:00", end_date=end + "T00:00:00+08:00") == {old.pk}
    assert ids(start_date=start) == recent | {old.pk}
    assert ids(jurisdiction_id=str(ow.w.town.pk)) == recent
    assert ids(jurisdiction_id=str(ow.w.town2.pk)) == set()


@pytest.mark.parametrize(
    "query",
    [
        {"status": "pending"},
        {"start_date": "yesterday"},
        {"start_date": "2026-02-01", "end_date": "2026-01-01"},
        {"service_request_id": "1,abc"},
        {"service_code": "x"},
    ],
)
def test_requests_refuse_bad_parameters(ow: OrdersWorld, client: Client, query: dict) -> None:
    spec_error(client.get(BASE + "requests.json", query), 400)


def test_one_request(ow: OrdersWorld, client: Client) -> None:
    req = new_request(ow)
    body = client.get(f"{BASE}requests/{req.pk}.json").json()
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == REQUEST_KEYS
    assert body[0]["service_request_id"] == str(req.pk) and body[0]["status"] == "open"
    spec_error(client.get(f"{BASE}requests/999999.json"), 404)
    spec_error(client.get(f"{BASE}requests/abc.json"), 404)


def test_requests_list_costs_the_same_queries(ow: OrdersWorld, client: Client) -> None:
    new_request(ow)
    few = queries_of(client, BASE + "requests.json")
    for i in range(12):
        advance(ow, new_request(ow, contact_phone=f"1390000{i:04d}"), RequestStatus.REJECTED)
    assert len(queries_of(client, BASE + "requests.json")) == len(few) == 1


def test_requests_are_bounded(ow: OrdersWorld, client: Client, monkeypatch: Any) -> None:
    monkeypatch.setattr("orders.open311.MAX_RESULTS", 2)
    for i in range(3):
        new_request(ow, contact_phone=f"1390000{i:04d}")
    assert len(client.get(BASE + "requests.json").json()) == 2


# --- POST requests -----------------------------------------------------------------------------


def test_post_files_a_request(
    ow: OrdersWorld, client: Client, key: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(BASE + "requests.json", post_form(key, ow))
    assert response.status_code == 201, response.content
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"service_request_id", "service_notice", "account_id"}
    assert body[0]["account_id"] is None and body[0]["service_notice"]
    req = ServiceRequest.objects.get(pk=int(body[0]["service_request_id"]))
    assert req.channel == "open311"
    assert req.status == RequestStatus.SUBMITTED
    assert req.unit == ow.w.station and req.menu_item == ow.county_item
    assert req.contact_name == "张大爷"
    assert req.contact_phone == "13900001111"
    assert req.address == "一村村委会旁"
    assert str(req.latitude) == "24.514812" and str(req.longitude) == "117.357122"
    assert req.tracking_code not in response.content.decode()
    # the resident gets the tracking code by text message
    sms = OutboxMessage.objects.filter(channel="sms", purpose="request").get()
    assert req.tracking_code in sms.text
    assert RequestEvent.objects.filter(request=req, action="submit").count() == 1
    assert Open311Client.objects.get().last_used_at is not None


def test_post_with_the_unit_as_an_attribute(ow: OrdersWorld, client: Client, key: str) -> None:
    form = post_form(key, ow, jurisdiction_id=None, lat=None, long=None)
    form["attribute[unit]"] = str(ow.w.station.pk)
    response = client.post(BASE + "requests.json", form)
    assert response.status_code == 201, response.content
    assert ServiceRequest.objects.get().latitude is None


@pytest.mark.parametrize("api_key", [None, "", "wrong-key"])
def test_post_needs_a_valid_key(ow: OrdersWorld, client: Client, key: str, api_key: Any) -> None:
    body = spec_error(client.post(BASE + "requests.json", post_form(key, ow, api_key=api_key)), 403)
    assert "api_key" in body[0]["description"]
    assert not ServiceRequest.objects.exists()


def test_an_inactive_client_is_refused(ow: OrdersWorld, client: Client, key: str) -> None:
    Open311Client.objects.update(is_active=False)
    spec_error(client.post(BASE + "requests.json", post_form(key, ow)), 403)


@pytest.mark.parametrize(
    ("overrides", "status", "parameter"),
    [
        ({"phone": None}, 400, "phone"),
        ({"phone": "12345"}, 400, "phone"),
        ({"first_name": None, "last_name": None}, 400, "last_name"),
        ({"lat": None, "long": None, "address_string": None}, 400, "address_string"),
        ({"long": None}, 400, "long"),
        ({"lat": "north"}, 400, "lat"),
        ({"lat": "91"}, 400, "lat"),
        ({"service_code": None}, 400, "service_code"),
        ({"service_code": "999999"}, 404, "service_code"),
        ({"jurisdiction_id": None}, 400, "jurisdiction_id"),
        ({"jurisdiction_id": "999999"}, 404, "jurisdiction_id"),
    ],
)
def test_post_refusals(
    ow: OrdersWorld,
    client: Client,
    key: str,
    overrides: dict[str, Any],
    status: int,
    parameter: str,
) -> None:
    body = spec_error(client.post(BASE + "requests.json", post_form(key, ow, **overrides)), status)
    assert parameter in body[0]["description"]
    assert not ServiceRequest.objects.exists()


def test_post_of_a_service_not_offered_there(ow: OrdersWorld, client: Client, key: str) -> None:
    form = post_form(key, ow, service_code=str(ow.other_county_item.pk))
    spec_error(client.post(BASE + "requests.json", form), 404)


def test_post_is_throttled_per_key(
    ow: OrdersWorld, client: Client, key: str, settings: Any, monkeypatch: Any
) -> None:
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "open311": "2/hour"}
    monkeypatch.setattr(api_settings, "DEFAULT_THROTTLE_RATES", rates, raising=False)
    for i in range(2):
        form = post_form(key, ow, phone=f"1390000{i:04d}")
        assert client.post(BASE + "requests.json", form).status_code == 201
    spec_error(client.post(BASE + "requests.json", post_form(key, ow, phone="13900009999")), 429)
    # another client's key is counted apart
    other = Open311Client(name="另一个")
    other_key = issue_key(other)
    other.save()
    form = post_form(other_key, ow, phone="13900009999")
    assert client.post(BASE + "requests.json", form).status_code == 201


def test_post_is_not_a_browser_form(ow: OrdersWorld, key: str) -> None:
    csrf_client = Client(enforce_csrf_checks=True)
    assert csrf_client.post(BASE + "requests.json", post_form(key, ow)).status_code == 201


# --- the admin: a key shown once, only its hash kept -------------------------------------------


def test_admin_issues_a_key_once(ow: OrdersWorld, client: Client) -> None:
    client.force_login(ow.w.superuser)
    response = client.post(
        "/admin/orders/open311client/add/", {"name": "市民热线", "is_active": "on"}, follow=True
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    made = Open311Client.objects.get(name="市民热线")
    (message,) = [m for m in shown if made.key_prefix in m]
    key = next(word for word in message.split() if word.startswith(made.key_prefix))
    assert len(key) >= 40
    assert made.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in json.dumps(list(Open311Client.objects.values()), default=str)
    # editing the client keeps the key and shows nothing
    response = client.post(
        f"/admin/orders/open311client/{made.pk}/change/", {"name": "市民热线2"}, follow=True
    )
    assert not any(made.key_prefix in str(m) for m in response.context["messages"])
    made.refresh_from_db()
    assert made.key_hash == hashlib.sha256(key.encode()).hexdigest() and not made.is_active
    Open311Client.objects.update(is_active=True)
    client.logout()
    assert client.post(BASE + "requests.json", post_form(key, ow)).status_code == 201


def test_admin_shows_requests_read_only(ow: OrdersWorld, client: Client) -> None:
    req = new_request(ow)
    client.force_login(ow.w.superuser)
    page = client.get(f"/admin/orders/servicerequest/{req.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "138****5678" in text
    assert RESIDENT_PHONE not in text
    assert client.get("/admin/orders/menuitem/").status_code == 200
    assert client.get("/admin/orders/menuitem/add/").status_code == 403
