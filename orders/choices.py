"""The request's states and the transitions between them (API.md, "Order — menu — deliver")."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

__all__ = [
    "OPEN_STATUSES",
    "TRANSITIONS",
    "ActorKind",
    "RequestStatus",
    "Transition",
]


class RequestStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    DISPATCHED = "dispatched", _("Dispatched to a team")
    CLAIMED = "claimed", _("Claimed by a volunteer")
    DELIVERED = "delivered", _("Delivered")
    # A context of its own: a unit "closed" (已停用) is not a request "closed" (已办结).
    CLOSED = "closed", pgettext_lazy("request status", "Closed")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


class Transition(models.TextChoices):
    SUBMIT = "submit", _("Submitted")
    DISPATCH = "dispatch", _("Dispatched")
    REJECT = "reject", _("Rejected")
    CLAIM = "claim", _("Claimed")
    DECLINE = "decline", _("Declined")
    DELIVER = "deliver", _("Delivered")
    RATE = "rate", _("Rated")
    CANCEL = "cancel", _("Cancelled")
    # Not state changes: a mark on the timeline.
    OVERDUE = "overdue", _("Overdue")
    REVIEW = "review", _("Low rating looked at")


S = RequestStatus
# action → (the states it may start from, the state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    Transition.DISPATCH: (frozenset({S.SUBMITTED}), S.DISPATCHED),
    Transition.REJECT: (frozenset({S.SUBMITTED}), S.REJECTED),
    Transition.CLAIM: (frozenset({S.DISPATCHED}), S.CLAIMED),
    Transition.DECLINE: (frozenset({S.DISPATCHED, S.CLAIMED}), S.SUBMITTED),
    Transition.DELIVER: (frozenset({S.CLAIMED}), S.DELIVERED),
    Transition.RATE: (frozenset({S.DELIVERED}), S.CLOSED),
    Transition.CANCEL: (frozenset({S.SUBMITTED, S.DISPATCHED}), S.CANCELLED),
}

# Still waiting for something to happen (counted against a phone number's limit).
OPEN_STATUSES: frozenset[str] = frozenset({S.SUBMITTED, S.DISPATCHED, S.CLAIMED})


class ActorKind(models.TextChoices):
    RESIDENT = "resident", _("Resident")
    STAFF = "staff", _("Staff")
    VOLUNTEER = "volunteer", _("Volunteer")
    SYSTEM = "system", _("System")
