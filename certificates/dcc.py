"""EU Digital COVID Certificate conformance check of the generic COSE/CWT layer.

``verify_dcc(text, cert_der, at)`` returns the JSON verdict printed by
``guardreg cose verify --cert CERT --at TIME TEXT``. Each stage is a boolean that is
true only if that stage passed (a stage after a failed one is false too, except that
``decode``/``expiration`` only need the COSE layer and ``verify`` does not need the
claims)::

    unprefix    text starts with "HC1:"
    base45      RFC 9285 Base45 decodes
    compression a zlib stream (mandatory for DCC) that inflates within 64 KiB
    cose        a strict COSE_Sign1 (tags 61/18 optional; alg may sit in the
                unprotected header when the protected one has none, as DCCs do)
    decode      the payload is a CWT claim map with an hcert (-260: {1: {...}})
    verify      kid (protected header, else unprotected) = SHA-256(cert DER)[:8],
                alg fits the certificate's key (ES256 / PS256), signature verifies
    expiration  iat <= at <= exp
    keyusage    when the certificate carries DCC extended key usages
                (1.3.6.1.4.1[.0].1847.2021.1.1/2/3 = test/vaccination/recovery), the
                hcert type must be one of them

``valid`` is the conjunction of all stages.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import cbor2
from cryptography import x509

from certificates import base45
from certificates.cose import Sign1, decode_sign1, loads_strict, verify_sign1
from certificates.envelope import decompress_capped, looks_like_zlib, strip_prefix
from certificates.errors import AlgorithmMismatch, BadSignature, DecodeError, Malformed
from certificates.keys import load_spki, spki_der

DCC_PREFIX = "HC1:"
CLAIM_HCERT = -260
# The DCC specification's OIDs, and the variant with an extra ".0" arc that the
# published dgc-testdata certificates (and several national signers) carry.
EKU_TYPES = {
    f"1.3.6.1.4.1.{arc}1847.2021.1.{n}": t
    for arc in ("", "0.")
    for n, t in ((1, "t"), (2, "v"), (3, "r"))
}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, cbor2.CBORTag):
        return _jsonable(obj.value)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def _epoch(v: Any) -> datetime | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 2**34:
        return None
    return datetime.fromtimestamp(int(v), UTC)


def verify_dcc(text: str, cert_der: bytes, at: datetime) -> dict[str, Any]:
    """JSON verdict for an ``HC1:`` text, checked against signer certificate DER at ``at``."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    stages = dict.fromkeys(
        ("unprefix", "base45", "compression", "cose", "decode", "verify", "expiration",
         "keyusage"), False
    )
    errors: dict[str, str] = {}
    out: dict[str, Any] = {"stages": stages, "errors": errors, "valid": False}
    msg: Sign1 | None = None
    try:
        body = strip_prefix(text, DCC_PREFIX)
        stages["unprefix"] = True
        raw = base45.decode(body)
        stages["base45"] = True
        if not looks_like_zlib(raw):
            raise DecodeError(Malformed.COMPRESSION, "not a zlib stream")
        cose = decompress_capped(raw)
        stages["compression"] = True
        msg = decode_sign1(cose, allow_unprotected_alg=True)
        stages["cose"] = True
    except DecodeError as exc:
        errors[exc.stage.value] = exc.detail
    except AlgorithmMismatch as exc:
        errors["cose"] = exc.detail
    if msg is None:
        return out
    out["alg"] = msg.alg
    out["kid"] = msg.kid.hex() if msg.kid else None

    hcert_type: str | None = None
    try:
        claims = loads_strict(msg.payload, Malformed.CLAIMS)
        if not isinstance(claims, dict):
            raise DecodeError(Malformed.CLAIMS, "CWT claims must be a map")
        hcert = claims.get(CLAIM_HCERT)
        if not isinstance(hcert, dict) or not isinstance(hcert.get(1), dict):
            raise DecodeError(Malformed.CLAIMS, "no hcert (-260: {1: ...}) claim")
        dgc = hcert[1]
        types = [k for k in ("v", "t", "r") if k in dgc]
        hcert_type = types[0] if len(types) == 1 else None
        stages["decode"] = True
        out["claims"] = {"iss": claims.get(1), "iat": claims.get(6), "exp": claims.get(4)}
        out["payload"] = _jsonable(dgc)
        iat, exp = _epoch(claims.get(6)), _epoch(claims.get(4))
        if iat is None or exp is None:
            errors["expiration"] = "iat and exp must be epoch numbers"
        elif at < iat:
            errors["expiration"] = "validation time before iat"
        elif at > exp:
            errors["expiration"] = "expired"
        else:
            stages["expiration"] = True
    except DecodeError as exc:
        errors["decode"] = exc.detail

    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except ValueError:
        errors["verify"] = "unreadable signer certificate"
        return out
    kid = hashlib.sha256(cert_der).digest()[:8]
    try:
        if msg.kid != kid:
            raise BadSignature("kid does not match the signer certificate")
        key = load_spki(spki_der(cert.public_key()))  # type: ignore[arg-type]
        verify_sign1(msg, key)
        stages["verify"] = True
    except (BadSignature, AlgorithmMismatch, ValueError) as exc:
        errors["verify"] = getattr(exc, "detail", str(exc))

    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        allowed = {EKU_TYPES[o.dotted_string] for o in eku if o.dotted_string in EKU_TYPES}
    except (x509.ExtensionNotFound, ValueError):  # absent, or an empty EKU sequence
        allowed = set()
    if stages["decode"] and hcert_type is not None and (not allowed or hcert_type in allowed):
        stages["keyusage"] = True
    else:
        errors.setdefault("keyusage", "certificate type not allowed by the signer's key usage")
    out["valid"] = all(stages.values())
    return out
