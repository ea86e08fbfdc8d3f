"""The statistics dashboard (/units/<id>/statistics/), its Excel export and the activity
list export: who may see them, what they show, constant queries whatever the subtree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from activities.choices import ActivityStatus
from activities.views_stats import period_of
from practice.choices import UnitKind
from practice.models import Unit
from tests.activities.conftest import approved_activity, make_activity, platform
from tests.browser.conftest import chromium_browser  # noqa: F401 - fixture
from tests.conftest import World
from tests.factories import UnitFactory
from tests.querycount import queries_of
from tests.volunteers.conftest import make_volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Any:
    """Texts compared in English (the msgids)."""
    with translation.override("en"):
        yield


@pytest.fixture
def browser_client(browser_client: Any, settings: Any) -> Any:
    """The logged-in test client of tests/conftest.py, with pages in English (the msgids:
    pages ignore the Accept-Language header and follow the language cookie)."""

    def make(user: Any = None) -> Any:
        client = browser_client(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return make


def stats_url(unit: Unit, query: str = "") -> str:
    return reverse("unit-statistics", args=[unit.pk]) + (f"?{query}" if query else "")


def workbook(response: Any) -> Any:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return load_workbook(
        BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)
    )


# --- who may see what ----------------------------------------------------------------------

PAGES = ["unit-statistics", "unit-statistics-xlsx"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("superuser", 200),
        ("coordinator", 200),  # the county, above the town
        ("town_manager", 200),  # the town itself
        ("station_manager", 404),  # below the town: not their unit
        ("other_coordinator", 404),  # another county
        ("no_role", 404),
    ],
)
def test_permission_matrix(
    browser_client: Any, world: World, page: str, who: str, status: int
) -> None:
    response = browser_client(getattr(world, who)).get(reverse(page, args=[world.town.pk]))
    assert response.status_code == status


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_is_sent_to_log_in(browser_client: Any, world: World, page: str) -> None:
    response = browser_client(None).get(reverse(page, args=[world.town.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_unit_is_404(browser_client: Any, world: World) -> None:
    assert browser_client(world.superuser).get("/units/999999/statistics/").status_code == 404


def test_unit_page_links_the_dashboard_for_staff_only(browser_client: Any, world: World) -> None:
    link = stats_url(world.town)
    assert (
        link in browser_client(world.town_manager).get(f"/units/{world.town.pk}/").content.decode()
    )
    assert (
        link not in browser_client(world.no_role).get(f"/units/{world.town.pk}/").content.decode()
    )


# --- what it shows -------------------------------------------------------------------------


def test_dashboard_shows_approved_figures_of_the_subtree(
    browser_client: Any, world: World, town_coordinator: Any
) -> None:
    volunteer = make_volunteer(world.station, name="王志愿")
    approved_activity(
        world.station_manager,
        town_coordinator,
        world.station,
        category="theory",
        beneficiaries=120,
        materials=30,
        participants=[{"volunteer": volunteer.pk, "hours": "1.5"}],
    )
    # Not counted: a draft, a submitted one, and one in another county.
    make_activity(world.station_manager, world.station, beneficiaries=999)
    response = browser_client(world.town_manager).get(stats_url(world.town))
    assert response.status_code == 200
    ctx = response.context
    assert ctx["figures"]["activities"] == 1
    assert ctx["figures"]["beneficiaries"] == 120
    assert ctx["figures"]["volunteer_hours"] == Decimal("1.50")
    assert ctx["participants"] == 1
    html = response.content.decode()
    assert 'id="fig-beneficiaries">120<' in html
    assert 'id="dashboard-data"' in html and "vendor/echarts/echarts.min.js" in html
    assert "portal/dashboard.js" in html and "<script>" not in html  # CSP: no inline script
    chart = ctx["chart"]
    assert chart["children"][0]["name"] == world.station.name  # ranked first: it has one
    assert chart["children"][0]["activities"] == 1
    theory = platform("theory").display_name
    assert [c["activities"] for c in chart["categories"] if c["name"] == theory] == [1]
    # The station logged this month; the other station of the town did not.
    silent = [u.pk for u in ctx["silent"]]
    assert world.station2.pk in silent and world.station.pk not in silent
    # An earlier period does not count it.
    last_year = browser_client(world.town_manager).get(
        stats_url(
            world.town,
            f"from={timezone.localdate().year - 5}-01-01&to={timezone.localdate().year - 5}-12-31",
        )
    )
    assert last_year.context["figures"]["activities"] == 0


def test_period_choices_and_bad_input() -> None:
    from django.test import RequestFactory

    today = dt.date(2026, 5, 17)
    rf = RequestFactory()

    def key(p: Any) -> tuple[dt.date, dt.date, str]:
        return p.date_from, p.date_to, p.choice

    assert key(period_of(rf.get("/"), today)) == (dt.date(2026, 1, 1), today, "year")
    assert key(period_of(rf.get("/?month=2026-02"), today)) == (
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 28),
        "month",
    )
    assert period_of(rf.get("/?from=2025-01-01&to=2025-12-31"), today).choice == "last-year"
    custom = period_of(rf.get("/?from=2024-03-01&to=2024-04-15"), today)
    assert (custom.date_from, custom.date_to, custom.choice) == (
        dt.date(2024, 3, 1),
        dt.date(2024, 4, 15),
        "custom",
    )
    for query, message in [
        ("/?from=2026-02-30", "is not a date"),
        ("/?month=2026-13", "is not a month"),
        ("/?from=2026-03-01&to=2026-02-01", "must not be before"),
    ]:
        period = period_of(rf.get(query), today)
        assert message in period.error
        assert (period.date_from, period.date_to) == (dt.date(2026, 1, 1), today)


def test_bad_period_is_explained_on_the_page(browser_client: Any, world: World) -> None:
    response = browser_client(world.coordinator).get(stats_url(world.centre, "from=yesterday"))
    assert response.status_code == 200
    assert "“yesterday” is not a date" in response.content.decode()


def test_statistics_workbook_reads_back(
    browser_client: Any, world: World, town_coordinator: Any
) -> None:
    approved_activity(
        world.station_manager,
        town_coordinator,
        world.station,
        category="publicity",
        beneficiaries=40,
        materials=500,
    )
    year = timezone.localdate().year
    response = browser_client(world.coordinator).get(
        reverse("unit-statistics-xlsx", args=[world.centre.pk])
        + f"?from={year}-01-01&to={year}-12-31"
    )
    book = workbook(response)
    assert "attachment" in response["Content-Disposition"]
    figures = {row[0]: row[1] for row in book["Figures"].iter_rows(values_only=True)}
    assert figures["Activities"] == 1 and figures["Materials"] == 500
    assert figures["Unit"] == world.centre.name
    by_platform = list(book["By platform"].iter_rows(values_only=True))
    assert by_platform[0][:3] == ("Platform", "Activities", "People served")
    assert (platform("publicity").display_name, 1, 40, 500) in [row[:4] for row in by_platform]
    by_unit = list(book["By unit"].iter_rows(values_only=True))
    assert (world.town.name, 1, 40, 500) in [row[:4] for row in by_unit]
    assert (world.town2.name, 0, 0, 0) in [row[:4] for row in by_unit]
    months = list(book["By month"].iter_rows(values_only=True))
    assert len(months) == 1 + timezone.localdate().month


# --- constant queries ----------------------------------------------------------------------


def _grow(world: World, reviewer: Any, towns: int, tag: str) -> None:
    """More units and approved activities below the centre."""
    for i in range(towns):
        town = UnitFactory(name=f"新镇{tag}{i}", kind=UnitKind.INSTITUTE, parent=world.centre)
        for j in range(2):
            UnitFactory(name=f"新村{i}-{j}", kind=UnitKind.STATION, parent=town)
    for i in range(towns):
        approved_activity(
            world.station_manager, reviewer, world.station, days_ago=2 + i, beneficiaries=i
        )


@pytest.mark.parametrize("page", ["unit-statistics", "unit-statistics-xlsx"])
def test_queries_do_not_grow_with_the_subtree(
    browser_client: Any, world: World, town_coordinator: Any, page: str
) -> None:
    client = browser_client(world.coordinator)
    url = reverse(page, args=[world.centre.pk])
    _grow(world, town_coordinator, 1, "a")
    small = queries_of(client, url)
    _grow(world, town_coordinator, 6, "b")
    large = queries_of(client, url)
    assert len(small) == len(large), (small, large)
    assert len(large) <= 14


# --- the activity list export --------------------------------------------------------------

EXPORT = "/activities/export.xlsx"


def test_activity_export_url_name() -> None:
    assert reverse("activity-export") == EXPORT


@pytest.mark.parametrize(("who", "status"), [("no_role", 404), ("station_manager", 200)])
def test_activity_export_needs_a_staff_role(
    browser_client: Any, world: World, who: str, status: int
) -> None:
    assert browser_client(getattr(world, who)).get(EXPORT).status_code == status


def test_activity_export_anonymous_logs_in(browser_client: Any, world: World) -> None:
    response = browser_client(None).get(EXPORT)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_activity_export_is_scoped_and_filtered(
    browser_client: Any, world: World, town_coordinator: Any
) -> None:
    volunteer = make_volunteer(world.station, name="王志愿")
    mine = approved_activity(
        world.station_manager,
        town_coordinator,
        world.station,
        title="=HYPERLINK(1)",
        beneficiaries=7,
        hours=3,
        participants=[{"volunteer": volunteer.pk, "hours": "2.5"}],
    )
    draft = make_activity(world.station_manager, world.station, title="草稿")
    other = make_activity(world.other_coordinator, world.other_station, title="乙县活动")
    # The station manager sees the station's two; never the other county's.
    book = workbook(browser_client(world.station_manager).get(EXPORT))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("ID", "Title", "Unit")
    ids = [row[0] for row in rows[1:]]
    assert sorted(ids) == sorted([mine.pk, draft.pk]) and other.pk not in ids
    row = next(r for r in rows[1:] if r[0] == mine.pk)
    assert row[1] == "=HYPERLINK(1)"  # text, not a formula
    assert row[8] == "Approved" and row[9] == 7 and row[11] == 1 and row[12] == 2.5
    # Filters of the staff list.
    approved = workbook(browser_client(world.coordinator).get(f"{EXPORT}?status=approved"))
    assert [r[0] for r in approved.active.iter_rows(min_row=2, values_only=True)] == [mine.pk]
    within = workbook(
        browser_client(world.superuser).get(f"{EXPORT}?within={world.other_centre.pk}")
    )
    assert [r[0] for r in within.active.iter_rows(min_row=2, values_only=True)] == [other.pk]


def test_activity_export_with_bad_filters_goes_back(browser_client: Any, world: World) -> None:
    response = browser_client(world.coordinator).get(f"{EXPORT}?from=notadate")
    assert response.status_code == 302
    assert "from=notadate" in response["Location"]


def test_activity_export_queries_are_constant(
    browser_client: Any, world: World, town_coordinator: Any
) -> None:
    client = browser_client(world.coordinator)
    volunteer = make_volunteer(world.station, name="王志愿")

    def fill(n: int) -> None:
        for i in range(n):
            make_activity(
                world.station_manager,
                world.station,
                days_ago=3 + i,
                participants=[{"volunteer": volunteer.pk, "hours": "1"}],
            )

    fill(2)
    small = queries_of(client, EXPORT)
    fill(10)
    large = queries_of(client, EXPORT)
    assert len(small) == len(large), (small, large)


def test_planned_status_filter_in_export(browser_client: Any, world: World) -> None:
    planned = make_activity(
        world.station_manager, world.station, days_ago=-3, status=ActivityStatus.PLANNED
    )
    book = workbook(browser_client(world.station_manager).get(f"{EXPORT}?status=planned"))
    assert [r[0] for r in book.active.iter_rows(min_row=2, values_only=True)] == [planned.pk]


# --- in a browser --------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_draws_its_charts_under_the_policy(
    world: World,
    live_server: Any,
    chromium_browser: Any,  # noqa: F811 - the fixture imported above
    town_coordinator: Any,
) -> None:
    """The charts draw (ECharts from the vendored file, data from json_script) without a
    CSP violation or a script error, at desktop and phone widths; the annual report page
    and its print button too. Screenshots go to /work/tr/shots/ when that folder exists."""
    from pathlib import Path

    from tests.browser.test_csp import WATCH_VIOLATIONS, Problems, _log_in

    reviewer = town_coordinator
    codes = ["theory", "publicity", "education", "culture", "sports"]
    for i in range(24):
        unit = [world.station, world.station2, world.station][i % 3]
        approved_activity(
            world.station_manager if unit == world.station else world.town_manager,
            reviewer,
            unit,
            category=codes[i % len(codes)],
            days_ago=3 + i * 13,
            beneficiaries=20 + 7 * i,
            materials=5 * i,
        )
    shots = Path("/work/tr/shots")
    for width, height, name in [(1280, 900, "desktop"), (390, 844, "phone")]:
        context = chromium_browser.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN"
        )
        context.add_init_script(WATCH_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(10_000)
        problems = Problems(page)
        _log_in(page, live_server.url, world.coordinator.username)
        found = problems.visit(live_server.url, "dashboard", stats_url(world.centre))
        assert found == [], found
        for chart in ("chart-months", "chart-categories", "chart-children"):
            page.wait_for_selector(f"#{chart} canvas")
        assert page.locator("#fig-activities").inner_text() == "24"
        # No horizontal scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        if shots.is_dir():
            page.screenshot(path=str(shots / f"dashboard-{name}.png"), full_page=True)
        year = timezone.localdate().year
        found = problems.visit(
            live_server.url, "report", reverse("unit-annual-report", args=[world.centre.pk, year])
        )
        assert found == [], found
        assert page.locator("#report-sentences").inner_text().strip()
        page.emulate_media(media="print")  # on paper: the report alone
        assert not page.locator("nav.navbar").is_visible()
        assert not page.locator("#report-actions").is_visible()
        assert page.locator("#report-sentences").is_visible()
        page.emulate_media(media="screen")
        if shots.is_dir():
            page.screenshot(path=str(shots / f"annual-report-{name}.png"), full_page=True)
        context.close()
    # The progress page of a background export: export-job.js moves the bar.
    from portal.models import ExportJob

    job = ExportJob.objects.create(
        kind="activities.exports.write_activities", actor=world.coordinator, done=4, total=10
    )
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844})
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    problems = Problems(page)
    _log_in(page, live_server.url, world.coordinator.username)
    found = problems.visit(live_server.url, "export job", reverse("export-job", args=[job.pk]))
    assert found == [], found
    page.wait_for_function(
        "document.querySelector('[data-progress-bar]').textContent.trim() === '4 / 10'"
    )
    assert page.locator("[data-progress-percent]").inner_text() == "40"
    if shots.is_dir():
        page.screenshot(path=str(shots / "export-job-phone.png"), full_page=True)
    context.close()


def test_statistics_workbook_with_a_bad_period_goes_back(browser_client: Any, world: World) -> None:
    url = reverse("unit-statistics-xlsx", args=[world.centre.pk]) + "?month=2026-13"
    response = browser_client(world.coordinator).get(url)
    assert response.status_code == 302
    assert response["Location"] == stats_url(world.centre, "month=2026-13")
