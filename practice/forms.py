from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import ALLOWED_PARENT_KINDS, Role, UnitKind
from .models import Unit, User
from .services import UNIT_EDITABLE_FIELDS

__all__ = ["RoleGrantForm", "UnitForm", "UnitMoveForm", "UserCreateForm", "UserEditForm"]


class UnitForm(forms.ModelForm):
    class Meta:
        model = Unit
        fields = list(UNIT_EDITABLE_FIELDS)
        widgets = {
            "latitude": forms.NumberInput(attrs={"step": "0.000001"}),
            "longitude": forms.NumberInput(attrs={"step": "0.000001"}),
        }

    def __init__(self, *args: Any, parent: Unit | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parent_kind = parent.kind if parent else (
            self.instance.parent.kind if self.instance.pk and self.instance.parent else None
        )
        allowed = [k for k, v in UnitKind.choices if parent_kind in ALLOWED_PARENT_KINDS[k]]
        self.fields["kind"].choices = [(k, v) for k, v in UnitKind.choices if k in allowed]

    def _post_clean(self) -> None:
        # Model validation (tree rules, uniqueness) is the service's job, with its messages.
        pass


class UnitMoveForm(forms.Form):
    parent = forms.ModelChoiceField(
        label=_("new parent unit"), queryset=Unit.objects.none(), required=True
    )

    def __init__(self, *args: Any, candidates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = candidates
        self.fields["parent"].label_from_instance = lambda u: f"{'— ' * u.level}{u.name}"


class RoleGrantForm(forms.Form):
    user = forms.ModelChoiceField(label=_("account"), queryset=User.objects.none())
    role = forms.ChoiceField(label=_("role"), choices=Role.choices)

    def __init__(self, *args: Any, users: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = users
        self.fields["user"].label_from_instance = lambda u: f"{u.display_name} ({u.username})"


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("username"), max_length=150)
    name = forms.CharField(label=_("full name"), max_length=30)
    phone = forms.CharField(label=_("mobile phone"), max_length=20, required=False)
    password = forms.CharField(label=_("initial password"), widget=forms.PasswordInput)
    unit = forms.ModelChoiceField(label=_("unit"), queryset=Unit.objects.none(), required=False)
    role = forms.ChoiceField(
        label=_("role"), choices=[("", "—"), *Role.choices], required=False
    )

    def __init__(self, *args: Any, units: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        self.fields["unit"].label_from_instance = lambda u: f"{'— ' * u.level}{u.name}"


class UserEditForm(forms.Form):
    name = forms.CharField(label=_("full name"), max_length=30)
    phone = forms.CharField(label=_("mobile phone"), max_length=20, required=False)
    is_active = forms.BooleanField(label=_("account enabled"), required=False)
    password = forms.CharField(
        label=_("new password"), widget=forms.PasswordInput, required=False,
        help_text=_("Leave empty to keep the current password."),
    )
