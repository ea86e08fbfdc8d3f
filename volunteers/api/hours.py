"""``/api/v1/service-records/`` and ``/api/v1/points/``: thin views over
``volunteers.hours`` and ``volunteers.points``.

A confirmed record is never edited or deleted: the records endpoint answers PUT, PATCH and
DELETE with 405; corrections and voids are their own POSTs.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.fields import BoundedPrimaryKeyRelatedField, PlainTextField
from portal.api.serializers import ModelSerializer
from portal.filters import IdFilter
from portal.http import ActorMixin
from portal.validators import MULTILINE
from practice.models import Category, Unit, User
from practice.permissions import Action, scope_q

from .. import hours, points
from ..models import PointsEntry, ServiceRecord, Volunteer

__all__ = ["PointsViewSet", "ServiceRecordViewSet"]


def _name(user: User | None) -> str | None:
    if user is None:
        return None
    return user.display_name or user.username


class ServiceRecordSerializer(ModelSerializer):
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True)
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    category: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    recorded_by_name = serializers.SerializerMethodField()
    confirmed_by_name = serializers.SerializerMethodField()

    class Meta:
        model = ServiceRecord
        fields = [
            "id",
            "volunteer",
            "volunteer_name",
            "date",
            "start_time",
            "end_time",
            "hours",
            "category",
            "content",
            "status",
            "source",
            "source_id",
            "unit",
            "unit_name",
            "corrects",
            "reason",
            "recorded_by_name",
            "confirmed_by_name",
            "confirmed_at",
            "void_reason",
        ]
        read_only_fields = fields

    def get_recorded_by_name(self, obj: ServiceRecord) -> str | None:
        return _name(obj.recorded_by)

    def get_confirmed_by_name(self, obj: ServiceRecord) -> str | None:
        return _name(obj.confirmed_by)


def _actor(serializer: serializers.Serializer[Any]) -> Any:
    request = serializer.context.get("request")
    return request.user if request is not None else None


class RecordCreateSerializer(serializers.Serializer[Any]):
    """A manual entry. ``volunteer``: a volunteer in the caller's staff view; ``unit``: the
    organizing unit (RECORD_HOURS there); ``hours``: 0 < h ≤ 24, two decimals at most."""

    volunteer = BoundedPrimaryKeyRelatedField(queryset=Volunteer.objects.none())
    unit = BoundedPrimaryKeyRelatedField(queryset=Unit.objects.none())
    date = serializers.DateField()
    hours = serializers.CharField(help_text=_('A decimal number, e.g. "1.5".'))
    category = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Category.objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    start_time = serializers.TimeField(required=False, allow_null=True)
    end_time = serializers.TimeField(required=False, allow_null=True)
    content = PlainTextField(required=False, allow_blank=True, max_length=200)
    reason = PlainTextField(rules=MULTILINE, allow_blank=True, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = _actor(self)
        self.fields["volunteer"].queryset = Volunteer.objects.filter(  # type: ignore[attr-defined]
            scope_q(user, Action.VIEW, prefix="unit__")
        ).select_related("unit")
        self.fields["unit"].queryset = Unit.objects.for_user(  # type: ignore[attr-defined]
            user, Action.VIEW
        )


class VoidSerializer(serializers.Serializer[Any]):
    reason = PlainTextField(rules=MULTILINE, allow_blank=True, max_length=500)


class CorrectSerializer(serializers.Serializer[Any]):
    hours = serializers.CharField()
    date = serializers.DateField(required=False, allow_null=True)
    reason = PlainTextField(rules=MULTILINE, allow_blank=True, max_length=500)


@extend_schema_view(
    list=extend_schema(summary="Service records the caller may read (a volunteer: their own)"),
    retrieve=extend_schema(summary="One service record"),
    create=extend_schema(
        summary="Record hours by hand (pending until someone else confirms)",
        request=RecordCreateSerializer,
        responses={201: ServiceRecordSerializer},
    ),
)
class ServiceRecordViewSet(
    ActorMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ServiceRecordSerializer
    filterset_class = hours.RecordFilterSet
    # Confirmed records are never edited or deleted: no PUT, PATCH or DELETE (405).
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[ServiceRecord]:
        return hours.records_in_scope(self.request.user)

    def _answer(self, record: ServiceRecord, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=record.pk)
        return Response(ServiceRecordSerializer(fresh).data, status=code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = RecordCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        record = hours.record_create(
            actor=self.actor,
            volunteer=data["volunteer"],
            unit=data["unit"],
            date=data["date"],
            hours=data["hours"],
            category=data.get("category"),
            content=data.get("content", ""),
            start_time=data.get("start_time"),
            end_time=data.get("end_time"),
            reason=data.get("reason", ""),
        )
        return self._answer(record, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Confirm a pending record (not by the person who recorded it)",
        request=None,
        responses={200: ServiceRecordSerializer},
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        record = hours.record_confirm(actor=self.actor, record=self.get_object())
        return self._answer(record)

    @extend_schema(
        summary="Void a record (pending: its unit's staff; confirmed: a coordinator above)",
        request=VoidSerializer,
        responses={200: ServiceRecordSerializer},
    )
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: str | None = None) -> Response:
        record = self.get_object()
        body = VoidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        record = hours.record_void(
            actor=self.actor, record=record, reason=body.validated_data["reason"]
        )
        return self._answer(record)

    @extend_schema(
        summary="Correct a confirmed record: a new pending record that voids it once confirmed",
        request=CorrectSerializer,
        responses={201: ServiceRecordSerializer},
    )
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: str | None = None) -> Response:
        record = self.get_object()
        body = CorrectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        correction = hours.record_correct(
            actor=self.actor,
            record=record,
            hours=data["hours"],
            date=data.get("date"),
            reason=data["reason"],
        )
        return self._answer(correction, status.HTTP_201_CREATED)


# --- points ---------------------------------------------------------------------------------


class PointsEntrySerializer(ModelSerializer):
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True)
    unit_name = serializers.CharField(source="unit.name", read_only=True, default=None)
    actor_name = serializers.SerializerMethodField()

    class Meta:
        model = PointsEntry
        fields = [
            "id",
            "volunteer",
            "volunteer_name",
            "kind",
            "points",
            "balance",
            "unit",
            "unit_name",
            "record",
            "item",
            "reason",
            "actor_name",
            "at",
        ]
        read_only_fields = fields

    def get_actor_name(self, obj: PointsEntry) -> str | None:
        return _name(obj.actor)


class PointsFilterSet(django_filters.FilterSet):
    volunteer = IdFilter(label=_("volunteer"), field_name="volunteer_id")

    class Meta:
        model = PointsEntry
        fields = ["volunteer"]


class RedeemSerializer(serializers.Serializer[Any]):
    volunteer = BoundedPrimaryKeyRelatedField(queryset=Volunteer.objects.none())
    unit = BoundedPrimaryKeyRelatedField(queryset=Unit.objects.none())
    item = PlainTextField(max_length=100)
    points = serializers.IntegerField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = _actor(self)
        trees = points.shop_units(user).values("tree_id")
        self.fields["volunteer"].queryset = Volunteer.objects.filter(  # type: ignore[attr-defined]
            unit__tree_id__in=trees
        ).select_related("unit")
        self.fields["unit"].queryset = Unit.objects.for_user(  # type: ignore[attr-defined]
            user, Action.VIEW
        )


class AdjustSerializer(serializers.Serializer[Any]):
    volunteer = BoundedPrimaryKeyRelatedField(queryset=Volunteer.objects.none())
    points = serializers.IntegerField()
    reason = PlainTextField(rules=MULTILINE, allow_blank=True, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["volunteer"].queryset = Volunteer.objects.filter(  # type: ignore[attr-defined]
            scope_q(_actor(self), Action.VIEW, prefix="unit__")
        ).select_related("unit")


class RateSerializer(serializers.Serializer[Any]):
    unit = BoundedPrimaryKeyRelatedField(queryset=Unit.objects.none())
    points_per_hour = serializers.IntegerField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.for_user(  # type: ignore[attr-defined]
            _actor(self), Action.VIEW
        )


class RateAnswerSerializer(serializers.Serializer[Any]):
    unit = serializers.IntegerField()
    points_per_hour = serializers.IntegerField()


@extend_schema_view(
    list=extend_schema(summary="Points ledger (a volunteer: their own), newest first"),
)
class PointsViewSet(ActorMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = PointsEntrySerializer
    filterset_class = PointsFilterSet

    def get_queryset(self) -> QuerySet[PointsEntry]:
        return points.ledger_in_scope(self.request.user)

    def _entry(self, entry: PointsEntry) -> Response:
        fresh = self.get_queryset().get(pk=entry.pk)
        return Response(PointsEntrySerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Record a redemption at a station's points shop",
        request=RedeemSerializer,
        responses={201: PointsEntrySerializer},
    )
    @action(detail=False, methods=["post"])
    def redeem(self, request: Request) -> Response:
        body = RedeemSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        entry = points.points_redeem(
            actor=self.actor,
            volunteer=data["volunteer"],
            unit=data["unit"],
            item=data["item"],
            points=data["points"],
        )
        return self._entry(entry)

    @extend_schema(
        summary="Award (+) or deduct (−) points, with a reason",
        request=AdjustSerializer,
        responses={201: PointsEntrySerializer},
    )
    @action(detail=False, methods=["post"])
    def adjust(self, request: Request) -> Response:
        body = AdjustSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        entry = points.points_adjust(
            actor=self.actor,
            volunteer=data["volunteer"],
            points=data["points"],
            reason=data["reason"],
        )
        return self._entry(entry)

    @extend_schema(
        summary="Set the points a confirmed hour earns in a unit's subtree",
        request=RateSerializer,
        responses={200: RateAnswerSerializer},
    )
    @action(detail=False, methods=["post"])
    def rate(self, request: Request) -> Response:
        body = RateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        rate = points.points_rate_set(
            actor=self.actor,
            unit=body.validated_data["unit"],
            points_per_hour=body.validated_data["points_per_hour"],
        )
        return Response({"unit": rate.unit_id, "points_per_hour": rate.points_per_hour})
