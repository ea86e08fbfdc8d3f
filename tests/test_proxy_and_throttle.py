"""Abuse limits behind a reverse proxy: the client's address, lockouts and throttles.

The README deploys behind nginx, so every request reaches Django from 127.0.0.1 and the
client's address is in ``X-Forwarded-For``. ``TRUSTED_PROXY_COUNT`` says how many proxies
to believe; ``portal.http.client_ip`` reads the address, and django-axes (lockouts by
username and address) and every API throttle use it.
"""

from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from portal.http import client_ip
from tests.conftest import World
from tests.factories import PASSWORD

PROXY = "127.0.0.1"  # nginx on the same machine
OFFICE = "203.0.113.10"  # the county office's one public address
ELSEWHERE = "198.51.100.77"  # someone else, anywhere
TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def rates(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``rates(auth=..., anon=...)`` sets API throttle rates for one test."""

    def set_rates(**scopes: str) -> None:
        new = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scopes}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": new}
        # DRF's own throttle classes copy the rates once, when they are imported.
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", new)

    return set_rates


def _request(remote: str = PROXY, forwarded: str | None = None) -> Any:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


# --- the address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "client"),
    [
        # No proxy: REMOTE_ADDR, whatever the client claims.
        (0, OFFICE, None, OFFICE),
        (0, OFFICE, ELSEWHERE, OFFICE),
        # One proxy: the entry it appended (the rightmost); the client's own entries left
        # of it are ignored.
        (1, PROXY, OFFICE, OFFICE),
        (1, PROXY, f"{ELSEWHERE}, {OFFICE}", OFFICE),
        (1, PROXY, f"1.2.3.4,{ELSEWHERE} ,{OFFICE}", OFFICE),
        # Two proxies (a load balancer, then nginx): the second entry from the right.
        (2, PROXY, f"{ELSEWHERE}, {OFFICE}, 10.0.0.2", OFFICE),
        (2, PROXY, f"{OFFICE}, 10.0.0.2", OFFICE),
        # IPv6 is normalized.
        (1, PROXY, "2001:DB8:0:0::1", "2001:db8::1"),
        # Not through the proxies as configured, or not an address: REMOTE_ADDR.
        (1, OFFICE, None, OFFICE),
        (2, PROXY, OFFICE, PROXY),
        (1, PROXY, "", PROXY),
        (1, PROXY, f"{OFFICE}, ", PROXY),
        (1, PROXY, "unknown", PROXY),
        (1, PROXY, f"{OFFICE}:8080", PROXY),
    ],
)
def test_client_ip_believes_only_the_trusted_proxies(
    settings: Any, proxies: int, remote: str, forwarded: str | None, client: str
) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(_request(remote, forwarded)) == client


# --- django-axes: locked out by username and address ----------------------------------


def _log_in(client: Any, username: str, password: str, address: str | None) -> Any:
    extra = {"HTTP_X_FORWARDED_FOR": address} if address else {}
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=PROXY, **extra
    )


def test_behind_a_proxy_failures_elsewhere_do_not_lock_the_office_out(
    world: World, client: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        _log_in(client, "coord", "guessed-wrong", ELSEWHERE)
    # The attacker's address is locked out for this account, even with the right password.
    assert _log_in(client, "coord", PASSWORD, ELSEWHERE).status_code == 429
    # The office, behind the same proxy, still logs in: on the pages and on the API.
    response = _log_in(client, "coord", PASSWORD, OFFICE)
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    token = APIClient().post(
        TOKEN_URL,
        {"username": "coord", "password": PASSWORD},
        format="json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=OFFICE,
    )
    assert token.status_code == 200, token.content


def test_behind_a_proxy_a_forged_header_does_not_escape_the_lockout(
    world: World, client: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        _log_in(client, "coord", "guessed-wrong", ELSEWHERE)
    # The attacker prepends another address; nginx appends the real one after it.
    response = _log_in(client, "coord", PASSWORD, f"{OFFICE}, {ELSEWHERE}")
    assert response.status_code == 429


def test_without_a_proxy_a_forged_header_changes_nothing(
    world: World, client: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    for attempt in range(5):
        _log_in(client, "coord", "guessed-wrong", f"192.0.2.{attempt}")
    assert _log_in(client, "coord", PASSWORD, OFFICE).status_code == 429
    assert _log_in(client, "coord", PASSWORD, None).status_code == 429


# --- API throttles -------------------------------------------------------------------


def _token(password: str, username: str = "coord", address: str | None = None) -> Any:
    extra = {"HTTP_X_FORWARDED_FOR": address} if address else {}
    return APIClient().post(
        TOKEN_URL,
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=PROXY,
        **extra,
    )


def test_correct_logins_from_one_address_are_never_throttled(world: World, rates: Any) -> None:
    rates(auth="3/minute")
    for _ in range(12):
        response = _token(PASSWORD)
        assert response.status_code == 200, response.content


def test_failed_logins_are_throttled_per_address(world: World, rates: Any, settings: Any) -> None:
    rates(auth="3/minute")
    settings.TRUSTED_PROXY_COUNT = 1
    # Three wrong passwords for three accounts (below django-axes' per-account limit).
    for username in ("coord", "townmgr", "stationmgr"):
        assert _token("wrong-password", username, ELSEWHERE).status_code == 400
    refused = _token(PASSWORD, "coord", ELSEWHERE)
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "throttled"
    assert body["message"]
    assert body["detail"]["wait"] > 0
    # Another address behind the same proxy logs in.
    assert _token(PASSWORD, "coord", OFFICE).status_code == 200


def test_without_a_proxy_a_forged_header_gets_no_fresh_allowance(
    world: World, rates: Any, settings: Any
) -> None:
    rates(auth="3/minute")
    settings.TRUSTED_PROXY_COUNT = 0
    for attempt, username in enumerate(("coord", "townmgr", "stationmgr")):
        assert _token("wrong-password", username, f"192.0.2.{attempt}").status_code == 400
    assert _token(PASSWORD, "coord", "192.0.2.99").status_code == 429


def test_every_api_view_is_throttled_per_client_address_by_default(
    world: World, rates: Any, settings: Any
) -> None:
    rates(anon="2/minute")
    settings.TRUSTED_PROXY_COUNT = 1
    anonymous = APIClient()
    for _ in range(2):
        assert (
            anonymous.get(
                "/api/v1/units/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=OFFICE
            ).status_code
            == 200
        )
    response = anonymous.get("/api/v1/units/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=OFFICE)
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    # Forging an address to the left of the proxy's entry does not help ...
    forged = f"192.0.2.1, {OFFICE}"
    assert (
        anonymous.get("/api/v1/units/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forged).status_code
        == 429
    )
    # ... and other clients keep their own allowance.
    assert (
        anonymous.get(
            "/api/v1/units/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ELSEWHERE
        ).status_code
        == 200
    )


def test_logged_in_api_clients_are_throttled_per_account(world: World, rates: Any) -> None:
    rates(user="2/minute")
    token = _token(PASSWORD).json()["token"]
    staff = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    assert staff.get("/api/v1/users/").status_code == 200
    # The same account from another address shares the allowance.
    assert staff.get("/api/v1/users/", REMOTE_ADDR="192.0.2.50").status_code == 200
    assert staff.get("/api/v1/users/").status_code == 429
    other = APIClient(HTTP_AUTHORIZATION=f"Token {_token(PASSWORD, 'townmgr').json()['token']}")
    assert other.get("/api/v1/users/").status_code == 200
