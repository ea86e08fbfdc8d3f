"""The base of every model serializer of the API."""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers

from portal.fields import PlainCharField, PlainTextField

from .fields import BoundedPrimaryKeyRelatedField
from .fields import PlainTextField as PlainTextSerializerField

__all__ = ["ModelSerializer"]


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer with the portal's input rules on the fields it builds:

    - a ``PlainCharField``/``PlainTextField`` becomes a ``PlainTextField`` normalizing the
      text as the model will store it (NFC, full-width digits of codes → ASCII) and
      refusing what the model refuses, so a service compares and audits the stored form;
    - a relation becomes a ``BoundedPrimaryKeyRelatedField`` (ids 1…``ID_MAX``).
    """

    serializer_related_field = BoundedPrimaryKeyRelatedField

    def build_standard_field(
        self, field_name: str, model_field: models.Field[Any, Any]
    ) -> tuple[type[serializers.Field[Any, Any, Any, Any]], dict[str, Any]]:
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if isinstance(model_field, PlainCharField | PlainTextField) and issubclass(
            field_class, serializers.CharField
        ):
            field_kwargs["rules"] = model_field.rules
            field_class = PlainTextSerializerField
        return field_class, field_kwargs
