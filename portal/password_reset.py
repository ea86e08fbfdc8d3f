""" "Forgot password" for volunteer accounts: a one-time code texted to the number the
volunteer registered with (the number they log in with) sets a new password.

No account enumeration: :func:`request_reset` answers alike for every well-formed number,
and texts a code only when the number belongs to an active volunteer account without
staff roles (a number over its code limits gets no new code, silently).
:func:`reset_password` refuses an unknown number exactly as it refuses a wrong code.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from portal import otp
from portal.errors import ValidationFailed
from portal.validators import mask_phone, normalize_mobile, validate_mobile
from practice import services as practice_services
from practice.choices import AuditAction
from volunteers.identity import hash_phone
from volunteers.models import Volunteer

if TYPE_CHECKING:
    from practice.models import User

__all__ = [
    "PURPOSE",
    "account_of_phone",
    "clean_phone",
    "request_reset",
    "reset_password",
    "sent_message",
]

logger = logging.getLogger("portal.password_reset")

PURPOSE = "password_reset"
_CODE = re.compile(r"[0-9]{6}", re.ASCII)


def clean_phone(value: str, *, field: str = "phone") -> str:
    """The normalized 11-digit number, or ``ValidationFailed`` on ``field``."""
    try:
        validate_mobile(value or "")
    except ValidationError as exc:
        raise ValidationFailed(code="invalid_phone", detail={field: list(exc.messages)}) from None
    return normalize_mobile(value)


def _volunteer_of_phone(phone: str) -> Volunteer | None:
    """The volunteer registered with ``phone`` whose account may be reset by SMS: an
    active account holding no role and no admin rights (staff accounts are reset by
    their coordinator: a texted code is too weak a key to them)."""
    volunteer = (
        Volunteer.objects.filter(phone_hash=hash_phone(phone), user__isnull=False)
        .select_related("user", "unit")
        .first()
    )
    if volunteer is None or volunteer.user is None:
        return None
    user = volunteer.user
    if not user.is_active or user.is_staff or user.is_superuser:
        return None
    if user.role_assignments.exists():
        return None
    return volunteer


def account_of_phone(phone: str) -> User | None:
    """The account of the volunteer registered with ``phone`` (normalized), if it may be
    reset by SMS."""
    volunteer = _volunteer_of_phone(phone)
    return volunteer.user if volunteer is not None else None


def request_reset(*, phone: str) -> None:
    """Text a code to ``phone`` if it is a volunteer's login; the same for the caller
    either way (``ValidationFailed`` only for a malformed number)."""
    phone = clean_phone(phone)
    if account_of_phone(phone) is None:
        # Make and hash a code anyway: about the same work as for a registered number.
        otp.code_hash_for(phone=phone, purpose=PURPOSE, code=otp.make_code())
        return
    try:
        otp.issue_code(phone=phone, purpose=PURPOSE)
    except otp.CodeRateLimited:
        logger.info("password reset: no new code for %s (code limits)", mask_phone(phone))


def reset_password(*, phone: str, code: str, password: str) -> User:
    """Set a new password with a code from :func:`request_reset`: ends every session and
    the API token of the account, and writes the audit entry. ``ValidationFailed`` with
    code ``invalid_code`` (wrong, used, expired code, or unknown number) or
    ``weak_password`` (the password validators' messages)."""
    phone = clean_phone(phone)
    volunteer = _volunteer_of_phone(phone)
    user = volunteer.user if volunteer is not None else None
    try:
        validate_password(password or "", user)
    except ValidationError as exc:
        raise ValidationFailed(
            code="weak_password", detail={"password": list(exc.messages)}
        ) from None
    code = (code or "").strip()
    # Checked outside the transaction below: a wrong guess counts even if nothing else does.
    valid = bool(_CODE.fullmatch(code)) and otp.check_code(phone=phone, purpose=PURPOSE, code=code)
    if not valid or volunteer is None or user is None:
        message = _("The code is wrong or has expired. Ask for a new code.")
        raise ValidationFailed(message, code="invalid_code", detail={"code": [message]})
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        # Other sessions end by themselves: Django checks each against the password hash.
        practice_services._end_api_access(user)
        practice_services.record_audit(
            actor=user,
            action=AuditAction.USER_CHANGED,
            unit=volunteer.unit,
            object_repr=user.username,
            changes={"password": "reset by SMS code"},
        )
    return user


def sent_message() -> str:
    """The one answer to a code request, whatever the number."""
    return _(
        "If this number is registered for a volunteer account, a code was texted to it. "
        "It is valid for %(minutes)s minutes."
    ) % {"minutes": settings.OTP_CODE_MINUTES}
