"""Units to and from Excel workbooks (.xlsx): the spreadsheets county offices already keep.

One sheet (the workbook's first), one unit per row below a row of column headers. The
headers, the kinds and the status may be written in Chinese or in English (or as the
API's codes); exports use the user's language. The columns, their names and their hints
live in :data:`COLUMNS` and nowhere else. Files are written and read only through
:mod:`portal.xlsx` (formula-safe cells; bounded, streaming reading).

An export carries each unit's ID and status, inactive units included, so the sheet
imports back over the same units: a row with an ID updates that unit, a row without one
creates a unit (see ``services.unit_import_plan``).

Reading turns a workbook into rows (:class:`~practice.tree.UnitRow`) and refuses, with one
message, what is not a readable sheet of units at all (not an .xlsx, empty, a required
column missing, too many rows). Everything about the units themselves — IDs, kinds,
parents, names, the model's validators — is checked by the import's plan, which reports
every problem by row number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from portal import xlsx
from portal.errors import ValidationFailed
from portal.http import attachment

from .choices import UnitKind
from .models import Unit
from .tree import UnitRow

__all__ = [
    "ACTIVE",
    "COLUMNS",
    "ID",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "MAX_SHEET_ROWS",
    "XLSX_CONTENT_TYPE",
    "Column",
    "check_size",
    "column_guide",
    "download",
    "export_filenames",
    "export_workbook",
    "kind_guide",
    "read_rows",
    "read_upload",
    "status_guide",
    "template_download",
]

XLSX_CONTENT_TYPE = xlsx.XLSX_CONTENT_TYPE
MAX_FILE_BYTES = xlsx.MAX_FILE_BYTES
MAX_ROWS = 5_000
# The headers may sit below a title row or two ("南靖县新时代文明实践站点一览表").
HEADER_SEARCH_ROWS = 10
# Physical rows read at most, blank ones included: a title, the headers and the units.
MAX_SHEET_ROWS = HEADER_SEARCH_ROWS + MAX_ROWS
# Columns read at most: ours and a few of the office's own (序号, 备注 ...).
MAX_COLUMNS = 32
ID = "id"
PARENT = "parent"
ACTIVE = "active"
COORDINATE_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class Column:
    """A column of the sheet: ``key`` is ``"id"``, ``"parent"``, ``"active"`` or a field of
    ``Unit``."""

    key: str
    label: Promise
    hint: Promise
    width: int
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column(
        ID,
        pgettext_lazy("spreadsheet column", "ID"),
        gettext_lazy(
            "Filled in by the export. Keep it to update that unit; leave it empty for a new unit."
        ),
        8,
    ),
    Column(
        PARENT,
        pgettext_lazy("spreadsheet column", "Parent"),
        gettext_lazy(
            "Empty for a unit directly under the unit you import into; otherwise the name of "
            "a unit in an earlier row."
        ),
        34,
    ),
    Column(
        "name",
        pgettext_lazy("spreadsheet column", "Name"),
        gettext_lazy("Unique among the units under the same parent."),
        34,
        required=True,
    ),
    Column(
        "kind",
        pgettext_lazy("spreadsheet column", "Kind"),
        gettext_lazy("One of the kinds below, in Chinese or in English."),
        14,
        required=True,
    ),
    Column(
        "division_code",
        pgettext_lazy("spreadsheet column", "Division code"),
        gettext_lazy("6, 9 or 12 digits."),
        16,
    ),
    Column(
        "address",
        pgettext_lazy("spreadsheet column", "Address"),
        gettext_lazy("The full address, as the public should see it."),
        40,
    ),
    Column(
        "contact_name",
        pgettext_lazy("spreadsheet column", "Contact person"),
        gettext_lazy("The name of the person to contact."),
        14,
    ),
    Column(
        "contact_phone",
        pgettext_lazy("spreadsheet column", "Contact phone"),
        gettext_lazy("A mobile number or a landline with its area code."),
        16,
    ),
    Column(
        "opening_hours",
        pgettext_lazy("spreadsheet column", "Opening hours"),
        gettext_lazy("For example: Mon–Fri 8:30–17:30."),
        24,
    ),
    Column(
        "latitude",
        pgettext_lazy("spreadsheet column", "Latitude"),
        gettext_lazy("Decimal degrees, e.g. 24.5149."),
        12,
    ),
    Column(
        "longitude",
        pgettext_lazy("spreadsheet column", "Longitude"),
        gettext_lazy("Decimal degrees, e.g. 117.3571."),
        12,
    ),
    Column(
        ACTIVE,
        pgettext_lazy("spreadsheet column", "Status"),
        gettext_lazy(
            "Active or inactive. Empty: a new unit is active, an existing one stays as it is."
        ),
        10,
    ),
)
_BY_KEY = {column.key: column for column in COLUMNS}
_DECIMALS = ("latitude", "longitude")
STATUS_LABELS = {
    True: pgettext_lazy("unit status", "Active"),
    False: pgettext_lazy("unit status", "Inactive"),
}
# Other ways offices write a status (the labels, in every language, are taken too).
STATUS_WORDS = {
    True: ("启用", "正常", "是", "yes", "y", "true", "1"),
    False: ("停用", "否", "no", "n", "false", "0"),
}


def column_guide() -> list[tuple[Column, list[str]]]:
    """Each column with the other names the import takes for it (for the import page)."""
    guide = []
    for column in COLUMNS:
        current = str(column.label)
        others = sorted(_in_each_language(column.label) - {current})
        guide.append((column, others))
    return guide


def kind_guide() -> list[tuple[str, list[str]]]:
    """Each kind's label with the other names the import takes for it."""
    return [
        (str(label), [*sorted(_in_each_language(label) - {str(label)}), kind])
        for kind, label in UnitKind.choices
    ]


def status_guide() -> list[tuple[str, list[str]]]:
    """Each status's label with the other words the import takes for it."""
    guide = []
    for active, label in STATUS_LABELS.items():
        current = str(label)
        others = (_in_each_language(label) | set(STATUS_WORDS[active])) - {current}
        guide.append((current, sorted(others, key=lambda w: (w.isascii(), w))))
    return guide


# --- reading -----------------------------------------------------------------------------


def read_upload(upload: UploadedFile) -> list[UnitRow]:
    """The rows of an uploaded workbook (see :func:`read_rows`), after its size is checked."""
    check_size(upload.size or 0)
    return read_rows(upload)


def check_size(size: int) -> None:
    """Refuse a file over :data:`MAX_FILE_BYTES` (413, code ``file_too_large``)."""
    xlsx.check_size(size, MAX_FILE_BYTES)


def read_rows(file: IO[bytes]) -> list[UnitRow]:
    """The units of the workbook's first sheet, one :class:`UnitRow` per non-blank row.

    Raises ``ValidationFailed`` (code ``invalid_file``) for a file that is not a readable
    .xlsx, an empty sheet, a missing required column, more than :data:`MAX_ROWS` units or
    a sheet going on past row :data:`MAX_SHEET_ROWS` (see :class:`portal.xlsx.SheetReader`).
    """
    reader = xlsx.SheetReader(file, max_rows=MAX_SHEET_ROWS, max_columns=MAX_COLUMNS)
    return _sheet_rows(reader.rows())


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_file", detail={"file": [message]})


def _sheet_rows(cells: Iterator[tuple[int, tuple[object, ...]]]) -> list[UnitRow]:
    _header_row, columns = _read_header(cells)
    convert = _converters()
    rows: list[UnitRow] = []
    for number, values in cells:
        picked = {key: values[i] if i < len(values) else None for i, key in columns.items()}
        if all(_text(v) == "" for v in picked.values()):
            continue
        if len(rows) == MAX_ROWS:
            raise _invalid(
                _("The sheet has more than %(max)d units; split it into several files.")
                % {"max": MAX_ROWS}
            )
        parent = _text(picked.pop(PARENT, None))
        unit_id = _unit_id(picked.pop(ID, None))
        active = _status(picked.pop(ACTIVE, None))
        fields = {key: convert[key](value) for key, value in picked.items()}
        rows.append(UnitRow(row=number, parent=parent, fields=fields, id=unit_id, active=active))
    if not rows:
        raise _invalid(_("The sheet has column headers but no units below them."))
    return rows


def _read_header(cells: Iterator[tuple[int, tuple[object, ...]]]) -> tuple[int, dict[int, str]]:
    """The header row's number and its known columns (cell index → column key).

    The header row is the first to name the name column or any two columns; rows above it
    (a title) are skipped.
    """
    names = _header_names()
    seen_anything = False
    for number, values in cells:
        if number > HEADER_SEARCH_ROWS:
            break
        seen_anything = seen_anything or any(_text(value) for value in values)
        found = _known_columns(values, names)
        if "name" in found.values() or len(found) >= 2:
            for column in COLUMNS:
                if column.required and column.key not in found.values():
                    raise _invalid(
                        _("The column “%(column)s” is missing.") % {"column": column.label}
                    )
            return number, found
    if not seen_anything:
        raise _invalid(_("The sheet is empty."))
    raise _invalid(
        _(
            "No column headers found: the first row must name the columns, at least "
            "“%(name)s” and “%(kind)s”."
        )
        % {"name": _BY_KEY["name"].label, "kind": _BY_KEY["kind"].label}
    )


def _known_columns(values: Sequence[object], names: Mapping[str, str]) -> dict[int, str]:
    found: dict[int, str] = {}
    for index, value in enumerate(values):
        key = names.get(_normal(_text(value)))
        if key is None:
            continue
        if key in found.values():
            raise _invalid(
                _("The column “%(column)s” appears twice.") % {"column": _BY_KEY[key].label}
            )
        found[index] = key
    return found


def _normal(text: str) -> str:
    """Headers, kinds and statuses compare without case and without spaces."""
    return "".join(text.split()).casefold()


def _in_each_language(label: Promise) -> set[str]:
    texts = set()
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            texts.add(str(label))
    return texts


def _header_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for column in COLUMNS:
        names[_normal(column.key)] = column.key
        for text in _in_each_language(column.label):
            names[_normal(text)] = column.key
    return names


# How offices write the kinds in full (the labels are the short forms).
FULL_KIND_NAMES = {
    "新时代文明实践中心": UnitKind.CENTRE,
    "新时代文明实践所": UnitKind.INSTITUTE,
    "新时代文明实践站": UnitKind.STATION,
    "新时代文明实践点": UnitKind.POINT,
}


def _kind_names() -> dict[str, str]:
    names: dict[str, str] = {_normal(text): kind for text, kind in FULL_KIND_NAMES.items()}
    for kind, label in UnitKind.choices:
        names[_normal(kind)] = kind
        for text in _in_each_language(label):
            names[_normal(text)] = kind
    return names


def _converters() -> Mapping[str, Callable[[object], Any]]:
    kinds = _kind_names()

    def kind(value: object) -> str:
        # An unknown kind is passed on as written: the import reports it with its row.
        text = _text(value)
        return kinds.get(_normal(text), text)

    converters: dict[str, Callable[[object], Any]] = {c.key: _text for c in COLUMNS}
    converters.update(kind=kind, latitude=_coordinate, longitude=_coordinate)
    return converters


def _unit_id(value: object) -> int | str | None:
    """A unit's ID: a whole number, or the text as written (the import reports it)."""
    text = _text(value)
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else text


def _status(value: object) -> bool | str | None:
    """``True``/``False`` for a known status, ``None`` for none, else the text as written."""
    if isinstance(value, bool):
        return value
    text = _normal(_text(value))
    if not text:
        return None
    for active, label in STATUS_LABELS.items():
        words = {_normal(w) for w in (*_in_each_language(label), *STATUS_WORDS[active])}
        if text in words:
            return active
    return _text(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code or a phone number typed into a number cell
    return str(value).strip()


def _coordinate(value: object) -> Decimal | str | None:
    """Degrees, rounded to the six places the model keeps; not a number: passed on as
    written, for the model's validator to report."""
    text = _text(value)
    if not text:
        return None
    try:
        return Decimal(text).quantize(COORDINATE_PLACES, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return text


# --- writing -----------------------------------------------------------------------------


def export_workbook(top: Unit, units: Iterable[Mapping[str, Any]]) -> bytes:
    """The units below ``top`` — inactive ones included, marked — as a workbook that
    imports back over the same units (by their IDs), or under any unit of ``top``'s kind
    once the IDs are cleared.

    ``units`` are rows of ``selectors.units_for_export(top)``: in tree order, so each
    unit's parent — ``top`` (an empty cell) or a unit above it in the sheet — is named
    before the unit itself.
    """
    labels = {kind: str(label) for kind, label in UnitKind.choices}
    status = {active: str(label) for active, label in STATUS_LABELS.items()}
    names = {top.pk: ""}

    def rows() -> Iterator[list[Any]]:
        for unit in units:
            names[unit["pk"]] = unit["name"]
            values = {
                **unit,
                ID: unit["pk"],
                PARENT: names.get(unit["parent_id"], ""),
                "kind": labels.get(unit["kind"], unit["kind"]),
                ACTIVE: status[bool(unit["is_active"])],
            }
            yield [values[column.key] for column in COLUMNS]

    return _workbook(rows())


def download(top: Unit, units: Iterable[Mapping[str, Any]]) -> HttpResponse:
    """The export of ``top`` (see :func:`export_workbook`) as a file to download."""
    filename, fallback = export_filenames(top, timezone.localdate())
    return attachment(
        export_workbook(top, units),
        content_type=XLSX_CONTENT_TYPE,
        filename=filename,
        fallback=fallback,
    )


def template_download() -> HttpResponse:
    """An empty sheet with the column headers, to fill in."""
    # Translators: a file name, without its extension.
    name = pgettext("file name", "units-template")
    return attachment(
        _workbook(iter(())),
        content_type=XLSX_CONTENT_TYPE,
        filename=f"{name}.xlsx",
        fallback="units-template.xlsx",
    )


def export_filenames(unit: Unit, today: dt.date) -> tuple[str, str]:
    """The export's file name, and an ASCII one for clients that cannot take the first."""
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", unit.name).strip(" ._") or "units"
    return f"{name}-{today:%Y%m%d}.xlsx", f"units-{unit.pk}-{today:%Y%m%d}.xlsx"


def _workbook(rows: Iterator[list[Any]]) -> bytes:
    columns = []
    for column in COLUMNS:
        choices: Sequence[str] = ()
        if column.key == "kind":
            # A drop-down of the kinds' labels (a suggestion: the other language and the
            # codes are taken too).
            choices = [str(label) for _kind, label in UnitKind.choices]
        elif column.key == ACTIVE:
            choices = [str(label) for label in STATUS_LABELS.values()]
        columns.append(
            xlsx.Column(
                column.label,
                width=column.width,
                number_format="0.000000" if column.key in _DECIMALS else None,
                choices=choices,
            )
        )
    # Translators: the name of the sheet in an exported workbook (at most 31 characters).
    return xlsx.write_table(title=pgettext("spreadsheet", "Units"), columns=columns, rows=rows)
