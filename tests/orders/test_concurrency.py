"""Fifty volunteers claim one request at the same moment, on PostgreSQL: exactly one wins,
the other forty-nine get 409, and the timeline has one claim.

Run with ``DATABASE_URL=postgres://…`` (marker ``postgres``); SQLite serializes writers."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from orders import services
from orders.choices import RequestStatus
from orders.models import RequestEvent
from portal.errors import ApplicationError
from tests.factories import UserFactory
from tests.orders.conftest import OrdersWorld, advance, new_request
from tests.volunteers.conftest import make_volunteer
from tests.volunteers.test_hours_concurrency import run_threads
from volunteers.choices import MembershipStatus
from volunteers.models import TeamMembership

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLAIMERS = 50


@pytest.fixture(autouse=True)
def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL (DATABASE_URL); the database is {connection.vendor}")


def test_of_fifty_claimers_exactly_one_wins(ow: OrdersWorld) -> None:
    users = []
    for n in range(CLAIMERS):
        user = UserFactory(username=f"claimer{n}")
        volunteer = make_volunteer(ow.w.station, name=f"志愿者{n}", user=user)
        TeamMembership.objects.create(
            team=ow.team,
            volunteer=volunteer,
            status=MembershipStatus.ACTIVE,
            joined_at=timezone.now(),
        )
        users.append(user)
    request = advance(ow, new_request(ow), RequestStatus.DISPATCHED)

    def claimer(user: Any) -> Any:
        def run() -> Any:
            return services.request_claim(actor=user, request=request)

        return run

    results, errors = run_threads([claimer(u) for u in users])

    assert len(results) == 1, errors[:3]
    assert len(errors) == CLAIMERS - 1
    assert all(isinstance(e, ApplicationError) and e.status_code == 409 for e in errors), errors[:3]
    request.refresh_from_db()
    assert request.status == RequestStatus.CLAIMED
    assert request.claimed_by is not None and request.claimed_by.user in users
    assert RequestEvent.objects.filter(request=request, action="claim").count() == 1
