"""The printable guard card (PDF): photo, name, number, level, employer, validity, QR.

- Sizes: ``id1`` is the card itself (85.6 x 54 mm, ISO/IEC 7810 ID-1, a bank card's
  size), ``a6`` the card enlarged onto an A6 landscape sheet (for printers that cannot
  feed cards); ``GUARDREG_CARD_FORMAT`` chooses.
- Fonts are embedded: a CJK TrueType font (Debian's fonts-wqy-microhei, which `./dev`
  installs) is subset into the PDF, so the card prints the same everywhere. Without one,
  the card falls back to a non-embedded CID font and says so in the PDF's metadata.
- Layout: every element has a box (:func:`layout`); text is fitted into its box (smaller
  type, then a second line, then an ellipsis), never over the photo or the QR.
- The photo is the upright portrait cropped around the face, cut to the box's aspect
  ratio (no rotation, no bars). No status is printed: a card cannot know it.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from certificates import qr

CARD_W, CARD_H = 85.6 * mm, 54.0 * mm
A6_W, A6_H = 148.0 * mm, 105.0 * mm
FONT_FILES = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # index 2: SC
    ("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc", 2),
)
FALLBACK_FONT = "STSong-Light"


@lru_cache(maxsize=1)
def font() -> tuple[str, bool]:
    """(font name, embedded?)."""
    for path, index in FONT_FILES:
        if Path(path).is_file():
            pdfmetrics.registerFont(TTFont("GuardCJK", path, subfontIndex=index))
            return "GuardCJK", True
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT, False


@dataclass(frozen=True)
class Box:
    name: str
    x: float  # card coordinates in points, origin bottom-left
    y: float
    w: float
    h: float

    def overlaps(self, other: Box) -> bool:
        return not (self.x + self.w <= other.x or other.x + other.w <= self.x
                    or self.y + self.h <= other.y or other.y + other.h <= self.y)


HEADER_H = 8.5 * mm
MARGIN = 2.5 * mm
PHOTO = Box("photo", MARGIN, CARD_H - HEADER_H - 2 * mm - 25 * mm, 20 * mm, 25 * mm)
QR_SIZE = 31 * mm
QR = Box("qr", CARD_W - MARGIN - QR_SIZE, MARGIN, QR_SIZE, QR_SIZE)
TEXT_X = PHOTO.x + PHOTO.w + 2 * mm
# Each field: a small label line above its value; the employer's value may take 2 lines.
FIELDS = (("name", 1), ("number", 1), ("level", 1), ("employer", 2))
LABEL_PT, VALUE_PT, LINE_GAP = 4.2, 7.0, 1.2
ROW_H = 6.4 * mm
EXTRA_LINE = 2.6 * mm


def layout() -> list[Box]:
    """Every element's box on the card (the test checks that none overlaps another)."""
    boxes = [Box("header", 0, CARD_H - HEADER_H, CARD_W, HEADER_H), PHOTO, QR]
    top = CARD_H - HEADER_H - 2 * mm
    width = QR.x - 1.5 * mm - TEXT_X
    for name, lines in FIELDS:
        h = ROW_H + (lines - 1) * EXTRA_LINE
        boxes.append(Box(name, TEXT_X, top - h, width, h))
        top -= h
    bottom_w = QR.x - 1.5 * mm - MARGIN
    boxes.append(Box("validity", MARGIN, MARGIN + 4.6 * mm, bottom_w, 4.2 * mm))
    boxes.append(Box("issuer", MARGIN, MARGIN, bottom_w, 4.2 * mm))
    return boxes


def _fit(c: canvas.Canvas, face: str, text: str, width: float, size: float,
         smallest: float = 4.5) -> tuple[str, float]:
    while size > smallest and pdfmetrics.stringWidth(text, face, size) > width:
        size -= 0.25
    if pdfmetrics.stringWidth(text, face, size) <= width:
        return text, size
    while text and pdfmetrics.stringWidth(text + "…", face, size) > width:
        text = text[:-1]
    return text + "…", size


def _wrap(face: str, text: str, width: float, size: float, lines: int) -> list[str]:
    """Break ``text`` (CJK: anywhere) into at most ``lines`` lines of ``width``."""
    out: list[str] = []
    rest = text
    while rest and len(out) < lines:
        n = len(rest)
        while n > 1 and pdfmetrics.stringWidth(rest[:n], face, size) > width:
            n -= 1
        out.append(rest[:n])
        rest = rest[n:]
    if rest and out:
        last = out[-1]
        while last and pdfmetrics.stringWidth(last + "…", face, size) > width:
            last = last[:-1]
        out[-1] = last + "…"
    return out


def _portrait(photo: bytes, box: Box) -> ImageReader:
    """The photo cut to the box's aspect ratio around its centre, upright, no bars."""
    img = Image.open(io.BytesIO(photo)).convert("RGB")
    want = box.w / box.h
    w, h = img.size
    if w / h > want:
        cw = round(h * want)
        img = img.crop(((w - cw) // 2, 0, (w - cw) // 2 + cw, h))
    else:
        ch = round(w / want)
        img = img.crop((0, max(0, (h - ch) // 3), w, max(0, (h - ch) // 3) + ch))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=92)
    return ImageReader(io.BytesIO(out.getvalue()))


def render_card(*, cert: dict[str, Any], photo: bytes | None, issuer: str,
                fmt: str = "id1") -> bytes:
    face, embedded = font()
    out = io.BytesIO()
    if fmt == "a6":
        scale = min((A6_W - 16 * mm) / CARD_W, (A6_H - 16 * mm) / CARD_H)
        page = (A6_W, A6_H)
    else:
        scale, page = 1.0, (CARD_W, CARD_H)
    # The stubs type initialFontName as a number; reportlab takes the font's name. Set at
    # creation, so the page never references Helvetica (an unembedded font).
    c = canvas.Canvas(out, pagesize=page, initialFontName=face,  # type: ignore[arg-type]
                      initialFontSize=6)
    c.setTitle(f"保安员证 Guard certificate {cert['number']}")
    c.setSubject("fonts embedded" if embedded else "fonts not embedded (no CJK TrueType font)")
    c.translate((page[0] - CARD_W * scale) / 2, (page[1] - CARD_H * scale) / 2)
    c.scale(scale, scale)
    boxes = {b.name: b for b in layout()}
    navy = (0.09, 0.2, 0.45)
    c.setStrokeColorRGB(*navy)
    c.setLineWidth(0.6)
    c.roundRect(0.3, 0.3, CARD_W - 0.6, CARD_H - 0.6, 3 * mm)
    header = boxes["header"]
    c.setFillColorRGB(*navy)
    c.rect(header.x + 0.3, header.y, header.w - 0.6, header.h - 0.3, fill=1, stroke=0)
    c.setFillColorRGB(1, 1, 1)
    title, size = _fit(c, face, "保安员证  Security Guard Certificate", header.w - 2 * MARGIN, 9)
    c.setFont(face, size)
    c.drawString(MARGIN, header.y + (header.h - size) / 2 + 1, title)
    c.setFillColorRGB(0, 0, 0)
    if photo:
        c.drawImage(_portrait(photo, PHOTO), PHOTO.x, PHOTO.y, PHOTO.w, PHOTO.h)
    else:
        c.rect(PHOTO.x, PHOTO.y, PHOTO.w, PHOTO.h)
        c.setFont(face, 5)
        c.drawCentredString(PHOTO.x + PHOTO.w / 2, PHOTO.y + PHOTO.h / 2, "无照片 no photo")
    values = {"name": ("姓名 Name", cert.get("guard_name") or ""),
              "number": ("证号 No.", cert["number"]),
              "level": ("等级 Level", f"{cert['skill_level']} 级 / level {cert['skill_level']}"),
              "employer": ("单位 Employer", cert.get("employer_name") or "无 none")}
    for name, lines in FIELDS:
        label, value = values[name]
        box = boxes[name]
        top = box.y + box.h
        c.setFillColorRGB(0.35, 0.35, 0.35)
        c.setFont(face, LABEL_PT)
        c.drawString(box.x, top - LABEL_PT, label)
        c.setFillColorRGB(0, 0, 0)
        first = top - LABEL_PT - LINE_GAP - VALUE_PT
        if lines > 1:
            size = 6.0
            c.setFont(face, size)
            for i, line in enumerate(_wrap(face, value, box.w, size, lines)):
                c.drawString(box.x, first - i * (size + 1.4), line)
        else:
            text, size = _fit(c, face, value, box.w, VALUE_PT)
            c.setFont(face, size)
            c.drawString(box.x, first, text)
    for name, text in (("validity", f"有效期 Valid {_d(cert['issued_at'])} – "
                                    f"{_d(cert['expires_at'])}"),
                       ("issuer", f"发证机关 Issuer {issuer}")):
        box = boxes[name]
        fitted, size = _fit(c, face, text, box.w, 5.2)
        c.setFont(face, size)
        c.drawString(box.x, box.y + 1, fitted)
    qr_png = qr.render_png(cert["text"], box_size=8, border=2)
    c.drawImage(ImageReader(io.BytesIO(qr_png)), QR.x, QR.y, QR.w, QR.h)
    c.showPage()
    c.save()
    return out.getvalue()


def _d(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value)[:10]
