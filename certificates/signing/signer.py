"""Signers: the only objects that hold (or reach) a private key. They sign bytes and
nothing else.

``Signer`` is the interface every caller uses (``encode_sign1(..., sign=signer.sign)``,
``sign_status_list``, ``sign_trust_list``): ``kid`` (8 bytes), ``alg``, ``purpose``,
``sign(data) -> signature`` in COSE form and ``public_key_spki()``. Implementations:

* :class:`SoftwareSigner`: ES256 (raw ``r || s``, always low-s) or EdDSA with a
  ``cryptography`` private key decrypted from the keyring;
* :class:`Sm2SoftwareSigner`: SM2 with SM3 (``SM2SM3``, 64-byte ``r || s``, signer
  identity "1234567812345678") with a scalar decrypted from the keyring;
* a hardware module (HSM, e.g. a GM/T 0028 certified cryptographic module reached
  through PKCS#11 or the vendor's SDF API): a subclass whose ``sign`` sends ``data`` to
  the module and returns the signature, the private key never leaving it. The keyring
  returns it through ``Keyring(signer_factory=...)`` (see keyring.py and
  docs/credential-format.md §7).
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from certificates import sm2
from certificates.cose import es256_low_s
from certificates.keys import spki_der

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class Signer(ABC):
    """Signs with one private key it holds or reaches; decides nothing."""

    kid: bytes
    alg: str
    purpose: str

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """The COSE-form signature of ``data`` (the Sig_structure bytes)."""

    @abstractmethod
    def public_key_spki(self) -> bytes:
        """DER SubjectPublicKeyInfo of the public key."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kid={self.kid.hex()}, alg={self.alg}, " \
               f"purpose={self.purpose})"


class SoftwareSigner(Signer):
    """ES256 or EdDSA with a private key in memory."""

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


def sm2_public_key(scalar: int) -> sm2.Sm2PublicKey:
    """The public point ``scalar * G`` (1 <= scalar <= n - 2)."""
    if not 1 <= scalar <= sm2.N - 2:
        raise ValueError("SM2 private scalar out of range")
    c = sm2.crypt(sm2.Sm2PublicKey(sm2.GX, sm2.GY))
    xy = c._kg(scalar, c.ecc_table["g"])
    return sm2.Sm2PublicKey(int(xy[:64], 16), int(xy[64:], 16))


def generate_sm2_scalar() -> int:
    return secrets.randbelow(sm2.N - 2) + 1


class Sm2SoftwareSigner(Signer):
    """SM2 with SM3 (``SM2SM3``) with a private scalar in memory; the nonce ``k`` comes
    from ``secrets`` (not from gmssl's helper, which uses ``random``)."""

    __slots__ = ("__scalar", "_public", "alg", "kid", "purpose")

    def __init__(self, scalar: int, *, kid: bytes, purpose: str) -> None:
        self._public = sm2_public_key(scalar)
        self.__scalar = scalar
        self.kid = kid
        self.alg = "SM2SM3"
        self.purpose = purpose

    def sign(self, data: bytes) -> bytes:
        e = sm2.message_digest(self._public, data)
        c = sm2.crypt(self._public, f"{self.__scalar:064x}")
        while True:
            k = secrets.randbelow(sm2.N - 1) + 1
            out = c.sign(e, f"{k:064x}")
            if out is not None:
                return bytes.fromhex(out)

    def public_key_spki(self) -> bytes:
        return self._public.spki()
