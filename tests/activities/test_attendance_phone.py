"""On a phone (390 px wide, Chromium through Playwright): a volunteer signs up, scans the
check-in code — checkin.js gives the phone's position, the distance is recorded — and later
the check-out code, and sees the hours; "My activities" lists it. A phone far away is told
how far it is. The staff's poster and every page fit the phone's width.

Skipped without Chromium (see tests/browser/conftest.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from activities.models import ActivityParticipant, Attendance
from tests.activities.test_attendance import PLACE, planned, volunteer_user
from tests.browser.conftest import CHROMIUM_ARGS, _chromium
from tests.conftest import World
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.mobile, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``phone(latitude, longitude)`` → a new phone-sized page whose browser may tell
    where it is (the geolocation permission granted, as after the user's "Allow")."""
    executable = _chromium()
    if executable is None:
        pytest.skip("Chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        contexts: list[Any] = []

        def make(latitude: float, longitude: float) -> Any:
            context = browser.new_context(
                viewport=PHONE,
                locale="zh-CN",
                geolocation={"latitude": latitude, "longitude": longitude},
                permissions=["geolocation"],
                is_mobile=True,
                has_touch=True,
            )
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(15_000)
            return page

        yield make
        for context in contexts:
            context.close()
        browser.close()
    from django.db import connections

    connections.close_all()


def _log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, page.url


def test_a_volunteer_checks_in_and_out_by_phone(world: World, live_server: Any, phone: Any) -> None:
    base = live_server.url
    user, volunteer = volunteer_user(world.station)
    activity = planned(
        world, days_ago=0.5 / 24, hours=2, latitude=PLACE[0], longitude=PLACE[1], capacity=5
    )
    key = activity.checkin_key
    page = phone(24.5009, 117.4)  # about 100 m from the place
    _log_in(page, base, user.username)

    page.goto(base + reverse("activity-check-in", args=[activity.pk, key]))
    _fits(page)
    page.click("#check-form button[type=submit]")
    page.wait_for_selector("#check-done")
    _fits(page)
    row = Attendance.objects.get(volunteer=volunteer)
    assert row.checked_in_at is not None
    assert row.check_in_distance is not None and 90 <= row.check_in_distance <= 110

    # Two hours of service later (back-dated), the check-out code.
    Attendance.objects.filter(pk=row.pk).update(
        checked_in_at=timezone.now() - dt.timedelta(hours=2, minutes=10)
    )
    page.goto(base + reverse("activity-check-out", args=[activity.pk, key]))
    page.click("#check-form button[type=submit]")
    page.wait_for_selector("#check-hours")
    assert "2.00" in page.inner_text("#check-hours")
    _fits(page)
    participant = ActivityParticipant.objects.get(volunteer=volunteer)
    assert participant.checked_hours == participant.hours == Decimal("2.00")
    assert Attendance.objects.get(pk=row.pk).check_out_distance is not None

    page.goto(base + reverse("my-activities"))
    assert activity.title in page.inner_text(f"#past-{activity.pk}")
    _fits(page)


def test_a_phone_far_away_is_told_the_distance(world: World, live_server: Any, phone: Any) -> None:
    base = live_server.url
    user, _volunteer = volunteer_user(world.station)
    activity = planned(world, days_ago=0.5 / 24, hours=2, latitude=PLACE[0], longitude=PLACE[1])
    page = phone(24.51, 117.4)  # about 1.1 km away
    _log_in(page, base, user.username)
    page.goto(base + reverse("activity-check-in", args=[activity.pk, activity.checkin_key]))
    page.click("#check-form button[type=submit]")
    page.wait_for_selector("#check-error")
    assert "1,112" in page.inner_text("#check-error")
    _fits(page)
    assert not Attendance.objects.exists()


def test_the_poster_fits_a_phone(world: World, live_server: Any, phone: Any) -> None:
    base = live_server.url
    activity = planned(world, title="重阳节敬老志愿服务活动暨移风易俗宣讲", location="村文化礼堂")
    page = phone(24.5, 117.4)
    _log_in(page, base, world.station_manager.username)
    page.goto(base + reverse("activity-qr", args=[activity.pk]))
    assert page.locator("#qr-in svg").count() == 1 and page.locator("#qr-out svg").count() == 1
    _fits(page)
