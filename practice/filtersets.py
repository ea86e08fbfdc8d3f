"""One filterset for the unit list: the API list and the tree page's search use it alike."""

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from .choices import UnitKind
from .models import Unit

__all__ = ["UnitFilterSet"]


class UnitFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(label=_("kind"), choices=UnitKind.choices)
    parent = django_filters.NumberFilter(label=_("parent unit"), field_name="parent_id")
    within = django_filters.NumberFilter(
        label=_("within"), method="filter_within", help_text=_("A unit and all its sub-units.")
    )
    q = django_filters.CharFilter(label=_("name contains"), method="filter_q")
    is_active = django_filters.BooleanFilter(label=_("active"))

    class Meta:
        model = Unit
        fields = ["kind", "parent", "within", "q", "is_active"]

    def filter_within(self, queryset: QuerySet[Unit], name: str, value: Any) -> QuerySet[Unit]:
        top = Unit.objects.filter(pk=value).only("tree_id", "lft", "rght").first()
        if top is None:
            return queryset.none()
        return queryset.filter(tree_id=top.tree_id, lft__gte=top.lft, lft__lte=top.rght)

    def filter_q(self, queryset: QuerySet[Unit], name: str, value: str) -> QuerySet[Unit]:
        value = value.strip()
        return queryset.filter(name__icontains=value) if value else queryset
