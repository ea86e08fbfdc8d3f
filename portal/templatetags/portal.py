"""Template helpers: Bootstrap classes on form widgets, unit-kind badges."""

from typing import Any

from django import forms, template

register = template.Library()


@register.filter
def bootstrap(field: forms.BoundField) -> str:
    """Render a bound field's widget with Bootstrap's class and validity state."""
    widget = field.field.widget
    if isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    elif isinstance(widget, forms.Select):
        css = "form-select"
    else:
        css = "form-control"
    if field.errors:
        css += " is-invalid"
    attrs: dict[str, Any] = {"class": css}
    if field.help_text:
        attrs["aria-describedby"] = f"{field.auto_id}_help"
    return field.as_widget(attrs=attrs)
