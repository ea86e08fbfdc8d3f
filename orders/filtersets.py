"""One filterset for the dispatch queue page and ``GET /api/v1/requests/`` (NetBox's way:
the HTML list and the API list filter alike)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from portal.filters import IdFilter
from practice.models import Category, Unit

from .choices import OPEN_STATUSES, RequestStatus
from .models import ServiceRequest

__all__ = ["RequestFilterSet"]


class _RequestFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("from"), data.get("to")
        if since and until and since > until:
            self.add_error("to", _("“to” must not be before “from”."))
        return data


class RequestFilterSet(django_filters.FilterSet):
    """``?status=&category=&unit=&within=&team=&overdue=&review=&open=&q=&from=&to=`` on an
    already scoped queryset (an id outside the scope matches nothing, like an unknown one).
    ``status`` may repeat; ``unit`` is the request's station itself, ``within`` it and every
    unit below; ``q`` a title or tracking code; dates (submitted) are whole days, included."""

    status = django_filters.MultipleChoiceFilter(label=_("status"), choices=RequestStatus.choices)
    category = django_filters.ModelChoiceFilter(
        label=_("platform"),
        queryset=Category.objects.filter(is_active=True),
        to_field_name="code",
    )
    unit = IdFilter(label=_("station"), field_name="unit_id")
    within = IdFilter(label=_("within"), method="filter_within")
    team = IdFilter(label=_("team"), field_name="team_id")
    overdue = django_filters.BooleanFilter(label=_("overdue"), method="filter_overdue")
    review = django_filters.BooleanFilter(
        label=_("low rating to look at"), field_name="needs_review"
    )
    open = django_filters.BooleanFilter(label=_("open"), method="filter_open")
    q = django_filters.CharFilter(label=_("search"), method="filter_q")
    date_from = django_filters.DateFilter(
        label=_("from"), field_name="created_at", lookup_expr="date__gte"
    )
    date_to = django_filters.DateFilter(
        label=_("to"), field_name="created_at", lookup_expr="date__lte"
    )

    class Meta:
        model = ServiceRequest
        fields: list[str] = []
        form = _RequestFilterForm

    @classmethod
    def get_filters(cls) -> dict[str, Any]:
        filters = super().get_filters()
        filters["from"] = filters.pop("date_from")
        filters["to"] = filters.pop("date_to")
        return filters

    def filter_within(
        self, queryset: QuerySet[ServiceRequest], name: str, value: int
    ) -> QuerySet[ServiceRequest]:
        top = Unit.objects.filter(pk=value).only("tree_id", "lft", "rght").first()
        if top is None:
            return queryset.none()
        return queryset.filter(
            unit__tree_id=top.tree_id, unit__lft__gte=top.lft, unit__lft__lte=top.rght
        )

    def filter_overdue(
        self, queryset: QuerySet[ServiceRequest], name: str, value: bool | None
    ) -> QuerySet[ServiceRequest]:
        if value is None:
            return queryset
        late = Q(overdue_at__isnull=False, status__in=OPEN_STATUSES)
        return queryset.filter(late) if value else queryset.exclude(late)

    def filter_open(
        self, queryset: QuerySet[ServiceRequest], name: str, value: bool | None
    ) -> QuerySet[ServiceRequest]:
        if value is None:
            return queryset
        return (
            queryset.filter(status__in=OPEN_STATUSES)
            if value
            else queryset.exclude(status__in=OPEN_STATUSES)
        )

    def filter_q(
        self, queryset: QuerySet[ServiceRequest], name: str, value: str
    ) -> QuerySet[ServiceRequest]:
        value = value.strip()
        if not value:
            return queryset
        code = "".join(ch for ch in value.upper() if ch.isalnum())
        return queryset.filter(Q(tracking_code=code) | Q(title__icontains=value[:50]))
