from typing import Any, cast

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.errors import ApplicationError
from portal.fields import PlainTextFormField
from portal.validators import NAME

from . import spreadsheets
from .choices import ALLOWED_PARENT_KINDS, Role, UnitKind
from .models import UNIT_EDITABLE_FIELDS, Unit, User
from .tree import UnitRow

__all__ = [
    "RoleGrantForm",
    "UnitForm",
    "UnitImportForm",
    "UnitMoveForm",
    "UserCreateForm",
    "UserEditForm",
]


class UnitChoiceField(forms.ModelChoiceField):
    """Units indented by their depth, so a select list reads like the tree."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{'— ' * obj.level}{obj.name}"


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _("%(name)s (%(username)s)") % {"name": obj.display_name, "username": obj.username}


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
        parent_kind = (
            parent.kind
            if parent
            else (self.instance.parent.kind if self.instance.pk and self.instance.parent else None)
        )
        allowed = [k for k, v in UnitKind.choices if parent_kind in ALLOWED_PARENT_KINDS[k]]
        kind = cast(forms.ChoiceField, self.fields["kind"])
        kind.choices = [(k, v) for k, v in UnitKind.choices if k in allowed]

    def _post_clean(self) -> None:
        # Model validation (tree rules, uniqueness) is the service's job, with its messages.
        pass


class UnitMoveForm(forms.Form):
    parent = UnitChoiceField(
        label=_("new parent unit"), queryset=Unit.objects.none(), required=True
    )

    def __init__(self, *args: Any, candidates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parent_field = cast(forms.ModelChoiceField, self.fields["parent"])
        parent_field.queryset = candidates


class UnitImportForm(forms.Form):
    """An uploaded workbook; ``cleaned_data["file"]`` holds its rows (``UnitRow``) and
    ``filename`` the name it was uploaded under."""

    file = forms.FileField(
        label=_("Excel workbook (.xlsx)"),
        widget=forms.FileInput(attrs={"accept": f".xlsx,{spreadsheets.XLSX_CONTENT_TYPE}"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = gettext("At most %(rows)d rows and %(megabytes)d MB.") % {
            "rows": spreadsheets.MAX_ROWS,
            "megabytes": spreadsheets.MAX_FILE_BYTES // (1024 * 1024),
        }

    filename = ""

    def clean_file(self) -> list[UnitRow]:
        upload = self.cleaned_data["file"]
        self.filename = upload.name or ""
        try:
            return spreadsheets.read_upload(upload)
        except ApplicationError as exc:
            raise forms.ValidationError(str(exc.message), code=exc.code) from exc


class RoleGrantForm(forms.Form):
    user = AccountChoiceField(label=_("account"), queryset=User.objects.none())
    role = forms.ChoiceField(label=_("role"), choices=Role.choices)

    def __init__(self, *args: Any, users: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user_field = cast(forms.ModelChoiceField, self.fields["user"])
        user_field.queryset = users


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("username"), max_length=150)
    name = PlainTextFormField(label=_("full name"), max_length=30, rules=NAME)
    phone = forms.CharField(label=_("mobile phone"), max_length=20, required=False)
    password = forms.CharField(label=_("initial password"), widget=forms.PasswordInput)
    unit = UnitChoiceField(label=_("unit"), queryset=Unit.objects.none(), required=False)
    role = forms.ChoiceField(label=_("role"), choices=[("", "—"), *Role.choices], required=False)

    def __init__(self, *args: Any, units: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        unit_field = cast(forms.ModelChoiceField, self.fields["unit"])
        unit_field.queryset = units


class UserEditForm(forms.Form):
    name = PlainTextFormField(label=_("full name"), max_length=30, rules=NAME)
    phone = forms.CharField(label=_("mobile phone"), max_length=20, required=False)
    is_active = forms.BooleanField(label=_("account enabled"), required=False)
    password = forms.CharField(
        label=_("new password"),
        widget=forms.PasswordInput,
        required=False,
        help_text=_("Leave empty to keep the current password."),
    )
