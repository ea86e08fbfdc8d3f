from typing import Any

from django.conf import settings
from django.http import HttpRequest

from portal.display import ELDER, display_mode

__all__ = ["display", "site"]


def site(request: HttpRequest) -> dict[str, Any]:
    return {"SITE_NAME": settings.PORTAL_SITE_NAME}


def display(request: HttpRequest) -> dict[str, Any]:
    """``elder_mode``: the visitor chose the elder-friendly display (``portal.display``)."""
    return {"elder_mode": display_mode(request) == ELDER}
