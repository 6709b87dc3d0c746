"""The printable exam admission ticket (PDF, A5 portrait): candidate, session, venue,
registration number, the portrait when captured, and the signed ``SGX1:`` QR.

Fonts as on the guard card (api/card.py): an embedded CJK TrueType subset, set when the
canvas is made, so the page never references an unembedded font.
"""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from api.card import Box, _fit, _portrait, font
from certificates import qr

PAGE_W, PAGE_H = A5
PHOTO_BOX = Box("photo", PAGE_W - 15 * mm - 30 * mm, PAGE_H - 40 * mm - 40 * mm, 30 * mm,
                40 * mm)
QR_SIZE = 55 * mm


def render_ticket(*, ticket: dict[str, Any], text: str, photo: bytes | None,
                  issuer: str) -> bytes:
    """``ticket``: name, id_number_masked, registration_id, sits_on, venue, district."""
    face, embedded = font()
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A5, initialFontName=face,  # type: ignore[arg-type]
                      initialFontSize=10)
    c.setTitle(f"保安员考试准考证 Exam admission ticket {ticket['registration_id']}")
    c.setSubject("fonts embedded" if embedded else "fonts not embedded (no CJK TrueType font)")
    navy = (0.09, 0.2, 0.45)
    c.setFillColorRGB(*navy)
    c.rect(0, PAGE_H - 25 * mm, PAGE_W, 25 * mm, fill=1, stroke=0)
    c.setFillColorRGB(1, 1, 1)
    title, size = _fit(c, face, "保安员考试准考证  Guard Exam Admission Ticket",
                       PAGE_W - 20 * mm, 16)
    c.setFont(face, size)
    c.drawString(10 * mm, PAGE_H - 15 * mm, title)
    c.setFillColorRGB(0, 0, 0)
    rows = (("姓名 Name", ticket["name"]),
            ("身份证号 ID number", ticket["id_number_masked"]),
            ("报名号 Registration", str(ticket["registration_id"])),
            ("考试日期 Exam day", str(ticket["sits_on"])),
            ("考点 Venue", ticket["venue"]),
            ("区 District", ticket["district"]))
    y = PAGE_H - 40 * mm
    width = PHOTO_BOX.x - 15 * mm
    for label, value in rows:
        c.setFont(face, 8)
        c.setFillColorRGB(0.35, 0.35, 0.35)
        c.drawString(10 * mm, y, label)
        c.setFillColorRGB(0, 0, 0)
        fitted, vsize = _fit(c, face, value, width, 12)
        c.setFont(face, vsize)
        c.drawString(10 * mm, y - 6 * mm, fitted)
        y -= 14 * mm
    if photo:
        c.drawImage(_portrait(photo, PHOTO_BOX), PHOTO_BOX.x, PHOTO_BOX.y, PHOTO_BOX.w,
                    PHOTO_BOX.h)
    else:
        c.rect(PHOTO_BOX.x, PHOTO_BOX.y, PHOTO_BOX.w, PHOTO_BOX.h)
        c.setFont(face, 8)
        c.drawCentredString(PHOTO_BOX.x + PHOTO_BOX.w / 2, PHOTO_BOX.y + PHOTO_BOX.h / 2,
                            "照片 photo")
    png = qr.render_png(text, box_size=8, border=2)
    c.drawImage(ImageReader(io.BytesIO(png)), PAGE_W - 10 * mm - QR_SIZE, 12 * mm, QR_SIZE,
                QR_SIZE)
    c.setFont(face, 7)
    notes = ("凭本准考证和身份证入场；考场核验人脸与指纹。",
             "Bring this ticket and your ID card; face and fingerprint are checked at the door.",
             "本证不是保安员证。This ticket is not a guard certificate.",
             f"发证机关 Issuer {issuer}")
    for i, line in enumerate(notes):
        fitted, nsize = _fit(c, face, line, PAGE_W - QR_SIZE - 25 * mm, 7)
        c.setFont(face, nsize)
        c.drawString(10 * mm, 12 * mm + (len(notes) - 1 - i) * 5 * mm, fitted)
    c.showPage()
    c.save()
    return out.getvalue()
