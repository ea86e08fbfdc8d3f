"""Serializer fields for the portal's two input rules: plain text and bounded ids."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from portal.validators import ID_MAX, TEXT, TextRules, parse_id

__all__ = ["BoundedPrimaryKeyRelatedField", "IdField", "PlainTextField"]


class PlainTextField(serializers.CharField):
    """Text under :class:`~portal.validators.TextRules`: normalized, then checked (the
    serializer twin of ``portal.fields.PlainCharField``; ``portal.api.serializers.
    ModelSerializer`` maps that model field to this one)."""

    def __init__(self, *, rules: TextRules = TEXT, **kwargs: Any) -> None:
        self.rules = rules
        if rules.multiline:
            kwargs.setdefault("style", {"base_template": "textarea.html"})
        super().__init__(**kwargs)
        validator = rules.validator
        if validator not in self.validators:
            self.validators.append(validator)

    def to_internal_value(self, data: Any) -> str:
        return self.rules.normalize(super().to_internal_value(data))


def _id(value: Any) -> int:
    try:
        return parse_id(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages, code="invalid_id") from exc


class IdField(serializers.IntegerField):
    """An id in a body that is not a relation (``parse_id``: 1…ID_MAX, no fractions)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        return _id(data)


class BoundedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A relation given by id: the id is checked (``parse_id``) before any query, so
    ``1.5`` is refused rather than truncated to 1, and ``1e30`` or a 20-digit number is a
    400 on every database rather than an overflow inside the driver."""

    def to_internal_value(self, data: Any) -> Any:
        if self.pk_field is None:
            data = _id(data)
        return super().to_internal_value(data)


class _BoundedIdExtension(OpenApiSerializerFieldExtension):
    target_class = BoundedPrimaryKeyRelatedField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        return {"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX}
