"""A volunteer's journey on a phone: a resident registers, a manager approves, the
volunteer logs in with their phone number, asks to join a team and is accepted, sees the
hours served and downloads the certificate, whose number verifies at /verify/<number>/."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.conftest import World
from tests.factories import PASSWORD
from tests.volunteers.conftest import make_id_number
from volunteers import hours, teams
from volunteers.models import Volunteer

pytestmark = [pytest.mark.browser, pytest.mark.mobile, pytest.mark.django_db(transaction=True)]

VOLUNTEER_PASSWORD = "village-volunteer-2026"


def _log_in(page: Any, base: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def test_a_resident_becomes_a_volunteer_and_gets_a_certificate(
    world: World, live_server: Any, page: Any, tmp_path: Path
) -> None:
    base = live_server.url
    team = teams.team_create(actor=world.station_manager, unit=world.station, name="一村志愿服务队")
    id_number = make_id_number(dt.date(1988, 6, 15), male=False)

    # A resident registers: county → town → the form (village, details).
    page.goto(f"{base}/volunteer/register/")
    page.select_option("#reg-county", label="甲县中心")
    page.wait_for_selector("#reg-town")
    page.select_option("#reg-town", label="一镇所")
    page.wait_for_selector("#register-form")
    page.fill("#id_name", "林·秀英")
    page.fill("#id_id_number", id_number.lower())
    page.fill("#id_phone", "+86 139-0000-1234")
    page.select_option("#id_unit", label="一村站")
    page.fill("#id_password", VOLUNTEER_PASSWORD)
    page.fill("#id_password2", VOLUNTEER_PASSWORD)
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#register-done")
    volunteer = Volunteer.objects.get(name="林·秀英")
    assert volunteer.status == "pending" and volunteer.phone == "13900001234"

    # The station's manager approves it.
    _log_in(page, base, "stationmgr", PASSWORD)
    page.goto(f"{base}/volunteers/{volunteer.pk}/")
    page.click("#volunteer-actions button.btn-success")
    page.wait_for_load_state()
    volunteer.refresh_from_db()
    assert volunteer.status == "active"

    # The volunteer logs in with the phone number and asks to join the village team.
    _log_in(page, base, "139 0000 1234", VOLUNTEER_PASSWORD)
    page.goto(f"{base}/me/")
    assert "林·秀英" in page.inner_text("#me-profile")
    page.goto(f"{base}/me/teams/")
    page.click("#open-teams button[type=submit]")
    page.wait_for_load_state()
    assert "一村志愿服务队" in page.inner_text("#my-requests")

    # The manager accepts the request on the team's page.
    _log_in(page, base, "stationmgr", PASSWORD)
    page.goto(f"{base}/teams/{team.pk}/")
    page.click("#team-requests button.btn-portal")
    page.wait_for_load_state()
    assert "林·秀英" in page.inner_text("#team-members")

    # Hours served: recorded by the station's manager, confirmed by the town's.
    record = hours.record_create(
        actor=world.station_manager,
        volunteer=volunteer,
        unit=world.station,
        date=dt.date.today() - dt.timedelta(days=3),
        hours=Decimal("3.50"),
        content="环境卫生整治",
        reason="活动签到表",
    )
    hours.record_confirm(actor=world.town_manager, record=record)

    # The volunteer sees the team, the hours, and downloads the certificate.
    _log_in(page, base, "13900001234", VOLUNTEER_PASSWORD)
    page.goto(f"{base}/me/teams/")
    assert "一村志愿服务队" in page.inner_text("#my-teams")
    page.goto(f"{base}/me/hours/")
    assert "3.5" in page.inner_text("#me-hours-total")
    assert "环境卫生整治" in page.inner_text("#me-records")
    page.goto(f"{base}/me/")
    with page.expect_download() as download:
        page.click("#me-certificate-link")
    pdf = tmp_path / "certificate.pdf"
    download.value.save_as(pdf)
    pages = PdfReader(BytesIO(pdf.read_bytes())).pages
    # pypdf reads the CID font's two-byte codes with a NUL before each character.
    text = "".join(p.extract_text() for p in pages).replace("\x00", "")
    assert "林·秀英" in text and volunteer.id_number_masked in text
    assert volunteer.id_number not in text
    number = re.search(r"ZYZM[0-9A-Z]+", text)
    assert number is not None

    # Anyone can check the number.
    page.context.clear_cookies()
    page.goto(f"{base}/verify/{number.group(0)}/")
    assert "林·秀英" in page.inner_text("#certificate-name")
    assert "3.5" in page.inner_text("#certificate-hours")
    # Nothing on the phone's screen is wider than the screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1
