""" "Forgot password" pages of volunteer accounts (:mod:`portal.password_reset`):
``/accounts/password/forgot/`` asks for the phone number and texts a code,
``/accounts/password/forgot/reset/`` takes the number, the code and a new password.

The number is typed again on the second page rather than carried over: it never goes
into an address or the session. Both pages share the API's per-address limits.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from portal import password_reset
from portal.api.password import PasswordResetConfirmThrottle, PasswordResetThrottle
from portal.errors import ValidationFailed

__all__ = ["password_forgot", "password_forgot_reset"]


def _phone_field() -> forms.CharField:
    return forms.CharField(
        label=gettext_lazy("Mobile number"),
        max_length=32,
        help_text=gettext_lazy("The number you registered as a volunteer with."),
        widget=forms.TextInput(
            attrs={"inputmode": "tel", "autocomplete": "tel", "autofocus": True}
        ),
    )


class PasswordForgotForm(forms.Form):
    phone = _phone_field()


class PasswordResetForm(forms.Form):
    phone = _phone_field()
    code = forms.CharField(
        label=gettext_lazy("Code from the text message"),
        max_length=16,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9]*",
            }
        ),
    )
    password1 = forms.CharField(
        label=gettext_lazy("New password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=gettext_lazy("New password again"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        return data


def _apply(form: forms.Form, error: ValidationFailed) -> None:
    """Show a service's refusal on the form's fields (``password`` → ``password1``)."""
    for field, messages_ in error.detail.items():
        name = "password1" if field == "password" else field
        for message in messages_:
            form.add_error(name if name in form.fields else None, message)
    if not error.detail:
        form.add_error(None, str(error.message))


def _throttled(request: HttpRequest, throttle: Any) -> bool:
    return not throttle.allow_request(request, None)


@never_cache
@require_http_methods(["GET", "POST"])
def password_forgot(request: HttpRequest) -> HttpResponse:
    form = PasswordForgotForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if _throttled(request, PasswordResetThrottle()):
            form.add_error(None, _("Too many requests from your address; try again later."))
            status = 429
        else:
            try:
                password_reset.request_reset(phone=form.cleaned_data["phone"])
            except ValidationFailed as exc:
                _apply(form, exc)
            else:
                messages.info(request, password_reset.sent_message())
                return HttpResponseRedirect(reverse("password-forgot-reset"))
    return render(request, "registration/password_forgot.html", {"form": form}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def password_forgot_reset(request: HttpRequest) -> HttpResponse:
    form = PasswordResetForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if _throttled(request, PasswordResetConfirmThrottle()):
            form.add_error(None, _("Too many requests from your address; try again later."))
            status = 429
        else:
            try:
                password_reset.reset_password(
                    phone=form.cleaned_data["phone"],
                    code=form.cleaned_data["code"],
                    password=form.cleaned_data["password1"],
                )
            except ValidationFailed as exc:
                _apply(form, exc)
            else:
                messages.success(request, _("Your password was changed. Log in with the new one."))
                return HttpResponseRedirect(reverse("login"))
    return render(request, "registration/password_forgot_reset.html", {"form": form}, status=status)
