"""The practice network: one MPTT tree per county (or per region), roles, categories, audit."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from mptt.managers import TreeManager
from mptt.models import MPTTModel, TreeForeignKey
from mptt.querysets import TreeQuerySet

from portal.fields import EncryptedCharField, PlainCharField
from portal.validators import mask_phone, validate_division_code, validate_landline_or_mobile

from .choices import ALLOWED_PARENT_KINDS, AuditAction, Role, UnitKind

if TYPE_CHECKING:
    from .permissions import Action

__all__ = ["UNIT_EDITABLE_FIELDS", "AuditEntry", "Category", "RoleAssignment", "Unit", "User"]

# What a person edits about a unit: the forms, the services, the spreadsheets.
UNIT_EDITABLE_FIELDS = (
    "name",
    "kind",
    "division_code",
    "address",
    "contact_name",
    "contact_phone",
    "opening_hours",
    "latitude",
    "longitude",
)


class User(AbstractUser):
    """A login account: civilization-office staff, unit managers, later volunteers."""

    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    name = PlainCharField(_("full name"), max_length=30, blank=True, strict=True)
    phone = EncryptedCharField(_("mobile phone"), blank=True, default="")
    created_by = models.ForeignKey(
        "self",
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def get_full_name(self) -> str:
        return self.name or self.username

    def get_short_name(self) -> str:
        return self.name or self.username

    @property
    def display_name(self) -> str:
        return self.get_full_name()

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)


class UnitQuerySet(TreeQuerySet):
    def for_user(self, user: User | None, action: Action) -> UnitQuerySet:
        """Units on which ``user`` may do ``action`` (the policy in ``permissions``)."""
        from .permissions import unit_scope_q

        return self.filter(unit_scope_q(user, action))

    def visible_to(self, user: User | None) -> UnitQuerySet:
        """Public (active) units, plus inactive ones inside the user's staff scope."""
        from .permissions import Action, unit_scope_q

        return self.filter(Q(is_active=True) | unit_scope_q(user, Action.VIEW))

    def within(self, unit: Unit, *, include_self: bool = True) -> UnitQuerySet:
        """The unit's subtree, by an index-friendly lft range on its tree."""
        if include_self:
            return self.filter(tree_id=unit.tree_id, lft__gte=unit.lft, lft__lte=unit.rght)
        return self.filter(tree_id=unit.tree_id, lft__gt=unit.lft, lft__lt=unit.rght)


UnitManager = TreeManager.from_queryset(UnitQuerySet)


class Unit(MPTTModel):
    """A node of the network: region, centre (county), institute (town), station, point."""

    name = PlainCharField(_("name"), max_length=100, strict=True)
    kind = models.CharField(_("kind"), max_length=16, choices=UnitKind.choices)
    parent = TreeForeignKey(
        "self",
        verbose_name=_("parent unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    division_code = PlainCharField(
        _("division code"),
        max_length=12,
        blank=True,
        strict=True,
        normalization="NFKC",
        validators=[validate_division_code],
        help_text=_("Administrative division code (行政区划代码): 6, 9 or 12 digits."),
    )
    address = PlainCharField(_("address"), max_length=200, blank=True)
    contact_name = PlainCharField(_("contact person"), max_length=30, blank=True, strict=True)
    contact_phone = PlainCharField(
        _("contact phone"),
        max_length=20,
        blank=True,
        strict=True,
        normalization="NFKC",
        validators=[validate_landline_or_mobile],
    )
    opening_hours = PlainCharField(_("opening hours"), max_length=100, blank=True)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(-90)), MaxValueValidator(Decimal(90))],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(-180)), MaxValueValidator(Decimal(180))],
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Declared here only to drop django-mptt's single-column index on it: the composite
    # (tree_id, lft) and (tree_id, rght) indexes below serve every lookup by tree, and each
    # extra index is one more to maintain for every row a shift rewrites.
    tree_id = models.PositiveIntegerField(editable=False)

    objects = UnitManager()

    class MPTTMeta:
        order_insertion_by = ["name"]

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "name"],
                name="unit_name_unique_in_parent",
                violation_error_message=_("A unit with this name already exists here."),
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(parent__isnull=True),
                name="unit_root_name_unique",
                violation_error_message=_("A top-level unit with this name already exists."),
            ),
            models.CheckConstraint(condition=Q(kind__in=UnitKind.values), name="unit_kind_valid"),
            models.CheckConstraint(
                condition=Q(parent__isnull=False) | Q(kind__in=[UnitKind.REGION, UnitKind.CENTRE]),
                name="unit_root_is_region_or_centre",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="unit_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="unit_longitude_range",
            ),
        ]
        indexes = [
            # django-mptt shifts lft/rght with
            #   UPDATE ... WHERE tree_id = %s AND (lft > %s OR rght > %s);
            # mptt itself indexes (tree_id, lft); this one serves the rght side of the OR,
            # so the shift reads only the rows it rewrites instead of the whole tree.
            models.Index(fields=["tree_id", "rght"], name="unit_tree_rght_idx"),
            # The list filters, each read in tree order from its index (a page of them costs
            # its own rows): by kind; the top-level units (``level=0``) and the global tree's
            # levels; the few inactive units staff list. The (tree_id, lft) ranges of subtrees
            # use mptt's index, the parent filter the foreign key's. PostgreSQL also has a
            # trigram index for the name search (migration 0004: not expressible here).
            models.Index(fields=["kind", "tree_id", "lft"], name="unit_kind_tree_idx"),
            models.Index(fields=["level", "tree_id"], name="unit_level_tree_idx"),
            # (rght too: mptt adds its own (tree_id, lft) index unless one has these fields.)
            models.Index(
                fields=["tree_id", "lft", "rght"],
                condition=Q(is_active=False),
                name="unit_inactive_idx",
            ),
            # "Near me" (selectors.nearest_places): a box on latitude and longitude around the
            # resident, over the open, located stations and points only.
            models.Index(
                fields=["latitude", "longitude"],
                condition=Q(
                    is_active=True,
                    kind__in=["station", "point"],
                    latitude__isnull=False,
                    longitude__isnull=False,
                ),
                name="unit_location_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("unit-detail", args=[self.pk])

    @property
    def descendant_total(self) -> int:
        """Number of units below this one, from lft/rght alone (no query)."""
        return (self.rght - self.lft - 1) // 2 if self.rght and self.lft else 0

    def clean(self) -> None:
        super().clean()
        self.name = (self.name or "").strip()
        errors: dict[str, list[str]] = {}
        parent = self.parent
        allowed = ALLOWED_PARENT_KINDS.get(self.kind, frozenset())
        parent_kind = parent.kind if parent else None
        if self.kind and parent_kind not in allowed:
            errors.setdefault("parent", []).append(parent_rule_message(self.kind, parent_kind))
        if (
            parent is not None
            and self.pk is not None
            and (
                parent.pk == self.pk
                or (parent.tree_id == self.tree_id and self.lft < parent.lft < self.rght)
            )
        ):
            errors.setdefault("parent", []).append(
                str(_("A unit cannot be placed under itself or one of its own sub-units."))
            )
        if errors:
            raise ValidationError(errors)


def parent_rule_message(kind: str, parent_kind: str | None) -> str:
    labels = dict(UnitKind.choices)
    allowed = ALLOWED_PARENT_KINDS[kind]
    names = sorted(str(labels[k]) if k else str(_("no parent (top level)")) for k in allowed)
    # Translators: separates the items of a list, e.g. "institute, station".
    allowed_text = pgettext("list separator", ", ").join(names)
    if parent_kind is None:
        return str(
            _("A %(kind)s cannot be at the top level; its parent must be: %(allowed)s.")
            % {"kind": labels[kind], "allowed": allowed_text}
        )
    return str(
        _("A %(kind)s cannot be placed under a %(parent)s; its parent must be: %(allowed)s.")
        % {"kind": labels[kind], "parent": labels[parent_kind], "allowed": allowed_text}
    )


class RoleAssignment(models.Model):
    """A role granted on a unit; it covers the unit's whole subtree."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    unit = models.ForeignKey(
        Unit, verbose_name=_("unit"), on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("granted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "unit", "role"],
                name="role_unique_grant",
                violation_error_message=_("This user already holds this role on this unit."),
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.unit}"


class Category(models.Model):
    """A service platform (平台): theory, publicity, education, culture, science, sports…"""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = PlainCharField(_("name"), max_length=50, strict=True)
    name_en = PlainCharField(_("English name"), max_length=80, blank=True, strict=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_en and (translation.get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class AuditEntry(models.Model):
    """Who changed what, when: written by the services in the same transaction as the change."""

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(_("action"), max_length=32, choices=AuditAction.choices)
    unit = models.ForeignKey(
        Unit,
        verbose_name=_("unit"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    object_repr = models.CharField(_("object"), max_length=200)
    changes = models.JSONField(_("changes"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()} {self.object_repr}"
