"""Model fields shared by the apps: encrypted text, and plain text checked by one rule."""

from typing import TYPE_CHECKING, Any

from django import forms
from django.db import models

from portal import crypto
from portal.validators import TEXT, TextRules, parse_id

__all__ = [
    "EncryptedCharField",
    "IdFormField",
    "PlainCharField",
    "PlainTextField",
    "PlainTextFormField",
]


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


# --- text --------------------------------------------------------------------------------


class PlainTextFormField(forms.CharField):
    """A form field applying :class:`~portal.validators.TextRules`: normalized, then checked.

    Model fields below hand it out for ModelForms; plain forms use it directly, e.g.
    ``PlainTextFormField(label=_("name"), max_length=30, rules=NAME)``.
    """

    def __init__(self, *, rules: TextRules = TEXT, **kwargs: Any) -> None:
        self.rules = rules
        if rules.multiline:
            kwargs.setdefault("widget", forms.Textarea)
        super().__init__(**kwargs)
        self.validators.append(rules.validator)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if isinstance(value, str) and value not in self.empty_values:
            return self.rules.normalize(value)
        return value


class IdFormField(forms.Field):
    """An id in a form or a query string (``?parent=``): ``portal.validators.parse_id``."""

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        return parse_id(value)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        return {**super().widget_attrs(widget), "inputmode": "numeric", "pattern": "[0-9]+"}


if TYPE_CHECKING:
    _Base = models.CharField
else:
    _Base = object


class _PlainTextMixin(_Base):
    """Normalizes on cleaning and on saving, and refuses what the rules refuse (a default
    validator, which ModelForms and ModelSerializers pick up with the field)."""

    default_multiline = False

    def __init__(
        self,
        *args: Any,
        multiline: bool | None = None,
        strict: bool = False,
        normalization: str = "NFC",
        **kwargs: Any,
    ) -> None:
        if multiline is None:
            multiline = self.default_multiline
        if normalization not in ("NFC", "NFKC"):
            raise ValueError(f"normalization must be 'NFC' or 'NFKC', not {normalization!r}")
        self.rules = TextRules(multiline=multiline, strict=strict, normalization=normalization)
        self.default_validators = [*super().default_validators, self.rules.validator]
        super().__init__(*args, **kwargs)

    # How text is checked and normalized changes no column.
    non_db_attrs = (*models.Field.non_db_attrs, "multiline", "strict", "normalization")

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.rules.multiline != self.default_multiline:
            kwargs["multiline"] = self.rules.multiline
        if self.rules.strict:
            kwargs["strict"] = True
        if self.rules.normalization != "NFC":
            kwargs["normalization"] = self.rules.normalization
        return name, path, args, kwargs

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return self.rules.normalize(value) if isinstance(value, str) else value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # Whatever wrote the value (bulk_create, a factory, a service), the stored text is
        # the normalized one, and so is the instance's.
        value = super().pre_save(model_instance, add)
        if isinstance(value, str):
            normalized = self.rules.normalize(value)
            if normalized != value:
                setattr(model_instance, self.attname, normalized)
            return normalized
        return value

    def formfield(
        self, form_class: Any = None, choices_form_class: Any = None, **kwargs: Any
    ) -> Any:
        if form_class is None or issubclass(form_class, PlainTextFormField):
            kwargs.setdefault("rules", self.rules)
        return super().formfield(
            form_class=form_class or PlainTextFormField,
            choices_form_class=choices_form_class,
            **kwargs,
        )


class PlainCharField(_PlainTextMixin, models.CharField):
    """One line of text (``multiline=True`` allows several). ``strict=True`` for names and
    codes; ``normalization="NFKC"`` for codes and numbers (full-width digits → ASCII)."""

    description = "Plain text (normalized, no control characters)"


class PlainTextField(_PlainTextMixin, models.TextField):  # type: ignore[misc]
    """Several lines of text: tab and line breaks allowed, other control characters not."""

    description = "Plain multi-line text (normalized, no control characters)"
    default_multiline = True
