"""Forms of the staff pages of activities: the one form that plans, logs and edits an
activity (with its participant rows and photos) and the reviewer's return form. They check
the shape of the input; the rules (scope, dates, counts, hours, states) live in
:mod:`activities.services`, whose refusals :func:`show_service_errors` puts back on them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.forms import UnitChoiceField, menu_teams, units_for
from portal.errors import ApplicationError
from portal.fields import PlainTextFormField
from portal.validators import MULTILINE, NAME, TEXT
from practice import selectors as practice_selectors
from practice.models import Unit
from practice.permissions import Action
from volunteers.models import Team, Volunteer

from .choices import ActivityStatus
from .models import Activity

__all__ = [
    "ActivityForm",
    "ParticipantForm",
    "ParticipantFormSet",
    "ReturnForm",
    "participant_formset",
    "show_service_errors",
]

# Empty participant rows offered below the filled ones (more after saving: no JS needed).
EXTRA_ROWS = 5
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
PLAN = ActivityStatus.PLANNED
REPORT = ActivityStatus.DRAFT


def _datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)


def _count_input() -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"})


def _decimal_input() -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})


class _TeamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}（{obj.unit.name}）"


class _CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe); each is checked by
    :func:`activities.photos.photo_add`, not here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png", "multiple": True})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class ActivityForm(forms.Form):
    """Plan (announce) or report an activity, or edit one. ``activity`` given: editing it
    (the plan-or-report choice only while it is planned)."""

    mode = forms.ChoiceField(
        label=gettext_lazy("What are you doing?"),
        choices=[
            (PLAN, gettext_lazy("Plan it: announce it on the calendar (it is still ahead)")),
            (REPORT, gettext_lazy("Report it: it has taken place")),
        ],
        widget=forms.RadioSelect,
        initial=REPORT,
    )
    unit = UnitChoiceField(label=gettext_lazy("Unit"), queryset=Unit.objects.none())
    title = PlainTextFormField(label=gettext_lazy("Title"), max_length=100, rules=NAME)
    category = _CategoryChoiceField(
        label=gettext_lazy("Platform"),
        queryset=practice_selectors.categories(),
        empty_label=gettext_lazy("Choose…"),
    )
    team = _TeamChoiceField(
        label=gettext_lazy("Organizing team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=gettext_lazy("(none)"),
    )
    start = forms.DateTimeField(
        label=gettext_lazy("Start"), input_formats=[DATETIME_FORMAT], widget=_datetime_input()
    )
    end = forms.DateTimeField(
        label=gettext_lazy("End"), input_formats=[DATETIME_FORMAT], widget=_datetime_input()
    )
    location = PlainTextFormField(
        label=gettext_lazy("Place"), max_length=200, required=False, rules=TEXT
    )
    latitude = forms.DecimalField(
        label=gettext_lazy("Latitude"),
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=-90,
        max_value=90,
        widget=_decimal_input(),
        help_text=gettext_lazy("Optional: where volunteers check in (else the unit's place)."),
    )
    longitude = forms.DecimalField(
        label=gettext_lazy("Longitude"),
        required=False,
        max_digits=9,
        decimal_places=6,
        min_value=-180,
        max_value=180,
        widget=_decimal_input(),
    )
    capacity = forms.IntegerField(
        label=gettext_lazy("Places for volunteers"),
        required=False,
        min_value=1,
        max_value=10000,
        widget=_count_input(),
        help_text=gettext_lazy("Optional: how many volunteers may sign up (empty: no limit)."),
    )
    description = PlainTextFormField(
        label=gettext_lazy("Description"),
        max_length=4000,
        required=False,
        rules=MULTILINE,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    # Counts stay text: the service's messages (whole number, 0 to 1,000,000) apply.
    beneficiaries = forms.CharField(
        label=gettext_lazy("People served"), required=False, widget=_count_input()
    )
    materials = forms.CharField(
        label=gettext_lazy("Materials handed out"), required=False, widget=_count_input()
    )
    photos = MultipleFileField(
        label=gettext_lazy("Photos"),
        required=False,
        help_text=gettext_lazy("JPEG or PNG; several at once. Location data is removed."),
    )

    def __init__(
        self,
        *args: Any,
        user: Any,
        unit: Unit | None = None,
        activity: Activity | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.activity = activity
        cast(forms.ModelChoiceField, self.fields["unit"]).queryset = units_for(
            user, Action.RECORD_HOURS
        )
        where = activity.unit if activity is not None else unit
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = menu_teams(user, where)
        if activity is not None and activity.status != ActivityStatus.PLANNED:
            del self.fields["mode"]

    @classmethod
    def initial_for(cls, activity: Activity) -> dict[str, Any]:
        """The form's initial values from ``activity`` (local times)."""
        return {
            "mode": activity.status if activity.status == PLAN else REPORT,
            "unit": activity.unit_id,
            "title": activity.title,
            "category": activity.category_id,
            "team": activity.team_id,
            "start": timezone.localtime(activity.start),
            "end": timezone.localtime(activity.end),
            "location": activity.location,
            "latitude": activity.latitude,
            "longitude": activity.longitude,
            "capacity": activity.capacity,
            "description": activity.description,
            "beneficiaries": activity.beneficiaries,
            "materials": activity.materials,
        }

    def service_data(self) -> dict[str, Any]:
        """The fields for ``activity_create`` / ``activity_update`` (participants apart)."""
        data = self.cleaned_data
        out: dict[str, Any] = {
            name: data.get(name)
            for name in (
                "unit",
                "title",
                "category",
                "team",
                "start",
                "end",
                "latitude",
                "longitude",
                "capacity",
            )
        }
        for name in ("location", "description", "beneficiaries", "materials"):
            out[name] = data.get(name) or ""
        mode = data.get("mode")
        if self.activity is None:
            out["status"] = mode or REPORT
        elif self.activity.status == PLAN and mode == REPORT:
            out["status"] = REPORT
        return out


class ParticipantForm(forms.Form):
    """One row: a volunteer's number and their hours (both empty: the row is skipped)."""

    number = forms.CharField(
        label=gettext_lazy("Volunteer number"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    hours = forms.CharField(
        label=gettext_lazy("Hours"), max_length=8, required=False, widget=_decimal_input()
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        number = (data.get("number") or "").strip().upper()
        data["number"] = number
        hours = (data.get("hours") or "").strip()
        data["hours"] = hours
        if hours and not number:
            self.add_error("number", _("Enter the volunteer's number."))
        if number and not hours:
            self.add_error("hours", _("Enter the hours."))
        return data


ParticipantFormSet = forms.formset_factory(ParticipantForm, extra=0, max_num=1000)


def participant_formset(
    data: Mapping[str, Any] | None = None, *, activity: Activity | None = None
) -> forms.BaseFormSet:
    """The participant rows: the activity's (number, hours, name shown) and empty ones."""
    initial: list[dict[str, Any]] = []
    if activity is not None:
        initial = [
            {"number": p.volunteer.number or "", "hours": p.hours, "name": p.volunteer.name}
            for p in activity.participants.all()
        ]
    formset = ParticipantFormSet(data, initial=initial, prefix="people")
    formset.extra = EXTRA_ROWS
    return formset


def participants_data(formset: forms.BaseFormSet) -> tuple[list[dict[str, Any]], list[int]]:
    """The filled rows as the service's ``[{"volunteer": id, "hours": "2"}]`` and, for each,
    the index of its form (the service names its errors by list position). Unknown numbers
    are errors on their rows (checked even when other rows or fields are wrong)."""
    rows = [
        (index, form.cleaned_data)
        for index, form in enumerate(formset.forms)
        if getattr(form, "cleaned_data", {}).get("number")
    ]
    numbers = {data["number"] for _i, data in rows}
    found = dict(
        Volunteer.objects.filter(number__in=numbers).values_list("number", "pk") if numbers else []
    )
    out: list[dict[str, Any]] = []
    positions: list[int] = []
    for index, data in rows:
        pk = found.get(data["number"])
        if pk is None:
            formset.forms[index].add_error("number", _("There is no volunteer with this number."))
            continue
        out.append({"volunteer": pk, "hours": data["hours"]})
        positions.append(index)
    return out, positions


def show_service_errors(
    form: forms.BaseForm,
    exc: ApplicationError,
    formset: forms.BaseFormSet | None = None,
    positions: Sequence[int] = (),
) -> None:
    """Put a service's refusal on the form: ``participants.<i>.<field>`` on the participant
    row it names, a field's on that field, the rest on top."""
    if not exc.detail:
        form.add_error(None, str(exc.message))
        return
    for key, errors in exc.detail.items():
        parts = str(key).split(".")
        for error in errors:
            if formset is not None and parts[0] == "participants" and len(parts) >= 2:
                try:
                    row = formset.forms[positions[int(parts[1])]]
                except (ValueError, IndexError):
                    form.add_error(None, error)
                    continue
                field = "hours" if parts[-1] == "hours" else "number"
                row.add_error(field, error)
            elif key in form.fields:
                form.add_error(str(key), error)
            else:
                form.add_error(None, error)


class ReturnForm(forms.Form):
    reason = PlainTextFormField(
        label=gettext_lazy("Reason (the unit reads it)"),
        max_length=1000,
        rules=MULTILINE,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "return")
        super().__init__(*args, **kwargs)
