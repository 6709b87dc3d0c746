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
from typing import Any, Literal

import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.image.svg
import qrcode.util
from PIL import Image

from certificates.errors import QrError
from registry.errors import PayloadTooLarge, UnsupportedMediaType

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 16_000_000


def _build(text: str, *, border: int = 4, box_size: int = 4) -> qrcode.QRCode[Any]:
    code = qrcode.QRCode(
        version=None,
        error_correction=qrcode.constants.ERROR_CORRECT_Q,
        box_size=box_size,
        border=border,
    )
    try:
        mode: Literal[2, 4] = (2 if qrcode.util.RE_ALPHA_NUM.match(text.encode())
                               else 4)  # qrcode.util.MODE_ALPHA_NUM / MODE_8BIT_BYTE
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


# Photos of a QR code arrive as JPEG (phone cameras) or PNG (screenshots, renders).
# Checked by magic number before any decoder sees the bytes: the old loader let Pillow
# pick among every format it knows.
_QR_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"))


class QrImageTooLarge(QrError):
    """A limit checked before decoding (still a ``QrError`` for callers of decode_image)."""

    status = PayloadTooLarge.status
    code = "image-too-large"
    title = "Image too large"


class QrImageTypeUnsupported(QrError):
    status = UnsupportedMediaType.status
    code = "image-type-unsupported"
    title = "Image type not supported"


def check_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES,
                max_pixels: int = MAX_IMAGE_PIXELS) -> str:
    """The limits that need no decoding: bytes, format by magic number (PNG or JPEG),
    the pixels the header declares. Returns the format. Raises 413, 415 or ``QrError``."""
    if len(data) > max_bytes:
        raise QrImageTooLarge(f"image is {len(data)} bytes; the limit is {max_bytes}",
                              reason="too-many-bytes", limit=max_bytes)
    fmt = next((name for magic, name in _QR_MAGIC if data.startswith(magic)), None)
    if fmt is None:
        raise QrImageTypeUnsupported("send the QR code as a PNG or JPEG image",
                                     reason="format-not-allowed", allowed=["JPEG", "PNG"])
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            width, height = im.size
    except Image.DecompressionBombError:  # Pillow's own, far larger, limit
        raise QrImageTooLarge(f"image has too many pixels; the limit is {max_pixels}",
                              reason="too-many-pixels", limit=max_pixels) from None
    except Exception:  # Pillow raises many types on corrupt headers
        raise QrError("not a readable image", reason="corrupt") from None
    if width * height > max_pixels:
        raise QrImageTooLarge(f"image has {width}x{height} pixels; the limit is {max_pixels}",
                              reason="too-many-pixels", limit=max_pixels)
    return fmt


def _load_gray(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES,
               max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    fmt = check_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            return im.convert("L")
    except Exception:  # Pillow raises many types on corrupt images
        raise QrError("not a readable image", reason="corrupt") from None


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


def decode_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES,
                 max_pixels: int = MAX_IMAGE_PIXELS) -> str:
    """Text of the QR code in a PNG or JPEG image. Raises ``QrError``. The decoder's
    cost grows with the pixels and the finder-like patterns in them: a server runs this
    under a CPU budget (api/workpool.py)."""
    return decode_gray(_load_gray(data, max_bytes=max_bytes, max_pixels=max_pixels))
