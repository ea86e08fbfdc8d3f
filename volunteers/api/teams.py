"""``/api/v1/teams/``: volunteer teams and their members (API.md, "Volunteers and teams";
our additions in docs/api.md). Thin: ``volunteers.teams`` reads and writes."""

from __future__ import annotations

from typing import Any, cast

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.fields import BoundedPrimaryKeyRelatedField, IdField, PlainTextField
from portal.api.schema import ErrorSerializer
from portal.api.serializers import ModelSerializer
from portal.errors import NotFound, PermissionDenied
from portal.filters import IdFilter
from portal.http import ActorMixin
from portal.validators import TEXT
from practice.models import Category, Unit
from practice.permissions import Action, can, scope_q

from .. import teams
from ..models import Team, TeamMembership, Volunteer

__all__ = ["MembershipSerializer", "TeamFilterSet", "TeamSerializer", "TeamViewSet"]


class TeamFilterSet(django_filters.FilterSet):
    """Filters of the team list (API and the staff page alike)."""

    unit = IdFilter(label=_("unit"), field_name="unit_id")
    within = IdFilter(
        label=_("within"), method="filter_within", help_text=_("A unit and all its sub-units.")
    )
    category = django_filters.CharFilter(label=_("platform"), field_name="category__code")
    q = django_filters.CharFilter(label=_("name contains"), method="filter_q")
    is_active = django_filters.BooleanFilter(label=_("active"))

    class Meta:
        model = Team
        fields = ["unit", "within", "category", "q", "is_active"]

    def filter_within(self, queryset: QuerySet[Team], name: str, value: Any) -> QuerySet[Team]:
        top = Unit.objects.filter(pk=value).only("tree_id", "lft", "rght").first()
        if top is None:
            return queryset.none()
        return queryset.filter(
            unit__tree_id=top.tree_id, unit__lft__gte=top.lft, unit__lft__lte=top.rght
        )

    def filter_q(self, queryset: QuerySet[Team], name: str, value: str) -> QuerySet[Team]:
        value = value.strip()
        return queryset.filter(name__icontains=value) if value else queryset


class TeamSerializer(ModelSerializer):
    # Narrowed to the caller's reach in ``__init__``: an id out of reach reads as unknown.
    unit = BoundedPrimaryKeyRelatedField(queryset=Unit.objects.none())
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    category = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Category.objects.filter(is_active=True),
        allow_null=True,
        required=False,
        help_text=_("The platform's code, as in /categories/."),
    )
    leader = BoundedPrimaryKeyRelatedField(
        queryset=Volunteer.objects.none(),
        allow_null=True,
        required=False,
        help_text=_("A volunteer id."),
    )
    leader_name = serializers.CharField(
        source="leader.name", read_only=True, default=None, allow_null=True
    )
    # DRF's stubs type ``Field.parent`` (the enclosing serializer); the name is the model's.
    parent = BoundedPrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Team.objects.none(), allow_null=True, required=False
    )
    member_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Team
        fields = [
            "id",
            "name",
            "unit",
            "unit_name",
            "category",
            "leader",
            "leader_name",
            "parent",
            "description",
            "is_active",
            "member_count",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        # Uniqueness in the unit is checked by the service with a clear message.
        validators: list[Any] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None:
            fields = self.fields
            cast(serializers.RelatedField, fields["unit"]).queryset = Unit.objects.for_user(
                actor, Action.VIEW
            )
            cast(serializers.RelatedField, fields["leader"]).queryset = Volunteer.objects.filter(
                scope_q(actor, Action.VIEW, prefix="unit__")
            )
            cast(serializers.RelatedField, fields["parent"]).queryset = Team.objects.filter(
                scope_q(actor, Action.VIEW, prefix="unit__")
            )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and "unit" in attrs and attrs["unit"] != self.instance.unit:
            raise serializers.ValidationError(
                {"unit": [_("A team cannot move to another unit; create a new team there.")]}
            )
        return attrs


class MembershipSerializer(ModelSerializer):
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True)
    volunteer_number = serializers.CharField(source="volunteer.number", read_only=True)
    phone_masked = serializers.CharField(source="volunteer.phone_masked", read_only=True)
    # Plain strings in the schema: named enums "role" and "status" exist already (roles of
    # staff, statuses of volunteers and records) and would collide.
    role = serializers.CharField(read_only=True, help_text="`member` or `leader`.")
    status = serializers.CharField(
        read_only=True, help_text="`requested`, `active`, `declined` or `left`."
    )

    class Meta:
        model = TeamMembership
        fields = [
            "id",
            "team",
            "volunteer",
            "volunteer_name",
            "volunteer_number",
            "phone_masked",
            "role",
            "status",
            "requested_at",
            "joined_at",
            "left_at",
        ]
        read_only_fields = fields


# A POST without a body still answers these when one is sent anyway (the contract's test
# expects every POST to declare them; ``portal.api.schema`` adds them only for bodies).
BODYLESS_POST_ERRORS = {
    413: OpenApiResponse(ErrorSerializer, description="The request body is too large."),
    415: OpenApiResponse(
        ErrorSerializer, description="The body's media type is not accepted here."
    ),
}


class MemberAddSerializer(serializers.Serializer):
    volunteer = IdField(help_text=_("A volunteer id."))


class DeclineSerializer(serializers.Serializer):
    reason = PlainTextField(rules=TEXT, max_length=500, required=False, allow_blank=True)


@extend_schema_view(
    list=extend_schema(
        summary="Teams: staff see those of their units, a volunteer the teams they are in"
    ),
    retrieve=extend_schema(summary="One team"),
    create=extend_schema(summary="Create a team"),
    partial_update=extend_schema(summary="Edit a team (name, platform, leader, …)"),
)
class TeamViewSet(
    ActorMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = TeamSerializer
    filterset_class = TeamFilterSet
    permission_classes = [permissions.IsAuthenticated]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Team]:
        return teams.teams_visible_to(self.request.user)

    def _reread(self, team: Team) -> Team:
        return teams.with_member_count(
            Team.objects.select_related("unit", "category", "leader")
        ).get(pk=team.pk)

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        team = teams.team_create(
            actor=self.actor,
            unit=data["unit"],
            name=data["name"],
            category=data.get("category"),
            parent=data.get("parent"),
            leader=data.get("leader"),
            description=data.get("description", ""),
        )
        serializer.instance = self._reread(team)

    def perform_update(self, serializer: Any) -> None:
        data = dict(serializer.validated_data)
        data.pop("unit", None)  # the same unit (validate refuses another)
        team = teams.team_update(actor=self.actor, team=serializer.instance, data=data)
        serializer.instance = self._reread(team)

    def _manager_or_leader(self, team: Team) -> None:
        if not (can(self.actor, Action.VIEW, team.unit) or teams.is_team_leader(self.actor, team)):
            raise PermissionDenied(_("Only the team's leader and its unit's staff see this."))

    def _memberships(self, queryset: QuerySet[TeamMembership]) -> Response:
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else list(queryset)
        data = MembershipSerializer(rows, many=True).data
        if page is not None:
            return self.get_paginated_response(data)
        return Response(data)

    @extend_schema(
        methods=["GET"],
        summary="The team's members (staff of its unit, its leader)",
        responses={200: MembershipSerializer(many=True)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a volunteer to the team",
        request=MemberAddSerializer,
        responses={201: MembershipSerializer},
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None)
    def members(self, request: Request, pk: str | None = None) -> Response:
        team = self.get_object()
        if request.method == "GET":
            self._manager_or_leader(team)
            return self._memberships(teams.team_members(team))
        body = MemberAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        volunteer = Volunteer.objects.filter(pk=body.validated_data["volunteer"]).first()
        if volunteer is None:
            raise NotFound(_("There is no such volunteer here."))
        membership = teams.member_add(actor=self.actor, team=team, volunteer=volunteer)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Take a volunteer off the team (kept in its history)", request=None)
    @action(
        detail=True,
        methods=["delete"],
        url_path="members/<id:volunteer_id>",
        url_name="member",
        filterset_class=None,
    )
    def member(self, request: Request, pk: str | None = None, volunteer_id: int = 0) -> Response:
        team = self.get_object()
        volunteer = get_object_or_404(Volunteer, pk=volunteer_id)
        teams.member_remove(actor=self.actor, team=team, volunteer=volunteer)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Open requests to join (staff of its unit, its leader)",
        responses={200: MembershipSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def requests(self, request: Request, pk: str | None = None) -> Response:
        team = self.get_object()
        self._manager_or_leader(team)
        return self._memberships(teams.team_requests(team))

    @extend_schema(
        summary="Ask to join the team (the logged-in volunteer)",
        request=None,
        responses={201: MembershipSerializer, **BODYLESS_POST_ERRORS},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def join(self, request: Request, pk: str | None = None) -> Response:
        # The team need not be visible yet: its unit's public page lists it.
        team = get_object_or_404(Team.objects.select_related("unit"), pk=pk)
        membership = teams.membership_request(volunteer_user=self.actor, team=team)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    def _request_of(self, membership_id: int) -> TeamMembership:
        team = self.get_object()
        return get_object_or_404(TeamMembership.objects.filter(team=team), pk=membership_id)

    @extend_schema(
        summary="Accept a request to join (the leader, the unit's staff)",
        request=None,
        responses={200: MembershipSerializer, **BODYLESS_POST_ERRORS},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="requests/<id:membership_id>/accept",
        url_name="request-accept",
        filterset_class=None,
    )
    def accept(self, request: Request, pk: str | None = None, membership_id: int = 0) -> Response:
        membership = teams.membership_accept(
            actor=self.actor, membership=self._request_of(membership_id)
        )
        return Response(MembershipSerializer(membership).data)

    @extend_schema(
        summary="Decline a request to join (the leader, the unit's staff)",
        request=DeclineSerializer,
        responses={200: MembershipSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="requests/<id:membership_id>/decline",
        url_name="request-decline",
        filterset_class=None,
    )
    def decline(self, request: Request, pk: str | None = None, membership_id: int = 0) -> Response:
        body = DeclineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = teams.membership_decline(
            actor=self.actor,
            membership=self._request_of(membership_id),
            reason=body.validated_data.get("reason", ""),
        )
        return Response(MembershipSerializer(membership).data)
