"""``/api/v1/menu-items/`` and ``/api/v1/requests/`` (API.md, "Order — menu — deliver"; our
additions in docs/api.md). Thin: :mod:`orders.selectors` read, :mod:`orders.services`
write, :mod:`orders.throttling` limits the public endpoints.

Who finds a request (else 404): staff who see its unit and the volunteers of the team it is
dispatched to (``selectors.request_for_staff``) for reading and for the office's actions;
for the team's actions (claim, decline, deliver) also any volunteer of the same county
tree, so a volunteer of another team is told "not allowed" (403) rather than "not found";
the requester through its tracking code and phone only.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.schema import ErrorSerializer
from portal.errors import NotFound, PermissionDenied, ValidationFailed
from portal.http import ActorMixin
from portal.validators import parse_id
from practice.api.views import ReadPublicWriteAuthenticated
from practice.models import Unit
from practice.permissions import Action, can, scope_q
from volunteers.selectors import volunteer_of

from .. import selectors, services
from ..filtersets import RequestFilterSet
from ..models import MenuItem, RequestEvent, ServiceRequest
from ..throttling import check_order_allowed, check_track_allowed
from .serializers import (
    MenuItemSerializer,
    PublicRequestSerializer,
    RequestCancelSerializer,
    RequestDeclineSerializer,
    RequestDeliverSerializer,
    RequestDispatchSerializer,
    RequestRateSerializer,
    RequestRejectSerializer,
    RequestReviewSerializer,
    RequestSerializer,
    RequestSubmitSerializer,
    RequestTrackSerializer,
)

__all__ = ["MenuItemViewSet", "RequestViewSet"]

NOT_FOUND_404 = OpenApiResponse(
    ErrorSerializer,
    description="No request matches this tracking code and phone number (the same answer "
    "whichever is wrong).",
)
BODYLESS_POST_ERRORS = {
    413: OpenApiResponse(ErrorSerializer, description="The request body is too large."),
    415: OpenApiResponse(
        ErrorSerializer, description="The body's media type is not accepted here."
    ),
}


# --- the menu --------------------------------------------------------------------------------


def _menu_visible(user: Any) -> QuerySet[MenuItem]:
    """Active items of active units for everyone, plus every item of the units in the
    caller's staff view (inactive ones too)."""
    public = Q(is_active=True, unit__is_active=True)
    return (
        MenuItem.objects.filter(public | scope_q(user, Action.VIEW, prefix="unit__"))
        .select_related("unit", "category")
        .prefetch_related("teams")
        .order_by("unit__tree_id", "unit__lft", "category__sort_order", "title", "pk")
    )


@extend_schema_view(
    list=extend_schema(
        summary="Menu items (public: the offered ones; staff: plus inactive ones in scope)",
        parameters=[
            OpenApiParameter(
                "for_unit",
                OpenApiTypes.INT64,
                description="What a resident of this unit can order: the offered items of "
                "the unit and of every unit above it, the nearest first.",
            ),
            OpenApiParameter("category", str, description="A platform's code."),
            OpenApiParameter("unit", OpenApiTypes.INT64, description="Items of this unit only."),
        ],
    ),
    retrieve=extend_schema(summary="One menu item"),
    create=extend_schema(summary="Add an item to a unit's menu (managers, coordinators)"),
    partial_update=extend_schema(summary="Edit a menu item, or stop offering it"),
)
class MenuItemViewSet(
    ActorMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = MenuItemSerializer
    permission_classes = [ReadPublicWriteAuthenticated]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[MenuItem]:
        user = self.request.user
        if self.action == "partial_update":
            # Writes: only items of units in the caller's staff view exist (404).
            return selectors.menu_in_scope(user)
        if self.action != "list":
            return _menu_visible(user)
        params = self.request.query_params
        for_unit = self._unit_param("for_unit")
        items = selectors.menu_for_unit(for_unit) if for_unit else _menu_visible(user)
        unit = self._unit_param("unit", must_exist=False)
        if "unit" in params:
            items = items.filter(unit=unit) if unit else items.none()
        if params.get("category"):
            items = items.filter(category__code=params["category"][:32])
        return items

    def _unit_param(self, name: str, *, must_exist: bool = True) -> Unit | None:
        raw = self.request.query_params.get(name)
        if raw is None:
            return None
        try:
            pk = parse_id(raw)
        except DjangoValidationError as exc:
            raise ValidationFailed(detail={name: list(exc.messages)}) from exc
        unit = Unit.objects.filter(pk=pk).only("pk", "tree_id", "lft", "rght", "is_active").first()
        visible = unit is not None and (unit.is_active or can(self.request.user, Action.VIEW, unit))
        if not visible:
            if must_exist:
                raise ValidationFailed(detail={name: [_("There is no such unit.")]})
            return None
        return unit

    def _reread(self, item: MenuItem) -> MenuItem:
        return selectors.menu_in_scope(self.actor).get(pk=item.pk)

    def perform_create(self, serializer: Any) -> None:
        item = services.menu_item_create(actor=self.actor, data=dict(serializer.validated_data))
        serializer.instance = self._reread(item)

    def perform_update(self, serializer: Any) -> None:
        item = services.menu_item_update(
            actor=self.actor, item=serializer.instance, data=dict(serializer.validated_data)
        )
        serializer.instance = self._reread(item)


# --- requests --------------------------------------------------------------------------------


PUBLIC_ACTIONS = frozenset({"create", "track", "rate", "cancel"})


def _events() -> Prefetch:
    return Prefetch("events", queryset=RequestEvent.objects.select_related("actor"))


@extend_schema_view(
    list=extend_schema(
        summary="Requests at the caller's units (staff)",
        parameters=[
            OpenApiParameter(
                "ordering",
                str,
                enum=["urgency", "-created_at"],
                description="`urgency`: the dispatch queue's order (overdue first, then low "
                "ratings to look at, then the oldest open ones). Default: newest first.",
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One request with its timeline (staff, or a volunteer of its team)"
    ),
)
class RequestViewSet(
    ActorMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = RequestSerializer
    filterset_class = RequestFilterSet

    def get_permissions(self) -> list[Any]:
        if self.action in PUBLIC_ACTIONS:
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def get_queryset(self) -> QuerySet[ServiceRequest]:
        requests = selectors.requests_in_scope(self.request.user).prefetch_related(_events())
        if self.action == "list":
            # A list never decrypts: the phone shows masked there, in full on the detail.
            requests = requests.defer("contact_phone")
        ordering = self.request.query_params.get("ordering")
        if ordering in (None, "", "-created_at"):
            return requests
        if ordering == "urgency":
            return selectors.with_urgency(requests)
        raise ValidationFailed(
            detail={"ordering": [_("Order by “urgency”, or leave it out for the newest first.")]}
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self._staff_answer(self._readable(kwargs["pk"])))

    # --- finding the request ---------------------------------------------------------------

    def _readable(self, pk: int) -> ServiceRequest:
        found = selectors.request_for_staff(self.request.user, pk)
        if found is None:
            raise NotFound()
        return found

    def _for_office(self, pk: int) -> ServiceRequest:
        found = self._readable(pk)
        if not can(self.actor, Action.VIEW, found.unit):
            # A volunteer of its team reads it, but the office's actions are not theirs.
            raise PermissionDenied()
        return found

    def _for_team(self, pk: int) -> ServiceRequest:
        found = selectors.request_for_staff(self.actor, pk)
        volunteer = volunteer_of(self.actor)
        if found is None and volunteer is not None:
            # A volunteer of another team of the county: "not yours" (403), not "not found".
            found = (
                ServiceRequest.objects.select_related("unit", "team", "claimed_by")
                .filter(pk=pk, unit__tree_id=volunteer.unit.tree_id)
                .first()
            )
        if found is None:
            raise NotFound()
        return found

    def _staff_answer(self, found: ServiceRequest) -> dict[str, Any]:
        return dict(RequestSerializer(found, context=self.get_serializer_context()).data)

    # --- public: submit, track -------------------------------------------------------------

    @extend_schema(
        summary="Submit a request (public; staff: on behalf of a resident)",
        description="`website` is a trap for robots: leave it empty (else 400, nothing "
        "saved). Limited per client address and per phone number (429), and to "
        "`ORDERS_OPEN_PER_PHONE` open requests per phone number (429 "
        "`too_many_open_requests`). The answer is the requester's view (phone masked).",
        request=RequestSubmitSerializer,
        responses={201: PublicRequestSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = RequestSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if data.pop("website", ""):
            # A robot filled the hidden field: say nothing about why.
            raise ValidationFailed(
                _("Your request could not be accepted. Try again, or call the station.")
            )
        check_order_allowed(request, data.get("contact_phone"))
        user = request.user
        created = services.request_submit(data=data, actor=user if user.is_authenticated else None)
        return Response(PublicRequestSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="Follow a request with its tracking code and phone number (public)",
        description="Prefer `POST` with a JSON body: query strings end up in logs.",
        parameters=[
            OpenApiParameter("code", str, required=True, description="The tracking code."),
            OpenApiParameter("phone", str, required=True, description="The phone number."),
        ],
        responses={200: PublicRequestSerializer, 404: NOT_FOUND_404},
    )
    @extend_schema(
        methods=["POST"],
        summary="Follow a request: the code and phone in the body (public; recommended)",
        request=RequestTrackSerializer,
        responses={200: PublicRequestSerializer, 404: NOT_FOUND_404},
    )
    @action(detail=False, methods=["get", "post"], filterset_class=None, pagination_class=None)
    def track(self, request: Request) -> Response:
        check_track_allowed(request)
        source = request.query_params if request.method == "GET" else request.data
        body = RequestTrackSerializer(data=source)
        body.is_valid(raise_exception=True)
        found = services.request_for_requester(
            code=body.validated_data["code"], phone=body.validated_data["phone"]
        )
        return Response(PublicRequestSerializer(found).data)

    # --- public: the requester's transitions -----------------------------------------------

    @extend_schema(
        summary="Rate the delivered service 1–5 (public: tracking code + phone)",
        request=RequestRateSerializer,
        responses={200: PublicRequestSerializer},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def rate(self, request: Request, pk: int) -> Response:
        check_track_allowed(request)
        body = RequestRateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        # Only the id: the service proves the code and phone against it (an unknown id gets
        # the same 404 as a wrong code) and re-reads the row under its lock.
        updated = services.request_rate(
            request=ServiceRequest(pk=pk),
            code=data["tracking_code"],
            phone=data["phone"],
            rating=data["rating"],
            comment=data.get("comment", ""),
        )
        return Response(PublicRequestSerializer(updated).data)

    @extend_schema(
        summary="Cancel one's request while it is not claimed (public: tracking code + phone)",
        request=RequestCancelSerializer,
        responses={200: PublicRequestSerializer},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request: Request, pk: int) -> Response:
        check_track_allowed(request)
        body = RequestCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated = services.request_cancel(
            request=ServiceRequest(pk=pk),
            code=body.validated_data["tracking_code"],
            phone=body.validated_data["phone"],
        )
        return Response(PublicRequestSerializer(updated).data)

    # --- the office ------------------------------------------------------------------------

    @extend_schema(
        summary="Send a submitted request to a team (coordinator)",
        request=RequestDispatchSerializer,
        responses={200: RequestSerializer},
    )
    # Not a method named "dispatch": that is the view's own entry point.
    @action(
        detail=True,
        methods=["post"],
        url_path="dispatch",
        url_name="dispatch",
        filterset_class=None,
    )
    def dispatch_to_team(self, request: Request, pk: int) -> Response:
        found = self._for_office(pk)
        body = RequestDispatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        updated = services.request_dispatch(
            actor=self.actor,
            request=found,
            team=data["team"],
            due_date=data["due_date"],
            menu_item=data.get("menu_item"),
            note=data.get("note", ""),
        )
        return Response(self._staff_answer(updated))

    @extend_schema(
        summary="Turn a submitted request down, saying why (coordinator)",
        request=RequestRejectSerializer,
        responses={200: RequestSerializer},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def reject(self, request: Request, pk: int) -> Response:
        found = self._for_office(pk)
        body = RequestRejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated = services.request_reject(
            actor=self.actor, request=found, reason=body.validated_data["reason"]
        )
        return Response(self._staff_answer(updated))

    @extend_schema(
        summary="Note that a low rating was looked at (coordinator)",
        request=RequestReviewSerializer,
        responses={200: RequestSerializer},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def review(self, request: Request, pk: int) -> Response:
        found = self._for_office(pk)
        body = RequestReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated = services.request_review(
            actor=self.actor, request=found, note=body.validated_data["note"]
        )
        return Response(self._staff_answer(updated))

    # --- the team --------------------------------------------------------------------------

    @extend_schema(
        summary="Take the request on (an active volunteer of the team it was sent to)",
        request=None,
        responses={200: RequestSerializer, **BODYLESS_POST_ERRORS},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def claim(self, request: Request, pk: int) -> Response:
        found = self._for_team(pk)
        updated = services.request_claim(actor=self.actor, request=found)
        return Response(self._staff_answer(updated))

    @extend_schema(
        summary="Give the request back to the office (its claimer or the team's leader)",
        request=RequestDeclineSerializer,
        responses={200: RequestSerializer},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def decline(self, request: Request, pk: int) -> Response:
        found = self._for_team(pk)
        body = RequestDeclineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated = services.request_decline(
            actor=self.actor, request=found, reason=body.validated_data["reason"]
        )
        return Response(self._staff_answer(updated))

    @extend_schema(
        summary="Report the service done (its claimer or the team's leader)",
        description="Creates the activity record (submitted) and pending service records "
        "for the participants.",
        request=RequestDeliverSerializer,
        responses={200: RequestSerializer},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def deliver(self, request: Request, pk: int) -> Response:
        found = self._for_team(pk)
        body = RequestDeliverSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        updated = services.request_deliver(
            actor=self.actor,
            request=found,
            summary=data["summary"],
            beneficiaries=data["beneficiaries"],
            participants=[dict(row) for row in data["participants"]],
            start=data.get("start"),
            end=data.get("end"),
        )
        return Response(self._staff_answer(updated))
