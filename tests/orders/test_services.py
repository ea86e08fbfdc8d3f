"""The request's life in the services: every (from, to) pair of the state machine allowed
or refused with 409, who may act, what each step writes and whom it tells."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from activities.models import Activity
from orders import services
from orders.choices import TRANSITIONS, RequestStatus, Transition
from orders.models import RequestEvent, ServiceRequest
from orders.selectors import public_timeline
from portal.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from portal.models import InboxMessage, OutboxMessage
from tests.orders.conftest import RESIDENT_PHONE, OrdersWorld, advance, new_request
from volunteers.models import ServiceRecord

pytestmark = pytest.mark.django_db

IN_THREE_DAYS = dt.timedelta(days=3)


def _action(ow: OrdersWorld, action: str) -> Callable[[ServiceRequest], ServiceRequest]:
    """Perform ``action`` on a request as someone entitled to it."""
    member = ow.member.user
    due = timezone.localdate() + IN_THREE_DAYS

    def run(request: ServiceRequest) -> ServiceRequest:
        if action == Transition.DISPATCH:
            return services.request_dispatch(
                actor=ow.w.coordinator, request=request, team=ow.team, due_date=due
            )
        if action == Transition.REJECT:
            return services.request_reject(
                actor=ow.w.coordinator, request=request, reason="不在范围"
            )
        if action == Transition.CLAIM:
            return services.request_claim(actor=member, request=request)
        if action == Transition.DECLINE:
            # The leader may decline a dispatched or claimed request.
            return services.request_decline(
                actor=ow.leader.user,
                request=request,
                reason="人手不足",
            )
        if action == Transition.DELIVER:
            return services.request_deliver(
                actor=ow.leader.user,
                request=request,
                summary="完成",
                beneficiaries=3,
                participants=[{"volunteer": ow.leader.pk, "hours": "1"}],
            )
        if action == Transition.RATE:
            return services.request_rate(
                request=request, code=request.tracking_code, phone=RESIDENT_PHONE, rating=4
            )
        if action == Transition.CANCEL:
            return services.request_cancel(
                request=request, code=request.tracking_code, phone=RESIDENT_PHONE
            )
        raise AssertionError(action)

    return run


@pytest.mark.parametrize("action", list(TRANSITIONS))
@pytest.mark.parametrize("state", list(RequestStatus.values))
def test_every_action_from_every_state(ow: OrdersWorld, action: str, state: str) -> None:
    request = advance(ow, new_request(ow), state)
    allowed, target = TRANSITIONS[action]
    events = RequestEvent.objects.filter(request=request).count()
    if state in allowed:
        done = _action(ow, action)(request)
        done.refresh_from_db()
        assert done.status == target
        last = RequestEvent.objects.filter(request=request).last()
        assert last is not None
        assert (last.action, last.from_status, last.to_status) == (action, state, target)
    else:
        with pytest.raises(InvalidTransition) as caught:
            _action(ow, action)(request)
        assert caught.value.status_code == 409
        assert str(caught.value.message)  # says why
        request.refresh_from_db()
        assert request.status == state
        assert RequestEvent.objects.filter(request=request).count() == events


def test_submit_validates_and_changes_nothing_on_bad_input(ow: OrdersWorld) -> None:
    bad: list[dict[str, Any]] = [
        {"contact_phone": "12345"},
        {"contact_phone": ""},
        {"contact_name": ""},
        {"contact_name": "张\u200b三"},
        {"menu_item": ow.other_county_item},
        {"menu_item": None, "category": None},
        {"menu_item": None, "description": ""},
        {"desired_date": "2020-01-01"},
        {"desired_date": "not a date"},
        {"unit": ow.w.other_station, "menu_item": ow.county_item},
        {"description": "x" * 2001},
    ]
    for overrides in bad:
        with pytest.raises(ValidationFailed):
            new_request(ow, **overrides)
    assert not ServiceRequest.objects.exists()


def test_something_else_needs_a_category_and_a_description(ow: OrdersWorld) -> None:
    request = new_request(ow, menu_item=None, category=ow.category, description="帮忙修水管\n谢谢")
    assert request.title == "帮忙修水管"
    assert request.menu_item is None and request.category == ow.category


def test_a_village_orders_from_its_own_and_every_menu_above(ow: OrdersWorld) -> None:
    assert new_request(ow, menu_item=ow.station_item).menu_item == ow.station_item
    assert new_request(ow, menu_item=ow.county_item, contact_phone="13900001111").pk
    # The station's own item is not on its sibling's menu.
    with pytest.raises(ValidationFailed):
        new_request(ow, unit=ow.w.station2, menu_item=ow.station_item)


def test_one_phone_may_have_only_a_few_open_requests(ow: OrdersWorld, settings: Any) -> None:
    settings.ORDERS_OPEN_PER_PHONE = 2
    first = new_request(ow)
    new_request(ow)
    with pytest.raises(services.TooManyOpenRequests) as caught:
        new_request(ow)
    assert caught.value.status_code == 429
    advance(ow, first, RequestStatus.CANCELLED)  # closed ones no longer count
    assert new_request(ow).pk


def test_a_tracking_code_is_unique_and_easy_to_read(ow: OrdersWorld) -> None:
    codes = {new_request(ow, contact_phone=f"1390000{n:04d}").tracking_code for n in range(20)}
    assert len(codes) == 20
    for code in codes:
        assert len(code) == services.CODE_LENGTH
        assert not set(code) & set("01OIL")


def test_filing_for_a_resident_needs_a_role_there(ow: OrdersWorld) -> None:
    data = {
        "unit": ow.w.station,
        "menu_item": ow.county_item,
        "contact_name": "李奶奶",
        "contact_phone": "",
        "on_behalf": True,
    }
    request = services.request_submit(data=data, actor=ow.w.station_manager)
    assert request.channel == "on_behalf" and request.filed_by == ow.w.station_manager
    assert request.contact_phone == ""  # no phone: recorded as such
    with pytest.raises(NotFound):
        services.request_submit(
            data={**data, "unit": ow.w.other_station}, actor=ow.w.station_manager
        )
    with pytest.raises(PermissionDenied):
        services.request_submit(data=data, actor=None)


def test_only_a_coordinator_over_the_unit_dispatches(ow: OrdersWorld) -> None:
    request = new_request(ow)
    due = timezone.localdate() + IN_THREE_DAYS
    with pytest.raises(PermissionDenied):  # a manager in scope: 403
        services.request_dispatch(
            actor=ow.w.station_manager, request=request, team=ow.team, due_date=due
        )
    with pytest.raises(NotFound):  # another county: 404
        services.request_dispatch(
            actor=ow.w.other_coordinator, request=request, team=ow.team, due_date=due
        )
    with pytest.raises(ValidationFailed):
        services.request_dispatch(
            actor=ow.w.coordinator,
            request=request,
            team=ow.team,
            due_date=timezone.localdate() - dt.timedelta(days=1),
        )
    with pytest.raises(ValidationFailed):
        services.request_dispatch(actor=ow.w.coordinator, request=request, team=None, due_date=due)
    request.refresh_from_db()
    assert request.status == RequestStatus.SUBMITTED


def test_only_members_of_the_dispatched_team_claim(ow: OrdersWorld) -> None:
    request = advance(ow, new_request(ow), RequestStatus.DISPATCHED)
    with pytest.raises(PermissionDenied):
        services.request_claim(actor=ow.outsider.user, request=request)
    with pytest.raises(PermissionDenied):
        services.request_claim(actor=ow.w.coordinator, request=request)  # staff are not volunteers
    claimed = services.request_claim(actor=ow.member2.user, request=request)
    assert claimed.claimed_by == ow.member2
    with pytest.raises(InvalidTransition) as caught:
        services.request_claim(actor=ow.member.user, request=request)
    assert caught.value.code == "invalid_transition" and str(caught.value.message)


def test_decline_and_deliver_belong_to_the_claimer_or_the_leader(ow: OrdersWorld) -> None:
    request = advance(ow, new_request(ow), RequestStatus.CLAIMED)  # claimed by `member`
    with pytest.raises(PermissionDenied):
        services.request_decline(actor=ow.member2.user, request=request, reason="x")
    back = services.request_decline(actor=ow.member.user, request=request, reason="临时有事")
    assert back.status == RequestStatus.SUBMITTED
    assert back.team is None and back.claimed_by is None and back.due_date is None


def test_delivery_writes_the_activity_and_pending_records(ow: OrdersWorld) -> None:
    request = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    bad_rows: list[list[dict[str, Any]]] = [
        [],
        [{"volunteer": ow.outsider.pk, "hours": "1"}],  # not in the team
        [{"volunteer": ow.member.pk, "hours": "1"}, {"volunteer": ow.member.pk, "hours": "1"}],
        [{"volunteer": ow.member.pk, "hours": "25"}],
        [{"volunteer": ow.member.pk, "hours": "-1"}],
        [{"volunteer": "abc", "hours": "1"}],
    ]
    for rows in bad_rows:
        with pytest.raises(ValidationFailed):
            services.request_deliver(
                actor=ow.member.user,
                request=request,
                summary="完成",
                beneficiaries=10,
                participants=rows,
            )
    for beneficiaries in (-1, "many", True, 10**9):
        with pytest.raises(ValidationFailed):
            services.request_deliver(
                actor=ow.member.user,
                request=request,
                summary="完成",
                beneficiaries=beneficiaries,
                participants=[{"volunteer": ow.member.pk, "hours": "1"}],
            )
    assert not Activity.objects.exists() and not ServiceRecord.objects.exists()
    done = services.request_deliver(
        actor=ow.member.user,
        request=request,
        summary="演出一场",
        beneficiaries=60,
        participants=[
            {"volunteer": ow.member.pk, "hours": "2"},
            {"volunteer": ow.member2.pk, "hours": "1.5"},
        ],
    )
    assert done.status == RequestStatus.DELIVERED and done.beneficiaries == 60
    activity = Activity.objects.get(request=done)
    assert activity.status == "submitted" and activity.unit == ow.w.station
    assert activity.end - activity.start >= dt.timedelta(hours=2)
    records = ServiceRecord.objects.filter(source="request", source_id=done.pk).order_by("hours")
    assert [(r.volunteer_id, r.hours, r.status) for r in records] == [
        (ow.member2.pk, Decimal("1.5"), "pending"),
        (ow.member.pk, Decimal("2"), "pending"),
    ]
    assert {p.record_id for p in activity.participants.all()} == {r.pk for r in records}


def test_the_office_confirms_delivered_hours_by_approving_the_activity(ow: OrdersWorld) -> None:
    from activities.services import activity_approve
    from volunteers.hours import record_confirm

    request = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    record = ServiceRecord.objects.get(source="request", source_id=request.pk)
    with pytest.raises((PermissionDenied, NotFound)):
        record_confirm(actor=ow.member.user, record=record)
    # Not alone: the hours of a delivery are confirmed by approving its activity.
    with pytest.raises(InvalidTransition) as refused:
        record_confirm(actor=ow.w.coordinator, record=record)
    assert refused.value.code == "confirmed_by_review"
    activity_approve(actor=ow.w.coordinator, activity=request.activity)
    record.refresh_from_db()
    assert record.status == "confirmed" and record.confirmed_by == ow.w.coordinator


def test_the_resident_proves_the_request_with_code_and_phone(ow: OrdersWorld) -> None:
    request = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    for code, phone in [
        (request.tracking_code, "13900000000"),
        ("ABCDEFGH", RESIDENT_PHONE),
        ("", ""),
    ]:
        with pytest.raises(NotFound):
            services.request_rate(request=request, code=code, phone=phone, rating=5)
    found = services.request_for_requester(
        code=request.tracking_code.lower(), phone=f"+86 {RESIDENT_PHONE}"
    )
    assert found == request
    for rating in (0, 6, "five", True, None):
        with pytest.raises(ValidationFailed):
            services.request_rate(
                request=request, code=request.tracking_code, phone=RESIDENT_PHONE, rating=rating
            )


def test_a_low_rating_reopens_the_case_for_the_coordinator(
    ow: OrdersWorld, django_capture_on_commit_callbacks: Any
) -> None:
    request = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    with django_capture_on_commit_callbacks(execute=True):
        rated = services.request_rate(
            request=request,
            code=request.tracking_code,
            phone=RESIDENT_PHONE,
            rating=2,
            comment="没来",
        )
    assert rated.status == RequestStatus.CLOSED and rated.needs_review
    assert InboxMessage.objects.filter(recipient=ow.w.coordinator, subject__contains="2/5").exists()
    with pytest.raises(PermissionDenied):
        services.request_review(actor=ow.w.station_manager, request=rated, note="已回访")
    looked = services.request_review(actor=ow.w.coordinator, request=rated, note="已回访")
    assert not looked.needs_review
    with pytest.raises(InvalidTransition):
        services.request_review(actor=ow.w.coordinator, request=looked, note="again")


def test_the_resident_timeline_has_no_staff_names_or_internal_notes(ow: OrdersWorld) -> None:
    request = new_request(ow)
    request = services.request_dispatch(
        actor=ow.w.coordinator,
        request=request,
        team=ow.team,
        due_date=timezone.localdate() + IN_THREE_DAYS,
        note="内部备注：请李队长安排",
    )
    request = advance(ow, request, RequestStatus.CLOSED) if False else request
    timeline = public_timeline(request)
    assert [e["to_status"] for e in timeline] == ["submitted", "dispatched"]
    assert all("内部备注" not in e["note"] for e in timeline)
    assert all("actor" not in key for e in timeline for key in e)


def test_who_is_told_at_each_step(ow: OrdersWorld, django_capture_on_commit_callbacks: Any) -> None:
    ow.w.coordinator.email = "coord@example.cn"
    ow.w.coordinator.save()
    with django_capture_on_commit_callbacks(execute=True):
        request = new_request(ow)
    # New request → the station's manager and the county's coordinators; the resident by SMS.
    assert set(InboxMessage.objects.values_list("recipient__username", flat=True)) == {
        "coord",
        "stationmgr",
    }
    assert (
        OutboxMessage.objects.filter(channel="email", address_masked="c***@example.cn").count() == 1
    )
    sms = OutboxMessage.objects.get(channel="sms")
    assert sms.address == RESIDENT_PHONE and request.tracking_code in sms.text
    assert f"/track/{request.tracking_code}/" in sms.text
    InboxMessage.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        advance(ow, request, RequestStatus.DISPATCHED)
    # Dispatch → the team's members.
    assert set(InboxMessage.objects.values_list("recipient__username", flat=True)) == {
        "v_leader",
        "v_member",
        "v_member2",
    }


def test_a_rolled_back_change_tells_no_one(
    ow: OrdersWorld, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationFailed):
        new_request(ow, contact_phone="1")
    assert not OutboxMessage.objects.exists() and not InboxMessage.objects.exists()
