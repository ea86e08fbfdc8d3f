"""The outbox (portal.outbox) and its SMS channel (portal.sms): pluggable backend, nothing
lost, no number in task arguments or logs, retries, the admin page of the messages."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from portal import outbox, sms
from portal.models import OutboxMessage
from portal.tasks import send_outbox_message, send_queued_messages

PHONE = "13812341234"
MASKED = "138****1234"

pytestmark = pytest.mark.django_db


class RecordingBackend:
    """A test provider: remembers what it was given, answers with a message id."""

    sent: list[tuple[str, str]] = []

    def send(self, *, phone: str, text: str) -> str:
        RecordingBackend.sent.append((phone, text))
        return f"provider-{len(RecordingBackend.sent)}"


class CrashingBackend:
    def send(self, *, phone: str, text: str) -> str:
        raise ValueError(f"unexpected reply for +86 {phone[:3]} {phone[3:7]} {phone[7:]}")


class BrokenBackend:
    calls = 0

    def send(self, *, phone: str, text: str) -> str:
        BrokenBackend.calls += 1
        raise sms.SmsError(f"gateway refused {phone}")


@pytest.fixture(autouse=True)
def _reset_backends() -> None:
    RecordingBackend.sent = []
    BrokenBackend.calls = 0


def _send(captured: Any, **kwargs: Any) -> OutboxMessage:
    with captured(execute=True):
        return sms.send_sms(
            phone=kwargs.get("phone", PHONE),
            text=kwargs.get("text", "您的验证码是123456"),
            purpose=kwargs.get("purpose", "test"),
        )


@override_settings(SMS_BACKEND="tests.test_sms.RecordingBackend")
def test_the_configured_backend_sends_after_commit(django_capture_on_commit_callbacks: Any):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = sms.send_sms(phone=PHONE, text="hello", purpose="test")
        # Written in the caller's transaction; nothing sent before it commits.
        assert OutboxMessage.objects.get(pk=message.pk).status == OutboxMessage.Status.QUEUED
        assert RecordingBackend.sent == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert RecordingBackend.sent == [(PHONE, "hello")]
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert message.provider_id == "provider-1"
    assert message.attempts == 1
    assert message.sent_at is not None
    assert message.address_masked == MASKED


def test_number_and_text_are_stored_encrypted(django_capture_on_commit_callbacks: Any):
    message = _send(django_capture_on_commit_callbacks, text="验证码 654321")
    with connection.cursor() as cursor:
        cursor.execute("SELECT address, text FROM portal_outboxmessage WHERE id = %s", [message.pk])
        phone, text = cursor.fetchone()
    assert PHONE not in phone
    assert "654321" not in text
    message.refresh_from_db()
    assert (message.address, message.text) == (PHONE, "验证码 654321")


def test_the_task_gets_the_message_id_only(django_capture_on_commit_callbacks: Any):
    with mock.patch.object(send_outbox_message, "delay") as delay:
        message = _send(django_capture_on_commit_callbacks)
    delay.assert_called_once_with(message.pk)
    assert PHONE not in repr(delay.call_args)


def test_a_rolled_back_message_is_never_sent(django_capture_on_commit_callbacks: Any):
    from django.db import transaction

    def write_then_fail() -> None:
        with transaction.atomic():
            sms.send_sms(phone=PHONE, text="x", purpose="test")
            raise RuntimeError

    with (
        mock.patch.object(send_outbox_message, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
    ):
        write_then_fail()
    assert not delay.called
    assert not OutboxMessage.objects.exists()


def test_development_backend_logs_the_number_masked(
    django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.INFO, logger="portal.sms"):
        message = _send(django_capture_on_commit_callbacks, text="您的验证码是123456")
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.sms"]
    assert any(MASKED in line and "123456" in line for line in lines), lines
    assert all(PHONE not in line for line in caplog.messages)


@override_settings(SMS_BACKEND="tests.test_sms.RecordingBackend")
def test_an_unreachable_queue_loses_nothing(
    django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
):
    broker_down = ConnectionError(f"redis down while sending to {PHONE}?")
    with mock.patch.object(send_outbox_message, "delay", side_effect=broker_down):
        message = _send(django_capture_on_commit_callbacks)  # no exception for the caller
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.QUEUED
    assert RecordingBackend.sent == []
    assert "task queue is unreachable" in caplog.text

    # Too recent for the resend yet (its task may still be on its way).
    call_command("send_queued_messages")
    assert RecordingBackend.sent == []

    later = timezone.now() + dt.timedelta(minutes=3)
    with mock.patch("django.utils.timezone.now", return_value=later):
        call_command("send_queued_messages")
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert RecordingBackend.sent == [(PHONE, "您的验证码是123456")]

    # Sent once only: a second run finds nothing.
    with mock.patch("django.utils.timezone.now", return_value=later):
        call_command("send_queued_messages")
    assert len(RecordingBackend.sent) == 1


@override_settings(SMS_BACKEND="tests.test_sms.RecordingBackend")
def test_the_beat_task_sends_old_queued_messages():
    old = OutboxMessage.objects.create(
        address=PHONE,
        address_masked=MASKED,
        text="old",
        purpose="test",
        created_at=timezone.now() - dt.timedelta(minutes=10),
    )
    fresh = OutboxMessage.objects.create(
        address=PHONE, address_masked=MASKED, text="new", purpose="t"
    )
    assert send_queued_messages() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == OutboxMessage.Status.SENT
    assert fresh.status == OutboxMessage.Status.QUEUED


@override_settings(SMS_BACKEND="tests.test_sms.BrokenBackend")
def test_a_failing_send_is_retried_then_marked_failed(
    django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
):
    message = _send(django_capture_on_commit_callbacks)
    message.refresh_from_db()
    # One attempt; the retry waits (its time is in retry_after) and the error is kept,
    # with the number masked.
    assert BrokenBackend.calls == 1
    assert message.status == OutboxMessage.Status.QUEUED
    assert message.attempts == 1
    assert message.last_error == f"gateway refused {MASKED}"
    assert message.retry_after is not None and message.retry_after > timezone.now()
    assert PHONE not in caplog.text
    assert "unreachable" not in caplog.text  # run eagerly, the task does not retry

    # Each next attempt, when its time comes, until the last one gives up.
    now = timezone.now()
    for attempt in range(2, outbox.MAX_ATTEMPTS + 1):
        now += dt.timedelta(hours=2)
        with mock.patch("django.utils.timezone.now", return_value=now):
            delay = outbox.deliver(message.pk)
        message.refresh_from_db()
        assert message.attempts == attempt
        if attempt < outbox.MAX_ATTEMPTS:
            assert delay == outbox.retry_delay(attempt)
            assert message.status == OutboxMessage.Status.QUEUED
    assert delay is None
    assert message.status == OutboxMessage.Status.FAILED
    assert BrokenBackend.calls == outbox.MAX_ATTEMPTS
    # A failed message is not tried again.
    assert outbox.deliver(message.pk) is None
    assert BrokenBackend.calls == outbox.MAX_ATTEMPTS


@override_settings(SMS_BACKEND="tests.test_sms.CrashingBackend")
def test_an_unexpected_backend_error_is_kept_masked(caplog: pytest.LogCaptureFixture):
    message = OutboxMessage.objects.create(
        address=PHONE, address_masked=MASKED, text="x", purpose="t"
    )
    assert outbox.deliver(message.pk) == outbox.retry_delay(1)
    message.refresh_from_db()
    assert message.last_error == f"builtins.ValueError: unexpected reply for {MASKED}"
    assert PHONE not in "".join(c for c in caplog.text if c.isdigit())


def test_the_task_asks_celery_to_retry_with_a_pause():
    message = OutboxMessage.objects.create(
        address=PHONE, address_masked=MASKED, text="x", purpose="t"
    )
    with (
        override_settings(SMS_BACKEND="tests.test_sms.BrokenBackend"),
        mock.patch.object(send_outbox_message, "retry", side_effect=RuntimeError("retry")) as retry,
        pytest.raises(RuntimeError, match="retry"),
    ):
        send_outbox_message.run(message.pk)
    assert retry.call_args.kwargs["countdown"] >= outbox.retry_delay(1)


def test_retry_pauses_grow_and_are_bounded():
    delays = [outbox.retry_delay(n) for n in range(1, 12)]
    assert delays[:3] == [30, 60, 120]
    assert delays == sorted(delays)
    assert max(delays) == outbox.RETRY_MAX_SECONDS


@override_settings(SMS_BACKEND="tests.test_sms.RecordingBackend")
def test_a_message_being_sent_is_not_sent_twice():
    message = OutboxMessage.objects.create(
        address=PHONE, address_masked=MASKED, text="x", purpose="t"
    )
    # Another process claimed it (its lease runs): the task leaves it alone.
    OutboxMessage.objects.filter(pk=message.pk).update(
        retry_after=timezone.now() + outbox.SEND_LEASE, attempts=1
    )
    assert outbox.deliver(message.pk) is None
    assert RecordingBackend.sent == []
    # Sent messages neither.
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxMessage.Status.SENT)
    later = timezone.now() + dt.timedelta(hours=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert outbox.deliver(message.pk) is None
        assert outbox.send_queued() == 0
    assert RecordingBackend.sent == []


@override_settings(SMS_BACKEND="tests.test_sms.NoSuchBackend")
def test_a_misconfigured_backend_fails_loudly_in_the_task():
    message = OutboxMessage.objects.create(
        address=PHONE, address_masked=MASKED, text="x", purpose="t"
    )
    with pytest.raises(ImportError):
        outbox.deliver(message.pk)
    # Still queued, no attempt spent: sent once the setting is fixed.
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxMessage.Status.QUEUED, 0)


# --- the admin page ----------------------------------------------------------------------


def test_admin_lists_messages_masked_for_a_superuser(
    world: Any, browser_client: Any, django_capture_on_commit_callbacks: Any
):
    message = _send(django_capture_on_commit_callbacks, text="您的验证码是246810", purpose="demo")
    client = browser_client(world.superuser)
    listing = client.get("/admin/portal/outboxmessage/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert MASKED in body
    assert "demo" in body
    assert PHONE not in body
    detail = client.get(f"/admin/portal/outboxmessage/{message.pk}/change/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "246810" in body
    assert PHONE not in body
    # Read-only: no add, no change, no delete.
    assert client.get("/admin/portal/outboxmessage/add/").status_code == 403
    assert client.post(f"/admin/portal/outboxmessage/{message.pk}/delete/").status_code == 403
    assert (
        client.post(
            f"/admin/portal/outboxmessage/{message.pk}/change/", {"purpose": "x", "text": "y"}
        ).status_code
        == 403
    )
    message.refresh_from_db()
    assert message.text == "您的验证码是246810"


def test_admin_refuses_non_staff(world: Any, browser_client: Any) -> None:
    for user in (None, world.no_role, world.coordinator):
        response = browser_client(user).get("/admin/portal/outboxmessage/")
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
