"""Serializers of ``/api/v1/activities/`` (API.md, "Activities").

Input goes to :mod:`activities.services` as typed; the services check dates, counts,
participants and permissions with their messages (one rule for pages and the API)."""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api.fields import BoundedPrimaryKeyRelatedField, IdField, PlainTextField
from portal.api.serializers import ModelSerializer
from portal.validators import MULTILINE
from practice.models import Category, Unit
from practice.permissions import Action
from volunteers.models import Team

from ..choices import ActivityStatus
from ..duplicates import possible_duplicates
from ..models import Activity
from .photos import ActivityPhotoSerializer, photo_data

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

    checked_hours = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text=_("The hours the volunteer's own check-in and check-out gave (the evidence)."),
    )

    def to_representation(self, instance: Any) -> Any:
        record = instance.record
        return {
            "volunteer": instance.volunteer_id,
            "volunteer_name": instance.volunteer.name,
            "hours": str(instance.hours),
            "record_status": record.status if record is not None else None,
            "checked_hours": (
                str(instance.checked_hours) if instance.checked_hours is not None else None
            ),
        }


class DuplicateSerializer(serializers.Serializer[Any]):
    activity = serializers.IntegerField(help_text="The other activity's id.")
    title = serializers.CharField()
    reason = serializers.ChoiceField(choices=["overlap", "photo"])


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
    latitude = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=_("Where it happens, degrees (−90…90; 6 decimals kept); null: the unit's."),
    )
    longitude = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text=_("Degrees (−180…180)."),
    )
    signed_up = serializers.IntegerField(
        read_only=True, help_text=_("Volunteers signed up (planned activities).")
    )
    photos = serializers.SerializerMethodField(
        help_text='`[{"id", "url", "thumbnail_url", "width", "height", "caption"}]`; added '
        "by POST /activities/{id}/photos/."
    )
    # On one activity only (not in lists): the reviewer's flags (activities.duplicates).
    possible_duplicates = serializers.SerializerMethodField(
        help_text='`[{"activity", "title", "reason"}]`, reason `overlap` (same unit, platform '
        "and overlapping time) or `photo` (a photo with the same perceptual hash). Only on "
        "the detail, not in lists."
    )
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
            "latitude",
            "longitude",
            "capacity",
            "signed_up",
            "participants",
            "status",
            "request",
            "reviewed_at",
            "return_reason",
            "photos",
            "possible_duplicates",
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

    def _in_list(self) -> bool:
        return isinstance(self.parent, serializers.ListSerializer)

    @extend_schema_field(ActivityPhotoSerializer(many=True))
    def get_photos(self, instance: Activity) -> list[dict[str, Any]]:
        request = self.context.get("request")
        return [photo_data(photo, request) for photo in instance.photos.all()]

    @extend_schema_field(DuplicateSerializer(many=True))
    def get_possible_duplicates(self, instance: Activity) -> list[dict[str, Any]] | None:
        if self._in_list():
            return None  # two queries per activity: the detail only
        return [
            {"activity": d["activity"].pk, "title": d["activity"].title, "reason": d["reason"]}
            for d in possible_duplicates(instance)
        ]

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        data["status"] = instance.status
        if self._in_list():
            data.pop("possible_duplicates", None)
        return data


class ActivityReturnSerializer(serializers.Serializer[Any]):
    reason = PlainTextField(
        rules=MULTILINE, allow_blank=True, max_length=1000, help_text=_("Why (shown to the unit).")
    )
