"""The printable guard card (PDF): photo, name, number, level, employer, QR, validity."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from certificates import qr

CARD_W, CARD_H = 85.6 * mm, 54.0 * mm  # ID-1, the size of a bank card
FONT = "STSong-Light"
_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def render_card(*, cert: dict[str, Any], photo: bytes | None, issuer: str) -> bytes:
    """One A6 page holding the card at 2x size, so the QR stays scannable when printed."""
    font = _font()
    scale = 2.0
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(CARD_W * scale + 20 * mm, CARD_H * scale + 20 * mm))
    c.setTitle(f"Guard certificate {cert['number']}")
    c.translate(10 * mm, 10 * mm)
    c.scale(scale, scale)
    c.setStrokeColorRGB(0.1, 0.2, 0.5)
    c.roundRect(0, 0, CARD_W, CARD_H, 3 * mm)
    c.setFillColorRGB(0.1, 0.2, 0.5)
    c.rect(0, CARD_H - 9 * mm, CARD_W, 9 * mm, fill=1, stroke=0)
    c.setFillColorRGB(1, 1, 1)
    c.setFont(font, 9)
    c.drawString(3 * mm, CARD_H - 6 * mm, "保安员证  Security Guard Certificate")
    c.setFillColorRGB(0, 0, 0)
    photo_w, photo_h = 20 * mm, 26 * mm
    if photo:
        c.drawImage(ImageReader(io.BytesIO(photo)), 3 * mm, CARD_H - 12 * mm - photo_h,
                    photo_w, photo_h, preserveAspectRatio=True, anchor="c")
    else:
        c.rect(3 * mm, CARD_H - 12 * mm - photo_h, photo_w, photo_h)
        c.setFont(font, 5)
        c.drawString(5 * mm, CARD_H - 24 * mm, "无照片 no photo")
    x = 25 * mm
    y = CARD_H - 15 * mm
    lines = [
        ("姓名 Name", cert["guard_name"] or ""),
        ("证号 No.", cert["number"]),
        ("等级 Level", str(cert["skill_level"])),
        ("单位 Employer", cert.get("employer_name") or "—"),
        ("有效期 Valid", f"{_d(cert['issued_at'])} – {_d(cert['expires_at'])}"),
        ("发证 Issuer", issuer),
    ]
    for label, value in lines:
        c.setFont(font, 4.5)
        c.drawString(x, y, label)
        c.setFont(font, 6)
        c.drawString(x + 15 * mm, y, value[:26])
        y -= 5.2 * mm
    qr_png = qr.render_png(cert["text"], box_size=8, border=2)
    size = 27 * mm
    c.drawImage(ImageReader(io.BytesIO(qr_png)), CARD_W - size - 2 * mm, 2 * mm, size, size)
    c.setFont(font, 4)
    c.drawString(3 * mm, 3 * mm, f"status: {cert['status']}")
    c.showPage()
    c.save()
    return out.getvalue()


def _d(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value)[:10]
