"""Signed trust list: which public keys an (offline) verifier may trust, and when.

Token = COSE_Sign1 (typ ``application/guardreg-trustlist+cbor``), signed by the
``trust-list`` key, over the CBOR map::

    {"iss": tstr, "iat": uint, "exp": uint,
     "keys": [{"kid": bstr, "alg": "ES256"|"EdDSA", "use": "certificate"|"status-list"|
               "trust-list", "spki": bstr (DER SubjectPublicKeyInfo),
               "nbf": uint, "naf": uint / null, "ret": uint / null}, ...]}

``nbf``/``naf``: the key's validity window (``naf`` = verifiable until, null while
active); ``ret``: when it was retired (certificates claiming a later ``iat`` are
refused). The verifier pins the trust-list key's public key (SPKI bytes, hence its
kid) and refuses a trust list that is badly signed, signed by an unpinned key, or
expired (``now > exp``).

Example::

    tl = build_trust_list(ring.list_keys(), issuer="guardreg", now=now,
                          validity=timedelta(days=7))
    token = sign_trust_list(tl, ring.signer("trust-list"))
    trust = verify_trust_list(token, anchors=[anchor_spki], now=now)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Protocol

import cbor2

from certificates.cose import (
    HDR_TYP,
    Sign1,
    SigningKey,
    decode_sign1,
    loads_strict,
    sign1_with,
    verify_signature,
)
from certificates.cwt import from_epoch, to_epoch
from certificates.errors import (
    AlgorithmMismatch,
    BadSignature,
    DecodeError,
    Malformed,
    Reason,
    VerificationError,
)
from certificates.keys import PublicKey, check_alg_key, kid_from_spki, load_spki

TRUST_LIST_TYP = "application/guardreg-trustlist+cbor"


class KeyLike(Protocol):
    kid: bytes
    purpose: str
    alg: str
    spki: bytes
    state: str
    not_before: datetime
    retired_at: datetime | None
    verifiable_until: datetime | None


@dataclass(frozen=True)
class TrustedKey:
    """One public key of the trust list. ``public_key`` is parsed once and cached."""

    kid: bytes
    alg: str
    purpose: str
    spki: bytes
    not_before: datetime
    not_after: datetime | None = None
    retired_at: datetime | None = None

    @cached_property
    def public_key(self) -> PublicKey:
        return load_spki(self.spki)

    @cached_property
    def fits_alg(self) -> bool:
        """Whether the key really is of the type/curve its registered ``alg`` needs
        (computed once; a trust list entry "ES256" holding a P-384 key never fits)."""
        try:
            check_alg_key(self.alg, self.public_key)
        except (AlgorithmMismatch, ValueError):
            return False
        return True

    def usable_for(self, *, issued_at: datetime, now: datetime, skew: timedelta) -> bool:
        """Whether something this key signed at ``issued_at`` may be accepted ``now``."""
        if issued_at + skew < self.not_before:
            return False
        if self.retired_at is not None and issued_at > self.retired_at + skew:
            return False
        return self.not_after is None or now <= self.not_after + skew

    def to_cbor(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "use": self.purpose,
            "spki": self.spki,
            "nbf": to_epoch(self.not_before),
            "naf": to_epoch(self.not_after) if self.not_after else None,
            "ret": to_epoch(self.retired_at) if self.retired_at else None,
        }

    @classmethod
    def from_cbor(cls, d: Any) -> TrustedKey:
        if not isinstance(d, dict):
            raise DecodeError(Malformed.CLAIMS, "trust list entry must be a map")
        kid, spki, alg, use = d.get("kid"), d.get("spki"), d.get("alg"), d.get("use")
        if not (isinstance(kid, bytes) and isinstance(spki, bytes)):
            raise DecodeError(Malformed.CLAIMS, "kid and spki must be bstr")
        if not (isinstance(alg, str) and isinstance(use, str)):
            raise DecodeError(Malformed.CLAIMS, "alg and use must be text")
        naf, ret = d.get("naf"), d.get("ret")
        return cls(
            kid=kid, alg=alg, purpose=use, spki=spki,
            not_before=from_epoch(d.get("nbf"), "nbf"),
            not_after=from_epoch(naf, "naf") if naf is not None else None,
            retired_at=from_epoch(ret, "ret") if ret is not None else None,
        )


@dataclass(frozen=True)
class TrustList:
    """Decoded (and, from ``verify_trust_list``, verified) trust list."""

    issuer: str
    issued_at: datetime
    expires_at: datetime
    keys: tuple[TrustedKey, ...]
    _index: dict[tuple[bytes, str], tuple[TrustedKey, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        idx: dict[tuple[bytes, str], list[TrustedKey]] = {}
        for k in self.keys:
            idx.setdefault((k.kid, k.purpose), []).append(k)
        self._index.update({key: tuple(v) for key, v in idx.items()})

    def candidates(self, kid: bytes | None, purpose: str) -> tuple[TrustedKey, ...]:
        """Keys with ``kid`` and ``purpose`` (the kid is an unauthenticated hint)."""
        return self._index.get((kid, purpose), ()) if kid is not None else ()

    def to_cbor(self) -> dict[str, Any]:
        return {
            "iss": self.issuer,
            "iat": to_epoch(self.issued_at),
            "exp": to_epoch(self.expires_at),
            "keys": [k.to_cbor() for k in self.keys],
        }

    def encode(self) -> bytes:
        return cbor2.dumps(self.to_cbor(), canonical=True)

    @classmethod
    def decode(cls, payload: bytes) -> TrustList:
        d = loads_strict(payload, Malformed.CLAIMS)
        if not isinstance(d, dict) or not isinstance(d.get("keys"), list):
            raise DecodeError(Malformed.CLAIMS, "trust list must be a map with keys")
        iss = d.get("iss")
        if not isinstance(iss, str):
            raise DecodeError(Malformed.CLAIMS, "trust list iss must be text")
        return cls(
            issuer=iss,
            issued_at=from_epoch(d.get("iat"), "iat"),
            expires_at=from_epoch(d.get("exp"), "exp"),
            keys=tuple(TrustedKey.from_cbor(k) for k in d["keys"]),
        )


def trusted_key_from_record(rec: KeyLike) -> TrustedKey:
    return TrustedKey(
        kid=rec.kid, alg=rec.alg, purpose=rec.purpose, spki=rec.spki,
        not_before=rec.not_before, not_after=rec.verifiable_until, retired_at=rec.retired_at,
    )


def build_trust_list(
    records: Iterable[KeyLike], *, issuer: str, now: datetime, validity: timedelta
) -> TrustList:
    """Trust list of every key still verifiable at ``now`` (active, or retired with
    ``verifiable_until`` in the future), valid from ``now`` for ``validity``."""
    keys = tuple(
        trusted_key_from_record(r)
        for r in records
        if r.verifiable_until is None or r.verifiable_until >= now
    )
    return TrustList(issuer=issuer, issued_at=now, expires_at=now + validity, keys=keys)


def sign_trust_list(trust_list: TrustList, signer: SigningKey) -> bytes:
    """COSE_Sign1 bytes of the trust list, signed by the trust-list key."""
    return sign1_with(signer, trust_list.encode(), typ=TRUST_LIST_TYP)


def verify_trust_list(
    token: bytes,
    *,
    anchors: Sequence[bytes],
    now: datetime,
    max_age: timedelta | None = None,
) -> TrustList:
    """Verify a trust list token against pinned anchors (DER SPKIs of trust-list keys).

    Raises ``VerificationError``: ``malformed`` (any parse error), ``unknown-key``
    (kid of no anchor), ``algorithm-mismatch``, ``bad-signature``, ``stale-trust-list``
    (``now`` after ``exp``, or older than ``max_age``).
    """
    try:
        msg = decode_sign1(token)
        if msg.protected.get(HDR_TYP) != TRUST_LIST_TYP:
            raise DecodeError(Malformed.COSE, "not a trust list (typ)")
    except DecodeError as exc:
        raise VerificationError(Reason.MALFORMED, exc.detail, malformed=exc.stage) from None
    except AlgorithmMismatch as exc:
        raise VerificationError(Reason.ALGORITHM_MISMATCH, exc.detail) from None
    matching = [a for a in anchors if kid_from_spki(a) == msg.kid]
    if not matching:
        raise VerificationError(Reason.UNKNOWN_KEY, "trust list not signed by a pinned anchor")
    anchor_keys = [
        TrustedKey(kid=kid_from_spki(a), alg=msg.alg, purpose="trust-list", spki=a,
                   not_before=datetime.min.replace(tzinfo=now.tzinfo))
        for a in matching
    ]
    check_signature(msg, anchor_keys)
    try:
        tl = TrustList.decode(msg.payload)
    except DecodeError as exc:
        raise VerificationError(Reason.MALFORMED, exc.detail, malformed=exc.stage) from None
    if now > tl.expires_at:
        raise VerificationError(Reason.STALE_TRUST_LIST, "trust list expired")
    if max_age is not None and now - tl.issued_at > max_age:
        raise VerificationError(Reason.STALE_TRUST_LIST, "trust list older than allowed")
    return tl


def check_signature(msg: Sign1, candidates: Sequence[TrustedKey]) -> TrustedKey:
    """Return the first candidate key whose signature check passes.

    The kid is only a hint: every candidate with that kid is tried. Raises
    ``VerificationError``: ``unknown-key`` (no candidate), ``algorithm-mismatch`` (no
    candidate fits the COSE alg, or its declared alg differs), ``bad-signature``.
    """
    if not candidates:
        raise VerificationError(Reason.UNKNOWN_KEY, "no trusted key with this kid")
    mismatch = bad = 0
    tbs = msg.to_be_signed()
    for cand in candidates:
        try:
            if cand.alg != msg.alg or not cand.fits_alg:
                raise AlgorithmMismatch(f"header alg {msg.alg}, key registered for {cand.alg}")
            verify_signature(msg.alg, cand.public_key, tbs, msg.signature, checked=True)
            return cand
        except AlgorithmMismatch:
            mismatch += 1
        except BadSignature:
            bad += 1
        except ValueError:  # unparsable SPKI in the trust list
            mismatch += 1
    if bad:
        raise VerificationError(Reason.BAD_SIGNATURE, "signature does not verify")
    raise VerificationError(Reason.ALGORITHM_MISMATCH, "algorithm does not match the key")
