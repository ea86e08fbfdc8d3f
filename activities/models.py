"""Activities (活动): what a unit did, for whom, with whom and for how long.

Created so far by a delivered request (:func:`orders.services.request_deliver`), submitted
for review by the level above; logging, review and statistics follow in the activity issue.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from portal.fields import PlainCharField, PlainTextField
from practice.models import Category, Unit
from volunteers.models import ServiceRecord, Team, Volunteer

from .choices import ActivityStatus

__all__ = ["Activity", "ActivityParticipant"]


class Activity(models.Model):
    title = PlainCharField(_("title"), max_length=100)
    unit = models.ForeignKey(
        Unit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="activities"
    )
    category = models.ForeignKey(
        Category, verbose_name=_("platform"), on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("organizing team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    location = PlainCharField(_("place"), max_length=200, blank=True)
    description = PlainTextField(_("description"), max_length=4000, blank=True)
    beneficiaries = models.PositiveIntegerField(_("people served"), default=0)
    materials = models.PositiveIntegerField(_("materials handed out"), default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=ActivityStatus.choices, default=ActivityStatus.DRAFT
    )
    request = models.OneToOneField(
        "orders.ServiceRequest",
        verbose_name=_("service request"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activity",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    # Why the reviewer returned it (shown to the unit until it is submitted again).
    return_reason = PlainTextField(_("reason for returning"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-start", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ActivityStatus.values), name="activity_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="activity_end_after_start"
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "status", "start"], name="activity_unit_idx"),
            models.Index(fields=["status", "start"], name="activity_status_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class ActivityParticipant(models.Model):
    """A volunteer who took part, with the hours proposed and their service record."""

    activity = models.ForeignKey(
        Activity, verbose_name=_("activity"), on_delete=models.CASCADE, related_name="participants"
    )
    volunteer = models.ForeignKey(
        Volunteer, verbose_name=_("volunteer"), on_delete=models.PROTECT, related_name="+"
    )
    hours = models.DecimalField(
        _("hours"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal(24))],
    )
    record = models.OneToOneField(
        ServiceRecord,
        verbose_name=_("service record"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["activity_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "volunteer"], name="activity_participant_once"
            ),
            models.CheckConstraint(
                condition=Q(hours__gt=0, hours__lte=24), name="activity_participant_hours"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.activity_id} · {self.volunteer_id}"
