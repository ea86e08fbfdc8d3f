"""Forms of the residents' pages: ordering a service, following a request, rating it.

They only collect the input; :mod:`orders.services` normalizes and checks it (names,
phones, dates, the menu) and its errors are shown on these forms' fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from practice.models import Category

from .models import MenuItem

__all__ = ["OTHER", "OrderForm", "PhoneForm", "RateForm", "TrackStartForm"]

# The "something else" choice of the order form's service list.
OTHER = "other"


def _phone_field(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )


class OrderForm(forms.Form):
    """A resident's order at one station: a menu item (or "something else" with a platform
    and a description), who they are, when they would like it."""

    item = forms.ChoiceField(label=_("What do you need?"), widget=forms.RadioSelect)
    category = forms.ModelChoiceField(
        label=_("Which kind of service?"),
        queryset=Category.objects.none(),
        required=False,
        empty_label=_("Choose…"),
    )
    description = forms.CharField(
        label=_("Tell us more"),
        required=False,
        max_length=2000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when you choose “something else”: what, where, for how many people."),
    )
    contact_name = forms.CharField(
        label=_("Your name"),
        max_length=60,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    contact_phone = _phone_field(_("Your mobile number"))
    desired_date = forms.DateField(
        label=_("When would you like it? (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    # The honeypot: hidden from people (visually-hidden, aria-hidden, out of the tab order),
    # filled in by form-filling robots. A filled one is refused without saying why.
    website = forms.CharField(
        label=_("Leave this empty"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, menu: Iterable[MenuItem], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.menu = {str(item.pk): item for item in menu}
        item_field = cast(forms.ChoiceField, self.fields["item"])
        item_field.choices = [(pk, item.title) for pk, item in self.menu.items()] + [
            (OTHER, _("Something else"))
        ]
        category = cast(forms.ModelChoiceField, self.fields["category"])
        category.queryset = Category.objects.filter(is_active=True)

    def is_spam(self) -> bool:
        return bool(self.data.get("website", "").strip())

    def service_data(self, unit: Any) -> dict[str, Any]:
        """The input of ``services.request_submit``."""
        data = self.cleaned_data
        item = self.menu.get(data["item"])
        return {
            "unit": unit,
            "menu_item": item,
            "category": None if item is not None else data.get("category"),
            "description": data.get("description", ""),
            "contact_name": data["contact_name"],
            "contact_phone": data["contact_phone"],
            "desired_date": data.get("desired_date"),
        }


class TrackStartForm(forms.Form):
    code = forms.CharField(
        label=_("Tracking code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
            }
        ),
        help_text=_("The 8 letters and digits you were given when you ordered."),
    )


class PhoneForm(forms.Form):
    phone = _phone_field(_("The mobile number you gave when ordering"))


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How satisfied are you?"),
        coerce=int,
        choices=[
            (5, _("5 — very satisfied")),
            (4, _("4 — satisfied")),
            (3, _("3 — it was all right")),
            (2, _("2 — not satisfied")),
            (1, _("1 — very unhappy")),
        ],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything to add? (optional)"),
        required=False,
        max_length=1000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
