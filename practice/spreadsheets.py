"""Units to and from Excel workbooks (.xlsx): the spreadsheets county offices already keep.

One sheet (the workbook's first), one unit per row below a row of column headers. The
headers and the kinds may be written in Chinese or in English (or as the API's codes);
exports use the user's language. The columns, their names and their hints live in
:data:`COLUMNS` and nowhere else.

Reading turns a workbook into rows (:class:`~practice.tree.UnitRow`) and refuses, with one
message, what is not a readable sheet of units at all (not an .xlsx, empty, a required
column missing, too many rows). Everything about the units themselves — kinds, parents,
names, the model's validators — is checked by ``services.unit_import_rows``, which reports
every problem by row number.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from io import BytesIO
from typing import IO, Any

import openpyxl
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation

from portal.errors import PayloadTooLarge, ValidationFailed
from portal.http import attachment

from .choices import UnitKind
from .models import Unit
from .tree import UnitRow

__all__ = [
    "COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
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
    "template_download",
]

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5_000
# A sheet of 5,000 units unpacks to a few megabytes; a small file that unpacks to far more
# is a zip bomb, not a network.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
# The headers may sit below a title row or two ("南靖县新时代文明实践站点一览表").
HEADER_SEARCH_ROWS = 10
PARENT = "parent"
COORDINATE_PLACES = Decimal("0.000001")
# Old binary Excel files (.xls) start with the OLE2 compound-document signature.
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Column:
    """A column of the sheet: ``key`` is ``"parent"`` or a field of ``Unit``."""

    key: str
    label: Promise
    hint: Promise
    width: int
    required: bool = False


COLUMNS: tuple[Column, ...] = (
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
)
_BY_KEY = {column.key: column for column in COLUMNS}


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


# --- reading -----------------------------------------------------------------------------


def read_upload(upload: UploadedFile) -> list[UnitRow]:
    """The rows of an uploaded workbook (see :func:`read_rows`), after its size is checked."""
    check_size(upload.size or 0)
    return read_rows(upload)


def check_size(size: int) -> None:
    """Refuse a file over :data:`MAX_FILE_BYTES` (413, code ``file_too_large``)."""
    if size > MAX_FILE_BYTES:
        message = _("The file is larger than %(max)d MB; split it into several files.") % {
            "max": MAX_FILE_BYTES // (1024 * 1024)
        }
        raise PayloadTooLarge(message, code="file_too_large", detail={"file": [message]})


def read_rows(file: IO[bytes]) -> list[UnitRow]:
    """The units of the workbook's first sheet, one :class:`UnitRow` per non-blank row.

    Raises ``ValidationFailed`` (code ``invalid_file``) for a file that is not a readable
    .xlsx, an empty sheet, a missing required column or more than :data:`MAX_ROWS` rows.
    """
    _check_container(file)
    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises whatever its zip and XML layers raise
        raise _unreadable() from exc
    try:
        return _sheet_rows(workbook)
    except ValidationFailed:
        raise
    except Exception as exc:  # read-only sheets are parsed while they are iterated
        raise _unreadable() from exc
    finally:
        workbook.close()


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_file", detail={"file": [message]})


def _unreadable() -> ValidationFailed:
    return _invalid(_("This file is not an Excel workbook (.xlsx), or it is damaged."))


def _check_container(file: IO[bytes]) -> None:
    if file.read(len(OLE2_SIGNATURE)) == OLE2_SIGNATURE:
        raise _invalid(
            _(
                "This is an old-format Excel file (.xls). Open it in Excel or WPS, save it as "
                "an Excel workbook (.xlsx) and upload that."
            )
        )
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable() from exc
    file.seek(0)
    if unpacked > MAX_UNPACKED_BYTES:
        raise _invalid(_("This workbook holds far more data than a network of units."))


def _sheet_rows(workbook: Workbook) -> list[UnitRow]:
    if not workbook.worksheets:
        raise _invalid(_("The workbook has no sheet."))
    sheet = workbook.worksheets[0]
    # Read every cell, whatever the (possibly wrong) dimensions the file declares.
    sheet.reset_dimensions()
    cells = iter(sheet.iter_rows(values_only=True))
    header_row, columns = _read_header(cells)
    convert = _converters()
    rows: list[UnitRow] = []
    for number, values in enumerate(cells, start=header_row + 1):
        picked = {key: values[i] if i < len(values) else None for i, key in columns.items()}
        if all(_text(v) == "" for v in picked.values()):
            continue
        if len(rows) == MAX_ROWS:
            raise _invalid(
                _("The sheet has more than %(max)d units; split it into several files.")
                % {"max": MAX_ROWS}
            )
        parent = _text(picked.pop(PARENT, None))
        fields = {key: convert[key](value) for key, value in picked.items()}
        rows.append(UnitRow(row=number, parent=parent, fields=fields))
    if not rows:
        raise _invalid(_("The sheet has column headers but no units below them."))
    return rows


def _read_header(cells: Iterator[Sequence[object]]) -> tuple[int, dict[int, str]]:
    """The header row's number and its known columns (cell index → column key).

    The header row is the first to name the name column or any two columns; rows above it
    (a title) are skipped.
    """
    names = _header_names()
    seen_anything = False
    for number, values in zip(range(1, HEADER_SEARCH_ROWS + 1), cells, strict=False):
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
    """Headers and kinds compare without case and without spaces."""
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
    """The units below ``top`` as a workbook that imports back under any unit of its kind.

    ``units`` are rows of ``selectors.units_for_export(top)``: in tree order, so each
    unit's parent — ``top`` (an empty cell) or a unit above it in the sheet — is named
    before the unit itself.
    """
    labels = {kind: str(label) for kind, label in UnitKind.choices}
    names = {top.pk: ""}

    def rows() -> Iterator[list[Any]]:
        for unit in units:
            names[unit["pk"]] = unit["name"]
            values = {
                **unit,
                PARENT: names.get(unit["parent_id"], ""),
                "kind": labels.get(unit["kind"], unit["kind"]),
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
    workbook = Workbook(write_only=True)
    # Translators: the name of the sheet in an exported workbook (at most 31 characters).
    sheet = workbook.create_sheet(title=pgettext("spreadsheet", "Units")[:31])
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.data_validations.append(_kind_choices())
    sheet.append(_header(sheet))
    decimals = {i for i, c in enumerate(COLUMNS) if c.key in ("latitude", "longitude")}
    for values in rows:
        sheet.append(
            [_cell(sheet, v, "0.000000") if i in decimals else v for i, v in enumerate(values)]
        )
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _header(sheet: Any) -> list[WriteOnlyCell]:
    font = Font(bold=True)
    fill = PatternFill("solid", start_color="F2E3E3")
    cells = []
    for column in COLUMNS:
        cell = WriteOnlyCell(sheet, value=str(column.label))
        cell.font = font
        cell.fill = fill
        cell.alignment = Alignment(vertical="center")
        cells.append(cell)
    return cells


def _cell(sheet: Any, value: Any, number_format: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = number_format
    return cell


def _kind_choices() -> DataValidation:
    """A drop-down of the kinds' labels on the kind column (a suggestion, not a rule:
    the import also takes the other language and the codes)."""
    letter = get_column_letter([c.key for c in COLUMNS].index("kind") + 1)
    labels = ",".join(str(label) for _kind, label in UnitKind.choices)
    choices = DataValidation(type="list", formula1=f'"{labels}"', allow_blank=True)
    choices.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
    return choices
