"""QR codes of unit pages (segno: pure Python, no network, no image library)."""

import io

import segno

__all__ = ["qr_svg"]


def qr_svg(url: str, *, scale: int = 8) -> bytes:
    """The QR code of ``url`` as a standalone SVG, medium error correction (survives a
    scuffed print on a door), with the quiet zone scanners need."""
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out, kind="svg", scale=scale, border=4, xmldecl=False, title=url
    )
    return out.getvalue()
