"""One filterset for the dispatch queue page and ``GET /api/v1/requests/`` (NetBox's way:
the HTML list and the API list filter alike)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from portal.filters import FromToFilterSet, FromToForm, IdFilter, WithinFilter
from practice.models import Category

from .choices import OPEN_STATUSES, RequestStatus
from .models import ServiceRequest

__all__ = ["RequestFilterSet"]


class RequestFilterSet(FromToFilterSet):
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
    within = WithinFilter(label=_("within"))
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
        form = FromToForm

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
