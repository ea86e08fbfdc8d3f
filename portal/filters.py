"""Filters shared by the apps' filtersets (django-filter)."""

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.constants import EMPTY_VALUES
from drf_spectacular.utils import extend_schema_field

from portal.fields import IdFormField
from portal.validators import ID_MAX

__all__ = ["FromToFilterSet", "FromToForm", "IdFilter", "WithinFilter"]


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX})
class IdFilter(django_filters.Filter):
    """``?parent=12``: an id (``portal.validators.parse_id``). ``1.5``, a 20-digit number or
    ``１２`` are a 400 with a message — never truncated, never sent to the database; an id
    that names nothing, or nothing the caller may see, simply matches nothing."""

    field_class = IdFormField


class WithinFilter(IdFilter):
    """``?within=12``: the rows whose unit is unit 12 or any unit below it (one range on the
    tree's index). ``prefix`` is the path to the unit (``"unit__"``; ``""`` for units). An id
    that names no unit matches nothing."""

    def __init__(self, *args: Any, prefix: str = "unit__", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prefix = prefix

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value in EMPTY_VALUES:
            return qs
        from practice.models import Unit
        from practice.tree import subtree_q

        top = Unit.objects.filter(pk=value).only("tree_id", "lft", "rght").first()
        if top is None:
            return qs.none()
        return qs.filter(subtree_q(top, self.prefix))


class FromToForm(forms.Form):
    """The form of a :class:`FromToFilterSet`: ``to`` may not be before ``from``."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("from"), data.get("to")
        if since and until and since > until:
            self.add_error("to", _("“to” must not be before “from”."))
        return data


class FromToFilterSet(django_filters.FilterSet):
    """A filterset whose ``date_from`` and ``date_to`` filters answer to ``?from=`` and
    ``?to=`` (the contract's names, as for the statistics; ``from`` is a Python keyword)."""

    @classmethod
    def get_filters(cls) -> dict[str, Any]:
        filters = super().get_filters()
        for name, public in (("date_from", "from"), ("date_to", "to")):
            if name in filters:
                filters[public] = filters.pop(name)
        return filters
