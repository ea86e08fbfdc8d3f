"""Logging in with a mobile number: a volunteer's account is found by the keyed hash of
the phone they registered with (``Volunteer.phone_hash``)."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from portal.validators import normalize_mobile

from .identity import hash_phone
from .models import Volunteer

__all__ = ["PhoneBackend"]

_MOBILE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)


class PhoneBackend(ModelBackend):
    """Accepts the login form's username when it is a mainland mobile number (``+86``,
    spaces and dashes allowed) registered by a volunteer, and checks the password of that
    volunteer's account. Listed after django-axes' backend (which refuses locked-out
    logins first) and Django's own (usernames)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None or password is None:
            return None
        phone = normalize_mobile(str(username))
        if not _MOBILE.fullmatch(phone):
            return None
        volunteer = (
            Volunteer.objects.filter(phone_hash=hash_phone(phone), user__isnull=False)
            .select_related("user")
            .first()
        )
        if volunteer is None or volunteer.user is None:
            # Run the hasher once anyway, so a registered number takes no longer to refuse.
            from django.contrib.auth import get_user_model

            get_user_model()().set_password(password)
            return None
        user = volunteer.user
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
