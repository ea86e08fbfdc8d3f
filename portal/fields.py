"""Model fields shared by the apps."""

from typing import Any

from django.db import models

from portal import crypto

__all__ = ["EncryptedCharField"]


class EncryptedCharField(models.TextField):
    """A text value stored encrypted; reads back as plain text. Not searchable by value."""

    description = "Encrypted text"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value))
