"""An activity's journey on a phone (the activity issue's "must show"): a station manager
logs an activity with a photo, a volunteer checks in and out by the QR poster's links, the
town coordinator returns the report with a reason, the manager fixes and resubmits it, the
coordinator approves it, and the county's dashboard counts it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone
from PIL import Image

from activities.choices import ActivityStatus
from activities.models import Activity, ActivityParticipant, Attendance
from practice.choices import Role
from tests.activities.conftest import platform
from tests.conftest import World
from tests.factories import PASSWORD, RoleFactory, UserFactory
from tests.volunteers.conftest import make_volunteer
from volunteers.choices import RecordStatus

pytestmark = [pytest.mark.browser, pytest.mark.mobile, pytest.mark.django_db(transaction=True)]

TITLE = "村史馆志愿讲解"


def _log_in(page: Any, base: str, username: str) -> None:
    # Nothing of the last page may still be on its way: a late answer (a favicon's 404)
    # would set a new CSRF cookie after the log-in form was served.
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/", wait_until="networkidle")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def _submit(page: Any, selector: str) -> None:
    """Click a form's button and wait for the page the form leads to (so that no late
    response sets a cookie after the next log-in has cleared them)."""
    with page.expect_navigation():
        page.click(selector)
    page.wait_for_load_state()


def _local(moment: dt.datetime) -> str:
    """The value of a ``datetime-local`` input (the portal's time zone, minutes)."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _figure(page: Any, base: str, unit_pk: int, name: str) -> str:
    page.goto(f"{base}/units/{unit_pk}/statistics/")
    return str(page.inner_text(f"#fig-{name}")).strip()


def test_log_check_in_return_fix_approve_and_the_county_counts_it(
    world: World, live_server: Any, page: Any, tmp_path: Path, settings: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    base = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())  # the "are you sure?" of submit/approve
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 24.51, "longitude": 117.36})
    culture = platform("culture")
    town_coordinator = UserFactory(username="towncoord")
    RoleFactory(user=town_coordinator, unit=world.town, role=Role.COORDINATOR)
    volunteer = make_volunteer(world.station, name="王秀兰", user=UserFactory(username="wxl"))
    photo = tmp_path / "讲解.jpg"
    Image.new("RGB", (640, 480), (190, 40, 40)).save(photo, "JPEG")

    # The county's dashboard before: nothing approved this year.
    year = timezone.localdate().year
    _log_in(page, base, world.coordinator.username)
    assert _figure(page, base, world.centre.pk, "activities") == "0"

    # The station manager plans it on the phone (under way now), with a photo.
    now = timezone.now().replace(second=0, microsecond=0)
    _log_in(page, base, world.station_manager.username)
    page.goto(f"{base}/activities/new/?unit={world.station.pk}")
    page.check("#id_mode_0")  # plan it: it is still going on
    page.fill("#id_title", TITLE)
    page.select_option("#id_category", label=culture.name)
    page.fill("#id_start", _local(now - dt.timedelta(minutes=30)))
    page.fill("#id_end", _local(now + dt.timedelta(minutes=60)))
    page.fill("#id_location", "一村村史馆")
    page.fill("#id_beneficiaries", "40")
    page.set_input_files("#id_photos", str(photo))
    _submit(page, "#activity-save")
    page.wait_for_selector("#activity-title")
    activity = Activity.objects.get(title=TITLE)
    assert activity.status == ActivityStatus.PLANNED and activity.photos.count() == 1
    assert page.locator("#photos img").count() == 1

    # The QR poster gives the two links the volunteer's phone opens.
    page.goto(f"{base}/activities/{activity.pk}/qr/")
    check_in = page.inner_text("#qr-in .text-break").strip()
    check_out = page.inner_text("#qr-out .text-break").strip()
    assert activity.checkin_key in check_in and activity.checkin_key in check_out

    _log_in(page, base, "wxl")
    page.goto(check_in.replace("http://testserver", base))
    _submit(page, "#check-form button[type=submit]")
    page.wait_for_selector("#check-done")
    assert Attendance.objects.get(activity=activity, volunteer=volunteer).checked_in_at

    # Two hours pass (the clock is moved, not waited for): the activity is over.
    two_hours = dt.timedelta(hours=2)
    Activity.objects.filter(pk=activity.pk).update(
        start=F("start") - two_hours, end=F("end") - two_hours
    )
    Attendance.objects.filter(activity=activity).update(
        checked_in_at=F("checked_in_at") - two_hours
    )
    page.goto(check_out.replace("http://testserver", base))
    _submit(page, "#check-form button[type=submit]")
    page.wait_for_selector("#check-done")
    participant = ActivityParticipant.objects.get(activity=activity, volunteer=volunteer)
    # Checked in for 2 h, but the activity lasted 1.5 h: the evidence is capped by it.
    assert participant.checked_hours == participant.hours == Decimal("1.50")

    # The manager turns the plan into a report and submits it.
    _log_in(page, base, world.station_manager.username)
    page.goto(f"{base}/activities/{activity.pk}/edit/")
    page.check("#id_mode_1")
    _submit(page, "#activity-save")
    page.wait_for_selector("#submit-form")
    _submit(page, "#submit-form button[type=submit]")
    page.wait_for_selector("#activity-title")
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.SUBMITTED

    # The town coordinator finds it in the review queue and returns it with a reason.
    _log_in(page, base, "towncoord")
    page.goto(f"{base}/activities/review/")
    page.click(f"text={TITLE}")
    page.wait_for_selector("#return")
    page.fill("#return textarea", "受益人数与签到表不符，请核实后重报。")
    _submit(page, "#return button[type=submit]")
    page.wait_for_load_state()
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.RETURNED

    # The manager reads why, fixes the figure and submits again.
    _log_in(page, base, world.station_manager.username)
    page.goto(f"{base}/activities/{activity.pk}/manage/")
    assert "受益人数与签到表不符" in page.inner_text("#return-reason")
    page.goto(f"{base}/activities/{activity.pk}/edit/")
    page.fill("#id_beneficiaries", "36")
    _submit(page, "#activity-save")
    page.wait_for_selector("#submit-form")
    _submit(page, "#submit-form button[type=submit]")
    page.wait_for_selector("#activity-title")

    # The town coordinator approves: the volunteer's record is confirmed.
    _log_in(page, base, "towncoord")
    page.goto(f"{base}/activities/{activity.pk}/manage/")
    _submit(page, "#approve button[type=submit]")
    page.wait_for_load_state()
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.APPROVED and activity.beneficiaries == 36
    # (the edit form rewrote the participant rows; the checked-in evidence stayed)
    participant = ActivityParticipant.objects.get(activity=activity, volunteer=volunteer)
    assert participant.checked_hours == Decimal("1.50")
    assert participant.record is not None and participant.record.status == RecordStatus.CONFIRMED

    # The county's dashboard for this year now counts it, from the records.
    _log_in(page, base, world.coordinator.username)
    assert _figure(page, base, world.centre.pk, "activities") == "1"
    assert _figure(page, base, world.centre.pk, "beneficiaries") == "36"
    assert _figure(page, base, world.centre.pk, "hours") == "1.50"
    assert str(year) in page.inner_text("#stats-period")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
