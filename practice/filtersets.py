"""One filterset for the unit list: the API list and the tree page's search use it alike."""

import datetime as dt

import django_filters
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.filters import FromToFilterSet, FromToForm, IdFilter, WithinFilter

from .choices import AuditAction, Role, UnitKind
from .models import AuditEntry, RoleAssignment, Unit

__all__ = ["AuditFilterSet", "RoleFilterSet", "UnitFilterSet"]


class UnitFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(label=_("kind"), choices=UnitKind.choices)
    parent = IdFilter(label=_("parent unit"), field_name="parent_id")
    within = WithinFilter(
        label=_("within"), prefix="", help_text=_("A unit and all its sub-units.")
    )
    q = django_filters.CharFilter(label=_("name contains"), method="filter_q")
    is_active = django_filters.BooleanFilter(label=_("active"))

    class Meta:
        model = Unit
        fields = ["kind", "parent", "within", "q", "is_active"]

    def filter_q(self, queryset: QuerySet[Unit], name: str, value: str) -> QuerySet[Unit]:
        """Names containing ``value``, case ignored. On PostgreSQL ``icontains`` compares
        ``UPPER("name"::text) LIKE UPPER(%s)``, which the trigram index of migration 0004 is
        built on: searches of three characters or more read the index, not the table."""
        value = value.strip()
        return queryset.filter(name__icontains=value) if value else queryset


class RoleFilterSet(django_filters.FilterSet):
    """Filters of ``GET /roles/``. ``user`` and ``unit`` are plain ids filtering the caller's
    visible grants: an id outside them gives an empty list, as an unknown id does (a
    model-choice filter would answer 400 for unknown ids only, and so enumerate accounts)."""

    user = IdFilter(label=_("account"), field_name="user_id")
    unit = IdFilter(label=_("unit"), field_name="unit_id")
    role = django_filters.ChoiceFilter(label=_("role"), choices=Role.choices)

    class Meta:
        model = RoleAssignment
        fields = ["user", "unit", "role"]


# Dates outside these bounds cannot be turned into moments of the portal's time zone.
_DATE_BOUNDS = [MinValueValidator(dt.date(1900, 1, 1)), MaxValueValidator(dt.date(9998, 12, 31))]


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in the portal's time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class AuditFilterSet(FromToFilterSet):
    """Filters of the audit trail: the pages ``/audit/``, ``/units/<id>/audit/``, their Excel
    export and ``GET /api/v1/audit/``. The queryset given is already the caller's scope
    (``selectors.audit_entries``), so an id outside it simply matches nothing — the same
    answer as an unknown id. ``from`` and ``to`` are whole days, both included."""

    action = django_filters.ChoiceFilter(label=_("action"), choices=AuditAction.choices)
    actor = IdFilter(label=_("actor"), field_name="actor_id")
    unit = WithinFilter(label=_("unit"), help_text=_("A unit and all its sub-units."))
    date_from = django_filters.DateFilter(
        label=_("from"), method="filter_from", validators=_DATE_BOUNDS
    )
    date_to = django_filters.DateFilter(label=_("to"), method="filter_to", validators=_DATE_BOUNDS)

    class Meta:
        model = AuditEntry
        fields: list[str] = []
        form = FromToForm

    def filter_from(
        self, queryset: QuerySet[AuditEntry], name: str, value: dt.date
    ) -> QuerySet[AuditEntry]:
        return queryset.filter(at__gte=_day_start(value))

    def filter_to(
        self, queryset: QuerySet[AuditEntry], name: str, value: dt.date
    ) -> QuerySet[AuditEntry]:
        return queryset.filter(at__lt=_day_start(value + dt.timedelta(days=1)))
