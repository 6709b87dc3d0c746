"""Image intake shared by every biometric upload.

Decodes JPEG, PNG, BMP, TIFF and WebP with hard limits on bytes and pixels, checks the
format (magic number against the caller's allow-list) and the declared dimensions
*before* decoding (:func:`inspect_image`: decompression bombs, oversized uploads),
applies EXIF orientation and returns a numpy array. Anything wrong becomes an
:class:`ImageRejected` (422), :class:`ImageTooLarge` (413) or
:class:`ImageTypeUnsupported` (415), never a crash.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageFile, ImageOps

from biometrics.errors import ImageRejected, ImageTooLarge, ImageTypeUnsupported

# Never decode a partial file as if it were whole.
ImageFile.LOAD_TRUNCATED_IMAGES = False

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 16_000_000
MAX_ANCILLARY_CHUNK = 256 * 1024  # PNG text/metadata chunks; image data is in IDAT
_ARCHIVE_MARKERS = (b"PK\x03\x04", b"PK\x05\x06", b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c")
MIN_SIDE = 16

# Magic numbers -> format name. Checked before Pillow sees the bytes so that a
# polyglot or a format we do not accept is refused early and cheaply.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "BMP", "TIFF", "WEBP"})


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # HxWx3 uint8 RGB, or HxW uint8 for mode "L"
    format: str
    width: int
    height: int
    dpi: tuple[float, float] | None


def sniff_format(data: bytes) -> str | None:
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


FACE_FORMATS = frozenset({"JPEG", "PNG"})
FINGER_FORMATS = frozenset({"PNG", "TIFF", "BMP", "JPEG"})


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int


def inspect_image(
    data: bytes,
    *,
    formats: frozenset[str] = ALLOWED_FORMATS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageHeader:
    """Every check that needs no decoding: size in bytes, format by its magic number
    (against ``formats``), polyglots, PNG chunk sizes and the dimensions the header
    declares. Cheap enough to run before a request takes an image worker."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageRejected("image must be bytes", reason="not-bytes")
    data = bytes(data)
    if len(data) == 0:
        raise ImageRejected("the image is empty (0 bytes)", reason="empty")
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"image is {len(data)} bytes; the limit is {max_bytes}",
            reason="too-many-bytes",
            value=len(data),
            limit=max_bytes,
        )
    fmt = sniff_format(data)
    if fmt is None or fmt not in formats:
        names = ", ".join(sorted(formats))
        raise ImageTypeUnsupported(
            f"not a supported image ({names} expected)",
            reason="unknown-type" if fmt is None else "format-not-allowed",
            allowed=sorted(formats),
        )
    if any(marker in data for marker in _ARCHIVE_MARKERS):
        raise ImageRejected("the file also contains an archive (polyglot); send a plain image",
                            reason="polyglot")
    if fmt == "PNG":
        _check_png_chunks(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as img:
                width, height = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge("image would decompress to too many pixels",
                            reason="decompression-bomb") from exc
    except Exception as exc:  # Pillow raises many types for corrupt headers
        raise ImageRejected(
            f"the {fmt} data is corrupt or truncated", reason="corrupt", format=fmt
        ) from exc
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageRejected(
            f"image is {width}x{height}; at least {MIN_SIDE}x{MIN_SIDE} is needed",
            reason="too-small",
            value=[width, height],
        )
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image declares {width}x{height} = {width * height} pixels; "
            f"the limit is {max_pixels}",
            reason="too-many-pixels",
            value=width * height,
            limit=max_pixels,
        )
    return ImageHeader(format=fmt, width=width, height=height)


def decode_image(
    data: bytes,
    *,
    mode: Literal["RGB", "L"] = "RGB",
    formats: frozenset[str] = ALLOWED_FORMATS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedImage:
    """Decode ``data`` into a numpy array, refusing anything hostile or malformed."""
    fmt = inspect_image(data, formats=formats, max_bytes=max_bytes,
                        max_pixels=max_pixels).format
    data = bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[fmt])
            if getattr(img, "n_frames", 1) > 1 and fmt != "TIFF":
                raise ImageRejected("animated or multi-frame images are not accepted",
                                    reason="multi-frame")
            dpi_info = img.info.get("dpi")
            img.load()
            oriented: Image.Image = ImageOps.exif_transpose(img) or img
            if oriented.width * oriented.height > max_pixels:  # pragma: no cover - defensive
                raise ImageTooLarge("image has too many pixels", reason="too-many-pixels")
            converted = oriented.convert(mode)
    except (ImageRejected, ImageTooLarge):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge("image would decompress to too many pixels",
                            reason="decompression-bomb") from exc
    except MemoryError as exc:  # pragma: no cover - defensive
        raise ImageTooLarge("image too large to decode", reason="memory") from exc
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise ImageRejected(
            f"the {fmt} data is corrupt or truncated", reason="corrupt", format=fmt
        ) from exc
    arr = np.asarray(converted, dtype=np.uint8)
    dpi: tuple[float, float] | None = None
    if isinstance(dpi_info, tuple) and len(dpi_info) == 2:
        try:
            dpi = (float(dpi_info[0]), float(dpi_info[1]))
        except (TypeError, ValueError):
            dpi = None
    return DecodedImage(pixels=arr, format=fmt, width=arr.shape[1], height=arr.shape[0], dpi=dpi)


_PNG_CRITICAL = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}


def _check_png_chunks(data: bytes) -> None:
    """Walk the chunk list: no oversized ancillary chunk, nothing after IEND."""
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return  # truncated: the decoder reports it as corrupt
        if kind not in _PNG_CRITICAL and length > MAX_ANCILLARY_CHUNK:
            raise ImageRejected(f"the PNG carries a {length}-byte {kind.decode('latin-1')!r} "
                                "chunk; metadata chunks are limited", reason="oversized-chunk",
                                value=length, limit=MAX_ANCILLARY_CHUNK)
        if kind == b"IEND":
            if len(data) - end > 16:
                raise ImageRejected("data follows the end of the PNG", reason="trailing-data")
            return
        pos = end
