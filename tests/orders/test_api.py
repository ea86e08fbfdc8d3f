"""``/api/v1/requests/`` and ``/api/v1/menu-items/``: every (from, to) pair of the state
machine through the API, who may do what (the permission matrix), the resident's phone,
the public endpoints' traps and limits, and constant query counts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from orders import services
from orders.choices import TRANSITIONS, RequestStatus, Transition
from orders.models import MenuItem, RequestEvent, ServiceRequest
from practice.models import User
from tests.orders.conftest import RESIDENT_PHONE, OrdersWorld, advance, new_request
from tests.querycount import queries_of

pytestmark = pytest.mark.django_db

REQUESTS = "/api/v1/requests/"
MENU = "/api/v1/menu-items/"
MASKED = "138****5678"


def _due() -> str:
    return (timezone.localdate() + dt.timedelta(days=3)).isoformat()


def _user(ow: OrdersWorld, who: str) -> User | None:
    volunteers = {"outsider": ow.outsider, "claimer": ow.member, "leader": ow.leader}
    if who == "anonymous":
        return None
    if who in volunteers:
        return volunteers[who].user
    user: User = getattr(ow.w, who)
    return user


def _body(ow: OrdersWorld, action: str, request: ServiceRequest) -> dict[str, Any]:
    proof = {"tracking_code": request.tracking_code, "phone": RESIDENT_PHONE}
    bodies: dict[str, dict[str, Any]] = {
        Transition.DISPATCH: {"team": ow.team.pk, "due_date": _due(), "note": "内部备注：先联系"},
        Transition.REJECT: {"reason": "超出服务范围"},
        Transition.CLAIM: {},
        Transition.DECLINE: {"reason": "人手不足"},
        Transition.DELIVER: {
            "summary": "演出一场",
            "beneficiaries": 30,
            "participants": [{"volunteer": ow.leader.pk, "hours": "1.5"}],
        },
        Transition.RATE: {**proof, "rating": 4, "comment": "很好"},
        Transition.CANCEL: proof,
        "review": {"note": "已回访"},
    }
    return bodies[action]


# Who performs each action when it should succeed.
ENTITLED: dict[str, str] = {
    Transition.DISPATCH: "coordinator",
    Transition.REJECT: "coordinator",
    Transition.CLAIM: "claimer",
    Transition.DECLINE: "leader",
    Transition.DELIVER: "leader",
    Transition.RATE: "anonymous",
    Transition.CANCEL: "anonymous",
}


def _post(api: Any, user: User | None, request: ServiceRequest, action: str, body: Any) -> Any:
    return api(user).post(f"{REQUESTS}{request.pk}/{action}/", body, format="json")


# --- the state machine -------------------------------------------------------------------


@pytest.mark.parametrize("action", list(TRANSITIONS))
@pytest.mark.parametrize("state", list(RequestStatus.values))
def test_every_action_from_every_state(ow: OrdersWorld, api: Any, action: str, state: str) -> None:
    request = advance(ow, new_request(ow), state)
    events = RequestEvent.objects.filter(request=request).count()
    allowed, target = TRANSITIONS[action]
    response = _post(api, _user(ow, ENTITLED[action]), request, action, _body(ow, action, request))
    request.refresh_from_db()
    if state in allowed:
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == target == request.status
        last = RequestEvent.objects.filter(request=request).last()
        assert last is not None
        assert (last.action, last.from_status, last.to_status) == (action, state, target)
    else:
        assert response.status_code == 409, response.json()
        body = response.json()
        assert body["code"] == "invalid_transition" and body["message"]
        assert set(body) == {"code", "message", "detail"}
        assert request.status == state
        assert RequestEvent.objects.filter(request=request).count() == events


def test_a_request_from_start_to_review(ow: OrdersWorld, api: Any) -> None:
    created = api().post(
        REQUESTS,
        {
            "unit": ow.w.station.pk,
            "menu_item": ow.county_item.pk,
            "description": "想看一场戏",
            "contact_name": "张大爷",
            "contact_phone": RESIDENT_PHONE,
            "desired_date": _due(),
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "submitted" and len(body["tracking_code"]) == 8
    assert body["contact_phone_masked"] == MASKED and RESIDENT_PHONE not in created.content.decode()
    request = ServiceRequest.objects.get(pk=body["id"])
    coordinator, member = ow.w.coordinator, _user(ow, "claimer")
    dispatched = _post(api, coordinator, request, "dispatch", _body(ow, "dispatch", request))
    assert dispatched.status_code == 200
    assert _post(api, member, request, "claim", {}).json()["claimed_by"] == ow.member.pk
    delivered = _post(api, member, request, "deliver", _body(ow, "deliver", request))
    assert delivered.json()["status"] == "delivered"
    rated = _post(api, None, request, "rate", {**_body(ow, "rate", request), "rating": 1})
    assert rated.status_code == 200 and rated.json()["status"] == "closed"
    assert "claimed_by_name" not in rated.json()  # the requester's view
    staff_view = api(coordinator).get(f"{REQUESTS}{request.pk}/").json()
    assert staff_view["needs_review"] is True and staff_view["rating"] == 1
    reviewed = _post(api, coordinator, request, "review", {"note": "已回访"})
    assert reviewed.status_code == 200 and reviewed.json()["needs_review"] is False
    again = _post(api, coordinator, request, "review", {"note": "再看"})
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert [e["action"] for e in reviewed.json()["events"]] == [
        "submit",
        "dispatch",
        "claim",
        "deliver",
        "rate",
        "review",
    ]


def test_validation_errors_are_400_with_the_field(ow: OrdersWorld, api: Any) -> None:
    request = advance(ow, new_request(ow), RequestStatus.SUBMITTED)
    coordinator = ow.w.coordinator
    past = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    bad = _post(api, coordinator, request, "dispatch", {"team": ow.team.pk, "due_date": past})
    assert bad.status_code == 400 and "due_date" in bad.json()["detail"]
    no_reason = _post(api, coordinator, request, "reject", {"reason": "  "})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]
    claimed = advance(ow, new_request(ow, contact_phone="13900001111"), RequestStatus.CLAIMED)
    stranger = _post(
        api,
        _user(ow, "claimer"),
        claimed,
        "deliver",
        {**_body(ow, "deliver", claimed), "participants": [{"volunteer": ow.outsider.pk}]},
    )
    assert stranger.status_code == 400
    request.refresh_from_db()
    claimed.refresh_from_db()
    assert (request.status, claimed.status) == ("submitted", "claimed")


# --- who may do what ---------------------------------------------------------------------

USERS = [
    "anonymous",
    "no_role",
    "station_manager",
    "town_manager",
    "coordinator",
    "other_coordinator",
    "outsider",
    "claimer",
]

# endpoint → (the state its request is in, expected status per user in USERS' order)
MATRIX: dict[str, tuple[str, list[int]]] = {
    "detail": ("claimed", [401, 404, 200, 200, 200, 404, 404, 200]),
    "dispatch": ("submitted", [401, 404, 403, 403, 200, 404, 404, 404]),
    "reject": ("submitted", [401, 404, 403, 403, 200, 404, 404, 404]),
    "claim": ("dispatched", [401, 404, 403, 403, 403, 404, 403, 200]),
    "decline": ("claimed", [401, 404, 403, 403, 403, 404, 403, 200]),
    "deliver": ("claimed", [401, 404, 403, 403, 403, 404, 403, 200]),
    # The claimer reads the request as one of its team, but reviewing is the office's.
    "review": ("closed", [401, 404, 403, 403, 200, 404, 404, 403]),
}


@pytest.mark.parametrize("endpoint", list(MATRIX))
@pytest.mark.parametrize("who", USERS)
def test_permission_matrix(ow: OrdersWorld, api: Any, endpoint: str, who: str) -> None:
    state, expected = MATRIX[endpoint]
    request = advance(ow, new_request(ow), state)
    if endpoint == "review":
        request.needs_review = True
        request.save(update_fields=["needs_review"])
    user = _user(ow, who)
    if endpoint == "detail":
        response = api(user).get(f"{REQUESTS}{request.pk}/")
    else:
        body = _body(ow, endpoint, request)
        if endpoint == "deliver":
            body["participants"] = [{"volunteer": ow.member.pk, "hours": "1"}]
        response = _post(api, user, request, endpoint, body)
    want = expected[USERS.index(who)]
    assert response.status_code == want, (who, endpoint, response.json())
    assert set(response.json()) >= ({"code", "message", "detail"} if want >= 400 else {"id"})
    if want >= 400:
        request.refresh_from_db()
        assert request.status == state
    # No one who may not read the request ever gets the resident's number from it.
    if want >= 400 or who in ("outsider", "anonymous", "no_role", "other_coordinator"):
        assert RESIDENT_PHONE not in response.content.decode()


@pytest.mark.parametrize("action", ["rate", "cancel"])
@pytest.mark.parametrize("who", USERS)
def test_the_requesters_actions_need_the_proof_not_an_account(
    ow: OrdersWorld, api: Any, who: str, action: str
) -> None:
    request = advance(ow, new_request(ow), "delivered" if action == "rate" else "dispatched")
    user = _user(ow, who)
    body = _body(ow, action, request)
    refused = _post(api, user, request, action, {**body, "phone": "13900000000"})
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    done = _post(api, user, request, action, body)
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == TRANSITIONS[action][1]
    assert RESIDENT_PHONE not in done.content.decode() and "events" not in done.json()


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("anonymous", None),
        ("no_role", 0),
        ("station_manager", 2),
        ("town_manager", 3),
        ("coordinator", 4),
        ("other_coordinator", 1),
        ("outsider", 0),
        ("claimer", 0),
    ],
)
def test_list_is_scoped(ow: OrdersWorld, api: Any, who: str, sees: int | None) -> None:
    advance(ow, new_request(ow), RequestStatus.CLAIMED)
    new_request(ow, contact_phone="13900000001")
    new_request(ow, unit=ow.w.station2, contact_phone="13900000002")
    new_request(ow, unit=ow.w.station3, contact_phone="13900000003")
    new_request(
        ow, unit=ow.w.other_station, menu_item=ow.other_county_item, contact_phone="13900000004"
    )
    response = api(_user(ow, who)).get(REQUESTS)
    if sees is None:
        assert response.status_code == 401
        return
    assert response.status_code == 200
    assert response.json()["count"] == sees
    if who in ("outsider", "claimer", "no_role"):
        assert RESIDENT_PHONE not in response.content.decode()


def test_another_countys_request_is_not_found(ow: OrdersWorld, api: Any) -> None:
    theirs = new_request(ow, unit=ow.w.other_station, menu_item=ow.other_county_item)
    coordinator = ow.w.coordinator
    assert api(coordinator).get(f"{REQUESTS}{theirs.pk}/").status_code == 404
    for action in ("dispatch", "reject", "review", "claim", "decline", "deliver"):
        response = _post(api, coordinator, theirs, action, _body(ow, action, theirs))
        assert response.status_code == 404, action
    assert api(ow.w.other_coordinator).get(f"{REQUESTS}{theirs.pk}/").status_code == 200


def test_a_volunteer_of_another_team_cannot_claim_nor_see_the_phone(
    ow: OrdersWorld, api: Any
) -> None:
    request = advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    outsider = _user(ow, "outsider")
    claim = _post(api, outsider, request, "claim", {})
    assert claim.status_code == 403 and claim.json()["code"] == "permission_denied"
    for response in (
        claim,
        api(outsider).get(f"{REQUESTS}{request.pk}/"),
        api(outsider).get(REQUESTS),
    ):
        text = response.content.decode()
        assert RESIDENT_PHONE not in text and "张大爷" not in text
    request.refresh_from_db()
    assert request.status == "dispatched" and request.claimed_by is None


def test_who_reads_the_phone_in_full(ow: OrdersWorld, api: Any) -> None:
    request = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    url = f"{REQUESTS}{request.pk}/"
    for who in ("coordinator", "town_manager", "station_manager", "claimer", "leader"):
        body = api(_user(ow, who)).get(url).json()
        assert body["contact_phone"] == RESIDENT_PHONE, who
        assert body["contact_phone_masked"] == MASKED
    # A list never decrypts: the phone is masked there, for everyone.
    listed = api(ow.w.coordinator).get(REQUESTS).json()["results"][0]
    assert listed["contact_phone"] == MASKED
    # Given back, the request is no longer the team's: its answer masks the number.
    declined = _post(api, _user(ow, "leader"), request, "decline", {"reason": "人手不足"})
    assert declined.status_code == 200
    assert declined.json()["contact_phone"] == MASKED
    assert api(_user(ow, "leader")).get(url).status_code == 404


def test_the_fields_the_contract_lists(ow: OrdersWorld, api: Any) -> None:
    request = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    body = api(ow.w.coordinator).get(f"{REQUESTS}{request.pk}/").json()
    for field in (
        "id",
        "tracking_code",
        "unit",
        "unit_name",
        "category",
        "menu_item",
        "title",
        "description",
        "contact_name",
        "contact_phone",
        "desired_date",
        "status",
        "team",
        "team_name",
        "due_date",
        "claimed_by",
        "claimed_by_name",
        "rating",
        "rating_comment",
        "needs_review",
        "overdue",
        "created_at",
        "events",
    ):
        assert field in body, field
    assert body["unit_name"] == "一村站" and body["category"] == "culture"
    assert body["team"] == ow.team.pk and body["team_name"] == ow.team.name
    assert body["claimed_by_name"] == "王志愿" and body["overdue"] is False
    dispatch = body["events"][1]
    assert set(dispatch) >= {"at", "actor_name", "from_status", "to_status", "note", "action"}
    assert (dispatch["from_status"], dispatch["to_status"]) == ("submitted", "dispatched")
    assert dispatch["actor_name"] == ow.w.coordinator.display_name


def test_list_filters_and_urgency(ow: OrdersWorld, api: Any) -> None:
    old = new_request(ow)
    late = advance(ow, new_request(ow, contact_phone="13900000001"), RequestStatus.DISPATCHED)
    ServiceRequest.objects.filter(pk=late.pk).update(overdue_at=timezone.now())
    done = advance(ow, new_request(ow), RequestStatus.CLOSED)
    client = api(ow.w.coordinator)
    ids = [r["id"] for r in client.get(f"{REQUESTS}?ordering=urgency").json()["results"]]
    assert ids == [late.pk, old.pk, done.pk]
    assert client.get(f"{REQUESTS}?ordering=urgency").json()["results"][0]["overdue"] is True
    newest = [r["id"] for r in client.get(REQUESTS).json()["results"]]
    assert newest == [done.pk, late.pk, old.pk]
    assert client.get(f"{REQUESTS}?ordering=title").status_code == 400
    closed = client.get(f"{REQUESTS}?status=closed").json()
    assert [r["id"] for r in closed["results"]] == [done.pk]
    assert client.get(f"{REQUESTS}?overdue=true").json()["count"] == 1
    assert client.get(f"{REQUESTS}?status=nonsense").status_code == 400


@pytest.mark.parametrize("endpoint", ["list", "detail"])
def test_reading_costs_the_same_for_3_and_30_requests(
    ow: OrdersWorld, api: Any, endpoint: str
) -> None:
    counts = []
    made = 0
    for size in (3, 30):
        while made < size:
            phone = f"139{made:08d}"
            request = advance(ow, new_request(ow, contact_phone=phone), RequestStatus.CLAIMED)
            made += 1
        url = REQUESTS if endpoint == "list" else f"{REQUESTS}{request.pk}/"
        client = api(User.objects.get(pk=ow.w.coordinator.pk))  # grants are cached on the user
        counts.append(len(queries_of(client, f"{url}?ordering=urgency&page_size=200")))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 8


# --- the public side ---------------------------------------------------------------------


def _order(**overrides: Any) -> dict[str, Any]:
    return {
        "description": "帮忙修水管",
        "category": "culture",
        "contact_name": "张大爷",
        "contact_phone": RESIDENT_PHONE,
        **overrides,
    }


def test_submit_something_else(ow: OrdersWorld, api: Any) -> None:
    response = api().post(REQUESTS, _order(unit=ow.w.station.pk), format="json")
    assert response.status_code == 201
    assert response.json()["title"] == "帮忙修水管" and response.json()["menu_item"] is None
    missing = api().post(REQUESTS, _order(unit=ow.w.station.pk, contact_phone=""), format="json")
    assert missing.status_code == 400 and "contact_phone" in missing.json()["detail"]
    wrong_menu = api().post(
        REQUESTS,
        _order(unit=ow.w.station.pk, menu_item=ow.other_county_item.pk),
        format="json",
    )
    assert wrong_menu.status_code == 400 and "menu_item" in wrong_menu.json()["detail"]


def test_the_honeypot_saves_nothing_and_says_nothing(ow: OrdersWorld, api: Any) -> None:
    response = api().post(
        REQUESTS, _order(unit=ow.w.station.pk, website="http://spam.example"), format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == {} and "website" not in json.dumps(body)
    assert not ServiceRequest.objects.exists()


def test_filing_on_behalf_of_a_resident(ow: OrdersWorld, api: Any) -> None:
    data = _order(unit=ow.w.station.pk, contact_phone="", on_behalf=True)
    assert api().post(REQUESTS, data, format="json").status_code == 403
    assert api(ow.w.other_coordinator).post(REQUESTS, data, format="json").status_code == 404
    response = api(ow.w.station_manager).post(REQUESTS, data, format="json")
    assert response.status_code == 201, response.json()
    request = ServiceRequest.objects.get(pk=response.json()["id"])
    assert request.channel == "on_behalf" and request.filed_by == ow.w.station_manager
    assert not ServiceRequest.objects.exclude(pk=request.pk).exists()


@pytest.fixture
def rates(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_rates(**scopes: str) -> None:
        new = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scopes}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": new}
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", new)
        assert api_settings.DEFAULT_THROTTLE_RATES["order"] == new["order"]

    return set_rates


def _throttled(response: Any) -> None:
    assert response.status_code == 429, response.json()
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == "throttled"
    assert body["message"]


def test_orders_are_limited_per_address(ow: OrdersWorld, api: Any, rates: Any) -> None:
    rates(order="2/hour")
    client = api()
    for n in range(2):
        phone = f"1390000000{n}"
        ok = client.post(REQUESTS, _order(unit=ow.w.station.pk, contact_phone=phone), format="json")
        assert ok.status_code == 201
    _throttled(
        client.post(
            REQUESTS, _order(unit=ow.w.station.pk, contact_phone="13900000009"), format="json"
        )
    )
    assert ServiceRequest.objects.count() == 2
    other = client.post(
        REQUESTS,
        _order(unit=ow.w.station.pk, contact_phone="13900000008"),
        format="json",
        REMOTE_ADDR="198.51.100.7",
    )
    assert other.status_code == 201


def test_orders_are_limited_per_phone(ow: OrdersWorld, api: Any, rates: Any) -> None:
    rates(order_phone="2/day")
    for n in range(3):
        response = api().post(
            REQUESTS,
            _order(unit=ow.w.station.pk),
            format="json",
            REMOTE_ADDR=f"198.51.100.{n + 1}",
        )
        if n < 2:
            assert response.status_code == 201
        else:
            _throttled(response)


def test_too_many_open_requests_per_phone(ow: OrdersWorld, api: Any, settings: Any) -> None:
    settings.ORDERS_OPEN_PER_PHONE = 1
    assert api().post(REQUESTS, _order(unit=ow.w.station.pk), format="json").status_code == 201
    response = api().post(REQUESTS, _order(unit=ow.w.station.pk), format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_open_requests"
    assert ServiceRequest.objects.count() == 1


def test_tracking(ow: OrdersWorld, api: Any) -> None:
    request = new_request(ow)
    _post(api, ow.w.coordinator, request, "dispatch", _body(ow, "dispatch", request))
    client = api()
    url = f"{REQUESTS}track/"
    got = client.get(url, {"code": request.tracking_code.lower(), "phone": RESIDENT_PHONE})
    assert got.status_code == 200
    body = got.json()
    assert body["status"] == "dispatched" and body["unit_name"] == "一村站"
    assert body["menu_item_title"] == "文艺演出" and body["due_date"] == _due()
    assert [step["action"] for step in body["timeline"]] == ["submit", "dispatch"]
    text = got.content.decode()
    # No staff names, no internal notes, no full phone.
    assert "内部备注" not in text and ow.w.coordinator.display_name not in text
    assert RESIDENT_PHONE not in text and "actor_name" not in text
    posted = client.post(
        url, {"code": request.tracking_code, "phone": RESIDENT_PHONE}, format="json"
    )
    assert posted.status_code == 200 and posted.json() == body
    wrong_phone = client.get(url, {"code": request.tracking_code, "phone": "13900000000"})
    wrong_code = client.post(url, {"code": "ABCDEFGH", "phone": RESIDENT_PHONE}, format="json")
    assert wrong_phone.status_code == wrong_code.status_code == 404
    assert wrong_phone.json() == wrong_code.json()
    assert client.post(url, {"code": request.tracking_code}, format="json").status_code == 400


def test_rating_and_cancelling_need_the_code_and_the_phone(ow: OrdersWorld, api: Any) -> None:
    request = new_request(ow)
    other = new_request(ow, contact_phone="13900000001")
    wrong = [
        {"tracking_code": request.tracking_code, "phone": "13900000001"},
        {"tracking_code": other.tracking_code, "phone": "13900000001"},  # another request's
        {"tracking_code": "", "phone": RESIDENT_PHONE},
    ]
    answers = []
    for body in wrong:
        response = _post(api, None, request, "cancel", body)
        answers.append((response.status_code, response.json()["message"]))
    unknown = api().post(
        f"{REQUESTS}999999/cancel/",
        {"tracking_code": request.tracking_code, "phone": RESIDENT_PHONE},
        format="json",
    )
    assert unknown.status_code == 404
    # The empty code is refused by the serializer (400); the others all look alike.
    assert answers[0] == answers[1] == (404, unknown.json()["message"])
    assert answers[2][0] == 400
    request.refresh_from_db()
    assert request.status == "submitted"
    done = _post(api, ow.w.other_coordinator, request, "cancel", _body(ow, "cancel", request))
    assert done.status_code == 200 and done.json()["status"] == "cancelled"


def test_lookups_by_code_are_limited(ow: OrdersWorld, api: Any, rates: Any) -> None:
    rates(order_track="3/hour")
    request = new_request(ow)
    client = api()
    track = {"code": request.tracking_code, "phone": "13900000000"}
    assert client.get(f"{REQUESTS}track/", track).status_code == 404
    assert client.post(f"{REQUESTS}track/", track, format="json").status_code == 404
    assert _post(api, None, request, "rate", _body(ow, "rate", request)).status_code == 409
    _throttled(client.get(f"{REQUESTS}track/", track))
    _throttled(_post(api, None, request, "cancel", _body(ow, "cancel", request)))
    request.refresh_from_db()
    assert request.status == "submitted"


# --- garbage in --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["", "track/", "{id}/dispatch/", "{id}/reject/", "{id}/claim/", "{id}/decline/",
     "{id}/deliver/", "{id}/rate/", "{id}/cancel/", "{id}/review/"],
)  # fmt: skip
def test_garbage_bodies_are_refused_not_a_server_error(
    ow: OrdersWorld, api: Any, settings: Any, path: str
) -> None:
    request = new_request(ow)
    url = REQUESTS + path.format(id=request.pk)
    client = api(ow.w.coordinator)
    huge = "x" * (10 * 1024 * 1024)
    bodies = [
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('"a string"', "application/json"),
        ("null", "application/json"),
        (json.dumps({"unit": "1e30", "team": [1], "participants": "x", "rating": "五"}),
         "application/json"),
        ("\x00\xff\xfe", "application/json"),
        ("[" * 5000, "application/json"),
        (json.dumps({"description": huge}), "application/json"),
        (huge, "text/plain"),
    ]  # fmt: skip
    for body, content_type in bodies:
        response = client.post(url, body, content_type=content_type)
        assert 400 <= response.status_code < 500, (path, body[:20], response.status_code)
        assert set(response.json()) == {"code", "message", "detail"}
    if path == "":
        too_large = client.post(url, bodies[-2][0], content_type="application/json")
        assert too_large.status_code == 413 and too_large.json()["code"] == "too_large"
    request.refresh_from_db()
    assert request.status == "submitted"


# --- the menu ----------------------------------------------------------------------------


def test_menu_is_public_and_for_unit_lists_what_a_village_can_order(
    ow: OrdersWorld, api: Any
) -> None:
    station2_item = MenuItem.objects.create(
        unit=ow.w.station2, category=ow.category, title="二村书法课"
    )
    retired = MenuItem.objects.create(
        unit=ow.w.station, category=ow.category, title="停办的课", is_active=False
    )
    public = api().get(MENU)
    assert public.status_code == 200
    titles = {row["title"] for row in public.json()["results"]}
    assert titles == {"文艺演出", "广场舞教学", "乙县送戏下乡", "二村书法课"}
    mine = api().get(MENU, {"for_unit": ow.w.station.pk}).json()["results"]
    assert [row["title"] for row in mine] == ["广场舞教学", "文艺演出"]
    county = next(row for row in mine if row["title"] == "文艺演出")
    assert county == {
        "id": ow.county_item.pk,
        "title": "文艺演出",
        "category": "culture",
        "category_name": ow.category.name,
        "unit": ow.w.centre.pk,
        "unit_name": "甲县中心",
        "teams": [ow.team.pk],
        "team_names": [ow.team.name],
        "description": "",
        "is_active": True,
    }
    assert api().get(MENU, {"for_unit": 999999}).status_code == 400
    assert api().get(MENU, {"for_unit": "1.5"}).status_code == 400
    staff = api(ow.w.station_manager).get(MENU).json()["results"]
    assert retired.pk in {row["id"] for row in staff}
    assert api().get(f"{MENU}{retired.pk}/").status_code == 404
    assert api(ow.w.station_manager).get(f"{MENU}{retired.pk}/").status_code == 200
    assert api(ow.w.other_coordinator).get(f"{MENU}{retired.pk}/").status_code == 404
    assert api().get(f"{MENU}{station2_item.pk}/").status_code == 200
    filtered = api().get(MENU, {"unit": ow.w.centre.pk, "category": "culture"}).json()
    assert [row["id"] for row in filtered["results"]] == [ow.county_item.pk]


def test_menu_writes(ow: OrdersWorld, api: Any) -> None:
    item = {"title": "理发服务", "category": "culture", "unit": ow.w.station.pk}
    assert api().post(MENU, item, format="json").status_code == 401
    outside = api(ow.w.other_coordinator).post(MENU, item, format="json")
    assert outside.status_code == 400 and "unit" in outside.json()["detail"]
    assert api(ow.w.no_role).post(MENU, item, format="json").status_code == 400
    created = api(ow.w.station_manager).post(
        MENU, {**item, "teams": [ow.team.pk], "description": "每月一次"}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["team_names"] == [ow.team.name]
    again = api(ow.w.station_manager).post(MENU, item, format="json")
    assert again.status_code == 400 and "title" in again.json()["detail"]
    foreign_team = api(ow.w.station_manager).post(
        MENU, {**item, "title": "别的", "teams": [ow.other_team.pk]}, format="json"
    )
    assert foreign_team.status_code == 400 and "teams" in foreign_team.json()["detail"]
    pk = created.json()["id"]
    off = api(ow.w.station_manager).patch(f"{MENU}{pk}/", {"is_active": False}, format="json")
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert api().get(f"{MENU}{pk}/").status_code == 404
    # The county's item is outside a town manager's view: 404; another county's too.
    county = f"{MENU}{ow.county_item.pk}/"
    assert api(ow.w.town_manager).patch(county, {"title": "x"}, format="json").status_code == 404
    assert api(ow.w.other_coordinator).patch(county, {"title": "x"}).status_code == 404
    moved = api(ow.w.coordinator).patch(county, {"unit": ow.w.town.pk}, format="json")
    assert moved.status_code == 400 and "unit" in moved.json()["detail"]
    renamed = api(ow.w.coordinator).patch(county, {"title": "文艺演出（大型）"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["title"] == "文艺演出（大型）"
    assert api(ow.w.coordinator).delete(county).status_code == 405


def test_menu_list_costs_the_same_for_3_and_30_items(ow: OrdersWorld, api: Any) -> None:
    def coordinator() -> User:  # a fresh object: grants are cached on the user
        return User.objects.get(pk=ow.w.coordinator.pk)

    counts = []
    for size in (3, 30):
        for n in range(MenuItem.objects.filter(unit=ow.w.station).count(), size):
            item = MenuItem.objects.create(unit=ow.w.station, category=ow.category, title=f"项{n}")
            item.teams.set([ow.team, ow.other_team])
        counts.append(
            [
                len(queries_of(api(), f"{MENU}?page_size=200")),
                len(queries_of(api(), f"{MENU}?for_unit={ow.w.point.pk}")),
                len(queries_of(api(coordinator()), f"{MENU}?page_size=200")),
            ]
        )
    assert counts[0] == counts[1], counts


def test_the_schema_lists_the_endpoints(api: Any, db: Any) -> None:
    response = api().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in (
        "/api/v1/menu-items/",
        "/api/v1/menu-items/{id}/",
        "/api/v1/requests/",
        "/api/v1/requests/{id}/",
        "/api/v1/requests/track/",
        *(f"/api/v1/requests/{{id}}/{a}/" for a in [*TRANSITIONS, "review"]),
    ):
        assert path in paths, path
    assert set(paths["/api/v1/requests/track/"]) >= {"get", "post"}
    assert "404" in paths["/api/v1/requests/track/"]["post"]["responses"]


def test_services_and_api_agree_on_the_requester(ow: OrdersWorld, api: Any) -> None:
    """The API's 201 is the same request the service wrote (no second write path)."""
    response = api().post(REQUESTS, _order(unit=ow.w.station.pk), format="json")
    found = services.request_for_requester(
        code=response.json()["tracking_code"], phone=RESIDENT_PHONE
    )
    assert found.pk == response.json()["id"] and found.channel == "web"
