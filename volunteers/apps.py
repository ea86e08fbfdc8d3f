from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VolunteersConfig(AppConfig):
    """Volunteers, teams and service hours (filled in by the volunteer issue)."""

    name = "volunteers"
    verbose_name = _("Volunteers")
