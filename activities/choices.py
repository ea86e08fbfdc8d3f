"""Activity states (API.md, "Activities")."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["ActivityStatus"]


class ActivityStatus(models.TextChoices):
    # Announced ahead (the published calendar); not yet a report (docs/api.md adds it).
    PLANNED = "planned", _("Planned")
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted for review")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned")
