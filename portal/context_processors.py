from typing import Any

from django.conf import settings
from django.http import HttpRequest

__all__ = ["site"]


def site(request: HttpRequest) -> dict[str, Any]:
    return {"SITE_NAME": settings.PORTAL_SITE_NAME}
