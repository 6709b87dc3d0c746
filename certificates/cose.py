"""COSE_Sign1 (RFC 9052), written directly on cbor2 + cryptography.

Encoding::

    18([protected: bstr .cbor {1: alg, 4?: kid, 16?: typ}, unprotected: {4?: kid},
        payload: bstr, signature: bstr])

The signature covers ``Sig_structure = ["Signature1", protected, b"", payload]``.
ES256 signatures are raw ``r || s`` (64 bytes), EdDSA 64 bytes, SM2SM3 raw ``r || s``
(64 bytes, SM2 with SM3, ``certificates.sm2``), PS256 the RSA size.

Decoding is strict: one CBOR item and nothing after it, optional tag 18 (optionally
inside the CWT tag 61, as EU DCCs do), an array of exactly 4, a protected bstr that
is empty or a CBOR map, an unprotected map, a bstr payload (detached payloads are
refused), a bstr signature of the size the algorithm needs, ``alg`` in the protected
header only, ``kid`` a bstr in the protected header (wins) or the unprotected one.

Example::

    msg = encode_sign1(payload, alg="ES256", kid=signer.kid, sign=signer.sign)
    sign1 = decode_sign1(msg)
    verify_sign1(sign1, public_key)   # raises BadSignature / AlgorithmMismatch
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from certificates import sm2
from certificates.errors import AlgorithmMismatch, BadSignature, DecodeError, Malformed
from certificates.keys import ALG_IDS, ALG_NAMES, PublicKey, check_alg_key
from certificates.sm2 import Sm2PublicKey

TAG_SIGN1 = 18
TAG_CWT = 61
HDR_ALG = 1
HDR_CTY = 3
HDR_KID = 4
HDR_TYP = 16
MAX_KID_LEN = 64
# Order of the P-256 group: an ECDSA signature (r, s) is also valid as (r, n - s), so a
# signer emits the low half (s <= n/2) and guard-certificate verifiers refuse the high
# half: one certificate, one text.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def es256_is_high_s(signature: bytes) -> bool:
    """Whether a raw ``r || s`` ES256 signature has s in the upper half of the group."""
    return len(signature) == 64 and int.from_bytes(signature[32:], "big") > P256_ORDER // 2


def es256_low_s(signature: bytes) -> bytes:
    """The low-s twin of a raw ``r || s`` ES256 signature (unchanged if already low)."""
    if not es256_is_high_s(signature):
        return signature
    s = P256_ORDER - int.from_bytes(signature[32:], "big")
    return signature[:32] + s.to_bytes(32, "big")


@dataclass(frozen=True)
class Sign1:
    """A decoded, not yet verified COSE_Sign1 message."""

    protected_bytes: bytes
    protected: dict[Any, Any]
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes
    alg: str
    kid: bytes | None
    kid_in_protected: bool = field(default=False)

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected_bytes, self.payload)


def _bstr_head(n: int) -> bytes:
    if n < 24:
        return bytes((0x40 | n,))
    if n < 0x100:
        return bytes((0x58, n))
    if n < 0x10000:
        return b"\x59" + n.to_bytes(2, "big")
    if n < 0x100000000:
        return b"\x5a" + n.to_bytes(4, "big")
    return b"\x5b" + n.to_bytes(8, "big")


_SIG1_HEAD = b"\x84\x6aSignature1"


def sig_structure(protected_bytes: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """The CBOR ``Sig_structure`` for COSE_Sign1: ``["Signature1", protected,
    external_aad, payload]`` (built directly: it is on every verification's path)."""
    return b"".join((
        _SIG1_HEAD,
        _bstr_head(len(protected_bytes)), protected_bytes,
        _bstr_head(len(external_aad)), external_aad,
        _bstr_head(len(payload)), payload,
    ))


def loads_strict(
    data: bytes, stage: Malformed = Malformed.CBOR, *, check_breaks: bool = True
) -> Any:
    """Decode exactly one CBOR data item; trailing bytes or any decoder error -> DecodeError.

    ``check_breaks=False`` skips the search for stray break codes (the caller then
    type-checks every part of the result itself)."""
    if type(data) is not bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(stage, "not bytes")
        data = bytes(data)
    fp = io.BytesIO(data)
    try:
        obj = cbor2.CBORDecoder(fp).decode()
    except RecursionError:
        raise DecodeError(stage, "CBOR nested too deeply") from None
    except Exception as exc:  # cbor2 raises many types on garbage
        raise DecodeError(stage, f"invalid CBOR ({type(exc).__name__})") from None
    if fp.tell() != len(data):
        raise DecodeError(stage, "trailing bytes after CBOR item")
    if check_breaks and b"\xff" in data and _has_break(obj, 0):  # break = byte 0xFF
        raise DecodeError(stage, "stray CBOR break code")
    return obj


def _has_break(obj: Any, depth: int) -> bool:
    """True if a stray break code (which cbor2 returns as a value) hides in ``obj``,
    or nesting is deeper than 64."""
    brk = _BREAK
    stack = [(obj, depth)]
    while stack:
        o, d = stack.pop()
        if o is brk or d > 64:
            return True
        t = type(o)
        if t is list:
            stack.extend((v, d + 1) for v in o if type(v) in _CONTAINERS or v is brk)
        elif t is dict:
            for k, v in o.items():
                if type(k) in _CONTAINERS or k is brk:
                    stack.append((k, d + 1))
                if type(v) in _CONTAINERS or v is brk:
                    stack.append((v, d + 1))
        elif t is cbor2.CBORTag:
            stack.append((o.value, d + 1))
    return False


_CONTAINERS = (list, dict, cbor2.CBORTag)
_BREAK: Any = cbor2.loads(b"\xff")  # cbor2's break_marker singleton


def _sig_len(alg: str) -> int | None:
    return 64 if alg in ("ES256", "EdDSA", "SM2SM3") else None


def encode_sign1(
    payload: bytes,
    *,
    alg: str,
    kid: bytes,
    sign: Callable[[bytes], bytes],
    kid_in_protected: bool = True,
    extra_protected: dict[int, Any] | None = None,
    tag: bool = True,
) -> bytes:
    """Build and sign a COSE_Sign1. ``sign`` receives the Sig_structure bytes and returns
    the signature in COSE form (raw r||s for ES256), e.g. ``Signer.sign``."""
    if alg not in ALG_IDS:
        raise AlgorithmMismatch(f"unsupported algorithm {alg!r}")
    prot: dict[int, Any] = {HDR_ALG: ALG_IDS[alg]}
    unprot: dict[int, Any] = {}
    if kid_in_protected:
        prot[HDR_KID] = kid
    else:
        unprot[HDR_KID] = kid
    if extra_protected:
        prot.update(extra_protected)
    protected_bytes = cbor2.dumps(prot)
    signature = sign(sig_structure(protected_bytes, payload))
    expected = _sig_len(alg)
    if expected is not None and len(signature) != expected:
        raise BadSignature(f"signer returned {len(signature)} bytes, {alg} needs {expected}")
    arr = [protected_bytes, unprot, payload, signature]
    return cbor2.dumps(cbor2.CBORTag(TAG_SIGN1, arr) if tag else arr)


def decode_guard_sign1(data: bytes) -> Sign1:
    """A COSE_Sign1 of the guard-certificate profile (certificates, status list tokens,
    trust lists: everything guardreg signs). Stricter than the generic layer, and the
    same rules as the browser verifier (api/static/lib/verify.js ``parseSign1``):

    * no CWT tag 61 around the message (``malformed``/``cose``): the issuer never
      writes it, and a second accepted wrapping would be a second text for one
      certificate;
    * the unprotected header is an empty map: ``alg``, ``kid`` and every other header
      live in the protected bucket, covered by the signature (``malformed``/``cose``).
    """
    return decode_sign1(data, allow_cwt_tag=False, empty_unprotected=True)


def decode_sign1(
    data: bytes, *, allow_cwt_tag: bool = True, allow_unprotected_alg: bool = False,
    empty_unprotected: bool = False,
) -> Sign1:
    """Parse a COSE_Sign1 strictly (see module doc). Raises ``DecodeError``:
    stage ``cbor`` for undecodable CBOR, ``cose`` for a wrong structure.

    ``allow_unprotected_alg``: accept ``alg`` in the unprotected header when the
    protected one has none (EU DCC verifiers do; guard certificates never).
    ``allow_cwt_tag``: accept the CWT tag 61 around tag 18 (EU DCCs).
    ``empty_unprotected``: refuse any header in the unprotected bucket (the guard
    profile, see :func:`decode_guard_sign1`)."""
    # every element is type-checked below; only the unprotected map needs a break scan
    obj = loads_strict(data, Malformed.CBOR, check_breaks=False)
    if obj is _BREAK:
        raise DecodeError(Malformed.CBOR, "stray CBOR break code")
    if isinstance(obj, cbor2.CBORTag) and obj.tag == TAG_CWT:
        if not allow_cwt_tag:
            raise DecodeError(Malformed.COSE, "CWT tag 61 is not part of this profile")
        obj = obj.value
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != TAG_SIGN1:
            raise DecodeError(Malformed.COSE, f"unexpected CBOR tag {obj.tag}")
        obj = obj.value
    if not isinstance(obj, list) or len(obj) != 4:
        raise DecodeError(Malformed.COSE, "COSE_Sign1 must be an array of 4")
    protected_bytes, unprotected, payload, signature = obj
    if not isinstance(protected_bytes, bytes):
        raise DecodeError(Malformed.COSE, "protected header must be a bstr")
    if not isinstance(unprotected, dict):
        raise DecodeError(Malformed.COSE, "unprotected header must be a map")
    if unprotected and _has_break(unprotected, 1):
        raise DecodeError(Malformed.CBOR, "stray CBOR break code")
    if unprotected and empty_unprotected:
        raise DecodeError(Malformed.COSE, "headers must be protected (unprotected map not empty)")
    if not isinstance(payload, bytes):
        raise DecodeError(Malformed.COSE, "payload must be a bstr (no detached payload)")
    if not isinstance(signature, bytes):
        raise DecodeError(Malformed.COSE, "signature must be a bstr")
    if protected_bytes:
        protected = loads_strict(protected_bytes, Malformed.COSE)
        if not isinstance(protected, dict):
            raise DecodeError(Malformed.COSE, "protected header must encode a map")
    else:
        protected = {}
    if HDR_ALG in unprotected and (HDR_ALG in protected or not allow_unprotected_alg):
        raise DecodeError(Malformed.COSE, "alg must be in the protected header")
    alg_id = protected.get(HDR_ALG, unprotected.get(HDR_ALG))
    if alg_id is None:
        raise DecodeError(Malformed.COSE, "no alg header")
    if not isinstance(alg_id, int) or isinstance(alg_id, bool):
        raise DecodeError(Malformed.COSE, "alg must be an integer")
    alg = ALG_NAMES.get(alg_id)
    if alg is None:
        raise AlgorithmMismatch(f"unsupported COSE algorithm {alg_id}")
    kid_in_protected = HDR_KID in protected
    kid = protected.get(HDR_KID) if kid_in_protected else unprotected.get(HDR_KID)
    if kid is not None and (not isinstance(kid, bytes) or not 0 < len(kid) <= MAX_KID_LEN):
        raise DecodeError(Malformed.COSE, "kid must be a non-empty bstr")
    expected = _sig_len(alg)
    if expected is not None and len(signature) != expected:
        raise DecodeError(Malformed.COSE, f"{alg} signature must be {expected} bytes")
    if alg == "PS256" and not 256 <= len(signature) <= 1024:
        raise DecodeError(Malformed.COSE, "PS256 signature size out of range")
    return Sign1(
        protected_bytes=protected_bytes,
        protected=protected,
        unprotected=unprotected,
        payload=payload,
        signature=signature,
        alg=alg,
        kid=kid,
        kid_in_protected=kid_in_protected,
    )


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_PSS_SHA256 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def verify_signature(
    alg: str, key: PublicKey, to_be_signed: bytes, signature: bytes, *, checked: bool = False
) -> None:
    """Check one COSE signature. Raises ``AlgorithmMismatch`` or ``BadSignature``.
    ``checked=True``: the caller already ran ``check_alg_key(alg, key)``."""
    if not checked:
        check_alg_key(alg, key)
    try:
        if alg == "ES256":
            if len(signature) != 64:
                raise BadSignature("ES256 signature must be 64 bytes")
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            ec_key = cast(ec.EllipticCurvePublicKey, key)  # check_alg_key guaranteed it
            ec_key.verify(encode_dss_signature(r, s), to_be_signed, _ECDSA_SHA256)
        elif alg == "EdDSA":
            assert isinstance(key, ed25519.Ed25519PublicKey)
            key.verify(signature, to_be_signed)
        elif alg == "SM2SM3":
            assert isinstance(key, Sm2PublicKey)
            if not sm2.verify(key, to_be_signed, signature):
                raise InvalidSignature

        else:
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, to_be_signed, _PSS_SHA256, hashes.SHA256())
    except InvalidSignature:
        raise BadSignature("signature does not verify") from None


def verify_sign1(msg: Sign1, key: PublicKey) -> None:
    """Verify ``msg`` with ``key``; raises ``AlgorithmMismatch`` or ``BadSignature``."""
    verify_signature(msg.alg, key, msg.to_be_signed(), msg.signature)


class SigningKey(Protocol):
    """What ``encode_sign1`` callers need from a signer (e.g. ``signing.Signer``)."""

    kid: bytes
    alg: str

    def sign(self, data: bytes) -> bytes: ...


def sign1_with(signer: SigningKey, payload: bytes, *, typ: str | None = None) -> bytes:
    """COSE_Sign1 of ``payload`` by ``signer`` (kid in the protected header)."""
    extra = {HDR_TYP: typ} if typ else None
    return encode_sign1(
        payload, alg=signer.alg, kid=signer.kid, sign=signer.sign, extra_protected=extra
    )
