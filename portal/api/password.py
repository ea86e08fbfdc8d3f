"""``/api/v1/auth/password-reset/``: "forgot password" of a volunteer account by a code
texted to its phone (:mod:`portal.password_reset`). Public, throttled per client address."""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from portal import password_reset
from portal.api.throttling import AnonRateThrottle

__all__ = [
    "PasswordResetConfirmThrottle",
    "PasswordResetConfirmView",
    "PasswordResetThrottle",
    "PasswordResetView",
]

# Used where the settings name no rate for the scope (e.g. the test settings).
DEFAULT_RATES = {"password_reset": "10/hour", "password_reset_confirm": "30/hour"}


class _ScopedThrottle(AnonRateThrottle):
    """Per client address, logged in or not; pages use it too (``check``)."""

    def get_rate(self) -> str | None:
        rates = cast("dict[str, str | None]", api_settings.DEFAULT_THROTTLE_RATES)
        scope = str(self.scope)
        return rates.get(scope, DEFAULT_RATES[scope])

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PasswordResetThrottle(_ScopedThrottle):
    """Code requests (scope ``password_reset``)."""

    scope = "password_reset"


class PasswordResetConfirmThrottle(_ScopedThrottle):
    """New passwords with a code (scope ``password_reset_confirm``)."""

    scope = "password_reset_confirm"


class PasswordResetSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32, trim_whitespace=False)


class PasswordResetConfirmSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32, trim_whitespace=False)
    code = serializers.CharField(max_length=16)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


_Message = inline_serializer("PasswordResetReply", {"message": serializers.CharField()})


class PasswordResetView(APIView):
    """Ask for a code: 202 whether or not the number has an account."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [PasswordResetThrottle, AnonRateThrottle]

    @extend_schema(
        summary="Forgot password: text a one-time code to a volunteer's phone",
        request=PasswordResetSerializer,
        responses={202: _Message},
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset.request_reset(phone=serializer.validated_data["phone"])
        return Response({"message": password_reset.sent_message()}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    """Set a new password with the code: 200, or 400 ``invalid_code`` / ``weak_password``."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [PasswordResetConfirmThrottle, AnonRateThrottle]

    @extend_schema(
        summary="Forgot password: set a new password with the texted code",
        request=PasswordResetConfirmSerializer,
        responses={200: _Message},
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        password_reset.reset_password(
            phone=data["phone"], code=data["code"], password=data["password"]
        )
        return Response({"message": _("Your password was changed. Log in with the new one.")})
