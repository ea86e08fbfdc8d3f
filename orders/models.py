"""The service menu (服务菜单), residents' requests (点单) and their timeline.

A request's contact phone is personal data: stored encrypted, with a keyed hash beside it
(tracking and the per-number limit look it up without decrypting) and its masked form
(lists never decrypt). Only the services in :mod:`orders.services` change a request's
``status``; each change writes a :class:`RequestEvent` in the same transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.fields import EncryptedCharField, PlainCharField, PlainTextField
from practice.models import Category, Unit
from volunteers.models import Team, Volunteer

from .choices import ActorKind, RequestStatus, Transition

__all__ = ["MenuItem", "Open311Client", "RequestEvent", "ServiceRequest"]


class MenuItem(models.Model):
    """A service on the menu (服务菜单) of a unit, offered in its whole subtree."""

    unit = models.ForeignKey(
        Unit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="menu_items"
    )
    category = models.ForeignKey(
        Category, verbose_name=_("platform"), on_delete=models.PROTECT, related_name="+"
    )
    title = PlainCharField(_("title"), max_length=100, strict=True)
    description = PlainTextField(_("description"), max_length=2000, blank=True)
    teams = models.ManyToManyField(
        Team, verbose_name=_("teams that deliver it"), blank=True, related_name="menu_items"
    )
    is_active = models.BooleanField(_("offered"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("menu item")
        verbose_name_plural = _("menu items")
        ordering = ["unit_id", "category_id", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "title"],
                name="menu_item_title_unique_in_unit",
                violation_error_message=_("This unit's menu already has an item with this title."),
            ),
        ]
        indexes = [models.Index(fields=["unit", "is_active"], name="menu_item_unit_idx")]

    def __str__(self) -> str:
        return self.title


class ServiceRequest(models.Model):
    """A resident's request for a service (点单), from submission to the rating."""

    class Channel(models.TextChoices):
        WEB = "web", _("Online")
        ON_BEHALF = "on_behalf", _("Filed by station staff")
        OPEN311 = "open311", _("Open311 client")

    unit = models.ForeignKey(
        Unit,
        verbose_name=_("station"),
        on_delete=models.PROTECT,
        related_name="service_requests",
    )
    category = models.ForeignKey(
        Category, verbose_name=_("platform"), on_delete=models.PROTECT, related_name="+"
    )
    menu_item = models.ForeignKey(
        MenuItem,
        verbose_name=_("menu item"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
    )
    title = PlainCharField(_("title"), max_length=100)
    description = PlainTextField(_("description"), max_length=2000, blank=True)
    contact_name = PlainCharField(_("name"), max_length=30, strict=True)
    contact_phone = EncryptedCharField(_("mobile phone"), blank=True, default="")
    contact_phone_hash = models.CharField(max_length=64, blank=True, editable=False)
    contact_phone_masked = models.CharField(
        _("mobile phone"), max_length=11, blank=True, editable=False
    )
    desired_date = models.DateField(_("desired date"), null=True, blank=True)
    address = PlainCharField(_("address"), max_length=200, blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    channel = models.CharField(
        _("filed"), max_length=16, choices=Channel.choices, default=Channel.WEB
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("filed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    tracking_code = models.CharField(_("tracking code"), max_length=12, unique=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=RequestStatus.choices,
        default=RequestStatus.SUBMITTED,
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_requests",
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("dispatched by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The first answer of the office: dispatched or rejected (for response times).
    responded_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    claimed_by = models.ForeignKey(
        Volunteer,
        verbose_name=_("claimed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claimed_requests",
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    summary = PlainTextField(_("what was done"), max_length=2000, blank=True)
    beneficiaries = models.PositiveIntegerField(_("people served"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        _("rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    rating_comment = PlainTextField(_("comment"), max_length=1000, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # A rating of 1–2 asks a coordinator to look at the case (until they note they did).
    needs_review = models.BooleanField(_("to look at"), default=False)
    # Marked once by the overdue check (not claimed or not delivered in time).
    overdue_at = models.DateTimeField(_("overdue since"), null=True, blank=True)
    created_at = models.DateTimeField(_("submitted at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("service request")
        verbose_name_plural = _("service requests")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RequestStatus.values), name="request_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="request_rating_range",
            ),
            models.CheckConstraint(
                condition=~Q(status=RequestStatus.CLOSED) | Q(rating__isnull=False),
                name="request_closed_has_rating",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[RequestStatus.CLAIMED, RequestStatus.DELIVERED])
                | Q(claimed_by__isnull=False),
                name="request_claimed_has_claimer",
            ),
            models.CheckConstraint(
                condition=~Q(status=RequestStatus.DISPATCHED) | Q(team__isnull=False),
                name="request_dispatched_has_team",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["web", "on_behalf", "open311"]),
                name="request_channel_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["unit", "status", "created_at"], name="request_unit_idx"),
            models.Index(fields=["status", "due_date"], name="request_status_due_idx"),
            models.Index(fields=["contact_phone_hash", "status"], name="request_phone_idx"),
            models.Index(fields=["team", "status"], name="request_team_idx"),
            models.Index(fields=["claimed_by", "status"], name="request_claimer_idx"),
            models.Index(fields=["unit", "status", "closed_at"], name="request_closed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_code} · {self.title}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("request-detail", args=[self.pk])

    def get_tracking_url(self) -> str:
        from django.urls import reverse

        return reverse("track", args=[self.tracking_code])


class RequestEvent(models.Model):
    """One step on a request's timeline: who, when, from which state to which, and a note.
    ``public`` notes (a rejection's reason, what was done) are shown to the resident; the
    others — and every staff or volunteer name — only to staff."""

    request = models.ForeignKey(
        ServiceRequest, verbose_name=_("request"), on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_kind = models.CharField(_("by"), max_length=16, choices=ActorKind.choices)
    action = models.CharField(_("action"), max_length=16, choices=Transition.choices)
    from_status = models.CharField(
        _("from"), max_length=16, choices=RequestStatus.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=16, choices=RequestStatus.choices, blank=True)
    note = PlainTextField(_("note"), max_length=2000, blank=True)
    public = models.BooleanField(_("shown to the resident"), default=False)

    class Meta:
        verbose_name = _("request event")
        verbose_name_plural = _("request events")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["request", "at"], name="request_event_idx")]

    def __str__(self) -> str:
        return f"{self.request_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class Open311Client(models.Model):
    """A program allowed to file requests through Open311 (``POST requests.json``): its
    API key is shown once when issued in the admin; only its hash is kept."""

    name = PlainCharField(_("name"), max_length=100, strict=True)
    key_prefix = models.CharField(_("key starts with"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 client")
        verbose_name_plural = _("Open311 clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
