"""Journeys people make, in a real browser: browse the network, log in, edit a unit."""

from typing import Any

import pytest

from practice.models import Unit
from tests.conftest import World
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")


def test_resident_browses_the_network(world: World, live_server: Any, page: Any) -> None:
    page.goto(live_server.url + "/")
    assert page.locator('[data-kind="station"]').inner_text() == "4"
    assert page.locator("html").get_attribute("lang") == "zh-hans"  # Chinese by default
    page.click("#browse-network")
    page.wait_for_url("**/units/")
    page.click("#unit-tree >> text=一镇所")
    # A click on the summary link opens the unit's public page.
    page.wait_for_url(f"**/units/{world.town.pk}/")
    assert page.locator("h1").inner_text() == "一镇所"
    page.click("#children >> text=一村站")
    page.wait_for_url(f"**/units/{world.station.pk}/")
    assert page.locator("#unit-actions").count() == 0  # anonymous: no staff actions


def test_station_manager_logs_in_and_edits_their_station(
    world: World, live_server: Any, page: Any
) -> None:
    base = live_server.url
    _login(page, base, "stationmgr")
    page.click(f"#my-units >> text={world.station.name}")
    page.wait_for_url(f"**/units/{world.station.pk}/")
    page.click("#unit-actions >> a[href$='/edit/']")
    page.fill("#id_address", "福建省漳州市南靖县一村 8 号")
    page.fill("#id_contact_phone", "电话号码")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    # A bad phone number: the form says so and nothing is saved.
    assert page.locator("#id_contact_phone.is-invalid").count() == 1
    assert Unit.objects.get(pk=world.station.pk).address == ""
    page.fill("#id_contact_phone", "0596-7001234")
    with page.expect_navigation(url=f"**/units/{world.station.pk}/"):
        page.click("main button[type=submit]")
    assert "福建省漳州市南靖县一村 8 号" in page.content()
    assert Unit.objects.get(pk=world.station.pk).contact_phone == "0596-7001234"
    # The parent institute is outside a station manager's subtree.
    response = page.goto(f"{base}/units/{world.town.pk}/edit/")
    assert response.status == 404


@pytest.mark.mobile
def test_tree_is_usable_on_a_phone(world: World, live_server: Any, page: Any) -> None:
    page.goto(live_server.url + "/units/")
    page.fill("#q", "二村")
    page.click("main form[role=search] button")
    page.wait_for_url("**/units/?q=*")
    assert page.locator("#search-results a").count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling on a phone
