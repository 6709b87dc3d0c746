"""Images that are not fingerprints, made on the fly for the fingerprint-ness gate.

Each maker returns a uint8 grey-level (H, W) or RGB (H, W, 3) array, deterministic for a
given seed. ``write_all(folder)`` writes them as PNG files (for ``eval fingerprint-gate``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import qrcode
from PIL import Image, ImageDraw, ImageFont

_TEXT = ("security guard certificate registry company employment background check "
          "licence number issued valid until the holder of this card is authorised to "
          "work as a guard in the city under the regulation of public security bureau "
          "name date of birth identity photograph signature seal")
_WORDS = _TEXT.split()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - old Pillow
        return ImageFont.load_default()


def document(seed: int = 0, size: tuple[int, int] = (400, 520), font_px: int = 13) -> np.ndarray:
    """A page of running text with a heading, as a scanner or phone would capture it."""
    rng = np.random.default_rng(seed)
    img = Image.new("L", size, 245)
    draw = ImageDraw.Draw(img)
    draw.text((20, 14), "CERTIFICATE OF EMPLOYMENT", fill=20, font=_font(font_px + 6))
    y = 50
    while y < size[1] - font_px - 10:
        words = " ".join(rng.choice(_WORDS, size=12))
        draw.text((20, y), words, fill=int(rng.integers(0, 60)), font=_font(font_px))
        y += int(font_px * 1.5)
    return np.asarray(img)


def qr_code(seed: int = 0, box: int = 6) -> np.ndarray:
    """A QR code like the ones printed on guard cards."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=box,
                       border=4)
    qr.add_data(f"HC1:{seed:08d}" + "6BFOXN*TS0BI$ZD-PHQ7I9AD66V5B22CH9M9ESI9XBHXK-%69LQ" * 3)
    qr.make(fit=True)
    pil = qr.make_image(fill_color="black", back_color="white").convert("L")
    return np.asarray(pil)


def screenshot(seed: int = 0, size: tuple[int, int] = (480, 360)) -> np.ndarray:
    """A screenshot-like user interface: title bar, buttons, form fields, list rows."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, (250, 250, 252))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, size[0], 28), fill=(40, 90, 160))
    draw.text((10, 7), "guardreg - Enrolment", fill=(255, 255, 255), font=_font(14))
    y = 40
    for _ in range(6):
        draw.text((12, y + 4), str(rng.choice(_WORDS)).title() + ":", fill=(30, 30, 30),
                  font=_font(12))
        draw.rectangle((120, y, size[0] - 20, y + 22), outline=(150, 150, 160),
                       fill=(255, 255, 255))
        draw.text((126, y + 4), " ".join(rng.choice(_WORDS, size=3)), fill=(60, 60, 60),
                  font=_font(12))
        y += 32
    for i, label in enumerate(("Save", "Cancel", "Scan finger")):
        x = 12 + i * 110
        draw.rounded_rectangle((x, y + 8, x + 100, y + 36), radius=6,
                               fill=(225, 230, 240) if i else (40, 120, 60))
        draw.text((x + 12, y + 16), label, fill=(0, 0, 0) if i else (255, 255, 255),
                  font=_font(12))
    return np.asarray(img)


def uniform_grey(value: int = 128, size: tuple[int, int] = (388, 374)) -> np.ndarray:
    return np.full((size[1], size[0]), value, np.uint8)


def random_noise(seed: int = 0, size: tuple[int, int] = (388, 374)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)


def ridge_band_noise(seed: int = 0, size: tuple[int, int] = (388, 374)) -> np.ndarray:
    """Noise filtered to a fingerprint's ridge period (8-10 pixels) but without any ridge
    flow: the spectrum alone would call it a fingerprint."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((size[1], size[0])).astype(np.float32)
    band = cv2.GaussianBlur(noise, (0, 0), 1.4) - cv2.GaussianBlur(noise, (0, 0), 2.4)
    band = (band - band.mean()) / (band.std() + 1e-6)
    return np.clip(128 + 50 * band, 0, 255).astype(np.uint8)


MAKERS: dict[str, Callable[[], np.ndarray]] = {
    "document": document,
    "document_small_print": lambda: document(seed=1, font_px=10),
    "qr_code": qr_code,
    "qr_code_fine": lambda: qr_code(seed=2, box=3),
    "screenshot": screenshot,
    "uniform_grey": uniform_grey,
    "uniform_white": lambda: uniform_grey(255),
    "random_noise": random_noise,
    "ridge_band_noise": ridge_band_noise,
}


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in MAKERS.items():
        path = folder / f"{name}.png"
        Image.fromarray(make()).save(path)
        paths.append(path)
    return paths
