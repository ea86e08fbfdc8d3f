from __future__ import annotations

from typing import Any

import pytest

from activities.models import Activity
from orders.choices import RequestStatus
from portal.models import InboxMessage, OutboxMessage
from tests.orders.conftest import OrdersWorld, advance, new_request
from volunteers.models import ServiceRecord


@pytest.mark.parametrize("to", list(RequestStatus.values))
def test_every_state_is_reachable(ow: OrdersWorld, to: str) -> None:
    advance(ow, new_request(ow), to)


def test_the_whole_way(ow: OrdersWorld, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = advance(ow, new_request(ow), RequestStatus.CLOSED)
    activity = Activity.objects.get(request=request)
    assert activity.participants.count() == 1
    record = ServiceRecord.objects.get(source="request", source_id=request.pk)
    assert record.status == "pending" and record.recorded_by == ow.member.user
    assert OutboxMessage.objects.filter(channel="sms").count() >= 4
    assert InboxMessage.objects.filter(recipient=ow.w.coordinator).exists()
    assert InboxMessage.objects.filter(recipient=ow.leader.user).exists()
