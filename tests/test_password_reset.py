"""One-time codes (portal.otp) and "forgot password" by SMS code (pages and API)."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portal import otp, password_reset
from portal.models import OneTimeCode, OutboxMessage
from practice.choices import AuditAction
from practice.models import AuditEntry
from tests.factories import PASSWORD, UserFactory
from tests.volunteers.conftest import make_phone, make_volunteer
from volunteers.identity import hash_phone

NEW_PASSWORD = "Lantern-river-417"
FORGOT = "/accounts/password/forgot/"
RESET = "/accounts/password/forgot/reset/"
API_RESET = "/api/v1/auth/password-reset/"
API_CONFIRM = "/api/v1/auth/password-reset/confirm/"
PURPOSE = password_reset.PURPOSE


class Outbox:
    """An SMS backend keeping what it was given (the test reads the codes from it)."""

    sent: list[tuple[str, str]] = []

    def send(self, *, phone: str, text: str) -> str:
        Outbox.sent.append((phone, text))
        return "ok"


@pytest.fixture(autouse=True)
def _outbox(settings: Any) -> None:
    settings.SMS_BACKEND = "tests.test_password_reset.Outbox"
    Outbox.sent = []


@pytest.fixture
def sent_now() -> Any:
    """Texts go out at once: the outbox queues its task when ``send_sms`` is called, not
    when the test's transaction (which never commits) would commit."""
    now = SimpleNamespace(on_commit=lambda func, **kwargs: func())
    with mock.patch("portal.outbox.transaction", now):
        yield


def last_code(phone: str) -> str:
    texts = [text for to, text in Outbox.sent if to == phone]
    assert texts, "no text message to this number"
    match = re.search(r"[0-9]{6}", texts[-1])
    assert match
    return match.group()


@pytest.fixture
def account(world: Any) -> Any:
    """A volunteer with an account; ``.phone`` is its login number."""
    user = UserFactory(username="vol-account")
    phone = make_phone()
    volunteer = make_volunteer(world.station, phone=phone, user=user)
    volunteer.login_phone = phone
    return volunteer


# --- one-time codes ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_code_is_stored_hashed_and_texted(sent_now: Any) -> None:
    phone = make_phone()
    row = otp.issue_code(phone=phone, purpose="test")
    code = last_code(phone)
    assert row.phone_hash == hash_phone(phone)
    assert code not in row.code_hash
    assert row.code_hash == otp.code_hash_for(phone=phone, purpose="test", code=code)
    assert row.expires_at == row.created_at + dt.timedelta(minutes=10)
    message = OutboxMessage.objects.get()
    assert message.purpose == "test"
    assert code in message.text


@pytest.mark.django_db
def test_the_right_code_works_once(sent_now: Any) -> None:
    phone = make_phone()
    otp.issue_code(phone=phone, purpose="test")
    code = last_code(phone)
    assert not otp.check_code(phone=phone, purpose="other", code=code)
    assert not otp.check_code(phone=make_phone(), purpose="test", code=code)
    assert otp.check_code(phone=phone, purpose="test", code=code)
    assert not otp.check_code(phone=phone, purpose="test", code=code)  # reuse refused


@pytest.mark.django_db
def test_a_code_expires_after_ten_minutes(sent_now: Any) -> None:
    phone = make_phone()
    otp.issue_code(phone=phone, purpose="test")
    code = last_code(phone)
    later = timezone.now() + dt.timedelta(minutes=10, seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert not otp.check_code(phone=phone, purpose="test", code=code)
    almost = timezone.now() + dt.timedelta(minutes=9, seconds=50)
    with mock.patch("django.utils.timezone.now", return_value=almost):
        assert otp.check_code(phone=phone, purpose="test", code=code)


@pytest.mark.django_db
def test_five_wrong_guesses_kill_the_code(sent_now: Any) -> None:
    phone = make_phone()
    otp.issue_code(phone=phone, purpose="test")
    code = last_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(otp.MAX_ATTEMPTS - 1):
        assert not otp.check_code(phone=phone, purpose="test", code=wrong)
    # The fifth try is still a try...
    assert OneTimeCode.objects.get().attempts == otp.MAX_ATTEMPTS - 1
    assert not otp.check_code(phone=phone, purpose="test", code=wrong)
    # ...after which even the right code is refused.
    assert not otp.check_code(phone=phone, purpose="test", code=code)
    assert OneTimeCode.objects.get().used_at is None


@pytest.mark.django_db
def test_four_wrong_guesses_leave_the_right_one(sent_now: Any) -> None:
    phone = make_phone()
    otp.issue_code(phone=phone, purpose="test")
    code = last_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(otp.MAX_ATTEMPTS - 1):
        assert not otp.check_code(phone=phone, purpose="test", code=wrong)
    assert otp.check_code(phone=phone, purpose="test", code=code)


@pytest.mark.django_db
def test_only_the_newest_code_counts(sent_now: Any) -> None:
    phone = make_phone()
    otp.issue_code(phone=phone, purpose="test")
    first = last_code(phone)
    later = timezone.now() + dt.timedelta(seconds=61)
    with mock.patch("django.utils.timezone.now", return_value=later):
        otp.issue_code(phone=phone, purpose="test")
        second = last_code(phone)
        if first != second:
            assert not otp.check_code(phone=phone, purpose="test", code=first)
        assert otp.check_code(phone=phone, purpose="test", code=second)


@pytest.mark.django_db
def test_one_code_a_minute_and_five_a_day(sent_now: Any) -> None:
    phone = make_phone()
    start = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=start):
        otp.issue_code(phone=phone, purpose="test")
        with pytest.raises(otp.CodeRateLimited):
            otp.issue_code(phone=phone, purpose="other")
    # Another number is not held up.
    otp.issue_code(phone=make_phone(), purpose="test")
    for n in range(1, otp.MAX_PER_DAY):
        with mock.patch("django.utils.timezone.now", return_value=start + dt.timedelta(minutes=n)):
            otp.issue_code(phone=phone, purpose="test")
    with (
        mock.patch("django.utils.timezone.now", return_value=start + dt.timedelta(hours=23)),
        pytest.raises(otp.CodeRateLimited),
    ):
        otp.issue_code(phone=phone, purpose="test")
    assert OneTimeCode.objects.filter(phone_hash=hash_phone(phone)).count() == otp.MAX_PER_DAY
    with mock.patch("django.utils.timezone.now", return_value=start + dt.timedelta(hours=25)):
        otp.issue_code(phone=phone, purpose="test")


# --- the pages ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_login_page_links_to_forgot_password(client: Any) -> None:
    assert FORGOT in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_reset_journey_through_the_pages(
    account: Any, client: Any, sent_now: Any, browser_client: Any
) -> None:
    user = account.user
    # Logged in elsewhere, with an API token: both end with the reset.
    other = browser_client(user)
    assert other.session.get(SESSION_KEY)
    assert other.get("/me/").status_code == 200
    Token.objects.create(user=user)

    page = fresh_client()
    assert page.get(FORGOT).status_code == 200
    reply = page.post(FORGOT, {"phone": f"+86 {account.login_phone}"}, follow=True)
    assert reply.redirect_chain[-1][0] == RESET
    code = last_code(account.login_phone)

    # Passwords that differ, a weak one, a wrong code: refused on the form.
    refused = page.post(
        RESET,
        {"phone": account.login_phone, "code": code, "password1": NEW_PASSWORD, "password2": "x"},
    )
    assert refused.status_code == 200
    assert refused.context["form"].errors["password2"]
    refused = page.post(
        RESET,
        {"phone": account.login_phone, "code": code, "password1": "123", "password2": "123"},
    )
    assert refused.context["form"].errors["password1"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)

    done = page.post(
        RESET,
        {
            "phone": account.login_phone,
            "code": code,
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
        follow=True,
    )
    assert done.redirect_chain[-1][0].startswith("/accounts/login/")
    assert [str(m) for m in done.context["messages"]]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not Token.objects.filter(user=user).exists()
    # The other session ended: its next page asks to log in.
    response = other.get("/me/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    entry = AuditEntry.objects.get(action=AuditAction.USER_CHANGED)
    assert entry.actor == user
    assert entry.unit == account.unit
    assert entry.changes == {"password": "reset by SMS code"}
    assert account.login_phone not in str(entry.changes) + entry.object_repr
    # The code worked once.
    again = page.post(
        RESET,
        {
            "phone": account.login_phone,
            "code": code,
            "password1": "Another-river-981",
            "password2": "Another-river-981",
        },
    )
    assert again.context["form"].errors["code"]


def fresh_client() -> Any:
    """A new anonymous test client."""
    from django.test import Client

    return Client()


@pytest.mark.django_db
def test_the_forgot_page_does_not_tell_whether_a_number_is_registered(
    account: Any, sent_now: Any
) -> None:
    known = fresh_client().post(FORGOT, {"phone": account.login_phone}, follow=True)
    unknown = fresh_client().post(FORGOT, {"phone": make_phone()}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain
    assert [str(m) for m in known.context["messages"]] == [
        str(m) for m in unknown.context["messages"]
    ]
    assert OutboxMessage.objects.count() == 1  # the registered number only
    assert OneTimeCode.objects.count() == 1
    # Over its limits, a registered number still gets the same answer (and no new text).
    again = fresh_client().post(FORGOT, {"phone": account.login_phone}, follow=True)
    assert again.redirect_chain == known.redirect_chain
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_no_code_for_a_disabled_account_or_a_volunteer_without_one(
    world: Any, account: Any, sent_now: Any
) -> None:
    account.user.is_active = False
    account.user.save()
    no_account = make_volunteer(world.station, phone=make_phone())
    for phone in (account.login_phone, no_account.phone):
        assert fresh_client().post(FORGOT, {"phone": phone}).status_code == 302
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("staff", ["station_manager", "coordinator", "superuser"])
def test_no_sms_reset_of_a_staff_account(world: Any, staff: str, sent_now: Any) -> None:
    """A volunteer profile linked to a staff account: a texted code is no key to it."""
    user = getattr(world, staff)
    phone = make_phone()
    make_volunteer(world.station, phone=phone, user=user)
    assert fresh_client().post(FORGOT, {"phone": phone}).status_code == 302
    assert not OutboxMessage.objects.exists()
    # Even with a code issued by other means, the reset is refused.
    otp.issue_code(phone=phone, purpose=PURPOSE)
    reply = APIClient().post(
        API_CONFIRM,
        {"phone": phone, "code": last_code(phone), "password": NEW_PASSWORD},
        format="json",
    )
    assert reply.status_code == 400
    assert reply.json()["code"] == "invalid_code"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_the_forgot_page_refuses_a_malformed_number() -> None:
    reply = fresh_client().post(FORGOT, {"phone": "12345"})
    assert reply.status_code == 200
    assert reply.context["form"].errors["phone"]
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
@override_settings(
    REST_FRAMEWORK={
        "DEFAULT_THROTTLE_RATES": {
            "password_reset": "2/hour",
            "password_reset_confirm": "2/hour",
            "anon": "1000/minute",
        },
        "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    }
)
def test_the_pages_are_limited_per_address(sent_now: Any) -> None:
    page = fresh_client()
    for _ in range(2):
        assert page.post(FORGOT, {"phone": make_phone()}).status_code == 302
    assert page.post(FORGOT, {"phone": make_phone()}).status_code == 429
    form = {"phone": make_phone(), "code": "123456", "password1": NEW_PASSWORD}
    form["password2"] = NEW_PASSWORD
    for _ in range(2):
        assert page.post(RESET, form).status_code == 200
    assert page.post(RESET, form).status_code == 429


# --- the API -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_reset_journey_through_the_api(account: Any, sent_now: Any) -> None:
    api = APIClient()
    Token.objects.create(user=account.user)
    reply = api.post(API_RESET, {"phone": account.login_phone}, format="json")
    assert reply.status_code == 202
    code = last_code(account.login_phone)

    weak = api.post(
        API_CONFIRM,
        {"phone": account.login_phone, "code": code, "password": "password"},
        format="json",
    )
    assert weak.status_code == 400
    assert weak.json()["code"] == "weak_password"
    assert "password" in weak.json()["detail"]

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    bad = api.post(
        API_CONFIRM,
        {"phone": account.login_phone, "code": wrong, "password": NEW_PASSWORD},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_code"

    ok = api.post(
        API_CONFIRM,
        {"phone": account.login_phone, "code": code, "password": NEW_PASSWORD},
        format="json",
    )
    assert ok.status_code == 200, ok.json()
    account.user.refresh_from_db()
    assert account.user.check_password(NEW_PASSWORD)
    assert not Token.objects.filter(user=account.user).exists()
    # Logging in with the phone and the new password works (volunteers.auth.PhoneBackend).
    token = api.post(
        "/api/v1/auth/token/",
        {"username": account.login_phone, "password": NEW_PASSWORD},
        format="json",
    )
    assert token.status_code == 200

    reused = api.post(
        API_CONFIRM,
        {"phone": account.login_phone, "code": code, "password": "Another-river-981"},
        format="json",
    )
    assert reused.status_code == 400
    assert reused.json()["code"] == "invalid_code"


@pytest.mark.django_db
def test_the_api_does_not_tell_whether_a_number_is_registered(account: Any, sent_now: Any) -> None:
    api = APIClient()
    known = api.post(API_RESET, {"phone": account.login_phone}, format="json")
    unknown = api.post(API_RESET, {"phone": make_phone()}, format="json")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert OutboxMessage.objects.count() == 1
    # A code for an unknown number is refused as a wrong code is.
    confirm = api.post(
        API_CONFIRM,
        {"phone": make_phone(), "code": "123456", "password": NEW_PASSWORD},
        format="json",
    )
    assert confirm.status_code == 400
    assert confirm.json()["code"] == "invalid_code"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [{}, {"phone": ""}, {"phone": "abc"}, {"phone": "1381234123"}, {"phone": ["13812341234"]}],
)
def test_the_api_refuses_bad_input(body: dict[str, Any]) -> None:
    reply = APIClient().post(API_RESET, body, format="json")
    assert reply.status_code == 400
    assert "phone" in reply.json()["detail"]
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "123456", "password": NEW_PASSWORD}, "phone"),
        ({"phone": "13812341234", "password": NEW_PASSWORD}, "code"),
        ({"phone": "13812341234", "code": "123456"}, "password"),
    ],
)
def test_the_confirm_api_refuses_missing_fields(body: dict[str, Any], field: str) -> None:
    reply = APIClient().post(API_CONFIRM, body, format="json")
    assert reply.status_code == 400
    assert field in reply.json()["detail"]


@pytest.mark.django_db
@override_settings(
    REST_FRAMEWORK={
        "DEFAULT_THROTTLE_RATES": {
            "password_reset": "2/hour",
            "password_reset_confirm": "3/hour",
            "anon": "1000/minute",
        },
        "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    }
)
def test_the_api_is_limited_per_address(sent_now: Any) -> None:
    api = APIClient()
    for _ in range(2):
        assert api.post(API_RESET, {"phone": make_phone()}, format="json").status_code == 202
    limited = api.post(API_RESET, {"phone": make_phone()}, format="json")
    assert limited.status_code == 429
    assert limited.json()["code"] == "throttled"
    body = {"phone": make_phone(), "code": "123456", "password": NEW_PASSWORD}
    for _ in range(3):
        assert api.post(API_CONFIRM, body, format="json").status_code == 400
    assert api.post(API_CONFIRM, body, format="json").status_code == 429


@pytest.mark.django_db
def test_no_number_in_the_sms_task_or_logs(
    account: Any, sent_now: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from portal.tasks import send_outbox_message

    with mock.patch.object(send_outbox_message, "delay") as delay:
        APIClient().post(API_RESET, {"phone": account.login_phone}, format="json")
    assert delay.call_count == 1
    assert account.login_phone not in repr(delay.call_args)
    assert account.login_phone not in caplog.text
