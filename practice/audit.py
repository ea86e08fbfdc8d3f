"""The audit trail as people read it: each entry's stored ``changes`` as labelled lines.

Services store ``AuditEntry.changes`` as JSON: ``{"field": [old, new]}`` for an edit,
``{"field": value}`` for what a new unit or account was given, counts for bulk actions
(``{"units": 27}``). :func:`describe` turns any of these into :class:`ChangeLine` rows
with translated labels and values; the audit pages, their Excel export and
``GET /api/v1/audit/`` all use it, so they read the same. Personal data is never shown:
whatever is stored under a personal key comes out as "changed" (the services store no
more than that anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .choices import AuditAction, Role, UnitKind
from .models import AuditEntry, Unit, User

__all__ = [
    "EXPORT_HEADERS",
    "EXPORT_WIDTHS",
    "ChangeLine",
    "describe",
    "export_rows",
    "with_lines",
]

# Keys whose values are personal data: shown as "changed", never as stored.
PERSONAL_KEYS = frozenset({"phone", "password", "old_password", "id_number"})

# Keys of the accounts' entries (``user.*``) that differ from a unit's field of that name.
_USER_LABELS: dict[str, str | Promise] = {
    "name": User._meta.get_field("name").verbose_name,
    "phone": User._meta.get_field("phone").verbose_name,
    "is_active": gettext_lazy("account enabled"),
    "password": gettext_lazy("password"),
}

# Keys that are no field of a unit, or mean something else in an entry.
_OTHER_LABELS: dict[str, str | Promise] = {
    "parent": Unit._meta.get_field("parent").verbose_name,
    "is_active": Unit._meta.get_field("is_active").verbose_name,
    "user": gettext_lazy("account"),
    "role": gettext_lazy("role"),
    "units": gettext_lazy("units"),
}

# The counts of a bulk action say what was counted.
_COUNT_LABELS: dict[tuple[str, str], str | Promise] = {
    (AuditAction.UNIT_IMPORTED, "units"): gettext_lazy("units imported"),
    (AuditAction.UNIT_IMPORTED, "created"): gettext_lazy("units created"),
    (AuditAction.UNIT_IMPORTED, "changed"): gettext_lazy("units changed"),
    (AuditAction.UNIT_IMPORTED, "unchanged"): gettext_lazy("units left unchanged"),
    (AuditAction.UNIT_DEACTIVATED, "units"): gettext_lazy("units deactivated"),
}

_CHOICE_LABELS: dict[str, dict[str, Any]] = {
    "kind": dict(UnitKind.choices),
    "role": dict(Role.choices),
}


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """One line of an entry: ``label: old → new``, or ``label: new`` when nothing was before
    (``is_change`` False). ``old`` and ``new`` are display text; ``field`` is the stored key."""

    field: str
    label: str
    old: str
    new: str
    is_change: bool

    def __str__(self) -> str:
        if self.is_change:
            return _("%(field)s: %(old)s → %(new)s") % {
                "field": self.label,
                "old": self.old,
                "new": self.new,
            }
        return _("%(field)s: %(value)s") % {"field": self.label, "value": self.new}


def _label(action: str, key: str) -> str:
    label: str | Promise
    if (action, key) in _COUNT_LABELS:
        label = _COUNT_LABELS[action, key]
    elif action.startswith("user.") and key in _USER_LABELS:
        label = _USER_LABELS[key]
    elif key in _OTHER_LABELS:
        label = _OTHER_LABELS[key]
    else:
        try:
            label = Unit._meta.get_field(key).verbose_name
        except FieldDoesNotExist:  # any other key is shown as stored
            label = key
    return capfirst(str(label))


def _text(key: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key in _CHOICE_LABELS and isinstance(value, str):
        return str(_CHOICE_LABELS[key].get(value, value))
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_text(k, v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(key, v) for v in value)
    return str(value)


def _personal(value: Any) -> str:
    return _("reset") if value == "reset" else _("changed")


def describe(entry: AuditEntry) -> list[ChangeLine]:
    """The entry's changes as lines, in the order they were stored."""
    changes = entry.changes if isinstance(entry.changes, Mapping) else {}
    lines: list[ChangeLine] = []
    for key, value in changes.items():
        label = _label(entry.action, key)
        if key in PERSONAL_KEYS:
            lines.append(ChangeLine(key, label, "", _personal(value), is_change=False))
        elif isinstance(value, list) and len(value) == 2:
            old, new = value
            lines.append(ChangeLine(key, label, _text(key, old), _text(key, new), is_change=True))
        elif entry.action == AuditAction.UNIT_CREATED and (value is None or value == ""):
            continue  # a new unit's empty fields say nothing
        else:
            lines.append(ChangeLine(key, label, "", _text(key, value), is_change=False))
    return lines


def with_lines(entries: Iterable[AuditEntry]) -> list[AuditEntry]:
    """Give each entry its ``lines`` (no query)."""
    entries = list(entries)
    for entry in entries:
        entry.lines = describe(entry)  # type: ignore[attr-defined]
    return entries


EXPORT_HEADERS = (
    gettext_lazy("When"),
    gettext_lazy("Who"),
    gettext_lazy("Account"),
    gettext_lazy("What"),
    gettext_lazy("Unit"),
    gettext_lazy("Object"),
    gettext_lazy("Changes"),
)
EXPORT_WIDTHS = (18, 14, 14, 14, 22, 28, 60)


def export_rows(entries: Iterable[AuditEntry]) -> Iterator[list[object]]:
    """One spreadsheet row per entry, matching :data:`EXPORT_HEADERS`."""
    for entry in entries:
        actor = entry.actor
        yield [
            entry.at.replace(microsecond=0),  # written in the portal's local time
            actor.display_name if actor else "",
            actor.username if actor else "",
            entry.get_action_display(),
            entry.unit.name if entry.unit else "",
            entry.object_repr,
            "\n".join(str(line) for line in describe(entry)),
        ]
