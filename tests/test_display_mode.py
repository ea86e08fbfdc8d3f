"""The elder-friendly display (适老化, portal.display): the header's switch sets a cookie and
goes back to a local page only; the cookie, validated, puts ``elder`` on ``<body>``; the
public pages' cache keeps elder and standard pages apart."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory

from portal import cache as page_cache
from portal import display
from tests.conftest import World

pytestmark = pytest.mark.django_db

SWITCH = "/display/"


def body_class(response: Any) -> str:
    html = response.content.decode()
    start = html.index("<body")
    return html[start : html.index(">", start)]


def elder_client() -> Client:
    client = Client()
    client.cookies[display.COOKIE_NAME] = display.ELDER
    return client


def test_the_switch_sets_a_long_lived_cookie_and_goes_back(client: Client) -> None:
    response = client.get(SWITCH, {"mode": "elder", "next": "/find/?town=3&q=村"})
    assert response.status_code == 302
    assert response["Location"] == "/find/?town=3&q=%E6%9D%91"
    cookie = response.cookies[display.COOKIE_NAME]
    assert cookie.value == "elder"
    assert int(cookie["max-age"]) >= 180 * 24 * 3600
    assert cookie["httponly"] and cookie["path"] == "/" and cookie["samesite"] == "Lax"
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]

    response = client.get(SWITCH, {"mode": "standard", "next": "/"})
    assert response.cookies[display.COOKIE_NAME].value == "standard"


@pytest.mark.parametrize("mode", ["", "huge", "elder ", "ELDER", "<script>"])
def test_an_unknown_mode_sets_nothing(client: Client, mode: str) -> None:
    response = client.get(SWITCH, {"mode": mode, "next": "/units/"})
    assert response.status_code == 302 and response["Location"] == "/units/"
    assert display.COOKIE_NAME not in response.cookies


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
        "///evil.example",
    ],
)
def test_the_switch_goes_back_to_this_site_only(client: Client, next_url: str) -> None:
    response = client.get(SWITCH, {"mode": "elder", "next": next_url})
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_switch_is_a_get_link(client: Client) -> None:
    assert client.post(SWITCH, {"mode": "elder"}).status_code == 405


def test_elder_pages_have_the_body_class(world: World, client: Client) -> None:
    for url in ("/", "/find/", "/units/", world.station.get_absolute_url()):
        assert "elder" not in body_class(client.get(url)), url
        assert " elder" in body_class(elder_client().get(url)), url


@pytest.mark.parametrize("value", ["standard", "", "Elder", "elder;x", "1"])
def test_any_other_cookie_value_is_the_standard_display(world: World, value: str) -> None:
    client = Client()
    client.cookies[display.COOKIE_NAME] = value
    assert "elder" not in body_class(client.get("/find/"))


def test_the_header_switch_links_to_the_other_mode_and_back_here(
    world: World, client: Client
) -> None:
    html = client.get("/find/?town=1").content.decode()
    assert 'href="/display/?mode=elder&amp;next=/find/%3Ftown%3D1"' in html
    html = elder_client().get("/find/").content.decode()
    assert 'href="/display/?mode=standard&amp;next=/find/"' in html
    # Following the link switches the page.
    client.get("/display/?mode=elder&next=/find/")
    assert " elder" in body_class(client.get("/find/"))


def test_elder_and_standard_pages_are_cached_apart(world: World) -> None:
    standard, elder = Client(), elder_client()
    for url in ("/", "/find/", world.station.get_absolute_url()):
        assert standard.get(url)["X-Page-Cache"] == "miss"
        first = elder.get(url)
        assert first["X-Page-Cache"] == "miss", url  # not the standard page
        assert " elder" in body_class(first)
        again = elder.get(url)
        assert again["X-Page-Cache"] == "hit" and " elder" in body_class(again)
        cached = standard.get(url)
        assert cached["X-Page-Cache"] == "hit" and "elder" not in body_class(cached)


def test_the_page_key_holds_the_display_mode() -> None:
    factory = RequestFactory()
    plain = factory.get("/find/", {"q": "村"})
    chosen = factory.get("/find/", {"q": "村"})
    chosen.COOKIES[display.COOKIE_NAME] = "elder"
    bogus = factory.get("/find/", {"q": "村"})
    bogus.COOKIES[display.COOKIE_NAME] = "bogus"
    assert page_cache._page_key(plain) != page_cache._page_key(chosen)
    # An invalid value is the standard display, and shares its pages.
    assert page_cache._page_key(plain) == page_cache._page_key(bogus)
