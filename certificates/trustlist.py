"""Signed trust list: which public keys an (offline) verifier may trust, and when.

Token = COSE_Sign1 (typ ``application/guardreg-trustlist+cbor``), signed by the
``trust-list`` key, over the CBOR map::

    {"iss": tstr, "iat": uint, "exp": uint,
     "keys": [{"kid": bstr, "alg": "ES256"|"EdDSA", "use": "certificate"|"status-list"|
               "trust-list", "spki": bstr (DER SubjectPublicKeyInfo),
               "nbf": uint, "naf": uint / null, "ret": uint / null,
               "cmp": uint (optional)}, ...],
     "next": [bstr, ...] (optional)}

``nbf``/``naf``: the key's validity window (``naf`` = verifiable until, null while
active); ``ret``: when it was retired (certificates claiming a later ``iat`` are
refused); ``cmp``: the key is COMPROMISED (value: from when it may have leaked):
verifiers refuse everything signed with it, whatever its dates (``key-compromised``).
``next``: SHA-256 digests of the DER SPKIs of the pre-announced successor trust-list
key(s) (pre-rotation): a verifier pinned to the current trust-list key accepts a trust
list signed by another key only when that key's SPKI hashes to an announced digest
(see :func:`verify_trust_list_rolling`). The verifier pins the trust-list key's public
key (SPKI bytes, hence its kid) and refuses a trust list that is badly signed, signed
by an unpinned key, or expired (``now > exp``).

Example::

    tl = build_trust_list(ring.list_keys(), issuer="guardreg", now=now,
                          validity=timedelta(days=7))
    token = sign_trust_list(tl, ring.signer("trust-list"))
    trust = verify_trust_list(token, anchors=[anchor_spki], now=now)
"""

from __future__ import annotations

import hashlib
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
    decode_guard_sign1,
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
    compromised_since: datetime | None


def spki_digest(spki: bytes) -> bytes:
    """What a trust list announces of a successor key: SHA-256 of its DER SPKI."""
    return hashlib.sha256(spki).digest()


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
    compromised_since: datetime | None = None

    @property
    def compromised(self) -> bool:
        return self.compromised_since is not None

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
        out: dict[str, Any] = {
            "kid": self.kid,
            "alg": self.alg,
            "use": self.purpose,
            "spki": self.spki,
            "nbf": to_epoch(self.not_before),
            "naf": to_epoch(self.not_after) if self.not_after else None,
            "ret": to_epoch(self.retired_at) if self.retired_at else None,
        }
        if self.compromised_since is not None:
            out["cmp"] = to_epoch(self.compromised_since)
        return out

    @classmethod
    def from_cbor(cls, d: Any) -> TrustedKey:
        if not isinstance(d, dict):
            raise DecodeError(Malformed.CLAIMS, "trust list entry must be a map")
        kid, spki, alg, use = d.get("kid"), d.get("spki"), d.get("alg"), d.get("use")
        if not (isinstance(kid, bytes) and isinstance(spki, bytes)):
            raise DecodeError(Malformed.CLAIMS, "kid and spki must be bstr")
        if not (isinstance(alg, str) and isinstance(use, str)):
            raise DecodeError(Malformed.CLAIMS, "alg and use must be text")
        naf, ret, cmp = d.get("naf"), d.get("ret"), d.get("cmp")
        return cls(
            kid=kid, alg=alg, purpose=use, spki=spki,
            not_before=from_epoch(d.get("nbf"), "nbf"),
            not_after=from_epoch(naf, "naf") if naf is not None else None,
            retired_at=from_epoch(ret, "ret") if ret is not None else None,
            compromised_since=from_epoch(cmp, "cmp") if cmp is not None else None,
        )


@dataclass(frozen=True)
class TrustList:
    """Decoded (and, from ``verify_trust_list``, verified) trust list."""

    issuer: str
    issued_at: datetime
    expires_at: datetime
    keys: tuple[TrustedKey, ...]
    successors: tuple[bytes, ...] = ()
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

    def compromised_kids(self, purpose: str | None = None) -> frozenset[bytes]:
        return frozenset(k.kid for k in self.keys if k.compromised
                         and (purpose is None or k.purpose == purpose))

    def to_cbor(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "iss": self.issuer,
            "iat": to_epoch(self.issued_at),
            "exp": to_epoch(self.expires_at),
            "keys": [k.to_cbor() for k in self.keys],
        }
        if self.successors:
            out["next"] = list(self.successors)
        return out

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
        nxt = d.get("next", [])
        if not isinstance(nxt, list) or not all(
                isinstance(h, bytes) and len(h) == 32 for h in nxt):
            raise DecodeError(Malformed.CLAIMS, "next must be a list of SHA-256 digests")
        return cls(
            issuer=iss,
            issued_at=from_epoch(d.get("iat"), "iat"),
            expires_at=from_epoch(d.get("exp"), "exp"),
            keys=tuple(TrustedKey.from_cbor(k) for k in d["keys"]),
            successors=tuple(nxt),
        )


def trusted_key_from_record(rec: KeyLike) -> TrustedKey:
    return TrustedKey(
        kid=rec.kid, alg=rec.alg, purpose=rec.purpose, spki=rec.spki,
        not_before=rec.not_before, not_after=rec.verifiable_until, retired_at=rec.retired_at,
        compromised_since=getattr(rec, "compromised_since", None),
    )


def build_trust_list(
    records: Iterable[KeyLike], *, issuer: str, now: datetime, validity: timedelta
) -> TrustList:
    """Trust list of every key still verifiable at ``now`` (active, or retired with
    ``verifiable_until`` in the future; compromised keys stay listed, flagged, until
    then), valid from ``now`` for ``validity``. Pre-announced successor keys (state
    ``next``) are not listed: only the digest of their SPKI is, under ``next``."""
    records = list(records)
    keys = tuple(
        trusted_key_from_record(r)
        for r in records
        if getattr(r, "state", "active") != "next"
        and (r.verifiable_until is None or r.verifiable_until >= now)
    )
    successors = tuple(spki_digest(r.spki) for r in records
                       if getattr(r, "state", "") == "next" and r.purpose == "trust-list")
    return TrustList(issuer=issuer, issued_at=now, expires_at=now + validity, keys=keys,
                     successors=successors)


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
    (kid of no anchor), ``algorithm-mismatch``, ``bad-signature``, ``key-compromised``
    (the list itself flags its signing key compromised), ``stale-trust-list``
    (``now`` after ``exp``, or older than ``max_age``).
    """
    tl, _ = verify_trust_list_pinned(token, pins=TrustPins(tuple(anchors)), now=now,
                                     max_age=max_age)
    return tl


@dataclass(frozen=True)
class TrustPins:
    """What an offline verifier pins: the trust-list key(s) it trusts and the digests
    of the successor key(s) it will roll forward to (from the first verified list that
    announced them; see :func:`verify_trust_list_pinned`)."""

    anchors: tuple[bytes, ...]
    successors: tuple[bytes, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        import base64

        return {"anchors": [base64.b64encode(a).decode() for a in self.anchors],
                "successors": [h.hex() for h in self.successors]}

    @classmethod
    def from_json(cls, data: Any) -> TrustPins:
        """From ``to_json()`` output, or the older plain list of base64 SPKIs."""
        import base64

        if isinstance(data, list):
            return cls(tuple(base64.b64decode(a) for a in data))
        return cls(tuple(base64.b64decode(a) for a in data.get("anchors", [])),
                   tuple(bytes.fromhex(h) for h in data.get("successors", [])))


def _parse_trust_token(token: bytes) -> Sign1:
    try:
        msg = decode_guard_sign1(token)
        if msg.protected.get(HDR_TYP) != TRUST_LIST_TYP:
            raise DecodeError(Malformed.COSE, "not a trust list (typ)")
    except DecodeError as exc:
        raise VerificationError(Reason.MALFORMED, exc.detail, malformed=exc.stage) from None
    except AlgorithmMismatch as exc:
        raise VerificationError(Reason.ALGORITHM_MISMATCH, exc.detail) from None
    return msg


def _decode_payload(msg: Sign1) -> TrustList:
    try:
        return TrustList.decode(msg.payload)
    except DecodeError as exc:
        raise VerificationError(Reason.MALFORMED, exc.detail, malformed=exc.stage) from None


def verify_trust_list_pinned(
    token: bytes,
    *,
    pins: TrustPins,
    now: datetime,
    max_age: timedelta | None = None,
) -> tuple[TrustList, TrustPins]:
    """Verify a trust list against what the verifier pins; return it and the new pins.

    A list signed by a pinned anchor is verified as usual. A list signed by another
    key is accepted only when that key is listed in the list itself as a trust-list key
    whose SPKI digest is one of ``pins.successors`` (announced, in advance, by a list
    the verifier had already verified): the verifier then pins that key alone, so the
    old trust-list key is refused from then on. Nothing fetched from the network can
    add an anchor otherwise. Successor digests are sticky: once pinned, a list signed
    by the current key cannot change them (a thief of the current trust-list key cannot
    redirect the roll forward); they are replaced only by rolling forward.

    Raises ``VerificationError`` as :func:`verify_trust_list`.
    """
    msg = _parse_trust_token(token)
    matching = [a for a in pins.anchors if kid_from_spki(a) == msg.kid]
    rolled = False
    if matching:
        tl = None
        candidates = matching
    else:
        announced = set(pins.successors)
        tl = _decode_payload(msg) if announced else None
        candidates = [] if tl is None else [
            k.spki for k in tl.keys
            if k.purpose == "trust-list" and k.kid == msg.kid
            and spki_digest(k.spki) in announced]
        if not candidates:
            raise VerificationError(Reason.UNKNOWN_KEY,
                                    "trust list not signed by a pinned or announced key")
        rolled = True
    anchor_keys = [
        TrustedKey(kid=kid_from_spki(a), alg=msg.alg, purpose="trust-list", spki=a,
                   not_before=datetime.min.replace(tzinfo=now.tzinfo))
        for a in candidates
    ]
    signer_key = check_signature(msg, anchor_keys)
    if tl is None:
        tl = _decode_payload(msg)
    if signer_key.kid in tl.compromised_kids("trust-list"):
        raise VerificationError(Reason.KEY_COMPROMISED, "trust list signed by a compromised key")
    if now > tl.expires_at:
        raise VerificationError(Reason.STALE_TRUST_LIST, "trust list expired")
    if max_age is not None and now - tl.issued_at > max_age:
        raise VerificationError(Reason.STALE_TRUST_LIST, "trust list older than allowed")
    if rolled:
        new = TrustPins((signer_key.spki,), tl.successors)
    else:
        bad = tl.compromised_kids("trust-list")
        kept = tuple(a for a in pins.anchors if kid_from_spki(a) not in bad)
        # A successor the current key's list now flags compromised is dropped (its
        # thief must not be rolled forward to); then the list's announcement is taken.
        burnt = {spki_digest(k.spki) for k in tl.keys
                 if k.purpose == "trust-list" and k.compromised}
        held = tuple(h for h in pins.successors if h not in burnt)
        new = TrustPins(kept, held or tuple(h for h in tl.successors if h not in burnt))
    return tl, new


def check_signature(msg: Sign1, candidates: Sequence[TrustedKey]) -> TrustedKey:
    """Return the first candidate key whose signature check passes.

    The kid is only a hint: every candidate with that kid is tried. Raises
    ``VerificationError``: ``unknown-key`` (no candidate), ``algorithm-mismatch`` (no
    candidate fits the COSE alg, or its declared alg differs), ``bad-signature``,
    ``key-compromised`` (the signature verifies with a key the trust list flags as
    compromised: whatever the dates, nothing signed with it is accepted).
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
        except AlgorithmMismatch:
            mismatch += 1
            continue
        except BadSignature:
            bad += 1
            continue
        except ValueError:  # unparsable SPKI in the trust list
            mismatch += 1
            continue
        if cand.compromised:
            raise VerificationError(Reason.KEY_COMPROMISED,
                                    "signed with a key declared compromised")
        return cand
    if bad:
        raise VerificationError(Reason.BAD_SIGNATURE, "signature does not verify")
    raise VerificationError(Reason.ALGORITHM_MISMATCH, "algorithm does not match the key")
