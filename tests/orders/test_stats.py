"""``GET /api/v1/units/{id}/stats/`` counts the requests of the subtree and the period."""

from __future__ import annotations

import datetime as dt
from itertools import count
from typing import Any

import pytest
from django.utils import timezone

from orders import services
from orders.choices import RequestStatus
from orders.models import ServiceRequest
from practice.models import User
from tests.orders.conftest import OrdersWorld, advance, new_request

pytestmark = pytest.mark.django_db

_phones = count(1)


def _made(ow: OrdersWorld, to: str, **overrides: Any) -> ServiceRequest:
    phone = f"1390000{next(_phones):04d}"
    request = new_request(ow, contact_phone=phone, **overrides)
    if to == "low":
        request = advance(ow, request, RequestStatus.DELIVERED)
        return services.request_rate(
            request=request, code=request.tracking_code, phone=phone, rating=2
        )
    if to == RequestStatus.CLOSED:
        request = advance(ow, request, RequestStatus.DELIVERED)
        return services.request_rate(
            request=request, code=request.tracking_code, phone=phone, rating=5
        )
    if to == RequestStatus.CANCELLED:
        return services.request_cancel(request=request, code=request.tracking_code, phone=phone)
    return advance(ow, request, to)


def _stats(api: Any, user: Any, unit: Any, **query: str) -> dict[str, Any]:
    response = api(user).get(f"/api/v1/units/{unit.pk}/stats/", query)
    assert response.status_code == 200, response.content
    return response.json()["requests"]


def test_requests_of_the_subtree_and_period(ow: OrdersWorld, api: Any) -> None:
    for status in (
        RequestStatus.SUBMITTED,
        RequestStatus.DISPATCHED,
        RequestStatus.CLAIMED,
        RequestStatus.DELIVERED,
        RequestStatus.CLOSED,
        "low",
        RequestStatus.REJECTED,
        RequestStatus.CANCELLED,
    ):
        _made(ow, status)
    # another county's request; and one of this county, long ago
    _made(ow, RequestStatus.SUBMITTED, unit=ow.w.other_station, menu_item=ow.other_county_item)
    old = _made(ow, RequestStatus.REJECTED)
    ServiceRequest.objects.filter(pk=old.pk).update(
        created_at=timezone.make_aware(dt.datetime(2025, 1, 10, 23, 30))
    )
    w = ow.w
    everything = {
        "submitted": 9,
        "completed": 3,  # delivered, and the two closed
        "rejected": 2,
        "open": 3,  # submitted, dispatched, claimed
        "average_rating": 3.5,
    }
    assert _stats(api, w.coordinator, w.centre) == everything
    assert _stats(api, w.coordinator, w.town) == everything
    assert _stats(api, w.station_manager, w.station) == everything
    assert _stats(api, w.coordinator, w.town2) == {
        "submitted": 0,
        "completed": 0,
        "rejected": 0,
        "open": 0,
        "average_rating": None,
    }
    other = _stats(api, w.other_coordinator, w.other_centre)
    assert (other["submitted"], other["open"]) == (1, 1)
    # the period: whole days in the portal's time zone, both included
    today = timezone.localdate().isoformat()
    recent = _stats(api, w.coordinator, w.centre, **{"from": today, "to": today})
    assert recent == {**everything, "submitted": 8, "rejected": 1}
    day = _stats(api, w.coordinator, w.centre, **{"from": "2025-01-10", "to": "2025-01-10"})
    assert (day["submitted"], day["rejected"], day["average_rating"]) == (1, 1, None)
    before = _stats(api, w.coordinator, w.centre, to="2025-01-09")
    assert before["submitted"] == 0


@pytest.mark.parametrize("requests", [1, 12])
def test_one_query_for_the_requests(
    ow: OrdersWorld, api: Any, django_assert_num_queries: Any, requests: int
) -> None:
    for _i in range(requests):
        _made(ow, RequestStatus.REJECTED)
    client = api(User.objects.get(pk=ow.w.coordinator.pk))  # grants not yet read
    # grants, unit, unit counts; volunteers, teams, hours; activity summary by platform,
    # platforms, by month, by child; participants; requests
    with django_assert_num_queries(10):
        body = client.get(f"/api/v1/units/{ow.w.centre.pk}/stats/").json()
    assert body["requests"]["rejected"] == requests
