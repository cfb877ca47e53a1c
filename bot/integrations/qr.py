"""QR codes of route URLs, drawn with segno (PNG for chat and print shops, SVG for designers).

Always a regular QR code (never a Micro QR, which phone cameras do not read), error level M
(survives a small logo or a scuff), a quiet zone of 4 modules as the standard asks, and 16
pixels a module: about 600 px for a typical URL, sharp on a flyer.
"""

from __future__ import annotations

import io

import segno

SCALE = 16
BORDER = 4
ERROR_LEVEL = "m"


def qr_code(url: str) -> segno.QRCode:
    return segno.make_qr(url, error=ERROR_LEVEL, boost_error=False)


def png(url: str) -> bytes:
    out = io.BytesIO()
    qr_code(url).save(out, kind="png", scale=SCALE, border=BORDER)
    return out.getvalue()


def svg(url: str) -> bytes:
    out = io.BytesIO()
    qr_code(url).save(out, kind="svg", scale=SCALE, border=BORDER, title=url, xmldecl=True)
    return out.getvalue()


def pixel_size(url: str) -> int:
    """The width (and height) of the PNG in pixels."""
    width, _ = qr_code(url).symbol_size(scale=SCALE, border=BORDER)
    return int(width)
