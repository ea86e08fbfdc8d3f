"""Serializers of ``/api/v1/activities/`` (API.md, "Activities").

Input goes to :mod:`activities.services` as typed; the services check dates, counts,
participants and permissions with their messages (one rule for pages and the API)."""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from portal.api.fields import BoundedPrimaryKeyRelatedField, IdField, PlainTextField
from portal.api.serializers import ModelSerializer
from portal.validators import MULTILINE
from practice.models import Category, Unit
from practice.permissions import Action
from volunteers.models import Team

from ..choices import ActivityStatus
from ..models import Activity

__all__ = ["ActivityReturnSerializer", "ActivitySerializer", "ParticipantSerializer"]

STATUS_HELP = "`planned`, `draft`, `submitted`, `approved` or `returned`."


class ParticipantSerializer(serializers.Serializer[Any]):
    volunteer = IdField(help_text=_("A volunteer id (active, in the caller's staff view)."))
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True)
    hours = serializers.CharField(
        max_length=16, help_text=_("Decimal string, 0 < h ≤ 24 and within the activity.")
    )
    record_status = serializers.CharField(
        source="record.status",
        read_only=True,
        default=None,
        allow_null=True,
        help_text="`pending`, `confirmed`, `void`, or null before submission.",
    )

    def to_representation(self, instance: Any) -> Any:
        record = instance.record
        return {
            "volunteer": instance.volunteer_id,
            "volunteer_name": instance.volunteer.name,
            "hours": str(instance.hours),
            "record_status": record.status if record is not None else None,
        }


class ActivitySerializer(ModelSerializer):
    # Narrowed to the caller's staff view in ``__init__``: a unit out of reach reads as unknown.
    unit = BoundedPrimaryKeyRelatedField(queryset=Unit.objects.none())
    unit_name = serializers.CharField(source="unit.name", read_only=True)
    category = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Category.objects.filter(is_active=True),
        help_text=_("The platform's code, as in /categories/."),
    )
    # Any team: the service refuses one outside the unit's line, with a message.
    team = BoundedPrimaryKeyRelatedField(
        queryset=Team.objects.select_related("unit"), required=False, allow_null=True
    )
    team_name = serializers.CharField(
        source="team.name", read_only=True, default=None, allow_null=True
    )
    participants = ParticipantSerializer(many=True, required=False)
    status = serializers.ChoiceField(
        choices=[ActivityStatus.PLANNED, ActivityStatus.DRAFT],
        required=False,
        help_text=STATUS_HELP + " Writable: `planned` or `draft` on creation; `draft` turns "
        "a planned activity into a report.",
    )

    class Meta:
        model = Activity
        fields = [
            "id",
            "title",
            "unit",
            "unit_name",
            "category",
            "team",
            "team_name",
            "start",
            "end",
            "location",
            "description",
            "beneficiaries",
            "materials",
            "participants",
            "status",
            "request",
            "reviewed_at",
            "return_reason",
        ]
        read_only_fields = ["id", "request", "reviewed_at", "return_reason"]
        validators: list[Any] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None and actor.is_authenticated:
            cast(serializers.RelatedField, self.fields["unit"]).queryset = Unit.objects.for_user(
                actor, Action.VIEW
            )

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        data["status"] = instance.status
        return data


class ActivityReturnSerializer(serializers.Serializer[Any]):
    reason = PlainTextField(
        rules=MULTILINE, allow_blank=True, max_length=1000, help_text=_("Why (shown to the unit).")
    )
