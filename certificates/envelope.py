"""Text envelope: ``PREFIX + Base45(zlib?(COSE))``.

Compression follows the EU DCC rule but optional: the COSE bytes are zlib-compressed
(RFC 1950, level 9) only when that makes them shorter. A zlib stream is
self-identifying (first byte 0x78 with a valid FCHECK), while a COSE_Sign1 starts with
0xD2 (tag 18), 0xD8 (tag 61) or 0x84 (array of 4), so the decoder needs no flag.
Decompression is capped (default 64 KiB) against zip bombs.
"""

from __future__ import annotations

import zlib

from certificates import base45
from certificates.errors import DecodeError, Malformed

GUARD_PREFIX = "SG1:"
MAX_DECOMPRESSED = 64 * 1024


def compress_if_smaller(data: bytes) -> bytes:
    packed = zlib.compress(data, 9)
    return packed if len(packed) < len(data) else data


def looks_like_zlib(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] * 256 + data[1]) % 31 == 0


def decompress_capped(data: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """Inflate a complete zlib stream, refusing more than ``limit`` output bytes."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error:
        raise DecodeError(Malformed.COMPRESSION, "broken zlib stream") from None
    if len(out) > limit or d.unconsumed_tail:
        raise DecodeError(Malformed.COMPRESSION, f"decompresses to more than {limit} bytes")
    if not d.eof:
        raise DecodeError(Malformed.COMPRESSION, "truncated zlib stream")
    if d.unused_data:
        raise DecodeError(Malformed.COMPRESSION, "bytes after the zlib stream")
    return out


def maybe_decompress(data: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """Inflate if ``data`` is a zlib stream, else return it as is."""
    return decompress_capped(data, limit) if looks_like_zlib(data) else data


def encode_text(cose: bytes, prefix: str = GUARD_PREFIX, *, compress: bool = True) -> str:
    """``prefix`` + Base45 of the (compressed if it shrinks) COSE bytes."""
    body = compress_if_smaller(cose) if compress else cose
    return prefix + base45.encode(body)


def strip_prefix(text: str, prefix: str = GUARD_PREFIX) -> str:
    if not isinstance(text, str) or not text.startswith(prefix):
        raise DecodeError(Malformed.PREFIX, f"text must start with {prefix!r}")
    return text[len(prefix) :]


def decode_text(
    text: str,
    prefix: str = GUARD_PREFIX,
    *,
    limit: int = MAX_DECOMPRESSED,
    require_compression: bool = False,
) -> bytes:
    """COSE bytes from envelope text; raises ``DecodeError`` naming the failing layer."""
    raw = base45.decode(strip_prefix(text, prefix))
    if require_compression:
        if not looks_like_zlib(raw):
            raise DecodeError(Malformed.COMPRESSION, "not a zlib stream")
        return decompress_capped(raw, limit)
    return maybe_decompress(raw, limit)
