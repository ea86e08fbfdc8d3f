"""Forms of the volunteers' pages: give a request back, report it delivered.

Thin: they read what the phone sent and hand it to ``orders.services``, which holds every
rule (hours, beneficiaries, who may be listed); the service's errors come back onto the
form — a participant's next to its row (``participants.<n>.hours``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.errors import ValidationFailed
from portal.fields import PlainTextFormField
from portal.validators import MULTILINE, parse_id
from volunteers.models import Volunteer

from . import services

__all__ = ["DeclineForm", "DeliverForm", "ParticipantRow"]

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DeclineForm(forms.Form):
    reason = PlainTextFormField(
        label=_("Why can the team not do it?"),
        rules=MULTILINE,
        max_length=services.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class _DateTimeLocal(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format=DATETIME_LOCAL)


@dataclass
class ParticipantRow:
    """One member of the team on the form: ticked or not, their hours, their errors."""

    volunteer: Volunteer
    checked: bool
    hours: str
    errors: list[str] = field(default_factory=list)


class DeliverForm(forms.Form):
    """What was done, for how many, when; the participants come from the checklist
    (``participant`` = volunteer ids, ``hours-<id>`` = their hours)."""

    summary = PlainTextFormField(
        label=_("What was done"),
        rules=MULTILINE,
        max_length=services.DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    beneficiaries = forms.IntegerField(
        label=_("People served"),
        widget=forms.NumberInput(attrs={"min": 0, "inputmode": "numeric"}),
    )
    start = forms.DateTimeField(
        label=_("Started"), required=False, input_formats=[DATETIME_LOCAL], widget=_DateTimeLocal()
    )
    end = forms.DateTimeField(
        label=_("Ended"),
        required=False,
        input_formats=[DATETIME_LOCAL],
        widget=_DateTimeLocal(),
        help_text=_("Leave both empty if it just ended and lasted as long as the most hours."),
    )

    def __init__(
        self, data: Any = None, *, members: Sequence[Volunteer], claimer_id: int | None
    ) -> None:
        super().__init__(data)
        self.members = list(members)
        ids = [m.pk for m in self.members]
        if data is None:
            self.wanted: list[Any] = [claimer_id] if claimer_id in ids else []
            self.rows = [ParticipantRow(m, m.pk in self.wanted, "") for m in self.members]
            return
        self.wanted = [self._id(raw) for raw in data.getlist("participant")]
        self.rows = [
            ParticipantRow(m, m.pk in self.wanted, str(data.get(f"hours-{m.pk}", "")).strip())
            for m in self.members
        ]

    @property
    def times(self) -> list[forms.BoundField]:
        return [self["start"], self["end"]]

    @staticmethod
    def _id(raw: str) -> Any:
        try:
            return parse_id(raw)
        except ValidationError:
            return raw  # the service says it is not a member of the team

    def participants(self) -> list[dict[str, Any]]:
        """``[{"volunteer": id, "hours": "2"}]`` in the order they were sent."""
        by_id = {row.volunteer.pk: row for row in self.rows}
        return [
            {"volunteer": pk, "hours": by_id[pk].hours if pk in by_id else ""} for pk in self.wanted
        ]

    def show_errors(self, exc: ValidationFailed) -> None:
        """Put the service's errors on the form: ``participants.<n>.…`` next to the row of
        the n-th volunteer sent, the others on their field or above the form."""
        if not exc.detail:
            self.add_error(None, str(exc.message))
            return
        by_id = {row.volunteer.pk: row for row in self.rows}
        on_rows = False
        for key, errors in exc.detail.items():
            name, _dot, rest = key.partition(".")
            row = None
            if name == "participants" and rest:
                index = rest.split(".", 1)[0]
                if index.isdigit() and int(index) < len(self.wanted):
                    row = by_id.get(self.wanted[int(index)])
            for error in errors:
                if row is not None:
                    row.errors.append(str(error))
                    on_rows = True
                elif name in self.fields and not rest:
                    self.add_error(name, error)
                else:
                    self.add_error(None, error)
        if on_rows:
            self.add_error(None, _("Check the volunteers marked below."))
