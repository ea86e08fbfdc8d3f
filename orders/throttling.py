"""Rate limits of the public request endpoints and pages (the API's throttle classes,
used by the pages too): per client address, per phone number, and the requester's
look-ups (a tracking code with a phone number) per address."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.request import Request

from portal.api.throttling import AnonRateThrottle
from portal.errors import RateLimited
from portal.validators import normalize_mobile
from practice.permissions import has_any_role
from volunteers.identity import hash_phone

__all__ = [
    "OrderPhoneThrottle",
    "OrderThrottle",
    "Throttled",
    "TrackThrottle",
    "check_order_allowed",
    "check_track_allowed",
]


class Throttled(RateLimited):
    """This address or phone number asked too often (orders, look-ups)."""


class OrderThrottle(AnonRateThrottle):
    """New requests per client address (logged-in staff filing for residents too)."""

    scope = "order"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class OrderPhoneThrottle(AnonRateThrottle):
    """New requests per phone number, whatever the address (keyed by the number's hash)."""

    scope = "order_phone"

    def __init__(self, phone: str) -> None:
        super().__init__()
        self.phone = phone

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if not self.phone:
            return None
        return self.cache_format % {"scope": self.scope, "ident": hash_phone(self.phone)}


class TrackThrottle(AnonRateThrottle):
    """Look-ups by tracking code and phone (following, cancelling, rating) per address."""

    scope = "order_track"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _refuse(throttle: AnonRateThrottle) -> Throttled:
    wait = throttle.wait()
    minutes = max(1, int((wait or 60) // 60))
    return Throttled(
        _("Too many requests from here. Please try again in %(n)d minutes, or call the station.")
        % {"n": minutes}
    )


def check_order_allowed(request: Request | Any, phone: Any) -> None:
    """Raise 429 when this address (unless staff) or this phone number has filed too many
    requests."""
    number = normalize_mobile(str(phone or ""))
    throttles: list[AnonRateThrottle] = [OrderPhoneThrottle(number)]
    user = getattr(request, "user", None)
    if not has_any_role(user):
        # Station staff file many requests for residents from one office: only the
        # per-number limit applies to them.
        throttles.insert(0, OrderThrottle())
    for throttle in throttles:
        if not throttle.allow_request(request, None):  # type: ignore[arg-type]
            raise _refuse(throttle)


def check_track_allowed(request: Request | Any) -> None:
    throttle = TrackThrottle()
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        raise _refuse(throttle)
