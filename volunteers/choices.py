"""Enumerations of volunteers, teams, service records and points."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "STAR_LEVELS",
    "Gender",
    "MembershipStatus",
    "PointsKind",
    "RecordSource",
    "RecordStatus",
    "TeamRole",
    "VolunteerStatus",
]


class VolunteerStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting approval")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    # Not in API.md's list: a self-registration turned down, with the reason the person sees.
    REJECTED = "rejected", _("Not approved")


class Gender(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class TeamRole(models.TextChoices):
    MEMBER = "member", _("Member")
    LEADER = "leader", _("Leader")


class MembershipStatus(models.TextChoices):
    REQUESTED = "requested", _("Asked to join")
    ACTIVE = "active", _("Member")
    DECLINED = "declined", _("Not accepted")
    LEFT = "left", _("Left")


class RecordStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting confirmation")
    CONFIRMED = "confirmed", _("Confirmed")
    VOID = "void", _("Void")


class RecordSource(models.TextChoices):
    MANUAL = "manual", _("Entered by a manager")
    ACTIVITY = "activity", _("Activity")
    REQUEST = "request", _("Service request")
    CORRECTION = "correction", _("Correction")


class PointsKind(models.TextChoices):
    EARNED = "earned", _("Earned by service")
    REVERSED = "reversed", _("Reversed (record voided)")
    REDEEMED = "redeemed", _("Redeemed")
    AWARDED = "awarded", _("Awarded")
    DEDUCTED = "deducted", _("Deducted")


# Star levels (星级志愿者) by confirmed hours: one star at 100 h … five at 1,500 h.
STAR_LEVELS = (100, 300, 600, 1000, 1500)
