"""Forms of the staff pages: dispatching, rejecting and reviewing a request, filing one for
a resident, and the menu. They check the shape of the input; the rules (scope, states,
which team may serve which station) live in :mod:`orders.services`, whose refusals the
views put back on these forms (:func:`show_errors`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.errors import ApplicationError
from portal.fields import PlainTextFormField
from portal.validators import MULTILINE, NAME, TEXT
from practice import selectors as practice_selectors
from practice.models import Category, Unit
from practice.permissions import Action, grants_of, scope_q
from practice.tree import path_q
from volunteers.models import Team

from . import selectors
from .models import MenuItem, ServiceRequest

__all__ = [
    "DispatchForm",
    "FileRequestForm",
    "MenuItemForm",
    "RejectForm",
    "ReviewForm",
    "UnitChoiceField",
    "dispatch_teams",
    "menu_teams",
    "show_errors",
    "units_for",
]

OTHER = "other"
# The dispatch form's due date when the resident named no (future) date: a few days ahead.
DEFAULT_DUE_DAYS = 3


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def show_errors(form: forms.BaseForm, exc: ApplicationError) -> None:
    """Put a service's refusal on ``form``: per field where the form has it, else on top."""
    if not exc.detail:
        form.add_error(None, str(exc.message))
        return
    for field, errors in exc.detail.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


class UnitChoiceField(forms.ModelChoiceField):
    """Units in tree order, indented by level."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{'— ' * obj.level}{obj.name}"


class _TeamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.unit.name}）"


class _TeamsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.unit.name}）"


class _MenuItemChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.title}（{obj.category.display_name} · {obj.unit.name}）"


def units_for(user: Any, action: Action) -> QuerySet[Unit]:
    """Active units where ``user`` may do ``action``, in tree order (one query)."""
    return (
        Unit.objects.for_user(user, action)
        .filter(is_active=True)
        .order_by("tree_id", "lft")
        .only("pk", "name", "level", "kind", "tree_id", "lft", "rght", "parent_id", "is_active")
    )


def dispatch_teams(user: Any, request: ServiceRequest) -> QuerySet[Team]:
    """Teams ``request`` may be sent to (the rule of ``services.request_dispatch``): the menu
    item's teams first, then the active teams of the station's units above it and of the
    units in ``user``'s view."""
    item_teams: list[int] = []
    if request.menu_item_id is not None:
        item_teams = list(
            Team.objects.filter(menu_items=request.menu_item_id, is_active=True).values_list(
                "pk", flat=True
            )
        )
    return (
        Team.objects.filter(is_active=True)
        .filter(path_q(request.unit) | scope_q(user, Action.VIEW, prefix="unit__"))
        .select_related("unit")
        .annotate(
            first=Case(
                When(pk__in=item_teams, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("first", "unit__tree_id", "unit__lft", "name", "pk")
    )


def menu_teams(user: Any, unit: Unit | None) -> QuerySet[Team]:
    """Teams that may deliver an item of ``unit`` (``services._menu_teams``): active teams
    of the unit, the units above it and those below it. Without a unit: those of every unit
    where ``user`` keeps a menu, and above them."""
    teams = Team.objects.filter(is_active=True).select_related("unit")
    if unit is not None:
        below = Q(unit__tree_id=unit.tree_id, unit__lft__gte=unit.lft, unit__lft__lte=unit.rght)
        teams = teams.filter(path_q(unit) | below)
    else:
        where = scope_q(user, Action.MANAGE_MENU, prefix="unit__")
        for grant in grants_of(user):
            where |= Q(
                unit__tree_id=grant.tree_id, unit__lft__lte=grant.lft, unit__rght__gte=grant.rght
            )
        teams = teams.filter(where)
    return teams.order_by("unit__tree_id", "unit__lft", "name", "pk")


# --- the request's actions -------------------------------------------------------------------


class DispatchForm(forms.Form):
    team = _TeamChoiceField(
        label=gettext_lazy("Team"),
        queryset=Team.objects.none(),
        empty_label=gettext_lazy("Choose…"),
    )
    due_date = forms.DateField(label=gettext_lazy("Due date"), widget=_date_input())
    menu_item = _MenuItemChoiceField(
        label=gettext_lazy("Menu item"),
        queryset=MenuItem.objects.none(),
        required=False,
        empty_label=gettext_lazy("(keep as it is)"),
        help_text=gettext_lazy("Optional: the service on the menu that answers the request."),
    )
    note = PlainTextFormField(
        label=gettext_lazy("Note for the team"),
        max_length=1000,
        required=False,
        rules=MULTILINE,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, user: Any, request_obj: ServiceRequest, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "dispatch")
        today = timezone.localdate()
        wanted = request_obj.desired_date
        kwargs.setdefault(
            "initial",
            {
                "due_date": wanted
                if wanted is not None and wanted >= today
                else today + dt.timedelta(days=DEFAULT_DUE_DAYS)
            },
        )
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = dispatch_teams(
            user, request_obj
        )
        cast(forms.ModelChoiceField, self.fields["menu_item"]).queryset = selectors.menu_for_unit(
            request_obj.unit
        )


class RejectForm(forms.Form):
    reason = PlainTextFormField(
        label=gettext_lazy("Reason (the resident reads it)"),
        max_length=1000,
        rules=MULTILINE,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "reject")
        super().__init__(*args, **kwargs)


class ReviewForm(forms.Form):
    note = PlainTextFormField(
        label=gettext_lazy("What was done about the low rating"),
        max_length=1000,
        rules=MULTILINE,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "review")
        super().__init__(*args, **kwargs)


# --- filing a request for a resident ---------------------------------------------------------


class FileRequestForm(forms.Form):
    """A request filed by station staff for a resident, at a unit chosen beforehand (the
    page's station picker): the menu of that unit, or something else described."""

    unit = forms.ModelChoiceField(
        label=gettext_lazy("Station"), queryset=Unit.objects.none(), widget=forms.HiddenInput
    )
    menu_item = forms.ChoiceField(label=gettext_lazy("Service"))
    category = forms.ModelChoiceField(
        label=gettext_lazy("Platform"),
        queryset=Category.objects.none(),
        required=False,
        empty_label=gettext_lazy("Choose…"),
        help_text=gettext_lazy("For “something else”."),
    )
    description = PlainTextFormField(
        label=gettext_lazy("What the resident needs"),
        max_length=2000,
        required=False,
        rules=MULTILINE,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    contact_name = PlainTextFormField(
        label=gettext_lazy("Resident's name"), max_length=30, rules=NAME
    )
    contact_phone = forms.CharField(
        label=gettext_lazy("Resident's mobile phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    no_phone = forms.BooleanField(
        label=gettext_lazy("The resident has no mobile phone"), required=False
    )
    desired_date = forms.DateField(
        label=gettext_lazy("Desired date"), required=False, widget=_date_input()
    )
    address = PlainTextFormField(
        label=gettext_lazy("Address"), max_length=200, required=False, rules=TEXT
    )

    def __init__(self, *args: Any, units: QuerySet[Unit], unit: Unit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit = unit
        cast(forms.ModelChoiceField, self.fields["unit"]).queryset = units
        self.items = {str(item.pk): item for item in selectors.menu_for_unit(unit)}
        choices: list[tuple[str, str]] = [
            (pk, f"{item.title}（{item.category.display_name}）") for pk, item in self.items.items()
        ]
        choices.append((OTHER, _("Something else (describe it below)")))
        menu_field = cast(forms.ChoiceField, self.fields["menu_item"])
        menu_field.choices = choices
        cast(
            forms.ModelChoiceField, self.fields["category"]
        ).queryset = practice_selectors.categories()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        choice = data.get("menu_item")
        if choice == OTHER:
            if not data.get("category"):
                self.add_error("category", _("Choose the platform of the service."))
            if not data.get("description"):
                self.add_error("description", _("Describe what the resident needs."))
        phone = data.get("contact_phone") or ""
        if data.get("no_phone"):
            if phone:
                self.add_error(
                    "contact_phone", _("Leave the phone empty when the resident has none.")
                )
        elif not phone:
            self.add_error(
                "contact_phone",
                _("Enter the resident's mobile phone, or tick “no mobile phone”."),
            )
        return data

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        item = self.items.get(data["menu_item"])
        return {
            "unit": self.unit,
            "menu_item": item,
            "category": None if item is not None else data.get("category"),
            "description": data.get("description") or "",
            "contact_name": data["contact_name"],
            "contact_phone": "" if data.get("no_phone") else data.get("contact_phone") or "",
            "desired_date": data.get("desired_date"),
            "address": data.get("address") or "",
            "on_behalf": True,
        }


# --- the menu --------------------------------------------------------------------------------


class MenuItemForm(forms.Form):
    unit = forms.ModelChoiceField(
        label=gettext_lazy("Unit"), queryset=Unit.objects.none(), widget=forms.HiddenInput
    )
    category = forms.ModelChoiceField(
        label=gettext_lazy("Platform"),
        queryset=Category.objects.none(),
        empty_label=gettext_lazy("Choose…"),
    )
    title = PlainTextFormField(label=gettext_lazy("Title"), max_length=100, rules=NAME)
    description = PlainTextFormField(
        label=gettext_lazy("Description"),
        max_length=2000,
        required=False,
        rules=MULTILINE,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    teams = _TeamsField(
        label=gettext_lazy("Teams that deliver it"),
        queryset=Team.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Offered"), required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        user: Any,
        unit: Unit,
        units: QuerySet[Unit] | None = None,
        item: MenuItem | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.item = item
        self.unit = unit
        if item is not None:
            del self.fields["unit"]
        else:
            cast(forms.ModelChoiceField, self.fields["unit"]).queryset = (
                units if units is not None else Unit.objects.none()
            )
        cast(
            forms.ModelChoiceField, self.fields["category"]
        ).queryset = practice_selectors.categories()
        cast(forms.ModelMultipleChoiceField, self.fields["teams"]).queryset = menu_teams(user, unit)

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        out = {
            "category": data["category"],
            "title": data["title"],
            "description": data.get("description") or "",
            "teams": list(data.get("teams") or []),
            "is_active": bool(data.get("is_active")),
        }
        if self.item is None:
            out["unit"] = self.unit
        return out
