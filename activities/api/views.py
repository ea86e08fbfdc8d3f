"""``/api/v1/activities/`` (API.md, "Activities"). Thin: :mod:`activities.selectors` read,
:mod:`activities.services` write. Activities outside the caller's staff view are 404;
inside it, a transition the caller may not make is 403 (the services say why)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portal.http import ActorMixin

from .. import selectors, services
from ..filtersets import ActivityFilterSet
from ..models import Activity
from .serializers import ActivityReturnSerializer, ActivitySerializer

__all__ = ["ActivityViewSet"]


@extend_schema_view(
    list=extend_schema(summary="Activities of the caller's units (staff)"),
    retrieve=extend_schema(summary="One activity with its participants"),
    create=extend_schema(summary="Plan or log an activity (managers, coordinators)"),
    partial_update=extend_schema(summary="Edit an activity while planned, draft or returned"),
)
class ActivityViewSet(
    ActorMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ActivitySerializer
    filterset_class = ActivityFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Activity]:
        return selectors.activities_in_scope(self.request.user)

    def _answer(self, activity: Activity, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.activities_in_scope(self.actor).get(pk=activity.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def perform_create(self, serializer: Any) -> None:
        activity = services.activity_create(actor=self.actor, data=dict(serializer.validated_data))
        serializer.instance = selectors.activities_in_scope(self.actor).get(pk=activity.pk)

    def perform_update(self, serializer: Any) -> None:
        activity = services.activity_update(
            actor=self.actor, activity=serializer.instance, data=dict(serializer.validated_data)
        )
        serializer.instance = selectors.activities_in_scope(self.actor).get(pk=activity.pk)

    @extend_schema(
        summary="Submit for review (creates pending service records)",
        request=None,
        responses={200: ActivitySerializer},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        activity = services.activity_submit(actor=self.actor, activity=self.get_object())
        return self._answer(activity)

    @extend_schema(
        summary="Approve (a coordinator strictly above; confirms the service records)",
        request=None,
        responses={200: ActivitySerializer},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        activity = services.activity_approve(actor=self.actor, activity=self.get_object())
        return self._answer(activity)

    @extend_schema(
        summary="Return with a reason (a coordinator strictly above; voids pending records)",
        request=ActivityReturnSerializer,
        responses={200: ActivitySerializer},
    )
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request: Request, pk: str | None = None) -> Response:
        activity = self.get_object()
        body = ActivityReturnSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        activity = services.activity_return(
            actor=self.actor, activity=activity, reason=body.validated_data["reason"]
        )
        return self._answer(activity)
