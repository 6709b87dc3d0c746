"""A small horizontal bar chart in PNG (Pillow), with CJK labels when a font exists."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
          "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
          "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def bar_chart(title: str, bars: list[tuple[str, float, str]], *, width: int = 900) -> bytes:
    """``bars``: (label, value in 0..1, annotation). Returns PNG bytes."""
    row, top, left = 34, 60, 260
    height = top + row * max(1, len(bars)) + 30
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((16, 16), title, fill="black", font=_font(22))
    font = _font(16)
    span = width - left - 150
    for i, (label, value, note) in enumerate(bars):
        y = top + i * row
        draw.text((16, y + 6), label[:16], fill="black", font=font)
        draw.rectangle((left, y + 4, left + span, y + row - 6), outline="#cccccc")
        colour = "#2e7d32" if value >= 0.999 else "#f9a825" if value >= 0.8 else "#c62828"
        draw.rectangle((left, y + 4, left + int(span * max(0.0, min(1.0, value))), y + row - 6),
                       fill=colour)
        draw.text((left + span + 10, y + 6), note, fill="black", font=font)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
