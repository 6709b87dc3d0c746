"""The only object that holds a private key. It signs bytes and nothing else."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from certificates.cose import es256_low_s
from certificates.keys import spki_der

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class Signer:
    """Signs with one private key.

    Exposes ``kid`` (8 bytes), ``alg`` ("ES256" | "EdDSA"), ``purpose``,
    ``sign(data) -> signature`` in COSE form (ES256: raw ``r || s``, 64 bytes, always
    low-s so that one message has one signature) and
    ``public_key_spki()``. It decides nothing: callers decide what to sign.
    """

    __slots__ = ("__key", "_spki", "alg", "kid", "purpose")

    def __init__(self, key: PrivateKey, *, kid: bytes, alg: str, purpose: str) -> None:
        self.__key = key
        self.kid = kid
        self.alg = alg
        self.purpose = purpose
        self._spki = spki_der(key.public_key())

    def sign(self, data: bytes) -> bytes:
        key = self.__key
        if self.alg == "ES256":
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
            return es256_low_s(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        return key.sign(data)

    def public_key_spki(self) -> bytes:
        return self._spki

    def __repr__(self) -> str:
        return f"Signer(kid={self.kid.hex()}, alg={self.alg}, purpose={self.purpose})"
