"""Middleware: the language, the service layer's scope errors as the pages' 404 and 403,
security headers, idle sessions."""

import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.translation import ngettext

from portal.errors import NotFound, PermissionDenied

__all__ = [
    "ApplicationErrorMiddleware",
    "IdleSessionMiddleware",
    "LanguageMiddleware",
    "SecurityHeadersMiddleware",
]


class ApplicationErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, NotFound):
            raise Http404(str(exception.message)) from exception
        if isinstance(exception, PermissionDenied):
            raise DjangoPermissionDenied(str(exception.message)) from exception


class LanguageMiddleware:
    """Simplified Chinese unless the user picked another language with the header switch.

    The switch (``portal.views.set_language``) stores the choice in a cookie. Pages ignore the
    browser's Accept-Language — many phones in China are set to English while their owners
    expect the portal in Chinese; API clients may still ask for a language with it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = self._language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ["Cookie", "Accept-Language"])
        return response

    def _language(self, request: HttpRequest) -> str:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen and translation.check_for_language(chosen) and chosen in _supported():
            return translation.get_supported_language_variant(chosen)
        if request.path.startswith("/api/") and request.headers.get("Accept-Language"):
            return translation.get_language_from_request(request)
        return settings.LANGUAGE_CODE


def _supported() -> set[str]:
    return {code for code, _ in settings.LANGUAGES}


class SecurityHeadersMiddleware:
    """``Permissions-Policy`` on every response (``settings.PERMISSIONS_POLICY``), and
    ``Cache-Control: no-store`` on every response that may carry staff data: to a logged-in
    session, to a request with credentials (``Authorization: Token …``), and from the login
    and admin pages. Neither a shared computer's browser cache nor a proxy keeps them.
    (The Content-Security-Policy header comes from django-csp.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.permissions_policy = ", ".join(
            f"{feature}={allowlist}" for feature, allowlist in settings.PERMISSIONS_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        if self._private(request):
            add_never_cache_headers(response)
        return response

    @cached_property
    def _staff_prefixes(self) -> tuple[str, ...]:
        return (reverse("login"), reverse("admin:index"))

    def _private(self, request: HttpRequest) -> bool:
        if "HTTP_AUTHORIZATION" in request.META or request.path.startswith(self._staff_prefixes):
            return True
        user = getattr(request, "user", None)
        return user is not None and user.is_authenticated


class IdleSessionMiddleware:
    """Log a session out after ``settings.SESSION_IDLE_TIMEOUT`` without a request.

    The session keeps the time of its last request, written at login (``start_clock``,
    connected to ``user_logged_in``) and then at most once a minute. A request that comes
    later than the timeout finds the session logged out: a staff page redirects to the
    login page, and a message says why.
    """

    LAST_REQUEST = "portal_last_request"
    RESOLUTION_SECONDS = 60

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if SESSION_KEY in request.session:
            now = int(time.time())
            last = request.session.get(self.LAST_REQUEST)
            timeout = int(settings.SESSION_IDLE_TIMEOUT.total_seconds())
            if last is not None and now - last > timeout:
                logout(request)
                if request.path != reverse("login"):
                    messages.info(request, _idle_logout_message(timeout // 60))
            elif last is None or now - last >= self.RESOLUTION_SECONDS:
                request.session[self.LAST_REQUEST] = now
        return self.get_response(request)

    @classmethod
    def start_clock(cls, sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
        if request is not None and hasattr(request, "session"):
            request.session[cls.LAST_REQUEST] = int(time.time())


def _idle_logout_message(minutes: int) -> str:
    return ngettext(
        "You were logged out after %(minutes)d minute without activity. Please log in again.",
        "You were logged out after %(minutes)d minutes without activity. Please log in again.",
        minutes,
    ) % {"minutes": minutes}
