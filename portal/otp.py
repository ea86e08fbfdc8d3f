"""One-time codes sent by SMS (six digits, ``OTP_CODE_MINUTES`` valid, default 10).

Only a keyed hash of a code is stored (``OneTimeCode.code_hash``, bound to the number
and the purpose); the number only as its keyed hash (``volunteers.identity.hash_phone``).

- :func:`issue_code` makes a code and sends it through :func:`portal.sms.send_sms`: at
  most one per number every :data:`MIN_INTERVAL` and :data:`MAX_PER_DAY` a day (counted
  over every purpose), else :class:`CodeRateLimited`.
- :func:`check_code` checks the newest code of a number and purpose: a wrong guess counts
  an attempt (at most :data:`MAX_ATTEMPTS`); a right one is consumed and never works again.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.errors import RateLimited
from portal.models import OneTimeCode
from portal.sms import send_sms
from volunteers.identity import hash_phone

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_PER_DAY",
    "MIN_INTERVAL",
    "CodeRateLimited",
    "check_code",
    "code_hash_for",
    "code_lifetime",
    "issue_code",
    "make_code",
]

CODE_DIGITS = 6
MAX_ATTEMPTS = 5
MIN_INTERVAL = dt.timedelta(seconds=60)
MAX_PER_DAY = 5


class CodeRateLimited(RateLimited):
    default_message = gettext_lazy("Too many codes were requested for this number; try later.")


def code_lifetime() -> dt.timedelta:
    return dt.timedelta(minutes=settings.OTP_CODE_MINUTES)


def _code_hash(*, phone_hash: str, purpose: str, code: str) -> str:
    return salted_hmac(
        "portal.otp", f"{purpose}:{phone_hash}:{code}", algorithm="sha256"
    ).hexdigest()


def code_hash_for(*, phone: str, purpose: str, code: str) -> str:
    """The stored form of ``code`` for this number and purpose."""
    return _code_hash(phone_hash=hash_phone(phone), purpose=purpose, code=code)


def make_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def issue_code(*, phone: str, purpose: str) -> OneTimeCode:
    """Make a code for ``phone`` (normalized 11 digits) and text it; an earlier code of the
    same number and purpose stops working. Raises :class:`CodeRateLimited`."""
    phone_hash = hash_phone(phone)
    now = timezone.now()
    code = make_code()
    with transaction.atomic():
        # One number's requests one after another: two at once cannot both pass the limits.
        recent = list(
            OneTimeCode.objects.select_for_update()
            .filter(phone_hash=phone_hash, created_at__gt=now - dt.timedelta(days=1))
            .values_list("created_at", flat=True)
        )
        if len(recent) >= MAX_PER_DAY or any(at > now - MIN_INTERVAL for at in recent):
            raise CodeRateLimited()
        one_time_code = OneTimeCode.objects.create(
            purpose=purpose,
            phone_hash=phone_hash,
            code_hash=_code_hash(phone_hash=phone_hash, purpose=purpose, code=code),
            expires_at=now + code_lifetime(),
            created_at=now,
        )
        minutes = settings.OTP_CODE_MINUTES
        send_sms(
            phone=phone,
            text=_(
                "Your verification code is %(code)s, valid for %(minutes)s minutes. "
                "If you did not ask for it, ignore this message."
            )
            % {"code": code, "minutes": minutes},
            purpose=purpose,
        )
    return one_time_code


def check_code(*, phone: str, purpose: str, code: str) -> bool:
    """Whether ``code`` is the live code of ``phone`` for ``purpose``; a right code is
    consumed. Only the newest code counts, until it expires, is used, or was guessed
    wrong :data:`MAX_ATTEMPTS` times. Call it outside a transaction, so the attempt
    counts even when the caller's work fails afterwards."""
    phone_hash = hash_phone(phone)
    expected_for = _code_hash(phone_hash=phone_hash, purpose=purpose, code=(code or "").strip())
    now = timezone.now()
    with transaction.atomic():
        latest = (
            OneTimeCode.objects.select_for_update()
            .filter(phone_hash=phone_hash, purpose=purpose)
            .order_by("-created_at", "-pk")
            .first()
        )
        if (
            latest is None
            or latest.used_at is not None
            or latest.expires_at <= now
            or latest.attempts >= MAX_ATTEMPTS
        ):
            return False
        latest.attempts += 1
        right = hmac.compare_digest(latest.code_hash, expected_for)
        if right:
            latest.used_at = now
        latest.save(update_fields=["attempts", "used_at"])
    return right
