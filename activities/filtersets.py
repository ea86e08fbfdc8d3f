"""One filterset for the activity lists (pages and ``GET /api/v1/activities/``)."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from portal.filters import FromToFilterSet, FromToForm, IdFilter, WithinFilter
from practice.models import Category

from .choices import ActivityStatus
from .models import Activity

__all__ = ["ActivityFilterSet"]


class ActivityFilterSet(FromToFilterSet):
    """``?unit=&within=&status=&category=&from=&to=`` on an already scoped queryset (an id
    outside the scope matches nothing, like an unknown one). ``status`` may repeat; ``unit``
    is the activity's unit itself, ``within`` it and every unit below; dates (the start)
    are whole days, included."""

    unit = IdFilter(label=_("unit"), field_name="unit_id")
    within = WithinFilter(label=_("within"))
    status = django_filters.MultipleChoiceFilter(label=_("status"), choices=ActivityStatus.choices)
    category = django_filters.ModelChoiceFilter(
        label=_("platform"), queryset=Category.objects.all(), to_field_name="code"
    )
    date_from = django_filters.DateFilter(
        label=_("from"), field_name="start", lookup_expr="date__gte"
    )
    date_to = django_filters.DateFilter(label=_("to"), field_name="start", lookup_expr="date__lte")

    class Meta:
        model = Activity
        fields: list[str] = []
        form = FromToForm
