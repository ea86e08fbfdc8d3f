"""Account pages shared by every kind of user; the language and display switches."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import display

__all__ = ["LoginForm", "PasswordChangeView", "local_next", "set_display", "set_language"]


def local_next(request: HttpRequest) -> str:
    """The ``next`` parameter of a header switch if it is an address on this site (a path,
    not ``//elsewhere`` nor a scheme), else ``/``: the switches never redirect away."""
    next_url = request.GET.get("next", "")
    if next_url.startswith("/") and url_has_allowed_host_and_scheme(next_url, allowed_hosts=None):
        return next_url
    return "/"


@require_GET
@never_cache
def set_language(request: HttpRequest) -> HttpResponse:
    """The header's language switch: ``?language=en&next=/units/`` stores the choice in the
    language cookie (read by ``portal.middleware.LanguageMiddleware``) and goes back to
    ``next``, a local address only.

    A GET form rather than Django's POST view: the switch is on every page, and a POST
    form would put the visitor's CSRF token into the public pages, which are cached and
    served to everyone (``portal.cache``). Choosing a language changes no data.
    """
    language = request.GET.get("language", "")
    response = HttpResponseRedirect(local_next(request))
    if language in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    return response


@require_GET
@never_cache
def set_display(request: HttpRequest) -> HttpResponse:
    """The header's display switch: ``?mode=elder&next=/find/`` stores the elder-friendly
    (or ``standard``) display in a long-lived cookie (``portal.display``) and goes back to
    ``next``, a local address only. A GET link, for the same reason as the language switch.
    """
    mode = request.GET.get("mode", "")
    response = HttpResponseRedirect(local_next(request))
    if mode in display.MODES:
        response.set_cookie(
            display.COOKIE_NAME,
            mode,
            max_age=display.COOKIE_AGE,
            path="/",
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return response


class LoginForm(AuthenticationForm):
    """Django's login form, saying what volunteers type: their mobile number
    (``volunteers.auth.PhoneBackend``) or their volunteer number (the username)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = gettext_lazy("Username or mobile number")
        self.fields["username"].widget.attrs["autocomplete"] = "username"


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's own password (the coordinator sets the first one); stays logged in."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("dashboard")

    def form_valid(self, form: Any) -> HttpResponse:
        # The one path for a new password of one's own (pages and API): it also deletes
        # the API token, and other sessions end with the old password hash.
        from practice import services

        user = services.password_change_own(
            user=form.user,
            old_password=form.cleaned_data["old_password"],
            new_password=form.cleaned_data["new_password1"],
        )
        update_session_auth_hash(self.request, user)
        messages.success(self.request, _("Your password was changed."))
        return HttpResponseRedirect(self.get_success_url())
