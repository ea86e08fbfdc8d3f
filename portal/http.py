"""Typed request helpers: views behind a login check know their user is a real account."""

from typing import TYPE_CHECKING, cast
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from rest_framework.generics import GenericAPIView

if TYPE_CHECKING:
    from practice.models import User

__all__ = ["ActorMixin", "AuthenticatedRequest", "attachment"]


class AuthenticatedRequest(HttpRequest):
    """An ``HttpRequest`` whose ``user`` is a logged-in account (``@login_required`` views)."""

    user: "User"


class ActorMixin(GenericAPIView):
    """For DRF views whose permission classes require authentication."""

    @property
    def actor(self) -> "User":
        return cast("User", self.request.user)


def attachment(content: bytes, *, content_type: str, filename: str, fallback: str) -> HttpResponse:
    """A file to download as ``filename`` (any characters: RFC 5987 ``filename*``), or as
    the ASCII ``fallback`` for the few clients that do not read ``filename*``."""
    response = HttpResponse(content, content_type=content_type)
    plain = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in fallback
    )
    response["Content-Disposition"] = (
        f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    return response
