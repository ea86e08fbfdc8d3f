"""Celery beat's overdue check: late requests are marked and escalated to the level above,
once each — however often it runs — and requests on time are left alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from orders.choices import RequestStatus
from orders.models import RequestEvent, ServiceRequest
from orders.services import requests_mark_overdue
from orders.tasks import mark_overdue_requests
from portal.models import InboxMessage
from tests.orders.conftest import OrdersWorld, advance, new_request

pytestmark = pytest.mark.django_db


def _request(ow: OrdersWorld, to: str, phone: str, **fields: Any) -> ServiceRequest:
    request = advance(ow, new_request(ow, contact_phone=phone), to)
    if fields:
        ServiceRequest.objects.filter(pk=request.pk).update(**fields)
    return request


def test_late_requests_are_marked_and_escalated_once(
    ow: OrdersWorld, django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    hours = int(settings.ORDERS_CLAIM_WITHIN_HOURS)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    unclaimed = _request(
        ow,
        RequestStatus.DISPATCHED,
        "13900000001",
        dispatched_at=now - dt.timedelta(hours=hours + 1),
    )
    past_due = _request(ow, RequestStatus.CLAIMED, "13900000002", due_date=yesterday)
    on_time = [
        _request(
            ow,
            RequestStatus.DISPATCHED,
            "13900000003",
            dispatched_at=now - dt.timedelta(hours=hours - 1),
        ),
        _request(ow, RequestStatus.CLAIMED, "13900000004"),  # due in three days
        _request(ow, RequestStatus.DELIVERED, "13900000005", due_date=yesterday),
        _request(ow, RequestStatus.SUBMITTED, "13900000006"),
    ]
    before = set(InboxMessage.objects.values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        assert requests_mark_overdue(now=now) == 2
        assert requests_mark_overdue(now=now + dt.timedelta(hours=1)) == 0  # the next run

    for request in (unclaimed, past_due):
        request.refresh_from_db()
        assert request.overdue_at == now
        (event,) = RequestEvent.objects.filter(request=request, action="overdue")
        assert event.actor is None and event.actor_kind == "system" and not event.public
    notes = dict(RequestEvent.objects.filter(action="overdue").values_list("request", "note"))
    assert notes[unclaimed.pk] != notes[past_due.pk]  # not claimed / not delivered in time
    for request in on_time:
        request.refresh_from_db()
        assert request.overdue_at is None
        assert not RequestEvent.objects.filter(request=request, action="overdue").exists()

    # one notice per late request, to the coordinators of the unit above the station
    # (the county's: the town has none) — not the station's or the town's managers
    messages = InboxMessage.objects.exclude(pk__in=before)
    assert messages.count() == 2
    assert {m.recipient_id for m in messages} == {ow.w.coordinator.pk}
    assert {m.link for m in messages} == {
        unclaimed.get_absolute_url(),
        past_due.get_absolute_url(),
    }


def test_the_beat_task_runs_the_check(ow: OrdersWorld) -> None:
    assert any(
        entry["task"] == "orders.tasks.mark_overdue_requests"
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
    )
    late = _request(
        ow,
        RequestStatus.CLAIMED,
        "13900000007",
        due_date=timezone.localdate() - dt.timedelta(days=2),
    )
    mark_overdue_requests.delay()  # run in the test's process (tests/conftest.py)
    late.refresh_from_db()
    assert late.overdue_at is not None
    assert mark_overdue_requests() == 0  # already marked: nothing more
    assert RequestEvent.objects.filter(request=late, action="overdue").count() == 1
