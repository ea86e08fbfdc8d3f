"""The volunteers' pages: /tasks/, claim, give back, deliver — who may, what they show,
and that a refused or invalid report changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from activities.models import Activity
from orders import services
from orders.choices import RequestStatus
from orders.models import ServiceRequest
from orders.views_volunteer import DONE_SHOWN
from practice.models import User
from tests.orders.conftest import OrdersWorld, advance, new_request
from tests.querycount import queries_of
from volunteers.models import ServiceRecord, Volunteer

pytestmark = pytest.mark.django_db

TASKS = reverse("volunteer-tasks")


def _client(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _user(volunteer: Volunteer) -> User:
    user = volunteer.user
    assert user is not None
    return user


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _status(request: ServiceRequest) -> str:
    request.refresh_from_db()
    return request.status


# --- who may -----------------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(ow: OrdersWorld) -> None:
    req = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    client = Client()
    for method, url in [
        ("get", TASKS),
        ("post", reverse("request-claim", args=[req.pk])),
        ("get", reverse("request-decline", args=[req.pk])),
        ("get", reverse("request-deliver", args=[req.pk])),
        ("post", reverse("request-deliver", args=[req.pk])),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    assert _status(req) == RequestStatus.CLAIMED


def test_a_non_volunteer_is_told_the_page_is_for_volunteers(ow: OrdersWorld) -> None:
    client = _client(ow.w.no_role)
    response = client.get(TASKS)
    assert response.status_code == 200
    assert b'id="tasks-none"' in response.content
    assert reverse("volunteer-register").encode() in response.content
    # The header leads accounts without a role to the page.
    assert f'href="{TASKS}"'.encode() in response.content
    dispatched = advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    claimed = advance(ow, new_request(ow, contact_phone="13812345679"), RequestStatus.CLAIMED)
    assert client.post(reverse("request-claim", args=[dispatched.pk])).status_code == 404
    assert client.get(reverse("request-decline", args=[claimed.pk])).status_code == 404
    assert client.get(reverse("request-deliver", args=[claimed.pk])).status_code == 404
    assert _status(dispatched) == RequestStatus.DISPATCHED


def test_a_suspended_volunteer_sees_no_tasks(ow: OrdersWorld) -> None:
    advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    Volunteer.objects.filter(pk=ow.member.pk).update(status="suspended")
    response = _client(_user(ow.member)).get(TASKS)
    assert response.status_code == 200
    assert b'id="tasks-none"' in response.content and b"open-task-" not in response.content


def test_a_volunteer_of_another_team_cannot_claim(ow: OrdersWorld) -> None:
    req = advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    client = _client(_user(ow.outsider))
    assert f"open-task-{req.pk}".encode() not in client.get(TASKS).content
    assert client.post(reverse("request-claim", args=[req.pk])).status_code == 403
    assert _status(req) == RequestStatus.DISPATCHED
    # Staff who can read the request are no volunteers of the team either.
    response = _client(ow.w.coordinator).post(reverse("request-claim", args=[req.pk]))
    assert response.status_code == 403
    assert _status(req) == RequestStatus.DISPATCHED


def test_requests_a_volunteer_cannot_see_are_not_found(ow: OrdersWorld) -> None:
    submitted = new_request(ow)  # not dispatched to anyone yet
    claimed = advance(ow, new_request(ow, contact_phone="13812345679"), RequestStatus.CLAIMED)
    client = _client(_user(ow.outsider))
    assert client.post(reverse("request-claim", args=[submitted.pk])).status_code == 404
    assert client.post(reverse("request-claim", args=[claimed.pk])).status_code == 404
    assert client.get(reverse("request-decline", args=[claimed.pk])).status_code == 404
    assert client.get(reverse("request-deliver", args=[claimed.pk])).status_code == 404
    assert client.post(reverse("request-claim", args=[999999])).status_code == 404
    assert _status(submitted) == RequestStatus.SUBMITTED
    assert _status(claimed) == RequestStatus.CLAIMED


def test_claim_is_a_post(ow: OrdersWorld) -> None:
    req = advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    response = _client(_user(ow.member)).get(reverse("request-claim", args=[req.pk]))
    assert response.status_code == 405
    assert _status(req) == RequestStatus.DISPATCHED


@pytest.mark.parametrize(
    ("who", "status"),
    [("member", 200), ("leader", 200), ("member2", 403), ("outsider", 404), ("coordinator", 403)],
)
def test_who_may_give_back_and_deliver(ow: OrdersWorld, who: str, status: int) -> None:
    """The claimer (member) and the team's leader; member2 sees the request but may not."""
    req = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    user = ow.w.coordinator if who == "coordinator" else _user(getattr(ow, who))
    client = _client(user)
    for name in ("request-decline", "request-deliver"):
        assert client.get(reverse(name, args=[req.pk])).status_code == status, name
    response = client.post(reverse("request-decline", args=[req.pk]), {"reason": "人手不够"})
    assert response.status_code == (302 if status == 200 else status)
    assert _status(req) == (RequestStatus.SUBMITTED if status == 200 else RequestStatus.CLAIMED)


# --- the tasks page ------------------------------------------------------------------------


def test_the_tasks_page_lists_open_tasks_then_mine(ow: OrdersWorld) -> None:
    waiting = advance(ow, new_request(ow, desired_date=timezone.localdate()), "dispatched")
    mine = advance(ow, new_request(ow, contact_phone="13812345679"), RequestStatus.CLAIMED)
    done = advance(ow, new_request(ow, contact_phone="13812345670"), RequestStatus.DELIVERED)
    response = _client(_user(ow.member)).get(TASKS)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="open-task-{waiting.pk}"' in page
    assert reverse("request-claim", args=[waiting.pk]) in page
    assert waiting.unit.name in page and ow.category.display_name in page
    assert waiting.due_date.isoformat() in page and timezone.localdate().isoformat() in page
    assert f'id="my-task-{mine.pk}"' in page
    assert reverse("request-deliver", args=[mine.pk]) in page
    assert reverse("request-decline", args=[mine.pk]) in page
    assert f'id="open-task-{mine.pk}"' not in page
    assert 'id="done-tasks"' in page and reverse("request-detail", args=[done.pk]) in page
    assert reverse("request-deliver", args=[done.pk]) not in page
    assert page.index(f'id="my-task-{mine.pk}"') < page.index('id="done-tasks"')
    # member2 sees the open task but not member's own tasks.
    other = _client(_user(ow.member2)).get(TASKS).content.decode()
    assert f'id="open-task-{waiting.pk}"' in other and f'id="my-task-{mine.pk}"' not in other
    # Only the leader is offered to give back an open task.
    assert reverse("request-decline", args=[waiting.pk]) not in other
    lead = _client(_user(ow.leader)).get(TASKS).content.decode()
    assert reverse("request-decline", args=[waiting.pk]) in lead


def test_the_tasks_page_costs_the_same_queries_at_3_and_30_tasks(
    ow: OrdersWorld, settings: Any
) -> None:
    settings.ORDERS_OPEN_PER_PHONE = 1000
    client = _client(_user(ow.member))
    counts = []
    made = 0
    for size in (3, 30):
        while made < size:
            phone = f"1381234{made:04d}"
            advance(ow, new_request(ow, contact_phone=phone), RequestStatus.DISPATCHED)
            advance(ow, new_request(ow, contact_phone=phone), RequestStatus.CLAIMED)
            services.request_deliver(  # a quarter hour each: a day holds at most 24
                actor=_user(ow.member),
                request=advance(ow, new_request(ow, contact_phone=phone), "claimed"),
                summary="送到了",
                beneficiaries=1,
                participants=[{"volunteer": ow.member.pk, "hours": "0.25"}],
            )
            made += 1
        page = client.get(TASKS).content.decode()
        assert page.count('id="open-task-') == size and page.count('id="my-task-') == size
        assert page.count('<li class="list-group-item">') == min(size, DONE_SHOWN)
        counts.append(len(queries_of(client, TASKS)))
    assert counts[0] == counts[1], counts


# --- claim ---------------------------------------------------------------------------------


def test_a_member_claims_and_is_taken_to_the_request(ow: OrdersWorld) -> None:
    req = advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    response = _client(_user(ow.member)).post(reverse("request-claim", args=[req.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("request-detail", args=[req.pk])
    assert len(_messages(response)) == 1
    req.refresh_from_db()
    assert req.status == RequestStatus.CLAIMED and req.claimed_by == ow.member


def test_losing_the_race_or_a_wrong_state_is_a_message(ow: OrdersWorld) -> None:
    req = advance(ow, new_request(ow), RequestStatus.CLAIMED)  # member was faster
    response = _client(_user(ow.member2)).post(reverse("request-claim", args=[req.pk]))
    assert response.status_code == 302 and response["Location"] == TASKS
    assert len(_messages(response)) == 1
    req.refresh_from_db()
    assert req.claimed_by == ow.member
    delivered = advance(ow, new_request(ow, contact_phone="13812345679"), RequestStatus.DELIVERED)
    response = _client(_user(ow.member)).post(reverse("request-claim", args=[delivered.pk]))
    assert response.status_code == 302 and response["Location"] == TASKS
    assert len(_messages(response)) == 1
    assert _status(delivered) == RequestStatus.DELIVERED


# --- give back -----------------------------------------------------------------------------


def test_giving_back_needs_a_reason(ow: OrdersWorld) -> None:
    req = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    client = _client(_user(ow.member))
    response = client.post(reverse("request-decline", args=[req.pk]), {"reason": "  "})
    assert response.status_code == 200
    assert b"is-invalid" in response.content
    assert _status(req) == RequestStatus.CLAIMED
    response = client.post(reverse("request-decline", args=[req.pk]), {"reason": "生病了"})
    assert response.status_code == 302 and response["Location"] == TASKS
    req.refresh_from_db()
    assert req.status == RequestStatus.SUBMITTED and req.claimed_by is None


def test_the_leader_gives_back_an_open_task(ow: OrdersWorld) -> None:
    req = advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    client = _client(_user(ow.leader))
    response = client.post(reverse("request-decline", args=[req.pk]), {"reason": "队里排不开"})
    assert response.status_code == 302
    assert _status(req) == RequestStatus.SUBMITTED
    # member (not leader, not claimer) may not.
    req2 = advance(ow, new_request(ow, contact_phone="13812345679"), RequestStatus.DISPATCHED)
    assert (
        _client(_user(ow.member)).get(reverse("request-decline", args=[req2.pk])).status_code == 403
    )


def test_giving_back_a_delivered_request_is_refused_on_the_page(ow: OrdersWorld) -> None:
    req = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    client = _client(_user(ow.member))
    response = client.get(reverse("request-decline", args=[req.pk]))
    assert response.status_code == 200 and b'id="decline-closed"' in response.content
    response = client.post(reverse("request-decline", args=[req.pk]), {"reason": "不想做了"})
    assert response.status_code == 200 and b'id="decline-closed"' in response.content
    assert _status(req) == RequestStatus.DELIVERED


# --- deliver -------------------------------------------------------------------------------


def _report(ow: OrdersWorld, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "summary": "演出一场，观众很多",
        "beneficiaries": "80",
        "start": "",
        "end": "",
        "participant": [str(ow.member.pk)],
        f"hours-{ow.member.pk}": "2",
    }
    data.update(overrides)
    return data


def test_the_form_lists_the_team_with_the_claimer_ticked(ow: OrdersWorld) -> None:
    req = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    page = _client(_user(ow.leader)).get(reverse("request-deliver", args=[req.pk]))
    html = page.content.decode()
    for volunteer in (ow.leader, ow.member, ow.member2):
        assert f'id="participant-{volunteer.pk}"' in html and volunteer.name in html
    assert ow.outsider.name not in html
    assert f'value="{ow.member.pk}" id="participant-{ow.member.pk}" checked' in html
    assert f'value="{ow.member2.pk}" id="participant-{ow.member2.pk}" checked' not in html
    assert "deliver.js" in html


def test_a_request_not_claimed_cannot_be_delivered(ow: OrdersWorld) -> None:
    req = advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    client = _client(_user(ow.leader))
    response = client.get(reverse("request-deliver", args=[req.pk]))
    assert response.status_code == 200 and b'id="deliver-closed"' in response.content
    response = client.post(reverse("request-deliver", args=[req.pk]), _report(ow))
    assert response.status_code == 200 and b'id="deliver-closed"' in response.content
    assert _status(req) == RequestStatus.DISPATCHED


def _past(hours: float) -> str:
    return (timezone.localtime() - dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("case", "where"),
    [
        ("listed twice", "row"),
        ("more than 24 hours", "row"),
        ("hours not a number", "row"),
        ("hours missing", "row"),
        ("not a team member", "form"),
        ("no participants", "form"),
        ("negative beneficiaries", "beneficiaries"),
        ("beneficiaries not whole", "beneficiaries"),
        ("summary missing", "summary"),
        ("start not a date", "start"),
        ("start after end", "start"),
        ("ends in the future", "end"),
    ],
)
def test_deliver_form_errors_change_nothing(ow: OrdersWorld, case: str, where: str) -> None:
    req = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    m = ow.member.pk
    data = {
        "listed twice": _report(ow, participant=[str(m), str(m)]),
        "more than 24 hours": _report(ow, **{f"hours-{m}": "25"}),
        "hours not a number": _report(ow, **{f"hours-{m}": "two"}),
        "hours missing": _report(ow, **{f"hours-{m}": ""}),
        "not a team member": _report(ow, participant=[str(m), str(ow.outsider.pk)]),
        "no participants": _report(ow, participant=[]),
        "negative beneficiaries": _report(ow, beneficiaries="-3"),
        "beneficiaries not whole": _report(ow, beneficiaries="2.5"),
        "summary missing": _report(ow, summary=""),
        "start not a date": _report(ow, start="昨天下午"),
        "start after end": _report(ow, start=_past(1), end=_past(3)),
        "ends in the future": _report(
            ow, end=(timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        ),
    }[case]
    response = _client(_user(ow.member)).post(reverse("request-deliver", args=[req.pk]), data)
    assert response.status_code == 200
    html = response.content.decode()
    form = response.context["form"]
    if where == "row":
        row = next(r for r in form.rows if r.volunteer.pk == m)
        assert row.errors, case
        assert f'id="participant-errors-{m}"' in html
    elif where == "form":
        assert form.non_field_errors(), case
        assert 'class="alert alert-danger"' in html
    else:
        assert form.errors.get(where), (case, form.errors)
        assert "is-invalid" in html
    assert _status(req) == RequestStatus.CLAIMED
    assert not ServiceRecord.objects.filter(source_id=req.pk).exists()
    assert not Activity.objects.filter(request=req).exists()
    # What was typed stays on the form.
    assert "演出一场" in html or case == "summary missing"


@pytest.mark.parametrize("who", ["member", "leader"])
def test_delivering_leaves_pending_hours_on_the_volunteers_page(ow: OrdersWorld, who: str) -> None:
    req = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    client = _client(_user(getattr(ow, who)))
    url = reverse("request-deliver", args=[req.pk])
    data = _report(
        ow,
        participant=[str(ow.member.pk), str(ow.member2.pk)],
        start=_past(3),
        end=_past(0.5),
        **{f"hours-{ow.member.pk}": "2", f"hours-{ow.member2.pk}": "1.5"},
    )
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == url
    req.refresh_from_db()
    assert req.status == RequestStatus.DELIVERED and req.beneficiaries == 80
    records = {r.volunteer_id: r for r in ServiceRecord.objects.filter(source_id=req.pk)}
    assert set(records) == {ow.member.pk, ow.member2.pk}
    assert all(r.status == "pending" for r in records.values())
    assert str(records[ow.member2.pk].hours) == "1.50"
    # The page after: the hours wait for the office, with the way to them.
    done = client.get(url)
    assert done.status_code == 200
    assert b'id="hours-pending"' in done.content
    assert reverse("volunteer-me-hours").encode() in done.content
    # member2's own hours page lists the pending record.
    hours = _client(_user(ow.member2)).get(reverse("volunteer-me-hours")).content.decode()
    assert req.title in hours and "1.50" in hours and "text-bg-warning" in hours
    # Delivering again is refused (the page says it is delivered).
    assert client.post(url, data).status_code == 200
    assert ServiceRecord.objects.filter(source_id=req.pk).count() == 2


def test_the_volunteers_own_page_links_to_the_tasks(ow: OrdersWorld) -> None:
    page = _client(_user(ow.member)).get(reverse("volunteer-me")).content.decode()
    assert 'id="me-tasks-link"' in page and f'href="{TASKS}"' in page
