"""Order — menu — deliver on a phone, end to end in Chromium: a resident (in the
elder-friendly display) opens the station's order page — what its QR poster points to —
and orders; the coordinator dispatches it to a team; a volunteer of the team claims and
delivers it; the resident follows it with code and phone and rates it. Afterwards the
activity and the pending service records exist, and the volunteer's pending hours show."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from activities.models import Activity
from orders.models import ServiceRequest
from tests.factories import PASSWORD
from tests.orders.conftest import OrdersWorld, ow  # noqa: F401 - the fixture
from volunteers.models import ServiceRecord

pytestmark = [pytest.mark.browser, pytest.mark.mobile, pytest.mark.django_db(transaction=True)]

RESIDENT_PHONE = "13912345678"


def _log_in(page: Any, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def _font_px(page: Any, selector: str) -> float:
    return float(page.eval_on_selector(selector, "e => parseFloat(getComputedStyle(e).fontSize)"))


def _no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_a_request_from_the_station_door_to_the_rating(
    ow: OrdersWorld,  # noqa: F811 - the fixture imported above
    live_server: Any,
    page: Any,
) -> None:
    base = live_server.url
    station = ow.w.station
    order_url = f"{base}/units/{station.pk}/order/"

    # The resident turns on the elder-friendly display and orders from the station's page.
    page.goto(f"{base}/display/?mode=elder&next=/units/{station.pk}/order/")
    assert page.url == order_url
    assert "elder" in (page.get_attribute("body", "class") or "")
    assert _font_px(page, "#order-page") >= 20
    assert _no_sideways_scroll(page)
    page.click(f"label[for=item-{ow.county_item.pk}]")
    page.fill("#id_contact_name", "张大爷")
    page.fill("#id_contact_phone", "139 1234 5678")
    page.click("#order-submit")
    page.wait_for_selector("#order-done")
    code = page.inner_text("#tracking-code").strip()
    request = ServiceRequest.objects.get(tracking_code=code)
    assert request.status == "submitted" and request.contact_phone == RESIDENT_PHONE
    assert _no_sideways_scroll(page)

    # The county's coordinator dispatches it to the town's culture team.
    _log_in(page, base, "coord")
    page.goto(f"{base}/requests/")
    assert code in page.inner_text("main")
    page.goto(f"{base}/requests/{request.pk}/")
    page.select_option("#id_dispatch-team", value=str(ow.team.pk))
    due = timezone.localdate() + dt.timedelta(days=3)
    page.fill("#id_dispatch-due_date", due.isoformat())
    page.click("#dispatch button[type=submit]")
    page.wait_for_load_state()
    request.refresh_from_db()
    assert request.status == "dispatched" and request.team == ow.team

    # A volunteer of the team sees it among the open tasks, claims it and delivers it.
    _log_in(page, base, "v_member")
    page.goto(f"{base}/tasks/")
    page.click("#open-tasks form button[type=submit]")
    page.wait_for_load_state()
    request.refresh_from_db()
    assert request.status == "claimed" and request.claimed_by == ow.member
    assert RESIDENT_PHONE in page.inner_text("main")  # the team may call the resident
    page.goto(f"{base}/requests/{request.pk}/deliver/")
    page.fill("textarea[name=summary]", "在村文化广场演出一场，群众反响很好")
    page.fill("input[name=beneficiaries]", "85")
    page.fill(f"#hours-{ow.member.pk}", "2")
    page.click("#deliver-form button[type=submit]")
    page.wait_for_selector("#delivered")
    request.refresh_from_db()
    assert request.status == "delivered"
    page.click("#my-hours-link")
    page.wait_for_load_state()
    assert "待确认" in page.inner_text("main")  # the pending hours show

    # The resident follows the request with code and phone, and rates it.
    page.context.clear_cookies()
    page.goto(f"{base}/display/?mode=elder&next=/track/{code}/")
    page.fill("#id_phone", RESIDENT_PHONE)
    page.click("#track-phone button[type=submit]")
    page.wait_for_selector("#track-status")
    assert _font_px(page, "#status-words") >= 20
    timeline = page.inner_text("#timeline")
    assert "李队长" not in timeline and "王志愿" not in timeline  # no volunteer names
    page.click("label[for=rating-5]")
    page.fill("#rate-comment", "很满意")
    page.click("#rate-form button[type=submit]")
    page.wait_for_load_state()
    request.refresh_from_db()
    assert request.status == "closed" and request.rating == 5
    assert _no_sideways_scroll(page)

    # What the delivery left behind.
    activity = Activity.objects.get(request=request)
    assert activity.beneficiaries == 85 and activity.status == "submitted"
    record = ServiceRecord.objects.get(source="request", source_id=request.pk)
    assert (record.volunteer, record.hours, record.status) == (ow.member, 2, "pending")
