"""Notices are never lost: with the worker stopped, and with the broker unreachable when a
request is made, every notice goes out exactly once after recovery — through a real Celery
worker (another process) and Redis.

Runs only with ``REDIS_URL`` and a PostgreSQL ``DATABASE_URL`` (marker ``worker``)."""

from __future__ import annotations

import datetime as dt
import os
import time
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError

from orders.models import ServiceRequest
from portal.celery import app
from portal.models import InboxMessage, OutboxMessage
from portal.tasks import send_outbox_message, send_queued_messages
from tests.orders.conftest import OrdersWorld, new_request
from tests.test_celery_worker import TASK_TIMEOUT, Worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_services() -> None:
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (a broker the worker can reach)")
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL: a worker cannot see the {connection.vendor} test db")


def _wait_all_sent(worker: Worker, expected: int) -> None:
    deadline = time.monotonic() + TASK_TIMEOUT
    while time.monotonic() < deadline:
        if OutboxMessage.objects.filter(status="sent").count() >= expected:
            return
        time.sleep(0.2)
    pytest.fail(
        f"{OutboxMessage.objects.filter(status='sent').count()} of {expected} sent:\n"
        + worker.output()
    )


def test_orders_accepted_while_down_are_all_notified_once_after_recovery(ow: OrdersWorld) -> None:
    ow.w.coordinator.email = "coord@example.cn"
    ow.w.coordinator.save()
    app.control.purge()

    # 1. No worker running: the tasks wait in Redis.
    first = new_request(ow, contact_phone="13900000001")
    # 2. The broker unreachable at the moment of the order: the task is never queued.
    with mock.patch.object(
        send_outbox_message, "delay", side_effect=OperationalError("connection refused")
    ):
        second = new_request(ow, contact_phone="13900000002")
    assert ServiceRequest.objects.count() == 2  # both orders accepted
    # Per request: an SMS to the resident and an email to the coordinator.
    assert OutboxMessage.objects.filter(status="queued").count() == 4
    assert InboxMessage.objects.count() == 4  # coordinator + station manager, twice

    worker = Worker()
    try:
        worker.wait_ready()
        # The queued tasks of the first order are sent as soon as the worker is back.
        deadline = time.monotonic() + TASK_TIMEOUT
        while OutboxMessage.objects.filter(status="sent").count() < 2:
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.2)
        lost = OutboxMessage.objects.filter(status="queued")
        assert lost.count() == 2  # the second order's, whose tasks were never queued
        # Minutes later, beat's send_queued_messages sends what the queue lost.
        OutboxMessage.objects.filter(status="queued").update(
            created_at=timezone.now() - dt.timedelta(minutes=10)
        )
        send_queued_messages.delay().get(timeout=TASK_TIMEOUT)
        _wait_all_sent(worker, 4)
    finally:
        worker.stop()
        print(worker.output())
        os.unlink(worker.log_file.name)

    messages = list(OutboxMessage.objects.all())
    assert len(messages) == 4
    assert all(m.status == "sent" and m.attempts == 1 for m in messages), [
        (m.pk, m.status, m.attempts) for m in messages
    ]
    texts = " ".join(m.text for m in messages if m.channel == "sms")
    assert first.tracking_code in texts and second.tracking_code in texts
