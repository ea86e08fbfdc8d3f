from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivitiesConfig(AppConfig):
    """Activity reporting and review (filled in by the activity issue)."""

    name = "activities"
    verbose_name = _("Activities")
