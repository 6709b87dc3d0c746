"""SM2 with SM3 (GB/T 32918, GM/T 0003 / 0004 / 0009): public-key side only.

The optional signature profile ``SM2SM3`` (COSE alg ``-65540``, private use; see
docs/credential-format.md): the signer identity is fixed to the GM/T 0009 default
``"1234567812345678"`` (ENTL 0x0080), the signed digest is
``e = SM3(Z_A || Sig_structure)`` with ``Z_A = SM3(ENTL || ID || a || b || xG || yG ||
xA || yA)``, and the COSE signature is the 64-byte ``r || s``.

The curve arithmetic and SM3 are those of the maintained ``gmssl`` package (checked
against the GB/T 32918.2 Annex A example in tests/certificates/test_sm2.py). This
module adds what it leaves to the caller: the range checks on ``r`` and ``s``, a
point-on-curve check of public keys, the SubjectPublicKeyInfo encoding (id-ecPublicKey
with the curve OID 1.2.156.10197.1.301) and a workaround for gmssl's handling of a
public key whose hex starts with ``04``. Private keys live only in
``certificates/signing``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gmssl import func, sm2, sm3

# sm2p256v1 (GB/T 32918.5)
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
DEFAULT_ID = b"1234567812345678"  # GM/T 0009 default signer identity
# DER SubjectPublicKeyInfo prefix: SEQUENCE { SEQUENCE { id-ecPublicKey, sm2p256v1 },
# BIT STRING (0 unused bits) 04 || X || Y }
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
SPKI_LEN = len(SPKI_PREFIX) + 65


def _table() -> dict[str, str]:
    return {"n": f"{N:064X}", "p": f"{P:064X}", "a": f"{A:064X}", "b": f"{B:064X}",
            "g": f"{GX:064x}{GY:064x}"}


def on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


@dataclass(frozen=True)
class Sm2PublicKey:
    """An SM2 public key (affine point on sm2p256v1, checked on construction)."""

    x: int
    y: int

    def __post_init__(self) -> None:
        if not on_curve(self.x, self.y) or (self.x, self.y) == (0, 0):
            raise ValueError("not a point on the SM2 curve")

    @property
    def xy(self) -> bytes:
        return self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def spki(self) -> bytes:
        return SPKI_PREFIX + b"\x04" + self.xy

    @classmethod
    def from_spki(cls, spki: bytes) -> Sm2PublicKey:
        if len(spki) != SPKI_LEN or not spki.startswith(SPKI_PREFIX) \
                or spki[len(SPKI_PREFIX)] != 4:
            raise ValueError("not an SM2 SubjectPublicKeyInfo")
        raw = spki[len(SPKI_PREFIX) + 1:]
        return cls(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def is_sm2_spki(spki: bytes) -> bool:
    return len(spki) == SPKI_LEN and spki.startswith(SPKI_PREFIX)


def crypt(public: Sm2PublicKey, private_hex: str = "") -> sm2.CryptSM2:
    """A gmssl context for ``public`` (and a private scalar, for certificates/signing)."""
    xy = public.xy.hex()
    c = sm2.CryptSM2(private_key=private_hex, public_key=xy, ecc_table=_table())
    c.public_key = xy  # gmssl strips a leading "04" with lstrip("04"): eats 0/4 digits
    return c


def z_digest(public: Sm2PublicKey, uid: bytes = DEFAULT_ID) -> bytes:
    """``Z_A`` of GB/T 32918.2 for ``public`` and signer identity ``uid``."""
    data = ((len(uid) * 8).to_bytes(2, "big") + uid
            + b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY)) + public.xy)
    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))


def message_digest(public: Sm2PublicKey, message: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    """``e = SM3(Z_A || M)``: what SM2 signs."""
    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(z_digest(public, uid) + message)))


def verify(public: Sm2PublicKey, message: bytes, signature: bytes,
           uid: bytes = DEFAULT_ID) -> bool:
    """Whether ``signature`` (64 bytes ``r || s``) is ``public``'s SM2-with-SM3
    signature of ``message`` under signer identity ``uid``."""
    if len(signature) != 64:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N) or (r + s) % N == 0:
        return False
    try:
        return bool(crypt(public).verify(signature.hex(), message_digest(public, message, uid)))
    except (TypeError, ValueError):  # point at infinity inside gmssl
        return False
