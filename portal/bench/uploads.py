"""Spreadsheet uploads: the worst one — a sheet bomb, a small file whose sheet holds a
million rows with one cell in the last column — read until it is refused, and a full sheet
of 5,000 units read and planned (``services.unit_import_plan``, nothing written)."""

from __future__ import annotations

import zipfile
from io import BytesIO

from django.core.management.base import CommandError

from portal import xlsx
from portal.errors import ValidationFailed
from practice import services, spreadsheets
from practice.choices import UnitKind
from practice.models import Unit

from .common import Context, Measurement, Section, timed

SHEET_BOMB_ROWS = 1_000_000


class Uploads(Section):
    name = "uploads"
    help = "a sheet bomb read until refused; a sheet of 5,000 units read and planned"

    def finish(self, ctx: Context) -> None:
        """Time the worst upload (refused) and a full sheet of units (read and planned)."""
        if ctx.county is None:
            return
        ctx.write("Uploads: the sheet bomb, and a sheet of 5,000 units")
        bomb = sheet_bomb(SHEET_BOMB_ROWS)
        bomb_read = Measurement(
            "upload.sheet_bomb",
            f"read a sheet bomb ({SHEET_BOMB_ROWS:,} rows, {len(bomb) // 1024} KB)",
        )
        message = ""
        for _ in range(ctx.repeat):
            elapsed, message = timed(lambda: refusal(bomb))
            bomb_read.samples_ms.append(elapsed)
        bomb_read.info["detail"] = message[:60]
        ctx.store(bomb_read)

        county = ctx.county
        county.refresh_from_db()  # new roots sorting first have renumbered the trees
        institute = Unit.objects.within(county).filter(kind=UnitKind.INSTITUTE).first()
        if institute is None:
            raise CommandError("The bench county has no institutes.")
        header = [str(column.label) for column in spreadsheets.COLUMNS]
        rows = [
            [
                {"name": f"基准导入站{i:05d}", "kind": "station"}.get(c.key)
                for c in spreadsheets.COLUMNS
            ]
            for i in range(spreadsheets.MAX_ROWS)
        ]
        sheet = xlsx.write_workbook(title="bench", headers=header, rows=rows)
        full = Measurement(
            "upload.units_5000",
            f"read and plan {spreadsheets.MAX_ROWS:,} units ({len(sheet) // 1024} KB)",
        )

        def read_and_plan() -> int:
            parsed = spreadsheets.read_rows(BytesIO(sheet))
            plan = services.unit_import_plan(actor=ctx.actor, parent=institute, rows=parsed)
            return len(plan.created)

        full.queries, _sql, created = ctx.captured(read_and_plan)
        for _ in range(min(ctx.repeat, 3)):
            elapsed, created = timed(read_and_plan)
            full.samples_ms.append(elapsed)
        full.info["detail"] = f"{created} to create"
        ctx.store(full)


def sheet_bomb(rows: int) -> bytes:
    """A header and ``rows`` rows with one cell each in column XFD: ~35 MB of sheet XML
    in a zip of ~100 KB (the shape of the upload that once took ~20 CPU-minutes)."""
    out = BytesIO()
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006/relationships"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rels}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{ns}" xmlns:r="{rels}"><sheets>'
            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{package}"><Relationship Id="rId1" '
            f'Type="{rels}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            part.write(f'<worksheet xmlns="{ns}"><sheetData>'.encode())
            part.write(
                b'<row><c t="inlineStr"><is><t>Name</t></is></c>'
                b'<c t="inlineStr"><is><t>Kind</t></is></c></row>'
            )
            block = b'<row><c r="XFD1"><v>1</v></c></row>' * 10_000
            for _ in range(rows // 10_000):
                part.write(block)
            part.write(b"</sheetData></worksheet>")
    return out.getvalue()


def refusal(content: bytes) -> str:
    try:
        spreadsheets.read_rows(BytesIO(content))
    except ValidationFailed as exc:
        return str(exc.message)
    raise CommandError("The sheet bomb was read whole.")
