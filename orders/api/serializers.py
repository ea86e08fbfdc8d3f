"""Serializers of ``/api/v1/menu-items/`` and ``/api/v1/requests/`` (API.md, "Order — menu —
deliver"; our additions in docs/api.md).

Input goes to :mod:`orders.services` as typed: the services normalize and check every text,
phone and date (one rule for the pages and the API). Output comes in two shapes: the staff
and team view (:class:`RequestSerializer`, with the timeline's names and internal notes) and
the requester's view (:class:`PublicRequestSerializer`, :func:`orders.selectors.
public_timeline`: no names, no internal notes, the phone masked).
"""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api.fields import BoundedPrimaryKeyRelatedField, IdField
from portal.api.serializers import ModelSerializer
from practice.models import Category, Unit
from practice.permissions import Action, can
from volunteers.models import Team

from .. import selectors
from ..choices import OPEN_STATUSES
from ..models import MenuItem, RequestEvent, ServiceRequest

__all__ = [
    "MenuItemSerializer",
    "PublicRequestSerializer",
    "RequestCancelSerializer",
    "RequestDeclineSerializer",
    "RequestDeliverSerializer",
    "RequestDispatchSerializer",
    "RequestRateSerializer",
    "RequestRejectSerializer",
    "RequestReviewSerializer",
    "RequestSerializer",
    "RequestSubmitSerializer",
    "RequestTrackSerializer",
    "phone_visible",
]

# Generous bounds on raw input (the services enforce the real limits with their messages);
# they only keep a huge string from reaching the text rules.
TEXT_BOUND = 4000
STATUS_HELP = (
    "`submitted`, `dispatched`, `claimed`, `delivered`, `closed`, `rejected` or `cancelled`."
)
ACTION_HELP = (
    "`submit`, `dispatch`, `reject`, `claim`, `decline`, `deliver`, `rate`, `cancel`; "
    "staff also see `overdue` and `review` (marks, no change of status)."
)


def _text(**kwargs: Any) -> serializers.CharField:
    kwargs.setdefault("max_length", TEXT_BOUND)
    return serializers.CharField(trim_whitespace=False, **kwargs)


def _optional_text(**kwargs: Any) -> serializers.CharField:
    return _text(required=False, allow_blank=True, **kwargs)


# --- the menu --------------------------------------------------------------------------------


class MenuItemSerializer(ModelSerializer):
    # Narrowed to the caller's staff view in ``__init__``: a unit out of reach reads as unknown.
    unit = BoundedPrimaryKeyRelatedField(queryset=Unit.objects.none())
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    category = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Category.objects.all(),
        help_text=_("The platform's code, as in /categories/."),
    )
    category_name = serializers.CharField(source="category.display_name", read_only=True)
    # Any team: the service refuses those that cannot deliver at this unit, with a message.
    teams = BoundedPrimaryKeyRelatedField(
        queryset=Team.objects.select_related("unit"),
        many=True,
        required=False,
        help_text=_("Ids of the teams that deliver it."),
    )
    team_names = serializers.SerializerMethodField()

    class Meta:
        model = MenuItem
        fields = [
            "id",
            "title",
            "category",
            "category_name",
            "unit",
            "unit_name",
            "teams",
            "team_names",
            "description",
            "is_active",
        ]
        read_only_fields = ["id"]
        # The title's uniqueness in a unit is checked by the service with a clear message.
        validators: list[Any] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None and actor.is_authenticated:
            cast(serializers.RelatedField, self.fields["unit"]).queryset = Unit.objects.for_user(
                actor, Action.VIEW
            )

    def get_team_names(self, item: MenuItem) -> list[str]:
        return [team.name for team in item.teams.all()]


# --- requests: input -------------------------------------------------------------------------


class RequestSubmitSerializer(serializers.Serializer):
    """A resident's request (or one filed for a resident by staff, ``on_behalf``)."""

    unit = BoundedPrimaryKeyRelatedField(
        queryset=Unit.objects.all(), help_text=_("The station where the service is needed.")
    )
    category = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Category.objects.all(),
        required=False,
        allow_null=True,
        help_text=_("The platform's code; required without a menu item."),
    )
    menu_item = BoundedPrimaryKeyRelatedField(
        queryset=MenuItem.objects.select_related("unit", "category"),
        required=False,
        allow_null=True,
        help_text=_("An item of the station's menu (GET /menu-items/?for_unit=)."),
    )
    title = _optional_text(max_length=500)
    description = _optional_text(help_text=_("Required without a menu item."))
    contact_name = _text(max_length=200)
    contact_phone = _optional_text(
        max_length=64, help_text=_("A mobile number; optional only when filed on behalf.")
    )
    desired_date = serializers.DateField(required=False, allow_null=True)
    address = _optional_text(max_length=500)
    on_behalf = serializers.BooleanField(
        default=False,
        help_text=_("Filed by logged-in station staff for a resident (FILE_REQUEST)."),
    )
    website = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        trim_whitespace=False,
        max_length=TEXT_BOUND,
        help_text=_("Leave empty."),
    )


class RequestTrackSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, help_text=_("The tracking code."))
    phone = serializers.CharField(max_length=64, help_text=_("The phone number given with it."))


class RequestDispatchSerializer(serializers.Serializer):
    team = BoundedPrimaryKeyRelatedField(queryset=Team.objects.select_related("unit"))
    due_date = serializers.DateField()
    menu_item = BoundedPrimaryKeyRelatedField(
        queryset=MenuItem.objects.select_related("unit", "category"),
        required=False,
        allow_null=True,
        help_text=_("Optional: the menu item it is served as (sets its platform)."),
    )
    note = _optional_text()


class RequestRejectSerializer(serializers.Serializer):
    reason = _text(help_text=_("Why (shown to the resident)."))


class RequestDeclineSerializer(serializers.Serializer):
    reason = _text(help_text=_("Why the team gives it back."))


class RequestReviewSerializer(serializers.Serializer):
    note = _text(help_text=_("What was done about the low rating."))


class RequestParticipantSerializer(serializers.Serializer):
    volunteer = IdField(help_text=_("A volunteer id (an active member of the team)."))
    hours = serializers.CharField(max_length=16, help_text=_("Decimal string, 0 < h ≤ 24."))


class RequestDeliverSerializer(serializers.Serializer):
    summary = _text(help_text=_("What was done."))
    beneficiaries = serializers.IntegerField(min_value=0, help_text=_("People served."))
    participants = serializers.ListField(child=RequestParticipantSerializer(), max_length=1000)
    start = serializers.DateTimeField(required=False, allow_null=True)
    end = serializers.DateTimeField(required=False, allow_null=True)


class RequestCancelSerializer(serializers.Serializer):
    tracking_code = serializers.CharField(max_length=64)
    phone = serializers.CharField(max_length=64)


class RequestRateSerializer(RequestCancelSerializer):
    rating = serializers.IntegerField(help_text=_("1 to 5."))
    comment = _optional_text()


# --- requests: output ------------------------------------------------------------------------


def phone_visible(user: Any, request: ServiceRequest) -> bool:
    """May ``user`` read the resident's phone in full? Staff who see the request's unit, and
    the volunteers of the team it is dispatched to (or its claimer) — no one else."""
    if user is None or not user.is_authenticated:
        return False
    return can(user, Action.VIEW, request.unit) or selectors.volunteer_may_see(user, request)


class RequestEventSerializer(ModelSerializer):
    actor_name = serializers.SerializerMethodField()
    actor_kind = serializers.CharField(
        read_only=True, help_text="`resident`, `staff`, `volunteer` or `system`."
    )
    action = serializers.CharField(read_only=True, help_text=ACTION_HELP)
    from_status = serializers.CharField(read_only=True, help_text=STATUS_HELP + " Or empty.")
    to_status = serializers.CharField(read_only=True, help_text=STATUS_HELP + " Or empty.")

    class Meta:
        model = RequestEvent
        fields = [
            "at",
            "actor_name",
            "actor_kind",
            "action",
            "from_status",
            "to_status",
            "note",
            "public",
        ]
        read_only_fields = fields

    def get_actor_name(self, event: RequestEvent) -> str | None:
        return event.actor.display_name if event.actor is not None else None


class PublicEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.CharField(help_text="`submit`, `dispatch`, `reject`, … (no marks).")
    from_status = serializers.CharField(help_text=STATUS_HELP + " Or empty.")
    to_status = serializers.CharField(help_text=STATUS_HELP + " Or empty.")
    note = serializers.CharField(help_text=_("Only notes meant for the resident; else empty."))


class _RequestBase(ModelSerializer):
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    category = serializers.CharField(source="category.code", read_only=True)
    category_name = serializers.CharField(source="category.display_name", read_only=True)
    menu_item_title = serializers.CharField(
        source="menu_item.title", read_only=True, default=None, allow_null=True
    )
    status = serializers.CharField(read_only=True, help_text=STATUS_HELP)
    status_name = serializers.CharField(source="get_status_display", read_only=True)


class RequestSerializer(_RequestBase):
    """The staff and team view. ``contact_phone`` is in full for those who may see it
    (:func:`phone_visible`), else masked like ``contact_phone_masked``."""

    contact_phone = serializers.SerializerMethodField()
    channel = serializers.CharField(read_only=True, help_text="`web`, `on_behalf` or `open311`.")
    team_name = serializers.CharField(
        source="team.name", read_only=True, default=None, allow_null=True
    )
    claimed_by_name = serializers.CharField(
        source="claimed_by.name", read_only=True, default=None, allow_null=True
    )
    overdue = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()

    class Meta:
        model = ServiceRequest
        fields = [
            "id",
            "tracking_code",
            "unit",
            "unit_name",
            "category",
            "category_name",
            "menu_item",
            "menu_item_title",
            "title",
            "description",
            "contact_name",
            "contact_phone",
            "contact_phone_masked",
            "desired_date",
            "address",
            "channel",
            "status",
            "status_name",
            "team",
            "team_name",
            "due_date",
            "claimed_by",
            "claimed_by_name",
            "summary",
            "beneficiaries",
            "rating",
            "rating_comment",
            "needs_review",
            "overdue",
            "created_at",
            "dispatched_at",
            "claimed_at",
            "delivered_at",
            "closed_at",
            "events",
        ]
        read_only_fields = fields

    def get_contact_phone(self, obj: ServiceRequest) -> str:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if "contact_phone" in obj.get_deferred_fields():
            return obj.contact_phone_masked
        if obj.contact_phone_hash and phone_visible(user, obj):
            return obj.contact_phone
        return obj.contact_phone_masked

    def get_overdue(self, obj: ServiceRequest) -> bool:
        return obj.overdue_at is not None and obj.status in OPEN_STATUSES

    @extend_schema_field(RequestEventSerializer(many=True))
    def get_events(self, obj: ServiceRequest) -> Any:
        if "events" in getattr(obj, "_prefetched_objects_cache", {}):
            events = obj.events.all()  # a list prefetches them with their actors
        else:
            events = obj.events.select_related("actor").order_by("at", "pk")
        return RequestEventSerializer(events, many=True).data


class PublicRequestSerializer(_RequestBase):
    """The requester's view: no staff or volunteer names, no internal notes, the phone
    masked. ``id`` is what ``/requests/{id}/rate/`` and ``/cancel/`` take."""

    timeline = serializers.SerializerMethodField()

    class Meta:
        model = ServiceRequest
        fields = [
            "id",
            "tracking_code",
            "status",
            "status_name",
            "title",
            "unit",
            "unit_name",
            "category",
            "category_name",
            "menu_item",
            "menu_item_title",
            "contact_phone_masked",
            "desired_date",
            "due_date",
            "created_at",
            "delivered_at",
            "rating",
            "rating_comment",
            "timeline",
        ]
        read_only_fields = fields

    @extend_schema_field(PublicEventSerializer(many=True))
    def get_timeline(self, obj: ServiceRequest) -> Any:
        return PublicEventSerializer(selectors.public_timeline(obj), many=True).data
