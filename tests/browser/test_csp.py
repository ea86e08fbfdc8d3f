"""Every page works under the Content-Security-Policy: no violation, no script error.

The policy has no 'unsafe-inline': a forgotten inline script, ``onclick=`` handler,
``<style>`` block or ``style=`` attribute shows up here as a violation. To cover a new page,
add it to ``PUBLIC_PAGES``, ``STAFF_PAGES`` (seen by a county coordinator) or
``ADMIN_PAGES`` (seen by a superuser): a name for the report, a function giving its
address from the ``world`` fixture, and the status it answers with if not 200.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from django.urls import reverse
from openpyxl import Workbook

from activities import services as activity_services
from orders import services as order_services
from orders.models import MenuItem
from portal.models import ImportJob
from practice.models import Category, Unit
from tests.activities.conftest import approved_activity, make_activity
from tests.conftest import World
from tests.factories import PASSWORD
from tests.orders.conftest import OrdersWorld, advance, new_request, ow  # noqa: F401 (fixture)
from tests.volunteers.conftest import make_volunteer
from volunteers.models import Team

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Page(NamedTuple):
    name: str
    address: Callable[[World], str]
    status: int = 200


PUBLIC_PAGES = [
    Page("home", lambda w: reverse("home")),
    Page("network tree", lambda w: reverse("unit-tree")),
    Page("network search", lambda w: reverse("unit-tree") + "?q=村"),
    Page("find my station", lambda w: reverse("find-station")),
    Page(
        "find my station: a town",
        lambda w: f"{reverse('find-station')}?county={w.centre.pk}&town={w.town.pk}",
    ),
    Page("find my station: near me", lambda w: f"{reverse('find-station')}?lat=24.5&lon=117.5"),
    Page("unit page", lambda w: reverse("unit-detail", args=[w.town.pk])),
    Page("closed unit page", lambda w: reverse("unit-detail", args=[w.point.pk]), 410),
    Page("poster", lambda w: reverse("unit-poster", args=[w.town.pk])),
    Page("login", lambda w: reverse("login")),
    Page("API docs", lambda w: reverse("api-docs")),
    Page("volunteer registration", lambda w: reverse("volunteer-register")),
    Page(
        "volunteer registration form",
        lambda w: f"{reverse('volunteer-register')}?county={w.centre.pk}&town={w.town.pk}",
    ),
    Page("forgot password", lambda w: reverse("password-forgot")),
    Page("verify a certificate", lambda w: reverse("certificate-verify-form")),
    Page("order a service", lambda w: reverse("order-create", args=[w.station.pk])),
    Page("service menu", lambda w: reverse("unit-menu", args=[w.station.pk])),
    Page("services done (公示)", lambda w: reverse("unit-transparency", args=[w.town.pk])),
    Page("follow a request", lambda w: reverse("track-start")),
    Page("follow a request: phone", lambda w: reverse("track", args=["ABCDEFGH"])),
    Page("activities (公示)", lambda w: reverse("activity-feed")),
    Page("activities of a town", lambda w: f"{reverse('activity-feed')}?within={w.town.pk}"),
    Page("activity calendar", lambda w: reverse("activity-calendar")),
    Page(
        "activity calendar: near me",
        lambda w: f"{reverse('activity-calendar')}?lat=24.5&lon=117.5",
    ),
    Page("an approved activity", lambda w: reverse("activity-public", args=[w.activity.pk])),
    Page("a planned activity", lambda w: reverse("activity-public", args=[w.planned.pk])),
]

STAFF_PAGES = [
    Page("dashboard", lambda w: reverse("dashboard")),
    Page("unit page (staff)", lambda w: reverse("unit-detail", args=[w.town.pk])),
    Page("inactive unit (staff)", lambda w: reverse("unit-detail", args=[w.point.pk])),
    Page("unit edit", lambda w: reverse("unit-edit", args=[w.town.pk])),
    Page("unit add", lambda w: reverse("unit-create", args=[w.town.pk])),
    Page("unit move", lambda w: reverse("unit-move", args=[w.station.pk])),
    Page("unit delete", lambda w: reverse("unit-delete", args=[w.point.pk])),
    Page("deactivate subtree", lambda w: reverse("unit-deactivate-subtree", args=[w.town.pk])),
    Page("unit roles", lambda w: reverse("unit-roles", args=[w.town.pk])),
    Page("unit import", lambda w: reverse("unit-import", args=[w.town.pk])),
    Page("unit audit log", lambda w: reverse("unit-audit", args=[w.town.pk])),
    Page("audit log", lambda w: reverse("audit")),
    Page("poster (staff)", lambda w: reverse("unit-poster", args=[w.town.pk])),
    Page("users", lambda w: reverse("user-list")),
    Page("user add", lambda w: reverse("user-create")),
    Page("user edit", lambda w: reverse("user-edit", args=[w.town_manager.pk])),
    Page("password change", lambda w: reverse("password-change")),
    Page("API docs (staff)", lambda w: reverse("api-docs")),
    Page("volunteers", lambda w: reverse("volunteer-list")),
    Page("volunteer", lambda w: reverse("volunteer-detail", args=[w.volunteer.pk])),
    Page("volunteer edit", lambda w: reverse("volunteer-edit", args=[w.volunteer.pk])),
    Page("volunteer add", lambda w: reverse("volunteer-new")),
    Page("volunteer import", lambda w: reverse("volunteer-import")),
    Page("teams", lambda w: reverse("team-list")),
    Page("team", lambda w: reverse("team-detail", args=[w.team.pk])),
    Page("team add", lambda w: reverse("team-new")),
    Page("service hours", lambda w: reverse("service-record-list")),
    Page("service hours add", lambda w: reverse("service-record-new")),
    Page("points shop", lambda w: reverse("points-shop")),
    Page("points", lambda w: reverse("points-manage")),
    Page("requests", lambda w: reverse("request-list")),
    Page("requests: overdue", lambda w: reverse("request-list") + "?overdue=true&status=submitted"),
    Page("request", lambda w: reverse("request-detail", args=[w.service_request.pk])),
    Page("file a request", lambda w: f"{reverse('request-file')}?unit={w.station.pk}"),
    Page("menu (staff)", lambda w: reverse("menu-list")),
    Page("menu item add", lambda w: f"{reverse('menu-create')}?unit={w.station.pk}"),
    Page("menu item edit", lambda w: reverse("menu-edit", args=[w.menu_item.pk])),
    Page("inbox", lambda w: reverse("inbox")),
    Page("activities (staff)", lambda w: reverse("activity-list")),
    Page("activity add", lambda w: f"{reverse('activity-create')}?unit={w.station.pk}"),
    Page("activity edit", lambda w: reverse("activity-edit", args=[w.draft.pk])),
    Page("activity (staff)", lambda w: reverse("activity-manage", args=[w.activity.pk])),
    Page("activity to review", lambda w: reverse("activity-manage", args=[w.submitted.pk])),
    Page("review queue", lambda w: reverse("activity-review-queue")),
    Page("check-in poster", lambda w: reverse("activity-qr", args=[w.planned.pk])),
    Page("statistics", lambda w: reverse("unit-statistics", args=[w.centre.pk])),
    Page(
        "statistics: a month",
        lambda w: f"{reverse('unit-statistics', args=[w.town.pk])}?month=2026-01",
    ),
    Page("annual report", lambda w: reverse("unit-annual-report", args=[w.centre.pk, 2026])),
]

ADMIN_PAGES = [
    Page("admin index", lambda w: reverse("admin:index")),
    Page("admin units", lambda w: reverse("admin:practice_unit_changelist")),
    Page("admin unit", lambda w: reverse("admin:practice_unit_change", args=[w.town.pk])),
    Page("admin users", lambda w: reverse("admin:practice_user_changelist")),
    Page("admin roles", lambda w: reverse("admin:practice_roleassignment_changelist")),
    Page("admin audit", lambda w: reverse("admin:practice_auditentry_changelist")),
    Page("admin outbox", lambda w: reverse("admin:portal_outboxmessage_changelist")),
    Page("admin volunteers", lambda w: reverse("admin:volunteers_volunteer_changelist")),
]

# Seen by a volunteer of a team (``tests/orders/conftest.py``'s ``ow``): ``w.task`` is a
# request dispatched to the team, ``w.claimed`` one the volunteer claimed, ``w.delivered`` one
# they delivered.
VOLUNTEER_PAGES = [
    Page("my tasks", lambda w: reverse("volunteer-tasks")),
    Page("give a request back", lambda w: reverse("request-decline", args=[w.claimed.pk])),
    Page("deliver a request", lambda w: reverse("request-deliver", args=[w.claimed.pk])),
    Page("delivered: hours pending", lambda w: reverse("request-deliver", args=[w.delivered.pk])),
    Page("request (its team)", lambda w: reverse("request-detail", args=[w.task.pk])),
    Page("inbox (volunteer)", lambda w: reverse("inbox")),
    Page("my activities", lambda w: reverse("my-activities")),
]

# Collected by the page itself from the moment it starts, before any of its scripts run.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile || "?"}:${e.lineNumber}: ${e.sample}`);
});
"""


class Problems:
    """Violations, console refusals and script errors seen while the browser is open."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.seen: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"script error: {error}"))

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.seen.append(f"console: {text}")

    def visit(self, base: str, name: str, path: str, status: int = 200) -> list[str]:
        self.seen.clear()
        response = self.page.goto(base + path)
        assert response is not None and response.status == status, (name, path)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, (name, policy)
        self.page.wait_for_load_state("networkidle")
        found = self.seen + self.page.evaluate("window.__cspViolations")
        return [f"{name} ({path}): {problem}" for problem in found]


def _log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")


@pytest.fixture
def watched(page: Any) -> Problems:
    page.context.add_init_script(WATCH_VIOLATIONS)
    return Problems(page)


def test_every_page_loads_under_the_policy_without_violations(
    world: World, live_server: Any, page: Any, watched: Problems
) -> None:
    base = live_server.url
    Unit.objects.filter(pk=world.point.pk).update(is_active=False)  # a closed station
    world.volunteer = make_volunteer(world.station)
    world.team = Team.objects.create(name="一村志愿服务队", unit=world.station)
    # get_or_create: a transactional test before this one flushes the migrations' rows.
    culture, _new = Category.objects.get_or_create(code="culture", defaults={"name": "文化服务"})
    world.menu_item = MenuItem.objects.create(unit=world.centre, category=culture, title="文艺演出")
    world.menu_item.teams.set([world.team])
    world.service_request = order_services.request_submit(
        data={
            "unit": world.station,
            "menu_item": world.menu_item,
            "contact_name": "张大爷",
            "contact_phone": "13812345678",
        }
    )
    world.planned = make_activity(
        world.coordinator, world.station, days_ago=-3, status="planned", capacity=20
    )
    world.draft = make_activity(world.station_manager, world.station, title="草稿活动")
    world.submitted = make_activity(world.station_manager, world.station, title="待审活动")
    activity_services.activity_submit(actor=world.station_manager, activity=world.submitted)
    world.activity = approved_activity(
        world.station_manager, world.coordinator, world.station, beneficiaries=60
    )
    problems: list[str] = []
    for visit in PUBLIC_PAGES:
        problems += watched.visit(base, visit.name, visit.address(world), visit.status)
    _log_in(page, base, world.coordinator.username)
    for visit in STAFF_PAGES:
        problems += watched.visit(base, visit.name, visit.address(world), visit.status)
    page.context.clear_cookies()
    _log_in(page, base, world.superuser.username)
    for visit in ADMIN_PAGES:
        problems += watched.visit(base, visit.name, visit.address(world), visit.status)
    assert problems == [], "\n".join(problems)


def test_the_home_chart_and_the_api_docs_still_work(
    world: World, live_server: Any, page: Any, watched: Problems
) -> None:
    base = live_server.url
    assert watched.visit(base, "home", "/") == []
    # ECharts drew the bar chart from the page's json_script data, in a static script.
    page.wait_for_selector("#stations-chart canvas")
    assert page.locator("#stations-chart canvas").count() >= 1
    # Swagger UI started (its start-up script comes from the split view's ?script).
    assert watched.visit(base, "API docs", reverse("api-docs")) == []
    page.wait_for_selector("#swagger-ui .opblock")
    assert page.locator("#swagger-ui .opblock").count() > 5


def test_data_attributes_replace_the_inline_handlers(
    world: World, live_server: Any, page: Any, watched: Problems
) -> None:
    base = live_server.url
    _log_in(page, base, world.coordinator.username)

    # form[data-confirm]: the browser asks; dismissed, nothing is submitted.
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    station = reverse("unit-detail", args=[world.station2.pk])
    assert watched.visit(base, "unit page", station) == []
    page.click("#unit-actions form[data-confirm] button[type=submit]")
    page.wait_for_timeout(300)
    assert len(dialogs) == 1 and "停用" in dialogs[0]
    assert Unit.objects.get(pk=world.station2.pk).is_active
    page.remove_listener("dialog", dismiss)

    # Accepted, the form is submitted.
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#unit-actions form[data-confirm] button[type=submit]")
    assert not Unit.objects.get(pk=world.station2.pk).is_active

    # [data-print] prints the poster.
    page.add_init_script("window.print = () => { window.__printed = true; };")
    assert watched.visit(base, "poster", reverse("unit-poster", args=[world.station3.pk])) == []
    page.click("[data-print]")
    assert page.evaluate("window.__printed") is True

    # select[data-autosubmit]: choosing English switches the language at once.
    assert watched.visit(base, "dashboard", reverse("dashboard")) == []
    with page.expect_navigation():
        page.select_option("#language", "en")
    assert page.locator("html").get_attribute("lang") == "en"


def test_the_import_pages_work_under_the_policy(
    world: World, live_server: Any, page: Any, watched: Problems, tmp_path: Path
) -> None:
    """Upload → preview → confirm → result, and the progress page of a waiting import."""
    base = live_server.url
    _log_in(page, base, world.coordinator.username)
    workbook = Workbook()
    workbook.active.append(["上级单位", "名称", "类型"])
    workbook.active.append([None, "五村站", "实践站"])
    workbook.save(tmp_path / "units.xlsx")

    assert watched.visit(base, "import", reverse("unit-import", args=[world.town2.pk])) == []
    page.set_input_files("#id_file", str(tmp_path / "units.xlsx"))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    preview = page.url.removeprefix(base)
    assert watched.visit(base, "import preview", preview) == []
    assert page.locator("#import-created").count() == 1
    with page.expect_navigation():
        page.click("#import-confirm button[type=submit]")
    assert watched.visit(base, "import result", page.url.removeprefix(base)) == []
    assert Unit.objects.filter(name="五村站", parent=world.town2).exists()

    ImportJob.objects.update(status=ImportJob.Status.QUEUED)
    assert watched.visit(base, "import progress", preview) == []
    assert page.locator("#import-progress").count() == 1


@pytest.fixture
def culture() -> Category:
    """The platform ``ow`` reads, again: a transactional test before flushes the
    migrations' rows."""
    category, _new = Category.objects.get_or_create(code="culture", defaults={"name": "文化服务"})
    return category


def test_the_volunteer_pages_load_under_the_policy(
    culture: Category,  # before ow, which reads it
    ow: OrdersWorld,  # noqa: F811 (the fixture imported above)
    live_server: Any,
    page: Any,
    watched: Problems,
) -> None:
    base = live_server.url
    world: Any = ow.w
    world.task = advance(ow, new_request(ow), "dispatched")
    world.claimed = advance(ow, new_request(ow, contact_phone="13812345679"), "claimed")
    world.delivered = advance(ow, new_request(ow, contact_phone="13812345670"), "delivered")
    _log_in(page, base, "v_member")
    problems: list[str] = []
    for visit in VOLUNTEER_PAGES:
        problems += watched.visit(base, visit.name, visit.address(world), visit.status)
    assert problems == [], "\n".join(problems)
    # deliver.js: typing a member's hours ticks them.
    watched.visit(base, "deliver", reverse("request-deliver", args=[world.claimed.pk]))
    page.fill(f"#hours-{ow.member2.pk}", "1.5")
    assert page.is_checked(f"#participant-{ow.member2.pk}")
