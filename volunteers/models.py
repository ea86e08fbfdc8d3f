"""Volunteers, teams, service records (legal records of hours), points and certificates.

Personal data: the ID number and phones are stored encrypted (``EncryptedCharField``);
beside each a keyed hash (``volunteers.identity``) serves uniqueness and lookup, and the
masked forms shown in lists are stored too, so a list never decrypts. Figures a list
shows for every volunteer — confirmed hours, the points balance — are kept on the
volunteer row by the services that write the records, under that row's lock, and the
database refuses a negative balance.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from portal.fields import EncryptedCharField, PlainCharField, PlainTextField
from practice.models import Category, Unit

from .choices import (
    STAR_LEVELS,
    Gender,
    MembershipStatus,
    PointsKind,
    RecordSource,
    RecordStatus,
    TeamRole,
    VolunteerStatus,
)

__all__ = [
    "Certificate",
    "PointsEntry",
    "PointsRate",
    "ServiceRecord",
    "Team",
    "TeamMembership",
    "Volunteer",
]

MAX_DAY_HOURS = Decimal(24)


class Volunteer(models.Model):
    """A registered volunteer (实名注册): one per person, known by the ID number's hash."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="volunteer",
    )
    number = models.CharField(
        _("volunteer number"), max_length=20, unique=True, null=True, blank=True, editable=False
    )
    name = PlainCharField(_("name"), max_length=30, strict=True)
    id_number = EncryptedCharField(_("ID number"))
    id_number_hash = models.CharField(max_length=64, unique=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, editable=False)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, editable=False)
    birth_date = models.DateField(_("birth date"), editable=False)
    phone = EncryptedCharField(_("mobile phone"))
    phone_hash = models.CharField(max_length=64, unique=True, editable=False)
    phone_masked = models.CharField(_("mobile phone"), max_length=11, editable=False)
    unit = models.ForeignKey(
        Unit, verbose_name=_("home unit"), on_delete=models.PROTECT, related_name="volunteers"
    )
    skills = PlainCharField(_("skills"), max_length=200, blank=True)
    categories = models.ManyToManyField(
        Category, verbose_name=_("interests"), blank=True, related_name="+"
    )
    available_time = PlainCharField(_("available time"), max_length=100, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=VolunteerStatus.choices,
        default=VolunteerStatus.PENDING,
    )
    status_reason = PlainTextField(_("reason"), max_length=500, blank=True)
    guardian_name = PlainCharField(_("guardian's name"), max_length=30, blank=True, strict=True)
    guardian_phone = EncryptedCharField(_("guardian's phone"), blank=True, default="")
    guardian_consent = models.BooleanField(_("guardian's consent"), default=False)
    self_registered = models.BooleanField(_("registered online"), default=False)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved or rejected by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("approved or rejected at"), null=True, blank=True)
    # Kept by the services (under this row's lock) from the records and the ledger.
    confirmed_hours = models.DecimalField(
        _("confirmed hours"), max_digits=9, decimal_places=2, default=Decimal(0), editable=False
    )
    points_balance = models.IntegerField(_("points"), default=0, editable=False)
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("volunteer")
        verbose_name_plural = _("volunteers")
        # Newest first, by id (registration order): the primary key's index serves it, so a
        # county's list of 50,000 shows its first page without sorting them all.
        ordering = ["-pk"]
        permissions = [
            ("reveal_id_number", _("Can see volunteers' full ID numbers (each view is audited)")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=VolunteerStatus.values), name="volunteer_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(points_balance__gte=0), name="volunteer_points_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(confirmed_hours__gte=0), name="volunteer_hours_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "status"], name="volunteer_unit_status_idx"),
            models.Index(fields=["status", "created_at"], name="volunteer_status_idx"),
        ]

    def __str__(self) -> str:
        return self.number or self.name

    @staticmethod
    def number_for(pk: int, year: int) -> str:
        """The public volunteer number: ``V``, the registration year, the row's id."""
        return f"V{year}{pk:08d}"

    @property
    def star_level(self) -> int:
        return sum(1 for hours in STAR_LEVELS if self.confirmed_hours >= hours)


class PointsRate(models.Model):
    """Points a confirmed hour earns in a unit's subtree (the county sets it); units without
    one take their nearest ancestor's, else ``VOLUNTEER_POINTS_PER_HOUR``."""

    unit = models.OneToOneField(
        Unit, verbose_name=_("unit"), on_delete=models.CASCADE, related_name="points_rate"
    )
    points_per_hour = models.PositiveIntegerField(
        _("points per hour"), validators=[MaxValueValidator(1000)]
    )

    class Meta:
        verbose_name = _("points rate")
        verbose_name_plural = _("points rates")

    def __str__(self) -> str:
        return f"{self.unit}: {self.points_per_hour}"


class Team(models.Model):
    """A volunteer team (志愿服务队): the county corps, a platform team, a town's or a
    village's team. ``parent``: the corps above a platform team."""

    name = PlainCharField(_("name"), max_length=100, strict=True)
    unit = models.ForeignKey(
        Unit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="teams"
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("platform"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="teams",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("part of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subteams",
    )
    leader = models.ForeignKey(
        Volunteer,
        verbose_name=_("leader"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_teams",
    )
    description = PlainTextField(_("description"), max_length=2000, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["unit_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "name"],
                name="team_name_unique_in_unit",
                violation_error_message=_("This unit already has a team with this name."),
            ),
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="team_not_its_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A volunteer in a team, from the request to join to leaving it (history is kept)."""

    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="memberships"
    )
    volunteer = models.ForeignKey(
        Volunteer,
        verbose_name=_("volunteer"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    role = models.CharField(
        _("role in the team"), max_length=16, choices=TeamRole.choices, default=TeamRole.MEMBER
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=MembershipStatus.choices,
        default=MembershipStatus.REQUESTED,
    )
    requested_at = models.DateTimeField(_("asked at"), auto_now_add=True)
    joined_at = models.DateTimeField(_("joined"), null=True, blank=True)
    left_at = models.DateTimeField(_("left"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("team membership")
        verbose_name_plural = _("team memberships")
        ordering = ["team_id", "-joined_at", "-pk"]
        constraints = [
            # One open membership (asked or accepted) per volunteer and team.
            models.UniqueConstraint(
                fields=["team", "volunteer"],
                condition=Q(status__in=["requested", "active"]),
                name="membership_one_open",
                violation_error_message=_("This volunteer is already in or asking to join it."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=MembershipStatus.values), name="membership_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["volunteer", "status"], name="membership_volunteer_idx"),
            models.Index(fields=["team", "status"], name="membership_team_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer} · {self.team}"


class ServiceRecord(models.Model):
    """Hours of service (志愿服务时长), a legal record: who, when, how long, from what, who
    recorded it and who — someone else — confirmed it. A confirmed record is never edited
    or deleted; a correction is a new record (``corrects``) confirmed by a second person,
    which voids the one it corrects."""

    volunteer = models.ForeignKey(
        Volunteer,
        verbose_name=_("volunteer"),
        on_delete=models.PROTECT,
        related_name="service_records",
    )
    unit = models.ForeignKey(
        Unit,
        verbose_name=_("organizing unit"),
        on_delete=models.PROTECT,
        related_name="service_records",
    )
    date = models.DateField(_("date"))
    start_time = models.TimeField(_("start"), null=True, blank=True)
    end_time = models.TimeField(_("end"), null=True, blank=True)
    hours = models.DecimalField(
        _("hours"),
        max_digits=4,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_DAY_HOURS)],
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("platform"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    content = PlainCharField(_("service content"), max_length=200, blank=True)
    source = models.CharField(
        _("source"), max_length=16, choices=RecordSource.choices, default=RecordSource.MANUAL
    )
    # The activity or request it came from (their issues add the foreign keys' targets).
    source_id = models.PositiveBigIntegerField(_("source id"), null=True, blank=True)
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("corrects"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
    )
    reason = PlainTextField(_("reason"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=RecordStatus.choices, default=RecordStatus.PENDING
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("voided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    void_reason = PlainTextField(_("reason for voiding"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("service record")
        verbose_name_plural = _("service records")
        ordering = ["-date", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hours__gt=0, hours__lte=MAX_DAY_HOURS), name="record_hours_range"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RecordStatus.values), name="record_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=RecordSource.values), name="record_source_valid"
            ),
            # Whoever organizes records; someone else confirms.
            models.CheckConstraint(
                condition=Q(confirmed_by__isnull=True)
                | Q(recorded_by__isnull=True)
                | ~Q(confirmed_by=F("recorded_by")),
                name="record_confirmed_by_another",
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(confirmed_by__isnull=False),
                name="record_confirmed_has_confirmer",
            ),
            models.CheckConstraint(
                condition=Q(end_time__isnull=True)
                | Q(start_time__isnull=True)
                | Q(end_time__gt=F("start_time")),
                name="record_end_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(source="correction") | Q(corrects__isnull=False),
                name="record_correction_names_original",
            ),
        ]
        indexes = [
            models.Index(fields=["volunteer", "date"], name="record_volunteer_date_idx"),
            models.Index(fields=["unit", "status", "date"], name="record_unit_idx"),
            models.Index(fields=["source", "source_id"], name="record_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer} · {self.date} · {self.hours} h"


class PointsEntry(models.Model):
    """One change of a volunteer's points (积分): the ledger. The balance is their sum,
    kept on the volunteer (``points_balance``, never negative) in the same transaction."""

    volunteer = models.ForeignKey(
        Volunteer,
        verbose_name=_("volunteer"),
        on_delete=models.PROTECT,
        related_name="points_entries",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=PointsKind.choices)
    points = models.IntegerField(_("points"))
    balance = models.IntegerField(_("balance after"))
    unit = models.ForeignKey(
        Unit,
        verbose_name=_("unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    record = models.ForeignKey(
        ServiceRecord,
        verbose_name=_("service record"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="points_entries",
    )
    item = PlainCharField(_("item"), max_length=100, blank=True)
    reason = PlainTextField(_("reason"), max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="points_entry_not_zero"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="points_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(kind__in=PointsKind.values), name="points_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["volunteer", "at"], name="points_volunteer_idx")]

    def __str__(self) -> str:
        return f"{self.volunteer} {self.points:+d}"


class Certificate(models.Model):
    """A service-record certificate (志愿服务记录证明) as issued: what it showed is kept, so
    ``/verify/<number>/`` shows exactly that, whatever changes later."""

    number = models.CharField(_("certificate number"), max_length=32, unique=True)
    volunteer = models.ForeignKey(
        Volunteer,
        verbose_name=_("volunteer"),
        on_delete=models.PROTECT,
        related_name="certificates",
    )
    issuing_unit = models.ForeignKey(
        Unit, verbose_name=_("issuing unit"), on_delete=models.PROTECT, related_name="+"
    )
    # The unit's name as printed: a later renaming changes neither the PDF nor the check.
    issuing_unit_name = models.CharField(_("issuing unit"), max_length=100)
    name = models.CharField(_("name"), max_length=30)
    id_number_masked = models.CharField(_("ID number"), max_length=18)
    volunteer_number = models.CharField(_("volunteer number"), max_length=20)
    hours = models.DecimalField(_("hours"), max_digits=9, decimal_places=2)
    content = models.TextField(_("service content"), blank=True)
    issuer_contact = models.CharField(_("issuing unit's contact"), max_length=100, blank=True)
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-issued_at", "-pk"]

    def __str__(self) -> str:
        return self.number
