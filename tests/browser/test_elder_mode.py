"""On a phone (390 × 844), a resident switches the elder-friendly display on from the header:
the home page and “Find my station” then show text of at least 20 px and touch targets of
48 px, without sideways scrolling; and the town select finds the village stations."""

from typing import Any

import pytest
from django.db import connections

from portal import display
from tests.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.mobile, pytest.mark.django_db(transaction=True)]

PHONE_WIDTH = 390


def _font_px(page: Any, selector: str) -> float:
    return float(page.eval_on_selector(selector, "e => parseFloat(getComputedStyle(e).fontSize)"))


def _no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def test_elder_mode_from_the_header_on_a_phone(world: World, live_server: Any, page: Any) -> None:
    base = live_server.url
    page.goto(base + "/")
    assert "elder" not in (page.get_attribute("body", "class") or "")
    standard_text = _font_px(page, "#home-track p")
    assert standard_text < 20

    # The switch is in the header, visible without opening the menu.
    with page.expect_navigation():
        page.click("#display-switch")
    assert page.url == base + "/"
    assert "elder" in page.get_attribute("body", "class").split()
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies[display.COOKIE_NAME] == display.ELDER

    for selector in ("body", "#home-track p", "#home-track label", "#home-find h2", "footer"):
        assert _font_px(page, selector) >= 20, selector
    for selector in ("#home-code", "#home-track button", "#home-find-link", "#display-switch"):
        assert page.eval_on_selector(selector, "e => e.getBoundingClientRect().height") >= 48
    _no_sideways_scroll(page)

    # Find my station, by county and town (the selects submit themselves).
    page.click("#home-find-link")
    page.wait_for_url(f"{base}/find/")
    assert "elder" in page.get_attribute("body", "class").split()
    with page.expect_navigation():
        page.select_option("#find-county", str(world.centre.pk))
    with page.expect_navigation():
        page.select_option("#find-town", str(world.town.pk))
    names = page.locator("#find-results a.find-place").all_inner_texts()
    assert names == ["一村站", "一村点", "二村站"]
    for selector in ("body", "#find-results a.find-place", "#find-results .kind-badge", "h1"):
        assert _font_px(page, selector) >= 20, selector
    heights = page.eval_on_selector_all(
        "main a, main button:not([hidden]), main select, main input:not([type=hidden])",
        "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().height)",
    )
    assert heights and min(heights) >= 48, heights
    _no_sideways_scroll(page)

    # And back to the standard display.
    with page.expect_navigation():
        page.click("#display-switch")
    assert "elder" not in page.get_attribute("body", "class").split()
    assert _font_px(page, "body") < 20


def test_near_me_asks_the_phone_and_lists_the_nearest(
    world: World, live_server: Any, chromium_browser: Any
) -> None:
    from decimal import Decimal

    from practice.models import Unit

    Unit.objects.filter(pk=world.station2.pk).update(
        latitude=Decimal("24.500000"), longitude=Decimal("117.505000")
    )
    Unit.objects.filter(pk=world.station.pk).update(
        latitude=Decimal("24.520000"), longitude=Decimal("117.500000")
    )
    context = chromium_browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": 844},
        locale="zh-CN",
        geolocation={"latitude": 24.5001234, "longitude": 117.5004321},
        permissions=["geolocation"],
    )
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(live_server.url + "/find/")
        with page.expect_navigation():
            page.click("#near-me-button")
        # Rounded to 3 decimals before it leaves the phone.
        assert page.url.endswith("/find/?lat=24.500&lon=117.500")
        names = page.locator("#find-results a.find-place").all_inner_texts()
        assert names == ["二村站", "一村站"]
        assert "0.5" in page.inner_text("#find-results .find-distance")
        _no_sideways_scroll(page)
    finally:
        context.close()
        connections.close_all()  # as the page fixture does (tests/browser/conftest.py)
