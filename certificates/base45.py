"""Base45 (RFC 9285), strict.

``encode(b"AB") == "BB8"``. ``decode`` rejects characters outside the 45-character
alphabet, a length of 1 mod 3, and any group whose value overflows (a 3-character
group over 65535 or a 2-character group over 255), raising
:class:`~certificates.errors.DecodeError` with stage ``base45``.
"""

from __future__ import annotations

import numpy as np

from certificates.errors import DecodeError, Malformed

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def encode(data: bytes) -> str:
    """Base45 text of ``data`` (3 characters per 2 bytes, 2 for a trailing byte)."""
    out: list[str] = []
    n = len(data)
    for i in range(0, n - 1, 2):
        v = data[i] * 256 + data[i + 1]
        v, c = divmod(v, 45)
        e, d = divmod(v, 45)
        out.append(ALPHABET[c] + ALPHABET[d] + ALPHABET[e])
    if n % 2:
        d, c = divmod(data[-1], 45)
        out.append(ALPHABET[c] + ALPHABET[d])
    return "".join(out)


_WEIGHTS = np.array([1, 45, 2025], dtype=np.uint32)
_TRANS = bytes(ALPHABET.index(chr(c)) if chr(c) in ALPHABET else 255 for c in range(256))


def decode(text: str) -> bytes:
    """Bytes of Base45 ``text``; raises ``DecodeError(Malformed.BASE45)`` if invalid."""
    if not isinstance(text, str):
        raise DecodeError(Malformed.BASE45, "not a string")
    n = len(text)
    if n % 3 == 1:
        raise DecodeError(Malformed.BASE45, "length is 1 mod 3")
    try:
        vals = text.encode("ascii").translate(_TRANS)
    except UnicodeEncodeError:
        raise DecodeError(Malformed.BASE45, "character outside the Base45 alphabet") from None
    if 255 in vals:
        raise DecodeError(Malformed.BASE45, "character outside the Base45 alphabet")
    full = n - n % 3
    groups = np.frombuffer(vals, dtype=np.uint8, count=full).reshape(-1, 3).dot(_WEIGHTS)
    if groups.size and int(groups.max()) > 0xFFFF:
        raise DecodeError(Malformed.BASE45, "group value over 65535")
    out = groups.astype(">u2").tobytes()
    if n % 3 == 2:
        v = vals[-2] + vals[-1] * 45
        if v > 0xFF:
            raise DecodeError(Malformed.BASE45, "trailing group value over 255")
        out += bytes((v,))
    return bytes(out)
