"""REST API v1 of the practice network: thin views over selectors and services."""

from typing import Any

from django.contrib.auth import authenticate, update_session_auth_hash
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.authentication import issue_token, token_expires_at
from portal.api.throttling import AnonRateThrottle, LoginFailureThrottle
from portal.cache import NETWORK
from portal.db_router import reads_from_replica
from portal.errors import ApplicationError
from portal.errors import PermissionDenied as ApplicationPermissionDenied
from portal.http import ActorMixin

from .. import selectors, services, spreadsheets
from ..choices import Role
from ..filtersets import AuditFilterSet, RoleFilterSet, UnitFilterSet
from ..models import AuditEntry, Category, RoleAssignment, Unit, User
from ..permissions import Action, has_any_role, require
from .serializers import (
    UNIT_READ_FIELDS,
    AuditEntrySerializer,
    CategorySerializer,
    RoleAssignmentSerializer,
    StatsQuerySerializer,
    TokenRequestSerializer,
    TokenSerializer,
    UnitImportPreviewSerializer,
    UnitImportQuerySerializer,
    UnitImportResultSerializer,
    UnitImportSerializer,
    UnitListRow,
    UnitSerializer,
    UnitStatsSerializer,
    UserSerializer,
)

__all__ = [
    "AuditEntryViewSet",
    "CategoryViewSet",
    "RoleViewSet",
    "TokenView",
    "UnitViewSet",
    "UserViewSet",
]


@method_decorator(never_cache, name="dispatch")  # the reply holds a credential
class TokenView(APIView):
    """Exchange a username and password for an API token (valid for ``API_TOKEN_TTL``)."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    # Failed logins are limited per address (scope "auth"): a county office whose staff
    # share one address never runs out of correct ones, which meet only the anonymous limit.
    throttle_classes = [LoginFailureThrottle, AnonRateThrottle]

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
            LoginFailureThrottle().record_failure(request, self)
            raise ApplicationError(
                _("The username or password is wrong, or the account is disabled."),
                code="invalid_credentials",
            )
        token = issue_token(user)
        return Response(
            TokenSerializer({"token": token.key, "expires": token_expires_at(token)}).data
        )


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
    # The public list's count depends on its filters only: kept per network version.
    public_count_namespaces = (NETWORK,)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Unit]:
        if self.action in ("list", "retrieve"):
            return (
                selectors.units_visible(self.request.user)
                .annotate(active_below=selectors.active_below())
                .order_by("tree_id", "lft")
            )
        # Writes and statistics: only units inside the caller's staff scope exist (404).
        return Unit.objects.for_user(self.request.user, Action.VIEW)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Plain rows, not model instances: the representation reads a few fields of each.
        queryset = self.filter_queryset(self.get_queryset()).values(
            *UNIT_READ_FIELDS, "active_below"
        )
        page = self.paginate_queryset(queryset)
        units = [UnitListRow(**row) for row in (page if page is not None else queryset)]
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
        data.pop("cascade", None)  # only with is_active false on an existing unit (validate)
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
            cascade = data.pop("cascade", False)
            if data:
                unit = services.unit_update(actor=self.actor, unit=unit, data=data)
            if cascade:  # the serializer allows it only with is_active false
                services.unit_deactivate_subtree(actor=self.actor, unit=unit)
                unit.refresh_from_db(fields=["is_active", "updated_at"])
            elif is_active is not None:
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
    @reads_from_replica()
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
            "Every unit below this one, inactive ones included, in tree order, one per row, "
            "with its ID and status; the parent column names each unit's parent (empty: this "
            "unit). Imported back here it updates the same units; with the ID column cleared "
            "it creates copies under another unit of the same kind."
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
        summary="Create and update units under this one from an Excel workbook (all or nothing)",
        description=(
            "Multipart upload, field `file`. One row per unit, laid out as the export. A row "
            "with an ID updates that unit (it must be below this one and yours to change); a "
            "row without one creates a unit, directly under this one when its parent is "
            "empty, else under the unit of that name in an earlier row. Units the sheet does "
            "not name are left alone; an import never moves or deletes units. Any problem "
            "rejects the whole file. With `?dry_run=1` nothing is written: the answer (200) "
            "is the plan — what would be created, changed and left alone."
        ),
        parameters=[
            OpenApiParameter(
                "dry_run",
                OpenApiTypes.BOOL,
                description="Only say what the import would do (200), write nothing.",
            )
        ],
        request={"multipart/form-data": UnitImportSerializer},
        responses={
            200: UnitImportPreviewSerializer,
            201: UnitImportResultSerializer,
            400: OpenApiResponse(
                description=(
                    "`invalid_file`: not a readable .xlsx, an empty sheet, a required column "
                    "missing, more than 5,000 units, a sheet going on past row 5,010 "
                    "(`detail.file`); `invalid_import`: the problems of the rows, each naming "
                    "its row (`detail.non_field_errors`); `parent_inactive`: this unit is "
                    "inactive."
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
        query = UnitImportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        # Refuse an oversized body from its declared length, before reading it.
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit():
            spreadsheets.check_size(int(declared) - MULTIPART_SLACK)
        upload = UnitImportSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        rows = upload.validated_data["file"]
        if query.validated_data["dry_run"]:
            plan = services.unit_import_plan(actor=self.actor, parent=unit, rows=rows)
            plan.raise_problems()
            summary = plan.summary()
            counts = {key: len(entries) for key, entries in summary.items()}
            return Response({"dry_run": True, **counts, "plan": summary})
        result = services.unit_import_rows(actor=self.actor, parent=unit, rows=rows)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)


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
    filterset_class = RoleFilterSet

    def get_queryset(self) -> QuerySet[RoleAssignment]:
        return selectors.role_assignments_for(self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Say "not allowed" to those who grant nothing anywhere before validating the body.
        if not has_any_role(self.actor, Role.COORDINATOR):
            raise ApplicationPermissionDenied(_("Only coordinators grant roles."))
        return super().create(request, *args, **kwargs)

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
        return selectors.account_rows(
            self.actor, selectors.users_in_scope(self.actor).order_by("username")
        )

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
        if serializer.instance.pk == self.actor.pk and "password" in serializer.validated_data:
            # A new password of one's own ends one's other sessions, not this one.
            update_session_auth_hash(self.request._request, serializer.instance)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().update(request, *args, **kwargs)
        user = self.get_queryset().get(pk=response.data["id"])
        response.data = self.get_serializer(user).data
        return response

    @extend_schema(
        methods=["GET"], summary="The caller's own account", responses={200: UserSerializer}
    )
    @extend_schema(
        methods=["PATCH"],
        summary="Edit one's own account (a new password needs `old_password`)",
        request=UserSerializer,
        responses={200: UserSerializer},
    )
    @action(detail=False, methods=["get", "patch"])
    def me(self, request: Request) -> Response:
        if request.method == "PATCH":
            serializer = self.get_serializer(self.actor, data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)
        user = User.objects.prefetch_related(
            Prefetch("role_assignments", queryset=RoleAssignment.objects.select_related("unit"))
        ).get(pk=self.actor.pk)
        return Response(self.get_serializer(user).data)


@extend_schema_view(
    list=extend_schema(summary="The audit trail of the caller's units, newest first"),
    retrieve=extend_schema(summary="One audit entry"),
)
class AuditEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Who changed what, when: the entries about units in the caller's staff view (all of
    them for a superuser). ``unit`` narrows to a unit and the units below it; ``from`` and
    ``to`` are whole days, both included."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditFilterSet

    def get_queryset(self) -> QuerySet[AuditEntry]:
        return selectors.audit_entries(self.request.user)
