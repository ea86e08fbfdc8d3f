"""REST API v1 of the practice network: thin views over selectors and services."""

from typing import Any

from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from portal.errors import ApplicationError
from portal.http import ActorMixin

from .. import selectors, services, spreadsheets
from ..filtersets import UnitFilterSet
from ..models import Category, RoleAssignment, Unit, User
from ..permissions import Action, require
from .serializers import (
    CategorySerializer,
    RoleAssignmentSerializer,
    StatsQuerySerializer,
    TokenRequestSerializer,
    TokenSerializer,
    UnitImportResultSerializer,
    UnitImportSerializer,
    UnitSerializer,
    UnitStatsSerializer,
    UserSerializer,
)

__all__ = ["CategoryViewSet", "RoleViewSet", "TokenView", "UnitViewSet", "UserViewSet"]


class TokenView(APIView):
    """Exchange a username and password for an API token."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer})
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None:
            raise ApplicationError(
                _("The username or password is wrong, or the account is disabled."),
                code="invalid_credentials",
            )
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


# Multipart framing around an uploaded file: boundaries, part headers, the file's name.
MULTIPART_SLACK = 64 * 1024


class ReadPublicWriteAuthenticated(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or bool(
            request.user and request.user.is_authenticated
        )


@extend_schema_view(
    list=extend_schema(
        summary="List units (public: active units; staff: plus inactive ones in scope)"
    ),
    retrieve=extend_schema(summary="One unit"),
    create=extend_schema(summary="Create a unit"),
    partial_update=extend_schema(summary="Edit, move, deactivate a unit"),
    destroy=extend_schema(summary="Delete a unit with no sub-units and no records"),
)
class UnitViewSet(ActorMixin, viewsets.ModelViewSet):
    serializer_class = UnitSerializer
    permission_classes = [ReadPublicWriteAuthenticated]
    filterset_class = UnitFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Unit]:
        if self.action in ("list", "retrieve"):
            return selectors.units_visible(self.request.user).order_by("tree_id", "lft")
        # Writes and statistics: only units inside the caller's staff scope exist (404).
        return Unit.objects.for_user(self.request.user, Action.VIEW)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        units = list(page if page is not None else queryset)
        serializer = self.get_serializer(
            units,
            many=True,
            context={**self.get_serializer_context(), "paths": selectors.unit_paths(units)},
        )
        if page is not None:
            return self.get_paginated_response(serializer.data)
        return Response(serializer.data)

    def perform_create(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        parent = data.pop("parent", None)
        serializer.instance = services.unit_create(actor=self.actor, parent=parent, **data)

    def perform_update(self, serializer: Any) -> None:
        unit = serializer.instance
        data = dict(serializer.validated_data)
        # One PATCH may call up to three services; a refusal by a later one must undo the
        # earlier ones, or a 400 would leave the unit half changed.
        with transaction.atomic():
            if "parent" in data:
                parent = data.pop("parent")
                if parent != unit.parent:
                    unit = services.unit_move(actor=self.actor, unit=unit, parent=parent)
            is_active = data.pop("is_active", None)
            if data:
                unit = services.unit_update(actor=self.actor, unit=unit, data=data)
            if is_active is not None:
                unit = services.unit_set_active(actor=self.actor, unit=unit, active=is_active)
        serializer.instance = unit

    def perform_destroy(self, instance: Unit) -> None:
        services.unit_delete(actor=self.actor, unit=instance)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="YYYY-MM-DD"),
            OpenApiParameter("to", str, description="YYYY-MM-DD"),
        ],
        responses={200: UnitStatsSerializer},
    )
    @action(detail=True, methods=["get"], permission_classes=[permissions.IsAuthenticated])
    def stats(self, request: Request, pk: str | None = None) -> Response:
        unit = self.get_object()
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = selectors.unit_stats(
            unit, date_from=query.validated_data.get("from"), date_to=query.validated_data.get("to")
        )
        return Response(data)

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # The export answers a workbook whatever the client says it accepts (its errors
        # are JSON); a strict Accept header must not turn a download into a 406.
        return super().perform_content_negotiation(request, force=force or self.action == "export")

    @extend_schema(
        summary="Export the units below this one as an Excel workbook",
        description=(
            "The active units below this one, in tree order, one per row; the parent column "
            "names each unit's parent (empty: this unit), so the file imports back under "
            "another unit of the same kind."
        ),
        responses={
            (200, spreadsheets.XLSX_CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY, description="The workbook (.xlsx)."
            )
        },
    )
    @action(detail=True, methods=["get"], permission_classes=[permissions.IsAuthenticated])
    def export(self, request: Request, pk: str | None = None) -> HttpResponse:
        unit = self.get_object()
        return spreadsheets.download(unit, selectors.units_for_export(unit))

    @extend_schema(
        summary="Create units under this one from an Excel workbook (all or nothing)",
        description=(
            "Multipart upload, field `file`. One row per unit, laid out as the export; a row "
            "whose parent is empty goes directly under this unit, any other under the unit of "
            "that name in an earlier row. Any problem rejects the whole file."
        ),
        request={"multipart/form-data": UnitImportSerializer},
        responses={
            201: UnitImportResultSerializer,
            400: OpenApiResponse(
                description=(
                    "`invalid_file`: not a readable .xlsx, an empty sheet, a required column "
                    "missing, more than 5,000 rows (`detail.file`); `invalid_import`: the "
                    "problems of the rows, each naming its row (`detail.non_field_errors`)."
                )
            ),
            413: OpenApiResponse(description="`file_too_large`: the file is over 5 MB."),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[MultiPartParser],
        permission_classes=[permissions.IsAuthenticated],
    )
    def import_units(self, request: Request, pk: str | None = None) -> Response:
        unit = self.get_object()
        require(self.actor, Action.ADD_CHILD, unit)
        # Refuse an oversized body from its declared length, before reading it.
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit():
            spreadsheets.check_size(int(declared) - MULTIPART_SLACK)
        upload = UnitImportSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        nodes = services.unit_import_rows(
            actor=self.actor, parent=unit, rows=upload.validated_data["file"]
        )
        result = {"created": len(nodes), "units": [n.pk for n in nodes if n.parent_id == unit.pk]}
        return Response(result, status=status.HTTP_201_CREATED)


class CategoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The service platforms (public)."""

    serializer_class = CategorySerializer
    permission_classes = [permissions.AllowAny]
    pagination_class = None

    def get_queryset(self) -> QuerySet[Category]:
        return selectors.categories()


class RoleViewSet(
    ActorMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Roles on units. A role covers the unit's subtree; coordinators grant and revoke."""

    serializer_class = RoleAssignmentSerializer
    filterset_fields = ["user", "unit", "role"]

    def get_queryset(self) -> QuerySet[RoleAssignment]:
        return selectors.role_assignments_for(self.request.user)

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = services.role_grant(
            actor=self.actor, user=data["user"], unit=data["unit"], role=data["role"]
        )

    def perform_destroy(self, instance: RoleAssignment) -> None:
        services.role_revoke(actor=self.actor, assignment=instance)


class UserViewSet(
    ActorMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Staff accounts: coordinators create and disable the accounts of those under them."""

    serializer_class = UserSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[User]:
        roles = Prefetch("role_assignments", queryset=RoleAssignment.objects.select_related("unit"))
        return selectors.users_in_scope(self.actor).prefetch_related(roles).order_by("username")

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = services.user_create(
            actor=self.actor,
            username=data["username"],
            password=data["password"],
            name=data.get("name", ""),
            phone=data.get("phone", ""),
            unit=data.get("unit"),
            role=data.get("role"),
        )

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = services.user_update(
            actor=self.actor, user=serializer.instance, data=serializer.validated_data
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().update(request, *args, **kwargs)
        user = self.get_queryset().get(pk=response.data["id"])
        response.data = self.get_serializer(user).data
        return response

    @extend_schema(responses={200: UserSerializer})
    @action(detail=False, methods=["get"])
    def me(self, request: Request) -> Response:
        user = User.objects.prefetch_related(
            Prefetch("role_assignments", queryset=RoleAssignment.objects.select_related("unit"))
        ).get(pk=self.actor.pk)
        return Response(self.get_serializer(user).data)
