"""Filters shared by the apps' filtersets (django-filter)."""

import django_filters
from drf_spectacular.utils import extend_schema_field

from portal.fields import IdFormField
from portal.validators import ID_MAX

__all__ = ["IdFilter"]


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX})
class IdFilter(django_filters.Filter):
    """``?parent=12``: an id (``portal.validators.parse_id``). ``1.5``, a 20-digit number or
    ``１２`` are a 400 with a message — never truncated, never sent to the database; an id
    that names nothing, or nothing the caller may see, simply matches nothing."""

    field_class = IdFormField
