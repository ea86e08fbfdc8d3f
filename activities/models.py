"""Activities (活动): what a unit did, for whom, with whom and for how long.

An activity is planned (announced on the calendar) or logged as a report, submitted, and
approved or returned by the level above (``activities.services``); a delivered request
creates one already submitted (:func:`orders.services.request_deliver`). Volunteers sign
up and check in and out by QR (:class:`Attendance`), photos are evidence
(:class:`ActivityPhoto`), and approved activities are counted into
:class:`ActivitySummary`, the unit × day × platform table the statistics read.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.fields import PlainCharField, PlainTextField
from practice.models import Category, Unit
from volunteers.models import ServiceRecord, Team, Volunteer

from .choices import ActivityStatus

__all__ = [
    "Activity",
    "ActivityParticipant",
    "ActivityPhoto",
    "ActivitySummary",
    "Attendance",
    "new_checkin_key",
]


def new_checkin_key() -> str:
    """The secret in an activity's check-in QR codes (96 random bits, URL-safe)."""
    return secrets.token_urlsafe(12)


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
    # Where it happens, for the check-in distance (optional; the unit's place otherwise).
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    # How many volunteers may sign up for a planned activity (none: no sign-up limit).
    capacity = models.PositiveIntegerField(_("places for volunteers"), null=True, blank=True)
    # The secret of its two check-in QR codes (start and end); changed to void old prints.
    checkin_key = models.CharField(
        _("check-in key"), max_length=32, default=new_checkin_key, editable=False
    )
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
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="activity_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="activity_longitude_range",
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "status", "start"], name="activity_unit_idx"),
            models.Index(fields=["status", "start"], name="activity_status_idx"),
            models.Index(fields=["unit", "category", "start"], name="activity_overlap_idx"),
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
    # The hours the volunteer's own check-in and check-out give (the evidence); ``hours``
    # is what the report claims — a manager's change shows as the difference.
    checked_hours = models.DecimalField(
        _("checked-in hours"), max_digits=5, decimal_places=2, null=True, blank=True
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


class Attendance(models.Model):
    """A volunteer's sign-up for an activity and their check-in and check-out by its QR
    codes (with the distance from the place when the phone gave a position)."""

    activity = models.ForeignKey(
        Activity, verbose_name=_("activity"), on_delete=models.CASCADE, related_name="attendances"
    )
    volunteer = models.ForeignKey(
        Volunteer, verbose_name=_("volunteer"), on_delete=models.PROTECT, related_name="+"
    )
    signed_up_at = models.DateTimeField(_("signed up"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("checked in"), null=True, blank=True)
    checked_out_at = models.DateTimeField(_("checked out"), null=True, blank=True)
    # Metres from the activity's place at check-in / check-out (None: no position given).
    check_in_distance = models.PositiveIntegerField(
        _("distance at check-in (m)"), null=True, blank=True
    )
    check_out_distance = models.PositiveIntegerField(
        _("distance at check-out (m)"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendances")
        ordering = ["activity_id", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["activity", "volunteer"], name="attendance_once"),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True)
                | Q(checked_in_at__isnull=False, checked_out_at__gte=F("checked_in_at")),
                name="attendance_out_after_in",
            ),
        ]
        indexes = [models.Index(fields=["volunteer", "activity"], name="attendance_volunteer_idx")]

    def __str__(self) -> str:
        return f"{self.activity_id} · {self.volunteer_id}"


def _photo_path(instance: ActivityPhoto, filename: str) -> str:
    return f"activities/{timezone.now():%Y/%m}/{secrets.token_hex(8)}.jpg"


def _thumb_path(instance: ActivityPhoto, filename: str) -> str:
    return f"activities/{timezone.now():%Y/%m}/{secrets.token_hex(8)}-thumb.jpg"


class ActivityPhoto(models.Model):
    """A photo of an activity, checked by its content and re-encoded as JPEG without its
    metadata (``activities.photos``), with a thumbnail and a 64-bit perceptual hash that
    finds the same picture reused in another report."""

    activity = models.ForeignKey(
        Activity, verbose_name=_("activity"), on_delete=models.CASCADE, related_name="photos"
    )
    image = models.FileField(_("photo"), upload_to=_photo_path, max_length=200)
    thumbnail = models.FileField(_("thumbnail"), upload_to=_thumb_path, max_length=200)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    size = models.PositiveIntegerField(_("size (bytes)"))
    # dHash of the picture as 16 hex digits (same picture → same hash, after re-encoding).
    phash = models.CharField(_("perceptual hash"), max_length=16, db_index=True)
    caption = PlainCharField(_("caption"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        verbose_name = _("activity photo")
        verbose_name_plural = _("activity photos")
        ordering = ["activity_id", "pk"]

    def __str__(self) -> str:
        return f"{self.activity_id} · {self.pk}"


class ActivitySummary(models.Model):
    """What the statistics read instead of the records: per unit, day and platform, the
    approved activities (count, people served, materials) and the confirmed volunteer
    hours. Kept current in the same transaction as each approval, confirmation and void
    (``activities.summary``); a subtree's figures are one sum over the rows whose unit
    lies in its tree range, so moving a unit moves its rows with it. ``manage.py
    activity_summary --rebuild`` rewrites it from the records; the nightly check compares.

    ``category`` is null for hours recorded without a platform.
    """

    unit = models.ForeignKey(
        Unit, verbose_name=_("unit"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    category = models.ForeignKey(
        Category,
        verbose_name=_("platform"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    activities = models.IntegerField(_("activities"), default=0)
    beneficiaries = models.BigIntegerField(_("people served"), default=0)
    materials = models.BigIntegerField(_("materials handed out"), default=0)
    volunteer_hours = models.DecimalField(
        _("volunteer hours"), max_digits=14, decimal_places=2, default=Decimal(0)
    )

    class Meta:
        verbose_name = _("activity summary")
        verbose_name_plural = _("activity summaries")
        ordering = ["unit_id", "day", "category_id"]
        constraints = [
            # One row per unit, day and platform — NULLS NOT DISTINCT is not portable, so
            # the rows without a platform get their own partial unique index.
            models.UniqueConstraint(
                fields=["unit", "day", "category"],
                condition=Q(category__isnull=False),
                name="activitysummary_cell",
            ),
            models.UniqueConstraint(
                fields=["unit", "day"],
                condition=Q(category__isnull=True),
                name="activitysummary_cell_nocat",
            ),
        ]
        indexes = [
            models.Index(fields=["day", "unit"], name="activitysummary_day_idx"),
            # A subtree's rows, all platforms (the partial unique indexes serve one kind).
            models.Index(fields=["unit", "day"], name="activitysummary_unit_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.unit_id} · {self.day} · {self.category_id}"
