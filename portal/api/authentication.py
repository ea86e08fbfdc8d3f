"""API tokens that expire: ``API_TOKEN_TTL`` after they were issued (7 days by default).

Clients keep sending ``Authorization: Token <key>`` (API.md). An expired token answers
401 ``token_expired``; ``POST /api/v1/auth/token/`` then issues a fresh one. A token still
valid is handed out again, so the scripts and apps of one account share it until it
expires. Deleting the account's token (disabling it, a password set by someone else)
ends every client's access at once.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

if TYPE_CHECKING:
    from practice.models import User

__all__ = ["ExpiringTokenAuthentication", "TokenExpired", "issue_token", "token_expires_at"]


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = _("The API token has expired. Request a new one with your password.")
    default_code = "token_expired"


def token_expires_at(token: Token) -> datetime:
    expires: datetime = token.created + settings.API_TOKEN_TTL
    return expires


def issue_token(user: "User") -> Token:
    """The account's token: the current one while it is valid, else a fresh one."""
    token, created = Token.objects.get_or_create(user=user)
    if created or token_expires_at(token) > timezone.now():
        return token
    with transaction.atomic():
        # Filtered by the old key: of two logins racing here, the second deletes nothing
        # and picks up the token the first one created.
        Token.objects.filter(pk=token.pk).delete()
        token, _created = Token.objects.get_or_create(user=user)
    return token


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's ``Authorization: Token <key>``, refusing a token past its expiry."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expires_at(token) <= timezone.now():
            raise TokenExpired()
        return user, token
