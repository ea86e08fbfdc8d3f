"""``/api/v1/volunteers/``: registration, approval and profiles (API.md, "Volunteers and
teams"). Thin: ``volunteers.selectors`` read, ``volunteers.services`` write."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from portal.api.fields import BoundedPrimaryKeyRelatedField
from portal.api.schema import ERROR_DESCRIPTIONS, ErrorSerializer
from portal.api.throttling import AnonRateThrottle
from portal.errors import ValidationFailed
from portal.validators import parse_id
from practice.models import Category, Unit, User

from .. import selectors, services
from ..choices import VolunteerStatus
from ..models import Volunteer

__all__ = [
    "VolunteerRegisterThrottle",
    "VolunteerSerializer",
    "VolunteerViewSet",
]

REGISTER_RATE = "10/hour"


class VolunteerRegisterThrottle(AnonRateThrottle):
    """Public registrations per client address (scope ``volunteer_register``), logged in
    or not; the rate defaults to 10 an hour where the settings name none."""

    scope = "volunteer_register"

    def get_rate(self) -> str | None:
        rates = cast("dict[str, str | None]", api_settings.DEFAULT_THROTTLE_RATES)
        return rates.get(self.scope, REGISTER_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class VolunteerSerializer(serializers.Serializer):
    """One volunteer. Input goes to the services as typed (they normalize and check it);
    ``phone`` is read back only to callers who may see it (``selectors.phone_visible``)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200, trim_whitespace=False)
    id_number = serializers.CharField(max_length=64, write_only=True)
    id_number_masked = serializers.CharField(read_only=True)
    phone = serializers.CharField(max_length=32, write_only=True)
    phone_masked = serializers.CharField(read_only=True)
    volunteer_number = serializers.CharField(source="number", read_only=True)
    gender = serializers.CharField(read_only=True)
    birth_date = serializers.DateField(read_only=True)
    unit = BoundedPrimaryKeyRelatedField(queryset=Unit.objects.all())
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    user = serializers.IntegerField(source="user_id", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=VolunteerStatus.choices, required=False)
    status_reason = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, trim_whitespace=False
    )
    teams = serializers.SerializerMethodField()
    total_hours = serializers.DecimalField(
        source="confirmed_hours", max_digits=9, decimal_places=2, read_only=True
    )
    star_level = serializers.IntegerField(read_only=True)
    points_balance = serializers.IntegerField(read_only=True)
    skills = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    categories = BoundedPrimaryKeyRelatedField(
        queryset=Category.objects.filter(is_active=True), many=True, required=False
    )
    available_time = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    guardian_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    guardian_phone = serializers.CharField(
        max_length=32, required=False, allow_blank=True, write_only=True
    )
    guardian_consent = serializers.BooleanField(required=False)
    self_registered = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def get_teams(self, volunteer: Volunteer) -> list[int]:
        memberships = getattr(volunteer, "active_memberships", None)
        if memberships is None:
            memberships = volunteer.memberships.filter(status="active")
        return [m.team_id for m in memberships]

    def to_representation(self, instance: Volunteer) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and selectors.phone_visible(request.user, instance):
            data["phone"] = instance.phone
        return data


class VolunteerRegisterSerializer(VolunteerSerializer):
    password = serializers.CharField(max_length=256, write_only=True, trim_whitespace=False)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, allow_blank=True, trim_whitespace=False)


class RevealedIdSerializer(serializers.Serializer):
    id_number = serializers.CharField()


# Actions without input still parse whatever body is sent (too large: 413; the project's
# contract declares 413 and 415 on every write).
_BODY_ERRORS: dict[int, Any] = {
    status_code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[str(status_code)])
    for status_code in (413, 415)
}


class IsAuthenticatedExceptRegister(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if getattr(view, "action", None) == "register":
            return True
        return bool(request.user and request.user.is_authenticated)


@extend_schema_view(
    list=extend_schema(
        summary="Volunteers in the caller's scope (a volunteer: their own record)",
        parameters=[
            OpenApiParameter("status", str, enum=VolunteerStatus.values),
            OpenApiParameter("unit", int, description="home unit exactly"),
            OpenApiParameter("within", int, description="home unit in this unit's subtree"),
            OpenApiParameter("q", str, description="name, volunteer number, ID or mobile"),
        ],
    ),
    retrieve=extend_schema(summary="One volunteer"),
    create=extend_schema(summary="Register a volunteer (staff): active at once"),
    partial_update=extend_schema(summary="Edit a volunteer, or change their status"),
)
class VolunteerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = VolunteerSerializer
    permission_classes = [IsAuthenticatedExceptRegister]
    http_method_names = ["get", "post", "patch", "head", "options"]

    @property
    def actor(self) -> User:
        return cast(User, self.request.user)

    def _unit_param(self, name: str) -> Unit | None:
        raw = self.request.query_params.get(name)
        if not raw:
            return None
        try:
            pk = parse_id(raw)
        except DjangoValidationError as exc:
            raise ValidationFailed(detail={name: exc.messages}) from exc
        unit = Unit.objects.filter(pk=pk).first()
        if unit is None:
            raise ValidationFailed(detail={name: ["Unknown unit."]})
        return unit

    def get_queryset(self) -> QuerySet[Volunteer]:
        user = self.request.user
        if self.action != "list":
            return selectors.with_list_relations(selectors.volunteers_visible(user))
        params = self.request.query_params
        status_filter = params.get("status", "")
        if status_filter and status_filter not in VolunteerStatus.values:
            raise ValidationFailed(detail={"status": ["Unknown status."]})
        queryset = selectors.volunteers_visible(
            user,
            q=params.get("q", "")[:100],
            status=status_filter,
            within=self._unit_param("within"),
        )
        unit = self._unit_param("unit")
        if unit is not None:
            queryset = queryset.filter(unit=unit)
        # A list never decrypts ID numbers (the masked form is stored beside them).
        return selectors.with_list_relations(queryset.defer("id_number", "guardian_phone"))

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        data.pop("status", None)
        data.pop("status_reason", None)
        serializer.instance = services.volunteer_create(actor=self.actor, data=data)

    def perform_update(self, serializer: Any) -> None:
        volunteer = serializer.instance
        data = dict(serializer.validated_data)
        new_status = data.pop("status", None)
        reason = data.pop("status_reason", "")
        if data.pop("id_number", None) is not None:
            raise ValidationFailed(
                detail={"id_number": ["The ID number cannot be changed; register anew."]}
            )
        with transaction.atomic():
            if data:
                volunteer = services.volunteer_update(
                    actor=self.actor, volunteer=volunteer, data=data
                )
            if new_status is not None and new_status != volunteer.status:
                volunteer = services.volunteer_set_status(
                    actor=self.actor, volunteer=volunteer, status=new_status, reason=reason
                )
        serializer.instance = self._fresh(volunteer)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    def _fresh(self, volunteer: Volunteer) -> Volunteer:
        # Moved out of the caller's scope by the change: answer with what was written.
        return self.get_queryset().filter(pk=volunteer.pk).first() or volunteer

    def _reply(self, volunteer: Volunteer) -> Response:
        return Response(self.get_serializer(self._fresh(volunteer)).data)

    @extend_schema(
        summary="Public self-registration: the volunteer awaits approval",
        request=VolunteerRegisterSerializer,
        responses={201: VolunteerSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        permission_classes=[permissions.AllowAny],
        throttle_classes=[VolunteerRegisterThrottle],
    )
    def register(self, request: Request) -> Response:
        serializer = VolunteerRegisterSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("status", None)
        data.pop("status_reason", None)
        actor = request.user if request.user.is_authenticated else None
        volunteer = services.volunteer_register(data=data, actor=cast("User | None", actor))
        volunteer = Volunteer.objects.select_related("unit").get(pk=volunteer.pk)
        reply = VolunteerSerializer(volunteer, context={"request": request}).data
        return Response(reply, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Approve a pending registration",
        request=None,
        responses={200: VolunteerSerializer, **_BODY_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: int | None = None) -> Response:
        volunteer = services.volunteer_approve(actor=self.actor, volunteer=self.get_object())
        return self._reply(volunteer)

    @extend_schema(summary="Reject a pending registration, with a reason", request=RejectSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: int | None = None) -> Response:
        body = RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        volunteer = services.volunteer_reject(
            actor=self.actor, volunteer=self.get_object(), reason=body.validated_data["reason"]
        )
        return self._reply(volunteer)

    @extend_schema(
        summary="The full ID number (permission volunteers.reveal_id_number; audited)",
        request=None,
        responses={200: RevealedIdSerializer, **_BODY_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="reveal-id")
    def reveal_id(self, request: Request, pk: int | None = None) -> Response:
        number = services.volunteer_reveal_id(actor=self.actor, volunteer=self.get_object())
        response = Response({"id_number": number})
        response["Cache-Control"] = "no-store"
        return response
