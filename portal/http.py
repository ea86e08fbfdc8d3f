"""Request helpers: typed requests for views behind a login check, the client's address,
file downloads."""

import ipaddress
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.generics import GenericAPIView

if TYPE_CHECKING:
    from practice.models import User

__all__ = ["ActorMixin", "AuthenticatedRequest", "attachment", "client_ip"]


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


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent ``request``, as far as it can be trusted.

    With ``TRUSTED_PROXY_COUNT = 0`` (no proxy in front) it is ``REMOTE_ADDR``, and an
    ``X-Forwarded-For`` header is only the client's own claim: ignored. Behind N trusted
    proxies each one appends the address it received the request from to
    ``X-Forwarded-For``, so the N-th entry from the right was written by the outermost
    trusted proxy and is the client; anything left of it came from the client and is
    ignored. A request without N entries, or whose entry is not an IP address, did not
    come through the proxies as configured: its ``REMOTE_ADDR`` is used. django-axes
    (lockouts) and every API throttle take the address from here.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(forwarded) < count:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-count].strip()))
    except ValueError:
        return remote
