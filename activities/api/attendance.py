"""Volunteers' sign-up and QR check-in endpoints (API.md, "Activities"):

- ``POST /api/v1/activities/{id}/signup/`` → 201 attendance; ``DELETE`` → 204 (cancel);
- ``POST /api/v1/activities/{id}/check-in/`` and ``.../check-out/`` with
  ``{"key", "latitude", "longitude"}`` → 200 attendance.

Not part of :class:`~activities.api.views.ActivityViewSet` (staff-scoped): any logged-in
account may call them, and :mod:`activities.attendance` decides — a planned activity for
sign-up (else 404), the right key for check-in (else 404), the caller's own active
volunteer (else 403)."""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.schema import ErrorSerializer
from portal.errors import NotFound
from practice.models import User

from .. import attendance
from ..choices import ActivityStatus
from ..models import Activity, Attendance

__all__ = ["AttendanceSerializer", "CheckInView", "CheckOutView", "SignupView"]


class AttendanceSerializer(serializers.Serializer[Any]):
    """A volunteer's attendance of one activity."""

    activity = serializers.IntegerField(source="activity_id", read_only=True)
    signed_up_at = serializers.DateTimeField(read_only=True, allow_null=True)
    checked_in_at = serializers.DateTimeField(read_only=True, allow_null=True)
    checked_out_at = serializers.DateTimeField(read_only=True, allow_null=True)
    check_in_distance = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("Metres from the place (null: no position).")
    )
    check_out_distance = serializers.IntegerField(read_only=True, allow_null=True)
    hours = serializers.SerializerMethodField(
        help_text=_("The checked hours (decimal string) once checked out, else null.")
    )

    def get_hours(self, instance: Attendance) -> str | None:
        if instance.checked_in_at is None or instance.checked_out_at is None:
            return None
        return str(
            attendance.checked_hours(
                instance.activity, instance.checked_in_at, instance.checked_out_at
            )
        )


class CheckInSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(
        max_length=64, help_text=_("The key in the activity's QR code URL.")
    )
    latitude = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=_("The phone's position in degrees (optional, with longitude)."),
    )
    longitude = serializers.CharField(
        max_length=32, required=False, allow_null=True, allow_blank=True
    )


def _actor(request: Request) -> User:
    return cast(User, request.user)  # IsAuthenticated: a logged-in account


def _activity(pk: int, *, planned: bool = False) -> Activity:
    found = Activity.objects.select_related("unit").filter(pk=pk)
    if planned:
        found = found.filter(status=ActivityStatus.PLANNED)
    activity = found.first()
    if activity is None:
        raise NotFound()
    return activity


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad position, or too far from the place."),
    403: OpenApiResponse(ErrorSerializer, description="The caller is not an active volunteer."),
    404: OpenApiResponse(ErrorSerializer, description="No such activity (or wrong key)."),
    409: OpenApiResponse(ErrorSerializer, description="Full, closed, or done already."),
}


class SignupView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        summary="Sign up for a planned activity (volunteers)",
        request=None,
        responses={201: AttendanceSerializer, **ERRORS},
    )
    def post(self, request: Request, pk: int, **kwargs: Any) -> Response:
        row = attendance.signup(actor=_actor(request), activity=_activity(pk, planned=True))
        return Response(AttendanceSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a sign-up (before the start)",
        request=None,
        responses={204: None, **ERRORS},
    )
    def delete(self, request: Request, pk: int, **kwargs: Any) -> Response:
        attendance.signup_cancel(actor=_actor(request), activity=_activity(pk, planned=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class _KeyedView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    step = staticmethod(attendance.check_in)

    def post(self, request: Request, pk: int, **kwargs: Any) -> Response:
        body = CheckInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        row = self.step(
            actor=_actor(request),
            activity=_activity(pk),
            key=data["key"],
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
        )
        return Response(AttendanceSerializer(row).data)


class CheckInView(_KeyedView):
    step = staticmethod(attendance.check_in)

    @extend_schema(
        summary="Check in by the activity's QR key (volunteers)",
        request=CheckInSerializer,
        responses={200: AttendanceSerializer, **ERRORS},
    )
    def post(self, request: Request, pk: int, **kwargs: Any) -> Response:
        return super().post(request, pk, **kwargs)


class CheckOutView(_KeyedView):
    step = staticmethod(attendance.check_out)

    @extend_schema(
        summary="Check out by the activity's QR key; the checked time becomes proposed hours",
        request=CheckInSerializer,
        responses={200: AttendanceSerializer, **ERRORS},
    )
    def post(self, request: Request, pk: int, **kwargs: Any) -> Response:
        return super().post(request, pk, **kwargs)
