"""The office's pages: the dispatch queue, a request's page and its actions, filing for a
resident, the service menu — who may open them, what each shows, every form's refusals,
and the queue's constant number of queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from orders import services
from orders.choices import RequestStatus
from orders.models import MenuItem, RequestEvent, ServiceRequest
from practice.models import Category, User
from tests.orders.conftest import RESIDENT_PHONE, OrdersWorld, advance, new_request
from tests.querycount import queries_of
from volunteers.models import Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client: Any) -> Any:
    """``browser(user)`` → the test client logged in as ``user``, pages in English (the
    messages asserted read the same whether or not the Chinese catalog has them)."""

    def make(user: User | None = None) -> Any:
        client.logout()
        if user is not None:
            client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return make


def _who(ow: OrdersWorld, name: str | None) -> User | None:
    if name is None:
        return None
    if name in ("member", "leader", "outsider"):
        return getattr(ow, name).user
    return getattr(ow.w, name)


def _due(days: int = 3) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


# --- who may open what -------------------------------------------------------------------


STAFF_PAGES = ["/requests/", "/requests/new/", "/menu/", "/menu/new/"]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("no_role", 404),
        ("member", 404),
        ("station_manager", 200),
        ("town_manager", 200),
        ("coordinator", 200),
        ("other_coordinator", 200),
        ("superuser", 200),
    ],
)
def test_staff_pages_matrix(ow: OrdersWorld, browser: Any, who: str, status: int) -> None:
    client = browser(_who(ow, who))
    for url in STAFF_PAGES:
        assert client.get(url).status_code == status, url


@pytest.mark.parametrize("url", [*STAFF_PAGES, "/requests/1/", "/menu/1/edit/", "/inbox/"])
def test_anonymous_is_sent_to_log_in(ow: OrdersWorld, browser: Any, url: str) -> None:
    response = browser().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_posts_of_anonymous_are_sent_to_log_in(ow: OrdersWorld, browser: Any) -> None:
    req = new_request(ow)
    for name in ("request-dispatch", "request-reject", "request-review"):
        response = browser().post(reverse(name, args=[req.pk]), {})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert (
        browser(ow.w.coordinator).get(reverse("request-dispatch", args=[req.pk])).status_code == 405
    )


@pytest.mark.parametrize(
    ("who", "at_station", "at_station3", "at_other_county"),
    [
        ("no_role", 404, 404, 404),
        ("station_manager", 200, 404, 404),
        ("town_manager", 200, 404, 404),
        ("coordinator", 200, 200, 404),
        ("other_coordinator", 404, 404, 200),
        ("superuser", 200, 200, 200),
    ],
)
def test_detail_matrix_for_staff(
    ow: OrdersWorld, browser: Any, who: str, at_station: int, at_station3: int, at_other_county: int
) -> None:
    here = new_request(ow)
    there = new_request(ow, unit=ow.w.station3, menu_item=ow.county_item)
    far = new_request(ow, unit=ow.w.other_station, menu_item=ow.other_county_item)
    client = browser(_who(ow, who))
    assert client.get(f"/requests/{here.pk}/").status_code == at_station
    assert client.get(f"/requests/{there.pk}/").status_code == at_station3
    assert client.get(f"/requests/{far.pk}/").status_code == at_other_county
    assert client.get("/requests/999999/").status_code == 404


def test_volunteers_see_only_their_teams_requests_with_the_phone(
    ow: OrdersWorld, browser: Any
) -> None:
    req = new_request(ow)
    url = f"/requests/{req.pk}/"
    # Not yet sent to a team: no volunteer sees it.
    assert browser(ow.member.user).get(url).status_code == 404
    services.request_dispatch(
        actor=ow.w.coordinator,
        request=req,
        team=ow.team,
        due_date=_due(),
        note="内部备注：先联系村主任",
    )
    page = browser(ow.member.user).get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert RESIDENT_PHONE in body  # they must call the resident
    assert "内部备注" not in body  # the office's note stays in the office
    assert 'id="claim"' in body and reverse("request-claim", args=[req.pk]) in body
    assert 'id="dispatch"' not in body and 'id="reject"' not in body
    # Outside the team: as if it did not exist.
    outsider = browser(ow.outsider.user).get(url)
    assert outsider.status_code == 404
    assert RESIDENT_PHONE not in outsider.content.decode()
    # The office reads the note, with who wrote it.
    staff = browser(ow.w.coordinator).get(url).content.decode()
    assert "内部备注" in staff and RESIDENT_PHONE in staff


def test_the_claimer_gets_deliver_and_decline_links(ow: OrdersWorld, browser: Any) -> None:
    req = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    body = browser(ow.member.user).get(f"/requests/{req.pk}/").content.decode()
    assert reverse("request-deliver", args=[req.pk]) in body
    assert reverse("request-decline", args=[req.pk]) in body
    assert 'id="claim"' not in body
    # Another member of the team (not the leader) reads it but acts on nothing.
    other = browser(ow.member2.user).get(f"/requests/{req.pk}/").content.decode()
    assert reverse("request-deliver", args=[req.pk]) not in other
    assert 'id="claim"' not in other


def test_a_managers_page_has_no_dispatch_form(ow: OrdersWorld, browser: Any) -> None:
    req = new_request(ow)
    body = browser(ow.w.station_manager).get(f"/requests/{req.pk}/").content.decode()
    assert 'id="dispatch"' not in body and 'id="reject"' not in body
    assert 'id="coordinator-dispatches"' in body
    assert RESIDENT_PHONE in body
    coordinator = browser(ow.w.coordinator).get(f"/requests/{req.pk}/").content.decode()
    assert 'id="dispatch"' in coordinator and 'id="reject"' in coordinator


def test_the_detail_shows_the_timeline_and_what_delivery_produced(
    ow: OrdersWorld, browser: Any
) -> None:
    req = advance(ow, new_request(ow), RequestStatus.CLOSED)
    response = browser(ow.w.coordinator).get(f"/requests/{req.pk}/")
    body = response.content.decode()
    actions = [row["event"].action for row in response.context["timeline"]]
    assert actions == ["submit", "dispatch", "claim", "deliver", "rate"]
    assert ow.w.coordinator.username in body or ow.w.coordinator.display_name in body
    assert 'id="request-records"' in body and ow.member.name in body
    assert reverse("service-record-list") in body
    assert response.context["activity"] is not None
    # The volunteer sees their own record and a link to their hours.
    mine = browser(ow.member.user).get(f"/requests/{req.pk}/")
    assert reverse("volunteer-me-hours") in mine.content.decode()


# --- the queue ---------------------------------------------------------------------------


def test_the_queue_is_scoped(ow: OrdersWorld, browser: Any) -> None:
    here = new_request(ow)
    there = new_request(ow, unit=ow.w.station3)
    far = new_request(ow, unit=ow.w.other_station, menu_item=ow.other_county_item)

    def shown(user: User) -> set[int]:
        response = browser(user).get("/requests/")
        assert response.status_code == 200
        return {r.pk for r in response.context["requests"]}

    assert shown(ow.w.station_manager) == {here.pk}
    assert shown(ow.w.coordinator) == {here.pk, there.pk}
    assert shown(ow.w.other_coordinator) == {far.pk}


def test_the_queue_filters_counts_and_puts_overdue_first(ow: OrdersWorld, browser: Any) -> None:
    fresh = new_request(ow)
    late = advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    ServiceRequest.objects.filter(pk=late.pk).update(overdue_at=timezone.now())
    low = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    services.request_rate(request=low, code=low.tracking_code, phone=RESIDENT_PHONE, rating=1)
    other = new_request(
        ow,
        unit=ow.w.station3,
        menu_item=None,
        category=Category.objects.get(code="education"),
        description="想学手机",
    )
    client = browser(ow.w.coordinator)
    response = client.get("/requests/")
    order = [r.pk for r in response.context["requests"]]
    assert order[0] == late.pk and order[1] == low.pk
    counts = response.context["counts"]
    assert counts["submitted"] == 2 and counts["dispatched"] == 1 and counts["closed"] == 1
    assert counts["overdue"] == 1

    def pks(query: dict[str, str]) -> set[int]:
        return {r.pk for r in client.get("/requests/", query).context["requests"]}

    assert pks({"status": "submitted"}) == {fresh.pk, other.pk}
    assert pks({"category": "education"}) == {other.pk}
    assert pks({"within": str(ow.w.town2.pk)}) == {other.pk}
    assert pks({"unit": str(ow.w.station.pk)}) == {fresh.pk, late.pk, low.pk}
    assert pks({"overdue": "true"}) == {late.pk}
    assert pks({"review": "true"}) == {low.pk}
    assert pks({"q": fresh.tracking_code}) == {fresh.pk}
    # The status links keep the other filters; their counts ignore the status chosen.
    filtered = client.get("/requests/", {"status": "submitted", "within": str(ow.w.town.pk)})
    assert filtered.context["counts"]["submitted"] == 1
    assert filtered.context["counts"]["dispatched"] == 1
    links = {link["value"]: link for link in filtered.context["status_links"]}
    assert links["submitted"]["active"] and f"within={ow.w.town.pk}" in links["dispatched"]["query"]
    # A bad filter shows nothing and says why.
    bad = client.get("/requests/", {"from": "2026-05-02", "to": "2026-05-01"})
    assert list(bad.context["requests"]) == []
    assert 'id="request-filter-errors"' in bad.content.decode()


def _many(ow: OrdersWorld, n: int) -> None:
    for i in range(n):
        req = new_request(ow, contact_phone=f"1390000{i:04d}")
        if i % 3 == 1:
            advance(ow, req, RequestStatus.DISPATCHED)
        elif i % 3 == 2:
            advance(ow, req, RequestStatus.CLAIMED)


@pytest.mark.parametrize("query", ["", "?status=submitted&within={town}", "?overdue=false&q=戏"])
def test_the_queue_costs_the_same_at_3_and_30_requests(
    ow: OrdersWorld, browser: Any, settings: Any, query: str
) -> None:
    settings.ORDERS_OPEN_PER_PHONE = 1000
    client = browser(ow.w.coordinator)
    url = "/requests/" + query.format(town=ow.w.town.pk)
    _many(ow, 3)
    small = queries_of(client, url)
    _many(ow, 27)
    large = queries_of(client, url)
    assert len(small) == len(large), "\n".join(large)


def test_the_detail_costs_the_same_whatever_the_timeline(ow: OrdersWorld, browser: Any) -> None:
    client = browser(ow.w.coordinator)
    short = new_request(ow)
    long = advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    for _i in range(5):
        services.request_decline(actor=ow.leader.user, request=long, reason="人手不够")
        services.request_dispatch(
            actor=ow.w.coordinator, request=long, team=ow.team, due_date=_due()
        )
    services.request_decline(actor=ow.leader.user, request=long, reason="人手不够")
    assert RequestEvent.objects.filter(request=long).count() > 10
    assert len(queries_of(client, f"/requests/{short.pk}/")) == len(
        queries_of(client, f"/requests/{long.pk}/")
    )


# --- dispatch, reject, review ------------------------------------------------------------


def test_dispatch(ow: OrdersWorld, browser: Any) -> None:
    req = new_request(ow)
    client = browser(ow.w.coordinator)
    page = client.get(f"/requests/{req.pk}/")
    teams = list(page.context["dispatch_form"].fields["team"].queryset)
    assert teams[0] == ow.team  # the menu item's team first
    assert ow.other_team in teams  # a team of the county (the coordinator's view)
    response = client.post(
        reverse("request-dispatch", args=[req.pk]),
        {"dispatch-team": ow.team.pk, "dispatch-due_date": _due(), "dispatch-note": "尽快"},
    )
    assert response.status_code == 302 and response["Location"] == f"/requests/{req.pk}/"
    req.refresh_from_db()
    assert req.status == RequestStatus.DISPATCHED and req.team == ow.team
    # Again: 409 from the service, a message on the page.
    again = client.post(
        reverse("request-dispatch", args=[req.pk]),
        {"dispatch-team": ow.team.pk, "dispatch-due_date": _due()},
        follow=True,
    )
    with translation.override("en"):  # browser() asks for English pages
        status = str(RequestStatus.DISPATCHED.label)
        refusal = str(services._refuse(req, "dispatch").message)
    assert status in again.content.decode()
    assert refusal in [str(m) for m in again.context["messages"]]


@pytest.mark.parametrize(
    "case",
    ["no team", "no date", "past date", "other county team", "inactive team", "bad item"],
)
def test_dispatch_refusals_change_nothing(ow: OrdersWorld, browser: Any, case: str) -> None:
    req = new_request(ow)
    data: dict[str, Any] = {"dispatch-team": ow.team.pk, "dispatch-due_date": _due()}
    if case == "no team":
        data.pop("dispatch-team")
    elif case == "no date":
        data.pop("dispatch-due_date")
    elif case == "past date":
        data["dispatch-due_date"] = _due(-1)
    elif case == "other county team":
        data["dispatch-team"] = Team.objects.create(name="乙县队", unit=ow.w.other_town).pk
    elif case == "inactive team":
        Team.objects.filter(pk=ow.team.pk).update(is_active=False)
    elif case == "bad item":
        data["dispatch-menu_item"] = ow.other_county_item.pk
    response = browser(ow.w.coordinator).post(reverse("request-dispatch", args=[req.pk]), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "was not dispatched" in body
    assert response.context["dispatch_form"].errors
    assert 'id="dispatch"' in body
    req.refresh_from_db()
    assert req.status == RequestStatus.SUBMITTED and req.team is None


def test_a_past_due_date_is_refused_by_the_service(ow: OrdersWorld, browser: Any) -> None:
    req = new_request(ow)
    response = browser(ow.w.coordinator).post(
        reverse("request-dispatch", args=[req.pk]),
        {"dispatch-team": ow.team.pk, "dispatch-due_date": _due(-3)},
    )
    assert "may not be in the past" in response.content.decode()


@pytest.mark.parametrize("name", ["request-dispatch", "request-reject", "request-review"])
@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("no_role", 404),
        ("member", 404),
        ("station_manager", 403),
        ("town_manager", 403),
        ("other_coordinator", 404),
    ],
)
def test_who_may_not_act_for_the_office(
    ow: OrdersWorld, browser: Any, name: str, who: str, status: int
) -> None:
    req = advance(ow, new_request(ow), RequestStatus.DISPATCHED) if who == "member" else None
    req = req or new_request(ow)
    data = {
        "dispatch-team": ow.team.pk,
        "dispatch-due_date": _due(),
        "reject-reason": "不行",
        "review-note": "看过了",
    }
    response = browser(_who(ow, who)).post(reverse(name, args=[req.pk]), data)
    assert response.status_code == status
    before = req.status
    req.refresh_from_db()
    assert req.status == before


def test_reject(ow: OrdersWorld, browser: Any) -> None:
    req = new_request(ow)
    client = browser(ow.w.coordinator)
    empty = client.post(reverse("request-reject", args=[req.pk]), {"reject-reason": "  "})
    assert empty.status_code == 200
    assert "was not rejected" in empty.content.decode()
    assert empty.context["reject_form"].errors["reason"]
    req.refresh_from_db()
    assert req.status == RequestStatus.SUBMITTED
    done = client.post(reverse("request-reject", args=[req.pk]), {"reject-reason": "超出范围"})
    assert done.status_code == 302
    req.refresh_from_db()
    assert req.status == RequestStatus.REJECTED
    event = RequestEvent.objects.get(request=req, action="reject")
    assert event.note == "超出范围" and event.actor == ow.w.coordinator


def test_review_a_low_rating(ow: OrdersWorld, browser: Any) -> None:
    req = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    client = browser(ow.w.coordinator)
    # Not rated low: nothing to look at (409 → a message).
    early = client.post(
        reverse("request-review", args=[req.pk]), {"review-note": "看过"}, follow=True
    )
    assert "no low rating waiting" in early.content.decode()
    services.request_rate(request=req, code=req.tracking_code, phone=RESIDENT_PHONE, rating=2)
    page = client.get(f"/requests/{req.pk}/")
    assert page.context["review_form"] is not None
    empty = client.post(reverse("request-review", args=[req.pk]), {"review-note": ""})
    assert empty.status_code == 200 and empty.context["review_form"].errors
    req.refresh_from_db()
    assert req.needs_review
    done = client.post(reverse("request-review", args=[req.pk]), {"review-note": "已回访"})
    assert done.status_code == 302
    req.refresh_from_db()
    assert not req.needs_review
    assert RequestEvent.objects.filter(request=req, action="review", note="已回访").exists()


# --- filing for a resident ---------------------------------------------------------------


def test_file_for_a_resident_without_a_phone(ow: OrdersWorld, browser: Any) -> None:
    client = browser(ow.w.station_manager)
    # The station manager's units: the station and its point; ?unit= chooses.
    picker = client.get("/requests/new/")
    assert picker.context["form"] is None
    page = client.get(f"/requests/new/?unit={ow.w.station.pk}")
    choices = dict(page.context["form"].fields["menu_item"].choices)
    assert str(ow.county_item.pk) in choices and str(ow.station_item.pk) in choices
    assert str(ow.other_county_item.pk) not in choices
    response = client.post(
        f"/requests/new/?unit={ow.w.station.pk}",
        {
            "unit": ow.w.station.pk,
            "menu_item": ow.station_item.pk,
            "contact_name": "孙奶奶",
            "no_phone": "on",
            "desired_date": _due(2),
        },
    )
    assert response.status_code == 302
    req = ServiceRequest.objects.get(contact_name="孙奶奶")
    assert req.channel == ServiceRequest.Channel.ON_BEHALF
    assert req.filed_by == ow.w.station_manager and req.contact_phone == ""
    assert response["Location"] == f"/requests/{req.pk}/"
    detail = client.get(response["Location"]).content.decode()
    assert req.tracking_code in detail and "no mobile phone" in detail


def test_file_something_else(ow: OrdersWorld, browser: Any) -> None:
    client = browser(ow.w.coordinator)
    response = client.post(
        f"/requests/new/?unit={ow.w.station3.pk}",
        {
            "unit": ow.w.station3.pk,
            "menu_item": "other",
            "category": ow.category.pk,
            "description": "帮忙修收音机",
            "contact_name": "周大伯",
            "contact_phone": "13900001111",
        },
    )
    assert response.status_code == 302
    req = ServiceRequest.objects.get(contact_name="周大伯")
    assert req.menu_item is None and req.unit == ow.w.station3
    assert req.contact_phone == "13900001111"


@pytest.mark.parametrize(
    "case",
    [
        "no phone at all",
        "phone and no phone",
        "bad phone",
        "other without category",
        "other without description",
        "no name",
        "item of another county",
        "desired date in the past",
    ],
)
def test_file_refusals_create_nothing(ow: OrdersWorld, browser: Any, case: str) -> None:
    data: dict[str, Any] = {
        "unit": ow.w.station.pk,
        "menu_item": ow.station_item.pk,
        "contact_name": "孙奶奶",
        "contact_phone": "13900002222",
    }
    if case == "no phone at all":
        data.pop("contact_phone")
    elif case == "phone and no phone":
        data["no_phone"] = "on"
    elif case == "bad phone":
        data["contact_phone"] = "12345"
    elif case == "other without category":
        data.update(menu_item="other", description="修电器")
    elif case == "other without description":
        data.update(menu_item="other", category=ow.category.pk)
    elif case == "no name":
        data["contact_name"] = ""
    elif case == "item of another county":
        data["menu_item"] = ow.other_county_item.pk
    elif case == "desired date in the past":
        data["desired_date"] = _due(-2)
    response = browser(ow.w.station_manager).post(f"/requests/new/?unit={ow.w.station.pk}", data)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors, case
    assert 'class="invalid-feedback' in response.content.decode() or form.non_field_errors()
    assert not ServiceRequest.objects.exists()


def test_file_outside_the_scope_offers_no_form(ow: OrdersWorld, browser: Any) -> None:
    client = browser(ow.w.station_manager)
    page = client.get(f"/requests/new/?unit={ow.w.station3.pk}")
    assert page.status_code == 200 and page.context["form"] is None
    posted = client.post(
        f"/requests/new/?unit={ow.w.other_station.pk}",
        {
            "unit": ow.w.other_station.pk,
            "menu_item": ow.other_county_item.pk,
            "contact_name": "孙奶奶",
            "contact_phone": "13900002222",
        },
    )
    assert posted.status_code == 200
    assert "Choose the station first" in posted.content.decode()
    assert not ServiceRequest.objects.exists()


# --- the menu ----------------------------------------------------------------------------


def test_menu_list_is_scoped_and_grouped(ow: OrdersWorld, browser: Any) -> None:
    manager = browser(ow.w.station_manager).get("/menu/")
    assert [i.pk for i in manager.context["items"]] == [ow.station_item.pk]
    coordinator = browser(ow.w.coordinator).get("/menu/")
    shown = [i.pk for i in coordinator.context["items"]]
    assert set(shown) == {ow.county_item.pk, ow.station_item.pk}
    body = coordinator.content.decode()
    assert ow.team.name in body and f'data-unit="{ow.w.centre.pk}"' in body
    other = browser(ow.w.other_coordinator).get("/menu/")
    assert [i.pk for i in other.context["items"]] == [ow.other_county_item.pk]


def test_menu_list_costs_the_same_whatever_its_length(ow: OrdersWorld, browser: Any) -> None:
    client = browser(ow.w.coordinator)
    small = queries_of(client, "/menu/")
    for i in range(20):
        item = MenuItem.objects.create(unit=ow.w.station2, category=ow.category, title=f"服务{i}")
        item.teams.set([ow.team, ow.other_team])
    assert len(queries_of(client, "/menu/")) == len(small)


def test_menu_create(ow: OrdersWorld, browser: Any) -> None:
    client = browser(ow.w.station_manager)
    page = client.get(f"/menu/new/?unit={ow.w.station.pk}")
    teams = set(page.context["form"].fields["teams"].queryset)
    assert ow.team in teams and ow.other_team not in teams  # the town's team is above
    response = client.post(
        f"/menu/new/?unit={ow.w.station.pk}",
        {
            "unit": ow.w.station.pk,
            "category": ow.category.pk,
            "title": "读报服务",
            "description": "每周二上午",
            "teams": [ow.team.pk],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    item = MenuItem.objects.get(title="读报服务")
    assert item.unit == ow.w.station and list(item.teams.all()) == [ow.team]
    # Outside the manager's units there is no form.
    assert client.get(f"/menu/new/?unit={ow.w.station2.pk}").context["form"] is None


@pytest.mark.parametrize("case", ["duplicate", "no title", "team elsewhere", "no category"])
def test_menu_create_refusals_change_nothing(ow: OrdersWorld, browser: Any, case: str) -> None:
    data: dict[str, Any] = {
        "unit": ow.w.station.pk,
        "category": ow.category.pk,
        "title": "读报服务",
        "is_active": "on",
    }
    if case == "duplicate":
        data["title"] = ow.station_item.title
    elif case == "no title":
        data["title"] = ""
    elif case == "team elsewhere":
        data["teams"] = [ow.other_team.pk]
    elif case == "no category":
        data.pop("category")
    before = MenuItem.objects.count()
    response = browser(ow.w.station_manager).post(f"/menu/new/?unit={ow.w.station.pk}", data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "invalid-feedback" in response.content.decode() or "alert-danger" in (
        response.content.decode()
    )
    assert MenuItem.objects.count() == before


def test_menu_edit_and_stop_offering(ow: OrdersWorld, browser: Any) -> None:
    client = browser(ow.w.coordinator)
    url = f"/menu/{ow.county_item.pk}/edit/"
    page = client.get(url)
    assert page.status_code == 200
    teams = set(page.context["form"].fields["teams"].queryset)
    assert {ow.team, ow.other_team} <= teams  # the county's subtree
    response = client.post(
        url,
        {
            "category": ow.category.pk,
            "title": "文艺演出（新）",
            "teams": [ow.team.pk, ow.other_team.pk],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    ow.county_item.refresh_from_db()
    assert ow.county_item.title == "文艺演出（新）" and ow.county_item.teams.count() == 2
    off = client.post(url, {"set_active": "0"}, follow=True)
    assert "no longer offered" in off.content.decode()
    ow.county_item.refresh_from_db()
    assert not ow.county_item.is_active
    client.post(url, {"set_active": "1"})
    ow.county_item.refresh_from_db()
    assert ow.county_item.is_active
    # A bad edit changes nothing.
    bad = client.post(url, {"category": ow.category.pk, "title": ""})
    assert bad.status_code == 200 and bad.context["form"].errors["title"]
    ow.county_item.refresh_from_db()
    assert ow.county_item.title == "文艺演出（新）"


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("no_role", 404),
        ("member", 404),
        ("station_manager", 404),  # the county's item is above the station: not in view
        ("town_manager", 404),
        ("other_coordinator", 404),
        ("coordinator", 200),
    ],
)
def test_menu_edit_matrix(ow: OrdersWorld, browser: Any, who: str, status: int) -> None:
    client = browser(_who(ow, who))
    assert client.get(f"/menu/{ow.county_item.pk}/edit/").status_code == status
    client.post(f"/menu/{ow.county_item.pk}/edit/", {"set_active": "0"})
    ow.county_item.refresh_from_db()
    assert ow.county_item.is_active == (status != 200)


def test_the_nav_links_to_the_queue_for_staff_only(ow: OrdersWorld, browser: Any) -> None:
    assert 'href="/requests/"' in browser(ow.w.station_manager).get("/dashboard/").content.decode()
    assert 'href="/requests/"' not in browser(ow.member.user).get("/me/").content.decode()
