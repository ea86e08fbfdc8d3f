"""API rate limits, per account or per client address (``portal.http.client_ip``).

DRF's own throttles identify a client by the whole ``X-Forwarded-For`` header when
``NUM_PROXIES`` is unset, so a client could pick a fresh identity per request. These take
the address the same way django-axes does (``TRUSTED_PROXY_COUNT``), and read their rates
from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` when they are created rather than when
the module is imported.

- ``AnonRateThrottle`` (scope ``anon``) and ``UserRateThrottle`` (``user``, per account)
  are the defaults of every API view.
- ``FailureRateThrottle`` counts only the requests its view reports as failed;
  ``LoginFailureThrottle`` (scope ``auth``) counts wrong passwords at the token endpoint,
  so a county office whose staff share one address never runs out of correct logins.
"""

from typing import Any, cast

from django.core.exceptions import ImproperlyConfigured
from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

__all__ = [
    "AnonRateThrottle",
    "FailureRateThrottle",
    "LoginFailureThrottle",
    "UserRateThrottle",
]


class _PortalThrottle(throttling.SimpleRateThrottle):
    # Set by SimpleRateThrottle.__init__ from the rate (None: no limit).
    num_requests: int | None
    duration: int | None

    def get_ident(self, request: Request) -> str:
        # Imported here: DRF imports this module while rest_framework.views is half
        # initialized (DEFAULT_THROTTLE_CLASSES), and portal.http needs rest_framework.views.
        from portal.http import client_ip

        return client_ip(request)

    def get_rate(self) -> str | None:
        if not self.scope:
            raise ImproperlyConfigured(f"{type(self).__name__} needs a scope or a rate.")
        # DRF's stubs type the rates as numbers; they are strings such as "10/minute".
        rates = cast("dict[str, str | None]", api_settings.DEFAULT_THROTTLE_RATES)
        try:
            rate = rates[self.scope]
        except KeyError:
            msg = f"No throttle rate set for the {self.scope!r} scope."
            raise ImproperlyConfigured(msg) from None
        return rate


class AnonRateThrottle(_PortalThrottle, throttling.AnonRateThrottle):
    """Requests without a logged-in user, per client address."""


class UserRateThrottle(_PortalThrottle, throttling.UserRateThrottle):
    """Requests of a logged-in user, per account (anonymous ones per address)."""


class FailureRateThrottle(_PortalThrottle):
    """At most ``rate`` failed requests per client address; successes are not counted.

    ``allow_request`` refuses a client whose recent failures reached the limit, before the
    view runs, without counting the request itself; the view calls ``record_failure``
    when a request fails. Subclasses name the ``scope`` whose rate applies.
    """

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.num_requests is None or self.duration is None:
            return True
        self.key = self.get_cache_key(request, view)
        self.history = self._recent(self.key, self.duration)
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return True

    def record_failure(self, request: Request, view: Any) -> None:
        if self.num_requests is None or self.duration is None:
            return
        key = self.get_cache_key(request, view)
        history = self._recent(key, self.duration)
        history.insert(0, self.now)
        self.cache.set(key, history, self.duration)

    def _recent(self, key: str, duration: int) -> list[float]:
        """The times of the failures within the last ``duration`` seconds, newest first."""
        self.now = self.timer()
        history: list[float] = self.cache.get(key, [])
        while history and history[-1] <= self.now - duration:
            history.pop()
        return history


class LoginFailureThrottle(FailureRateThrottle):
    """Wrong usernames or passwords at the token endpoint (scope ``auth``)."""

    scope = "auth"
