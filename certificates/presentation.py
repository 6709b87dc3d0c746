"""Device binding (``cnf``, RFC 8747) and the rotating presentation a guard's phone shows.

A device-bound certificate carries the guard phone's P-256 public key as the CWT claim
``cnf`` (8) = ``{1: COSE_Key}`` with ``COSE_Key = {1: 2 (EC2), -1: 1 (P-256), -2: x,
-3: y}``. The phone's key is a non-extractable WebCrypto key: a screenshot of the
certificate cannot produce what the phone adds every window:

    SGP1: + Base45(zlib-if-smaller(CBOR [cert: bstr (the certificate's COSE_Sign1),
                                         t: uint (window start, epoch s),
                                         challenge: bstr (empty when none),
                                         sig: bstr (64 bytes, ECDSA P-256 SHA-256 r||s)]))

``sig`` signs ``CBOR ["SG1-device-proof", cert, t, challenge]``. A verifier accepts it
when ``t - skew <= now <= t + window + skew`` (``policy.proof_window`` 30 s and
``policy.proof_skew`` 15 s), the signature verifies with the certificate's ``cnf`` key,
and the challenge equals the one the verifier showed (if it showed one). Reasons
(certificates.errors.Reason): ``no-device-proof`` (the static certificate of a
device-bound guard: "copy: no live device proof", amber), ``proof-expired`` (replayed
after its window, or dated ahead), ``device-mismatch`` (signed by another device, or
a presentation of a certificate that is bound to no device), ``challenge-mismatch``.
The browser verifier (api/static/lib/verify.js) implements the same rules; the shared
vectors pin them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from certificates import base45
from certificates.cose import loads_strict
from certificates.envelope import compress_if_smaller, maybe_decompress, strip_prefix
from certificates.errors import DecodeError, Malformed

PRESENTATION_PREFIX = "SGP1:"
PROOF_CONTEXT = "SG1-device-proof"
CLAIM_CNF = 8
MAX_CHALLENGE = 32


@dataclass(frozen=True)
class DeviceKey:
    """A P-256 public key as carried in ``cnf`` (x and y, 32 bytes each)."""

    x: bytes
    y: bytes

    def __post_init__(self) -> None:
        if len(self.x) != 32 or len(self.y) != 32:
            raise ValueError("P-256 coordinates are 32 bytes")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                     b"\x04" + self.x + self.y)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                            b"\x04" + self.x + self.y)

    def to_cnf(self) -> dict[int, Any]:
        return {1: {1: 2, -1: 1, -2: self.x, -3: self.y}}

    @classmethod
    def from_cnf(cls, value: Any) -> DeviceKey:
        """From the ``cnf`` claim; ``DecodeError(claims)`` if it is not an EC2 P-256 key."""
        key = value.get(1) if isinstance(value, dict) and set(value) == {1} else None
        if not isinstance(key, dict) or key.get(1) != 2 or key.get(-1) != 1 \
                or set(key) - {1, -1, -2, -3, 2}:
            raise DecodeError(Malformed.CLAIMS, "cnf must hold one EC2 P-256 COSE_Key")
        x, y = key.get(-2), key.get(-3)
        if not isinstance(x, bytes) or not isinstance(y, bytes):
            raise DecodeError(Malformed.CLAIMS, "cnf key needs x and y")
        try:
            return cls(x, y)
        except ValueError:
            raise DecodeError(Malformed.CLAIMS, "cnf key is not a P-256 point") from None

    @classmethod
    def from_public_key(cls, key: ec.EllipticCurvePublicKey) -> DeviceKey:
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("device keys are P-256")
        n = key.public_numbers()
        return cls(n.x.to_bytes(32, "big"), n.y.to_bytes(32, "big"))

    def to_json(self) -> dict[str, str]:
        import base64

        b64 = base64.urlsafe_b64encode
        return {"kty": "EC", "crv": "P-256", "x": b64(self.x).decode().rstrip("="),
                "y": b64(self.y).decode().rstrip("=")}


@dataclass(frozen=True)
class Presentation:
    """A decoded, not yet verified rotating presentation."""

    cert_cose: bytes
    window_start: int
    challenge: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        return proof_input(self.cert_cose, self.window_start, self.challenge)


def proof_input(cert_cose: bytes, window_start: int, challenge: bytes) -> bytes:
    """What the device signs."""
    return cbor2.dumps([PROOF_CONTEXT, cert_cose, window_start, challenge])


def encode_presentation(cert_cose: bytes, window_start: int, challenge: bytes,
                        signature: bytes) -> str:
    body = cbor2.dumps([cert_cose, window_start, challenge, signature])
    return PRESENTATION_PREFIX + base45.encode(compress_if_smaller(body))


def decode_presentation(text: str, *, limit: int) -> Presentation:
    """Parse ``SGP1:...``; ``DecodeError`` naming the layer (prefix, base45,
    compression, cbor, cose for the presentation's own structure)."""
    raw = maybe_decompress(base45.decode(strip_prefix(text, PRESENTATION_PREFIX)), limit)
    obj = loads_strict(raw, Malformed.CBOR)
    if not isinstance(obj, list) or len(obj) != 4:
        raise DecodeError(Malformed.COSE, "presentation must be an array of 4")
    cert, t, challenge, sig = obj
    if not isinstance(cert, bytes) or not isinstance(challenge, bytes) \
            or not isinstance(sig, bytes):
        raise DecodeError(Malformed.COSE, "presentation: cert, challenge, sig must be bstr")
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < 2**32:
        raise DecodeError(Malformed.COSE, "presentation: t must be an epoch uint")
    if len(challenge) > MAX_CHALLENGE or len(sig) != 64:
        raise DecodeError(Malformed.COSE, "presentation: challenge or signature size")
    return Presentation(cert, t, challenge, sig)


def device_signature_ok(key: DeviceKey, presentation: Presentation) -> bool:
    r = int.from_bytes(presentation.signature[:32], "big")
    s = int.from_bytes(presentation.signature[32:], "big")
    try:
        key.public_key().verify(encode_dss_signature(r, s), presentation.to_be_signed(),
                                ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
