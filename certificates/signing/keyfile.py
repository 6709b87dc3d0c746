"""Private key files: PKCS#8 sealed with scrypt + AES-256-GCM.

The first keyrings wrote PKCS#8 PEM encrypted by ``BestAvailableEncryption``: PBKDF2
with 2,048 iterations, about a millisecond per guess on one core. A key file is now::

    -----BEGIN GUARDREG SEALED PRIVATE KEY-----
    base64( "GRK1" | log2(N) | r | p | salt[16] | nonce[12] | AES-256-GCM(PKCS#8 DER) )
    -----END GUARDREG SEALED PRIVATE KEY-----

The key-encryption key is scrypt(passphrase, salt, N=2^17, r=8, p=1): 128 MiB and a
few tenths of a second per guess, so a stolen file and a weak passphrase no longer
fall to a GPU in a day. The header (format, cost, salt) is authenticated as associated
data, so a file whose cost was lowered does not open. The cost is read from the file,
so it can be raised later without breaking old files.

:func:`open_key` also reads the old PEM format and says so; the keyring rewrites such
a file in the new format the first time it loads it (and ``guardreg keys migrate``
rewrites them all at once).
"""

from __future__ import annotations

import base64
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from certificates.errors import KeyringError
from certificates.signing.signer import PrivateKey

MAGIC = b"GRK1"
PEM_LABEL = b"GUARDREG SEALED PRIVATE KEY"
BEGIN = b"-----BEGIN " + PEM_LABEL + b"-----"
END = b"-----END " + PEM_LABEL + b"-----"
LOG2_N = 17
R = 8
P = 1
MIN_LOG2_N = 14  # refuse files claiming a cost below this (a downgraded header)
MAX_LOG2_N = 22  # and above this (a file that would take gigabytes to open)
_HEADER = struct.Struct(">4sBBB16s")


def _kek(passphrase: bytes, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(passphrase)


def seal_key(key: PrivateKey, passphrase: bytes, *, log2_n: int = LOG2_N) -> bytes:
    """The file contents for ``key`` sealed under ``passphrase``."""
    if not MIN_LOG2_N <= log2_n <= MAX_LOG2_N:
        raise KeyringError(f"scrypt cost 2^{log2_n} is outside 2^{MIN_LOG2_N}-2^{MAX_LOG2_N}")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    salt, nonce = os.urandom(16), os.urandom(12)
    header = _HEADER.pack(MAGIC, log2_n, R, P, salt)
    sealed = AESGCM(_kek(passphrase, salt, log2_n, R, P)).encrypt(nonce, der, header)
    body = base64.encodebytes(header + nonce + sealed)
    return BEGIN + b"\n" + body + END + b"\n"


def is_sealed(data: bytes) -> bool:
    return data.lstrip().startswith(BEGIN)


def open_key(data: bytes, passphrase: bytes) -> tuple[PrivateKey, bool]:
    """``(key, legacy)``: the private key in ``data``; ``legacy`` is True for the old
    PBKDF2 PEM, which the caller should rewrite with :func:`seal_key`. Raises
    :class:`KeyringError` for a wrong passphrase or a damaged file."""
    if not is_sealed(data):
        try:
            old = serialization.load_pem_private_key(data, password=passphrase)
        except (ValueError, TypeError):
            raise KeyringError("cannot decrypt the private key (old format)") from None
        return _checked(old), True
    text = data.strip()
    if not text.endswith(END):
        raise KeyringError("the private key file is truncated")
    try:
        raw = base64.b64decode(b"".join(text[len(BEGIN):-len(END)].split()), validate=True)
        magic, log2_n, r, p, salt = _HEADER.unpack_from(raw)
    except (ValueError, struct.error):
        raise KeyringError("the private key file is damaged") from None
    if magic != MAGIC or not MIN_LOG2_N <= log2_n <= MAX_LOG2_N or r != R or p != P:
        raise KeyringError("the private key file has an unknown format or cost")
    header = raw[:_HEADER.size]
    nonce, sealed = raw[_HEADER.size:_HEADER.size + 12], raw[_HEADER.size + 12:]
    try:
        der = AESGCM(_kek(passphrase, salt, log2_n, r, p)).decrypt(nonce, sealed, header)
    except (InvalidTag, ValueError):
        raise KeyringError("cannot decrypt the private key (wrong passphrase or "
                           "altered file)") from None
    return _checked(serialization.load_der_private_key(der, password=None)), False


def _checked(key: object) -> PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyringError("unsupported private key type")
    return key
