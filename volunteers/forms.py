"""Forms of the registration and profile pages. They only collect the input: the services
normalize and check it (names, ID numbers, phones, ages) and their errors are shown on the
fields."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from practice.models import Category, Unit

from .choices import VolunteerStatus

__all__ = [
    "OwnProfileForm",
    "RegisterForm",
    "RejectForm",
    "StatusForm",
    "VolunteerCreateForm",
    "VolunteerEditForm",
]


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{'— ' * max(obj.level - self.base_level, 0)}{obj.name}"

    base_level = 0


def _categories() -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        label=_("Service interests"),
        queryset=Category.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


def _text(label: Any, max_length: int, **kwargs: Any) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=False, **kwargs)


class _VolunteerFields(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60, strip=False)
    id_number = forms.CharField(
        label=_("Resident ID number"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    phone = forms.CharField(
        label=_("Mobile number"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    unit = UnitChoiceField(label=_("Home unit"), queryset=Unit.objects.none())
    skills = _text(_("Skills"), 200, help_text=_("e.g. first aid, photography, teaching"))
    categories = _categories()
    available_time = _text(_("Available time"), 100, help_text=_("e.g. weekends, weekday evenings"))
    guardian_name = _text(_("Guardian's name"), 60, help_text=_("Under 18: a parent or guardian."))
    guardian_phone = _text(
        _("Guardian's mobile number"),
        32,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
        help_text=_("Required under 14."),
    )
    guardian_consent = forms.BooleanField(
        label=_("My parent or guardian agrees to this registration (required under 18)."),
        required=False,
    )

    def __init__(
        self, *args: Any, units: QuerySet[Unit], base_level: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        unit = cast(UnitChoiceField, self.fields["unit"])
        unit.queryset = units
        unit.base_level = base_level
        unit.empty_label = _("Choose…")


class RegisterForm(_VolunteerFields):
    """Public self-registration (phone-first order: the phone is the login)."""

    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("You will log in with your mobile number and this password."),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    field_order = [
        "unit",
        "name",
        "id_number",
        "phone",
        "password",
        "password2",
        "skills",
        "categories",
        "available_time",
        "guardian_name",
        "guardian_phone",
        "guardian_consent",
    ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("password2", None)
        return data


class VolunteerCreateForm(_VolunteerFields):
    """Registration by staff: active at once; the person sets a password later."""


class VolunteerEditForm(_VolunteerFields):
    """Staff edit: everything but the ID number (it identifies the person)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["id_number"]


class OwnProfileForm(forms.Form):
    """What a volunteer changes themself."""

    phone = _VolunteerFields.base_fields["phone"]
    skills = _VolunteerFields.base_fields["skills"]
    categories = _categories()
    available_time = _VolunteerFields.base_fields["available_time"]


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the applicant sees it)"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (VolunteerStatus.SUSPENDED, _("Suspend")),
            (VolunteerStatus.WITHDRAWN, _("Mark as withdrawn")),
            (VolunteerStatus.ACTIVE, _("Reactivate")),
        ]
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
