"""The certificate PDF: what it prints, the embedded font subset, the verify link."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from tests.factories import UserFactory
from volunteers import certificates
from volunteers.models import Certificate
from volunteers.pdf import FONT_PATH, certificate_pdf, qr_payload

from .conftest import make_id_number, make_volunteer

pytestmark = pytest.mark.django_db

URL = "https://portal.example.gov.cn/verify/{}/"


def issue(world: Any, name: str, hours: str = "128.5") -> tuple[Certificate, str]:
    id_number = make_id_number()
    volunteer = make_volunteer(
        world.station, name=name, id_number=id_number, user=UserFactory(), hours=Decimal(hours)
    )
    world.centre.contact_name = "王主任"
    world.centre.contact_phone = "0591-12345678"
    world.centre.save()
    cert = certificates.certificate_issue(actor=volunteer.user, volunteer=volunteer)
    return cert, id_number


def read(content: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(content))
    text = "".join(page.extract_text() for page in reader.pages)
    # pypdf reads a NUL before each character of fpdf2's two-byte (Identity-H) codes;
    # whitespace goes too, as characters are placed one by one.
    return reader, re.sub(r"[\s\x00]+", "", text)


@pytest.mark.parametrize("name", ["欧阳·娜", "刘䶮", "𠮷田", "张三"])
def test_prints_the_certificate(world: Any, name: str) -> None:
    cert, id_number = issue(world, name)
    content = certificate_pdf(cert, verify_url=URL.format(cert.number))
    reader, text = read(content)
    assert content.startswith(b"%PDF-")
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    for shown in (name, cert.id_number_masked, cert.volunteer_number, cert.number, "128.5"):
        assert shown in text
    assert "王主任0591-12345678" in text
    assert world.centre.name in text
    # Only the masked ID number: never the full one, in the text or the file.
    assert id_number not in text
    assert id_number.encode() not in content
    assert cert.id_number_masked == f"{id_number[:6]}********{id_number[-4:]}"


def test_embeds_a_subset_of_the_font(world: Any) -> None:
    cert, _ = issue(world, "欧阳·娜")
    content = certificate_pdf(cert, verify_url=URL.format(cert.number))
    reader, _ = read(content)
    fonts: Any = reader.pages[0]["/Resources"]["/Font"]  # type: ignore[index]  # pypdf types
    names = []
    for ref in fonts.values():
        font = ref.get_object()
        names.append(str(font["/BaseFont"]))
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        embedded = descriptor.get("/FontFile3") or descriptor.get("/FontFile2")
        assert embedded is not None, "the font is embedded"
        # A subset: a tiny fraction of the vendored font's glyphs.
        assert len(embedded.get_object().get_data()) < FONT_PATH.stat().st_size / 50
    assert names
    assert all(re.fullmatch(r"/[A-Z]{6}\+NotoSansCJKSC", n) for n in names), names
    assert len(content) < 200_000
    assert FONT_PATH.stat().st_size > 10_000_000  # the whole font is vendored, not a subset


def test_links_to_the_verify_page(world: Any) -> None:
    cert, _ = issue(world, "张三")
    url = URL.format(cert.number)
    reader, text = read(certificate_pdf(cert, verify_url=url))
    uris = {annot.get_object()["/A"]["/URI"] for annot in reader.pages[0].get("/Annots", [])}
    assert uris == {url}
    assert url in text
    assert qr_payload(url) == url


def test_qr_code_is_drawn_from_the_payload(world: Any) -> None:
    """Another address draws another QR code (the page content differs beyond the text)."""
    cert, _ = issue(world, "张三")
    one = PdfReader(io.BytesIO(certificate_pdf(cert, verify_url="https://a.example/verify/X/")))
    two = PdfReader(io.BytesIO(certificate_pdf(cert, verify_url="https://b.example/verify/Y/")))
    rects = [page.pages[0].get_contents().get_data().count(b" re") for page in (one, two)]
    assert all(n > 100 for n in rects)  # the modules, as filled squares


def test_long_service_content_stays_on_one_page(world: Any) -> None:
    cert, _ = issue(world, "张三")
    cert.content = "；".join(f"平台{i} 62.5小时（12次）" for i in range(12))
    url = URL.format(cert.number)
    reader, text = read(certificate_pdf(cert, verify_url=url))
    assert len(reader.pages) == 1
    assert "平台11" in text
    assert url in text


def test_a_character_the_font_lacks_is_logged_not_fatal(world: Any, caplog: Any) -> None:
    """U+20000 is not in Noto Sans CJK SC: the PDF still renders (an empty box there),
    and fpdf2 says which character is missing."""
    cert, _ = issue(world, "\U00020000娜")
    with caplog.at_level("WARNING", logger="fpdf"):
        content = certificate_pdf(cert, verify_url=URL.format(cert.number))
    assert content.startswith(b"%PDF-")
    assert "missing" in caplog.text
    assert "娜" in read(content)[1]
