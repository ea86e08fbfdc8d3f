"""What a locked-out login sees (django-axes calls this after too many failures)."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import ngettext

from portal.api.exceptions import error_body

__all__ = ["lockout_response"]


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = ngettext(
        "Too many failed logins. Wait %(minutes)d minute and try again, "
        "or ask your coordinator to reset your password.",
        "Too many failed logins. Wait %(minutes)d minutes and try again, "
        "or ask your coordinator to reset your password.",
        minutes,
    ) % {"minutes": minutes}
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("locked_out", message, {"wait_minutes": [str(minutes)]}), status=429
        )
    return render(request, "registration/locked_out.html", {"message": message}, status=429)
