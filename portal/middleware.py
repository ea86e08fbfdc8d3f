"""Turn the service layer's scope errors into the pages' 404 and 403."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from portal.errors import NotFound, PermissionDenied

__all__ = ["ApplicationErrorMiddleware", "LanguageMiddleware"]


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

    The switch (Django's ``set_language``) stores the choice in a cookie. Pages ignore the
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
