"""Browser sessions on the API, with the CSRF refusal in the user's language."""

from typing import Any

import drf_spectacular.authentication
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

__all__ = ["CsrfFailed", "SessionAuthentication", "SessionScheme"]


class CsrfFailed(exceptions.PermissionDenied):
    default_detail = _(
        "The request was refused because its security token (CSRF) is missing or has "
        "expired. Reload the page and try again."
    )
    default_code = "csrf_failed"


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication; a failed CSRF check is 403 ``csrf_failed`` with a
    translated message instead of DRF's English ``CSRF Failed: <Django's reason>``."""

    def enforce_csrf(self, request: Any) -> None:
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied:
            raise CsrfFailed() from None


class SessionScheme(drf_spectacular.authentication.SessionScheme):
    """The OpenAPI security scheme of the browser session (``cookieAuth``), as DRF's."""

    target_class = "portal.api.sessions.SessionAuthentication"
