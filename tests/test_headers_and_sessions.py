"""Security headers on every page, idle staff sessions ending, API tokens expiring.

The browser side of the Content-Security-Policy (no violation on any page) is in
``tests/browser/test_csp.py``; here the headers and the HTML the server sends.
"""

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portal.middleware import IdleSessionMiddleware
from tests.conftest import World
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _directives(response: Any) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parts}


class _InlineCode(HTMLParser):
    """Inline scripts, inline styles and event-handler attributes in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        handlers = [name for name in names if name.startswith("on")]
        if handlers:
            self.found.append(f"<{tag} {' '.join(handlers)}=…>")
        if "style" in names:
            self.found.append(f"<{tag} style=…>")
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self._script = ""

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.found.append(f"<script>{self._script.strip()[:60]}")
            self._script = None


def _inline_code(html: str) -> list[str]:
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


# --- Content-Security-Policy, Permissions-Policy ----------------------------------------


def test_every_page_has_a_policy_without_unsafe_inline(world: World, client: Any) -> None:
    pages = ["/", "/units/", f"/units/{world.town.pk}/", "/accounts/login/", "/api/docs/"]
    pages += [f"/units/{world.town.pk}/poster/", "/admin/login/", "/api/v1/units/"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        directives = _directives(response)
        for name in ("script-src", "style-src"):
            assert directives[name] == ["'self'"], (path, name, directives)
        assert directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert directives["base-uri"] == ["'none'"]
        assert "unsafe-inline" not in response["Content-Security-Policy"]


@pytest.mark.parametrize("who", ["anonymous", "coordinator"])
def test_pages_carry_no_inline_script_style_or_handler(
    world: World, browser_client: Any, who: str
) -> None:
    """What the policy would refuse is not in the HTML in the first place."""
    client = browser_client(None if who == "anonymous" else world.coordinator)
    pages = [
        reverse("home"),
        reverse("unit-tree"),
        reverse("unit-detail", args=[world.station2.pk]),
        reverse("unit-poster", args=[world.station2.pk]),
        reverse("api-docs"),
    ]
    if who == "coordinator":
        pages += [
            reverse("dashboard"),
            reverse("unit-roles", args=[world.town.pk]),
            reverse("unit-edit", args=[world.town.pk]),
            reverse("unit-import", args=[world.town.pk]),
            reverse("user-list"),
            reverse("password-change"),
        ]
    else:
        pages.append(reverse("login"))
    found = {}
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        if problems := _inline_code(response.content.decode()):
            found[path] = problems
    assert found == {}


def test_the_home_chart_reads_its_figures_from_json_script(world: World, client: Any) -> None:
    html = client.get("/").content.decode()
    assert re.search(r'<script id="chart-data" type="application/json">\[\{.*"stations"', html)
    assert '<script src="/static/portal/home-chart.js">' in html


def test_the_api_docs_load_their_start_up_script_from_a_url(client: Any) -> None:
    page = client.get("/api/docs/").content.decode()
    assert '<script src="/api/docs/?script="></script>' in page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


def test_permissions_policy_turns_off_devices_but_keeps_geolocation(client: Any) -> None:
    for path in ("/", "/accounts/login/", "/api/v1/units/"):
        policy = dict(
            item.strip().split("=", 1) for item in client.get(path)["Permissions-Policy"].split(",")
        )
        assert policy["camera"] == policy["microphone"] == policy["payment"] == "()"
        assert policy["geolocation"] == "(self)"


# --- Cache-Control: no-store -------------------------------------------------------------


def _no_store(response: Any) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_pages_for_logged_in_staff_are_not_stored(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    for path in (
        "/",
        reverse("dashboard"),
        reverse("unit-detail", args=[world.town.pk]),
        reverse("user-list"),
        reverse("unit-export", args=[world.town.pk]),
        "/api/v1/users/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert _no_store(response), (path, response.get("Cache-Control"))


def test_admin_and_login_pages_are_not_stored(world: World, browser_client: Any) -> None:
    anonymous = browser_client(None)
    assert _no_store(anonymous.get("/accounts/login/"))
    assert _no_store(anonymous.get("/admin/login/"))
    admin = browser_client(world.superuser)
    assert _no_store(admin.get("/admin/"))
    assert _no_store(admin.get(reverse("admin:practice_unit_changelist")))


def test_api_tokens_and_responses_to_them_are_not_stored(world: World) -> None:
    issued = APIClient().post(
        "/api/v1/auth/token/", {"username": "coord", "password": PASSWORD}, format="json"
    )
    assert issued.status_code == 200 and _no_store(issued)
    key = issued.json()["token"]
    response = APIClient().get("/api/v1/units/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and _no_store(response)


def test_public_pages_for_residents_stay_cacheable(world: World, client: Any) -> None:
    for path in ("/", "/units/", f"/units/{world.town.pk}/", "/api/v1/units/"):
        assert not _no_store(client.get(path)), path


# --- idle sessions -----------------------------------------------------------------------


def _idle(client: Any, minutes: float) -> None:
    """Move the session's last request ``minutes`` into the past."""
    session = client.session
    session[IdleSessionMiddleware.LAST_REQUEST] -= int(minutes * 60)
    session.save()


def test_a_session_idle_for_30_minutes_is_logged_out(
    world: World, client: Any, settings: Any
) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post("/accounts/login/", {"username": "coord", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 200
    _idle(client, 29)
    assert client.get("/dashboard/").status_code == 200  # 29 minutes: still there
    _idle(client, 31)
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/dashboard/"
    login_page = client.get(response["Location"]).content.decode()
    assert "logged out after 30 minutes without activity" in login_page  # says why
    # Logged out for good: the session no longer belongs to anyone.
    assert client.get("/dashboard/").status_code == 302
    assert client.get("/api/v1/users/").status_code in (401, 403)
    # Logging in again works.
    client.post("/accounts/login/", {"username": "coord", "password": PASSWORD})
    assert client.get("/dashboard/").status_code == 200


def test_activity_keeps_the_session(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    for _ in range(4):
        _idle(client, 20)
        assert client.get("/dashboard/").status_code == 200


def test_the_idle_time_is_configurable(world: World, browser_client: Any, settings: Any) -> None:
    settings.SESSION_IDLE_TIMEOUT = timedelta(minutes=5)
    client = browser_client(world.coordinator)
    _idle(client, 4)
    assert client.get("/dashboard/").status_code == 200
    _idle(client, 6)
    assert client.get("/dashboard/").status_code == 302


def test_an_idle_session_also_ends_for_the_api(world: World, client: Any) -> None:
    client.force_login(world.coordinator)
    assert client.get("/api/v1/users/").status_code == 200
    _idle(client, 45)
    assert client.get("/api/v1/users/").status_code in (401, 403)


def test_anonymous_requests_write_no_session(world: World, client: Any, settings: Any) -> None:
    for path in ("/", "/units/", f"/units/{world.town.pk}/", "/accounts/login/"):
        response = client.get(path)
        assert settings.SESSION_COOKIE_NAME not in response.cookies, path


# --- API token expiry --------------------------------------------------------------------


def _issue(username: str = "coord") -> dict[str, Any]:
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def _age(key: str, **delta: float) -> None:
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(**delta))


def _users(key: str) -> Any:
    return APIClient().get("/api/v1/users/", HTTP_AUTHORIZATION=f"Token {key}")


def test_a_token_expires_after_seven_days(world: World) -> None:
    issued = _issue()
    expires = datetime.fromisoformat(issued["expires"])
    assert expires.utcoffset() == timedelta(hours=8)  # Beijing time, as the contract says
    assert timedelta(days=7) - (expires - timezone.now()) < timedelta(minutes=1)
    _age(issued["token"], days=6, hours=23)
    assert _users(issued["token"]).status_code == 200
    _age(issued["token"], days=7, minutes=1)
    response = _users(issued["token"])
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert body["code"] == "token_expired"
    assert body["message"] and body["detail"] == {}


def test_a_new_login_replaces_an_expired_token(world: World) -> None:
    old = _issue()["token"]
    assert _issue()["token"] == old  # still valid: the same token for every client
    _age(old, days=8)
    fresh = _issue()["token"]
    assert fresh != old
    assert _users(fresh).status_code == 200
    assert _users(old).status_code == 401
    assert not Token.objects.filter(key=old).exists()


def test_the_token_lifetime_is_configurable(world: World, settings: Any) -> None:
    settings.API_TOKEN_TTL = timedelta(hours=12)
    key = _issue()["token"]
    _age(key, hours=13)
    assert _users(key).json()["code"] == "token_expired"
