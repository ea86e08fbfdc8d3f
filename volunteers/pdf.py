"""The certificate as a PDF (A4, Chinese), drawn with fpdf2.

The text is set in Noto Sans CJK SC (``static/fonts/``, SIL OFL 1.1), vendored in full so
any name prints; fpdf2 embeds only the glyphs used (a subset, via fontTools), so a
certificate is a few tens of kilobytes and prints the same on a machine without a Chinese
font. The QR code is drawn as vector squares (segno's matrix) and carries the verify
address, which is also a link on the page. See docs/certificates.md.
"""

from __future__ import annotations

from pathlib import Path

import segno
from django.utils import formats, timezone, translation
from django.utils.translation import pgettext
from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos

from .certificates import CERTIFICATE_LANGUAGE, format_hours
from .models import Certificate

__all__ = ["FONT_PATH", "certificate_pdf", "qr_payload"]

FONT_PATH = (
    Path(__file__).resolve().parent.parent / "static" / "fonts" / "NotoSansCJKsc-Regular.otf"
)

_FONT = "noto"
_INK = (33, 37, 41)
_FRAME = (160, 32, 32)
_MUTED = (90, 90, 90)
_QR_SIZE = 32.0  # mm, with its quiet zone
_LABEL_WIDTH = 42.0
_BOTTOM_LIMIT = 228.0  # the lowest top of the issuer block and the QR code


def qr_payload(verify_url: str) -> str:
    """What the certificate's QR code encodes: the absolute verify address, as is."""
    return verify_url


def _qr(pdf: FPDF, url: str, *, x: float, y: float, size: float) -> None:
    """Draw the QR code of ``url`` (medium error correction, 4-module quiet zone)."""
    code = segno.make(qr_payload(url), error="m")
    rows = [list(row) for row in code.matrix_iter(border=4)]
    module = size / len(rows)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(x + start * module, y + r * module, (c - start) * module, module, style="F")
    pdf.link(x, y, size, size, url)


def _row(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_x(pdf.l_margin)
    pdf.set_text_color(*_MUTED)
    pdf.cell(_LABEL_WIDTH, 8, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.set_text_color(*_INK)
    # Chinese breaks between any two characters (there are no spaces to break at).
    pdf.multi_cell(
        0,
        8,
        value or "—",
        align=Align.L,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)


def certificate_pdf(certificate: Certificate, *, verify_url: str) -> bytes:
    """The certificate's PDF; ``verify_url`` is the absolute ``/verify/<number>/``."""
    with translation.override(CERTIFICATE_LANGUAGE):
        return _render(certificate, verify_url)


def _render(certificate: Certificate, verify_url: str) -> bytes:
    title = pgettext("certificate", "Volunteer service record certificate")
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(title)
    pdf.set_subject(certificate.number)
    pdf.set_creator("portal")
    pdf.set_lang("zh-CN")
    pdf.set_creation_date(certificate.issued_at)
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(28, 28, 28)
    pdf.add_font(_FONT, fname=str(FONT_PATH))
    pdf.add_page()

    # A double frame.
    pdf.set_draw_color(*_FRAME)
    pdf.set_line_width(1.0)
    pdf.rect(12, 12, 186, 273)
    pdf.set_line_width(0.3)
    pdf.rect(15, 15, 180, 267)

    pdf.set_text_color(*_FRAME)
    pdf.set_font(_FONT, size=26)
    pdf.set_y(36)
    pdf.cell(0, 14, title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=10)
    pdf.set_text_color(*_MUTED)
    number_line = pgettext("certificate", "No. %(number)s") % {"number": certificate.number}
    pdf.cell(0, 8, number_line, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_y(72)
    pdf.set_font(_FONT, size=13)
    hours = pgettext("certificate", "%(hours)s hours") % {"hours": format_hours(certificate.hours)}
    _row(pdf, pgettext("certificate", "Name"), certificate.name)
    _row(pdf, pgettext("certificate", "ID type"), pgettext("certificate", "Resident identity card"))
    _row(pdf, pgettext("certificate", "ID number"), certificate.id_number_masked)
    _row(pdf, pgettext("certificate", "Volunteer number"), certificate.volunteer_number)
    _row(pdf, pgettext("certificate", "Total hours"), hours)
    _row(pdf, pgettext("certificate", "Service content"), certificate.content)

    pdf.ln(6)
    pdf.set_font(_FONT, size=12)
    pdf.multi_cell(
        0,
        8,
        pgettext(
            "certificate",
            "This certifies that the volunteer named above has done the volunteer service "
            "recorded above; only hours confirmed by the organizers are counted.",
        ),
        align=Align.L,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )

    # The issuer, bottom right; the QR code, bottom left.
    issued = timezone.localtime(certificate.issued_at).date()
    lines = [
        pgettext("certificate", "Issued by: %(unit)s") % {"unit": certificate.issuing_unit_name},
        pgettext("certificate", "Contact: %(contact)s")
        % {"contact": certificate.issuer_contact or "—"},
        pgettext("certificate", "Date of issue: %(date)s")
        % {"date": formats.date_format(issued, "DATE_FORMAT")},
    ]
    pdf.set_font(_FONT, size=12)
    pdf.set_text_color(*_INK)
    # Below the body, however long the service content ran (the frame ends at 282 mm).
    top = min(max(206.0, pdf.get_y() + 8), _BOTTOM_LIMIT)
    pdf.set_y(top)
    for line in lines:
        pdf.set_x(92)
        pdf.multi_cell(0, 8, line, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    _qr(pdf, verify_url, x=26, y=top - 2, size=_QR_SIZE)
    pdf.set_y(top + 40)
    pdf.set_font(_FONT, size=9)
    pdf.set_text_color(*_MUTED)
    pdf.multi_cell(
        0,
        5,
        pgettext("certificate", "Scan the code or visit %(url)s to verify this certificate.")
        % {"url": verify_url},
        link=verify_url,
        align=Align.L,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    return bytes(pdf.output())
