"""Django's error views (``handler400/403/404/500`` in ``portal.urls``): under ``/api/`` the
contract's JSON ``{"code", "message", "detail"}``, elsewhere the portal's error pages.

They answer what happens outside a DRF view — an unknown address, an id out of range in an
address (``portal.converters``), a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` read by
middleware, an unhandled exception. The JSON answers and the 400 and 500 pages need
neither the database nor the request's session (the 500 may be the database failing).
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _
from django.views import defaults

from .exceptions import describe_bad_request, error_body

__all__ = ["bad_request", "is_api", "page_not_found", "permission_denied", "server_error"]


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _json(status: int, code: str, message: str, detail: Any = None) -> JsonResponse:
    return JsonResponse(
        error_body(code, message, detail), status=status, json_dumps_params={"ensure_ascii": False}
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    status, code, message = describe_bad_request(exception)
    if is_api(request):
        return _json(status, code, message)
    # Standalone and rendered without the request: a disallowed Host must not be read again.
    html = loader.render_to_string("400.html", {"message": message, "status": status})
    return HttpResponse(html, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return _json(403, "permission_denied", _("You are not allowed to do this."))
    return defaults.permission_denied(request, exception)  # type: ignore[arg-type]


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return _json(404, "not_found", _("Not found."))
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return _json(
            500,
            "server_error",
            _("Something went wrong on the server. It has been logged; please try again later."),
        )
    return defaults.server_error(request)
