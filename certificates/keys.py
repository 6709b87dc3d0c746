"""Public-key helpers shared by signers and verifiers (no private keys here).

Key id (``kid``) = first 8 bytes of SHA-256 of the public key's DER
SubjectPublicKeyInfo. Algorithms by COSE name: ``ES256`` (-7, ECDSA P-256 SHA-256),
``EdDSA`` (-8, Ed25519), ``SM2SM3`` (-65540, private use: SM2 with SM3, signer
identity "1234567812345678", see ``certificates.sm2``) and, verify-only, ``PS256``
(-37, RSASSA-PSS SHA-256).
"""

from __future__ import annotations

import hashlib
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certificates.errors import AlgorithmMismatch
from certificates.sm2 import Sm2PublicKey, is_sm2_spki

PublicKey = (ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
             | Sm2PublicKey)
AlgName = Literal["ES256", "EdDSA", "PS256", "SM2SM3"]

ALG_ES256 = -7
ALG_EDDSA = -8
ALG_PS256 = -37
# Private use (RFC 9053 reserves alg values below -65536): no COSE registration for SM2.
ALG_SM2SM3 = -65540
ALG_IDS: dict[str, int] = {"ES256": ALG_ES256, "EdDSA": ALG_EDDSA, "PS256": ALG_PS256,
                           "SM2SM3": ALG_SM2SM3}
ALG_NAMES: dict[int, str] = {v: k for k, v in ALG_IDS.items()}
SIGNING_ALGS: tuple[str, ...] = ("ES256", "EdDSA", "SM2SM3")


def spki_der(public_key: PublicKey) -> bytes:
    """DER SubjectPublicKeyInfo of ``public_key``."""
    if isinstance(public_key, Sm2PublicKey):
        return public_key.spki()
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def kid_from_spki(spki: bytes) -> bytes:
    """Key id: first 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(spki).digest()[:8]


def kid_of(public_key: PublicKey) -> bytes:
    return kid_from_spki(spki_der(public_key))


def load_spki(spki: bytes) -> PublicKey:
    """Public key from DER SPKI; ``ValueError`` if it is not an EC, Ed25519, RSA or SM2
    key (an SM2 point off the curve included)."""
    if is_sm2_spki(spki):
        return Sm2PublicKey.from_spki(spki)
    try:
        key = serialization.load_der_public_key(spki)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError("not a DER SubjectPublicKeyInfo") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise ValueError("unsupported public key type")
    return key


def check_alg_key(alg: str | int, key: PublicKey) -> str:
    """Return the COSE algorithm name if ``key`` fits it, else raise ``AlgorithmMismatch``.

    ES256 needs an EC key on P-256, EdDSA an Ed25519 key, PS256 an RSA key of at least
    2048 bits.
    """
    name = ALG_NAMES.get(alg) if isinstance(alg, int) else alg
    if name == "ES256":
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            return name
    elif name == "EdDSA":
        if isinstance(key, ed25519.Ed25519PublicKey):
            return name
    elif name == "PS256":
        if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
            return name
    elif name == "SM2SM3":
        if isinstance(key, Sm2PublicKey):
            return name
    else:
        raise AlgorithmMismatch(f"unsupported algorithm {alg!r}")
    raise AlgorithmMismatch(f"algorithm {name} does not match a {describe_key(key)} key")


def describe_key(key: PublicKey) -> str:
    if isinstance(key, Sm2PublicKey):
        return "SM2"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return f"RSA {key.key_size}"
