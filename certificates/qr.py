"""QR codes for certificate text: render (``qrcode``) and read (zxing-cpp, OpenCV).

Parameters: error correction Q (25 %), alphanumeric mode (the Base45 alphabet and the
``SG1:`` prefix are exactly the QR alphanumeric set), smallest version that fits,
quiet zone 4 modules.

Example::

    png = render_png(text)            # bytes of a PNG
    svg = render_svg(text)            # SVG document (str)
    qr_version(text)                  # e.g. 13
    decode_image(png) == text         # raises QrError when no QR code is readable
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
import qrcode.util
from PIL import Image

from certificates.errors import QrError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000


def _build(text: str, *, border: int = 4, box_size: int = 4) -> qrcode.QRCode:
    code = qrcode.QRCode(
        version=None,
        error_correction=qrcode.constants.ERROR_CORRECT_Q,
        box_size=box_size,
        border=border,
    )
    try:
        mode = qrcode.util.MODE_ALPHA_NUM if qrcode.util.RE_ALPHA_NUM.match(text.encode()) \
            else qrcode.util.MODE_8BIT_BYTE
        code.add_data(qrcode.util.QRData(text.encode(), mode=mode))
        code.make(fit=True)
    except (ValueError, qrcode.exceptions.DataOverflowError) as exc:
        raise QrError(f"cannot render QR code: {exc}") from None
    return code


def qr_version(text: str) -> int:
    """QR version (1..40) reached by ``text`` at error correction Q."""
    return int(_build(text).version)


def render_png(text: str, *, box_size: int = 4, border: int = 4) -> bytes:
    """PNG bytes of the QR code of ``text`` (black on white, ``box_size`` px/module)."""
    import numpy as np

    modules = np.array(_build(text, border=border).get_matrix(), dtype=bool)
    pixels = np.where(modules, 0, 255).astype(np.uint8)
    pixels = np.repeat(np.repeat(pixels, box_size, axis=0), box_size, axis=1)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").convert("1").save(buf, "PNG", optimize=False)
    return buf.getvalue()


def render_svg(text: str, *, box_size: int = 10, border: int = 4) -> str:
    """SVG document of the QR code of ``text`` (path-based, scalable)."""
    img = _build(text, border=border, box_size=box_size).make_image(
        image_factory=qrcode.image.svg.SvgPathImage
    )
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue().decode()


def _load_gray(data: bytes) -> Image.Image:
    if len(data) > MAX_IMAGE_BYTES:
        raise QrError("image too large")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise QrError("image has too many pixels")
            return im.convert("L")
    except QrError:
        raise
    except Exception:  # Pillow raises many types on corrupt images
        raise QrError("not a readable image") from None


def decode_gray(img: Image.Image) -> str:
    """Text of the first QR code found in a grayscale image."""
    import zxingcpp

    try:
        fmt = zxingcpp.BarcodeFormat.QRCode
        for res in zxingcpp.read_barcodes(img, formats=fmt):  # type: ignore[arg-type]
            if res.valid and res.text:
                return str(res.text)
    except Exception:  # noqa: S110 - fall through to OpenCV
        pass
    try:
        import cv2
        import numpy as np

        text, _pts, _ = cv2.QRCodeDetector().detectAndDecode(np.asarray(img))
        if text:
            return str(text)
    except Exception:  # noqa: S110
        pass
    raise QrError("no QR code found")


def decode_image(data: bytes) -> str:
    """Text of the QR code in an image file (PNG, JPEG...). Raises ``QrError``."""
    return decode_gray(_load_gray(data))
