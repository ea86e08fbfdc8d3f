"""Activities: the readers (each a fixed number of queries)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from practice.permissions import Action, scope_q

from .attendance import annotate_signups
from .models import Activity, ActivityParticipant, ActivityPhoto

__all__ = ["activities_in_scope"]


def activities_in_scope(user: Any) -> QuerySet[Activity]:
    """The activities of the units in ``user``'s staff view, newest first, with their
    unit, platform, team, participants (volunteer and service record) and photos: a list
    costs its page's query, one for the participants and one for the photos."""
    participants = ActivityParticipant.objects.select_related("volunteer", "record").order_by("pk")
    return (
        annotate_signups(Activity.objects.filter(scope_q(user, Action.VIEW, prefix="unit__")))
        .select_related("unit", "category", "team")
        .prefetch_related(
            Prefetch("participants", queryset=participants),
            Prefetch("photos", queryset=ActivityPhoto.objects.order_by("pk")),
        )
        .order_by("-start", "-pk")
    )
