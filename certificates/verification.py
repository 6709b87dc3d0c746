"""THE verifier of guard certificates (used by the API, the CLI and the tests).

``verify(text, *, now, trust, status, policy)`` returns a :class:`VerifiedCertificate`
or raises :class:`~certificates.errors.VerificationError` whose ``reason`` is one of
:class:`~certificates.errors.Reason`. Order of checks (first failure wins):

1. ``oversized``: text longer than ``policy.max_text_chars`` (before any parsing).
2. ``malformed``/prefix, /base45, /compression (zlib, capped at
   ``policy.max_decompressed``), /cbor, /cose (strict COSE_Sign1 structure).
3. ``algorithm-mismatch``: unsupported alg, alg not allowed by the policy.
3b. ``clock-wrong`` (the trusted clock): ``now + skew`` is before the floor (the newest
   signed time the verifier has seen: the trust list's ``iat`` and the ``clock_floor``
   the caller keeps, e.g. :meth:`OfflineCache.clock_floor`), or ``now`` is more than
   ``policy.max_clock_ahead`` past it. A device clock set back (to make an expired
   certificate valid) or far forward gives this verdict, never valid or expired.
4. ``stale-trust-list``: trust list expired or older than ``policy.max_trust_list_age``.
5. ``bad-signature``: an ES256 signature with a high ``s`` (``policy.require_low_s``;
   the issuer only emits low-s, so a high-s twin is a second text for one certificate).
6. ``unknown-key``: no ``certificate`` key in the trust list with the header kid.
7. ``algorithm-mismatch``: no candidate key fits the alg (type/curve, registered alg);
   ``bad-signature``: a fitting candidate exists but no signature check passed;
   ``key-compromised``: the key that verifies is flagged compromised in the trust list
   (refused whatever the certificate's dates).
8. ``malformed``/claims: the signed payload is not valid guard claims.
9. ``wrong-issuer``: the ``iss`` claim is not the trust list's issuer.
10. ``unknown-key``: the key was not valid when the certificate says it was issued
   (before the key's not_before, after its retirement, or past its verifiable_until).
11. ``expired`` (now > exp + skew), ``not-yet-valid`` (now + skew < nbf or iat).
12. status: ``stale-status-list`` (no provider while the policy requires one, no
    list for the uri, list expired or older than ``policy.max_status_list_age``),
    ``status-mismatch`` (an online provider reports that the entry at that index
    belongs to another certificate, another key or other claims),
    ``revoked`` (1, and the reserved 3), ``suspended`` (2).
13. the printed card (claim guard[6]): ``card-not-accepted`` when ``policy.accept_cards``
    is off, else the result's ``presentation`` is ``"card"`` ("card: compare the photo").
    Device binding (certificates/presentation.py), for a certificate with ``cnf``:
    ``no-device-proof`` (the static ``SG1:`` text: a copy), ``device-mismatch`` (the
    ``SGP1:`` presentation is not signed by the ``cnf`` key, or the certificate has
    none), ``proof-expired`` (outside ``t - proof_skew .. t + proof_window +
    proof_skew``), ``challenge-mismatch`` (the verifier's challenge differs).

``text`` may be a certificate (``SG1:``) or a rotating presentation (``SGP1:``). A COSE
message with a ``typ`` header (an exam ticket, certificates/exam_ticket.py) is refused as
``malformed``/cose whatever its prefix and signature.

Public keys are parsed once per trust list entry (cached), and the cached status
provider verifies each status list token once.

Example (offline)::

    trust = verify_trust_list(trust_token, anchors=[anchor_spki], now=now)
    status = CachedStatusProvider({uri: token}, trust=trust)
    result = verify(text, now=now, trust=trust, status=status, policy=VerificationPolicy())

Example (online)::

    status = CallableStatusProvider(lambda uri, idx: (db_status(uri, idx), db_now))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from certificates.cose import HDR_TYP, Sign1, decode_guard_sign1, es256_is_high_s
from certificates.cwt import GuardClaims
from certificates.envelope import GUARD_PREFIX, MAX_DECOMPRESSED, decode_text
from certificates.errors import (
    AlgorithmMismatch,
    DecodeError,
    Malformed,
    Reason,
    VerificationError,
)
from certificates.presentation import (
    PRESENTATION_PREFIX,
    Presentation,
    decode_presentation,
    device_signature_ok,
)
from certificates.statuslist import (
    REVOKED,
    SUSPENDED,
    VALID,
    StatusListToken,
    verify_status_list_token,
)
from certificates.trustlist import TrustedKey, TrustList, check_signature


@dataclass(frozen=True)
class VerificationPolicy:
    """What the caller accepts. Build one explicitly or with ``from_settings()``."""

    clock_skew: timedelta = timedelta(minutes=5)
    max_trust_list_age: timedelta | None = timedelta(days=7)
    max_status_list_age: timedelta | None = timedelta(days=1)
    require_status: bool = True
    max_text_chars: int = 4096
    max_decompressed: int = MAX_DECOMPRESSED
    prefix: str = GUARD_PREFIX
    allowed_algs: frozenset[str] = frozenset({"ES256", "EdDSA", "SM2SM3"})
    purpose: str = "certificate"
    require_low_s: bool = True
    check_issuer: bool = True
    max_clock_ahead: timedelta | None = timedelta(days=30)
    # The trusted clock (step 3b). The online service turns it off: its own clock is the
    # reference there (it signs the lists itself), and a server clock stepped back must
    # not refuse every verification.
    check_clock: bool = True
    # Device binding: the rotating presentation's window and the skew allowed around it;
    # whether a device-bound certificate needs a live proof (checkpoints: always).
    proof_window: timedelta = timedelta(seconds=30)
    proof_skew: timedelta = timedelta(seconds=15)
    require_device_proof: bool = True
    # The printed card (its own credential, claim guard[6]): accepted as "card: compare
    # the photo", or refused (card-not-accepted) where the regulator's checkpoint policy
    # says so (setting checkpoint_accept_cards).
    accept_cards: bool = True

    @classmethod
    def from_settings(cls, settings: Any = None, **overrides: Any) -> VerificationPolicy:
        if settings is None:
            from registry.settings import get_settings

            settings = get_settings()
        values: dict[str, Any] = {
            "clock_skew": timedelta(seconds=settings.clock_skew_s),
            "max_trust_list_age": timedelta(seconds=settings.trust_list_validity_s),
            "max_status_list_age": timedelta(seconds=settings.status_list_max_age_s),
            "max_clock_ahead": timedelta(seconds=settings.clock_max_ahead_s),
            "accept_cards": bool(getattr(settings, "checkpoint_accept_cards", True)),
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class StatusBinding:
    """Whose entry a status row is (online status only): the certificate number, the
    signing key and the SHA-256 of the exact signed payload the registry recorded."""

    number: str
    kid: bytes | None
    payload_sha256: bytes | None


@dataclass(frozen=True)
class StatusLookup:
    """A status value and the time the data it came from was issued; ``binding`` (online
    only) says which certificate the entry belongs to, so that a certificate pointing at
    another certificate's entry gets ``status-mismatch``."""

    value: int
    issued_at: datetime
    source: str = "online"
    binding: StatusBinding | None = None
    stale: str | None = None  # usable, but past its TTL: a "valid" becomes stale


class StatusProvider(Protocol):
    def lookup(self, uri: str, idx: int, *, now: datetime) -> StatusLookup:
        """Status of entry ``idx`` of list ``uri``; raise ``VerificationError``
        (``stale-status-list``) when there is no usable data."""
        ...


class CallableStatusProvider:
    """Online status: wraps ``fn(uri, idx) -> (value, issued_at)`` or ``(value,
    issued_at, binding)`` (e.g. a DB lookup). ``fn`` raising ``LookupError`` means no
    such list/entry (``stale-status-list``)."""

    def __init__(
        self,
        fn: Callable[[str, int], tuple[int, datetime] | tuple[int, datetime, StatusBinding]],
    ) -> None:
        self._fn = fn

    def lookup(self, uri: str, idx: int, *, now: datetime) -> StatusLookup:
        try:
            found = self._fn(uri, idx)
        except LookupError:
            raise VerificationError(Reason.STALE_STATUS_LIST, "no status for this entry") from None
        binding = found[2] if len(found) == 3 else None
        return StatusLookup(value=found[0], issued_at=found[1], source="online",
                            binding=binding)


class CachedStatusProvider:
    """Offline status from signed status list tokens, verified with the trust list
    (once per token; expiry re-checked at every lookup). ``enforce_ttl``: a list past
    ``iat + ttl`` still answers revoked/suspended, but a valid entry becomes
    ``stale-status-list`` (the offline cache sets it; a just-fetched list does not need
    it)."""

    def __init__(
        self,
        tokens: Mapping[str, bytes],
        *,
        trust: TrustList,
        skew: timedelta = timedelta(minutes=5),
        enforce_ttl: bool = False,
    ) -> None:
        self._tokens = dict(tokens)
        self._trust = trust
        self._skew = skew
        self._enforce_ttl = enforce_ttl
        self._verified: dict[str, StatusListToken] = {}

    def token(self, uri: str, *, now: datetime) -> StatusListToken:
        tok = self._verified.get(uri)
        if tok is None:
            raw = self._tokens.get(uri)
            if raw is None:
                raise VerificationError(Reason.STALE_STATUS_LIST, "no cached status list")
            tok = verify_status_list_token(raw, trust=self._trust, now=now, skew=self._skew)
            if tok.uri != uri:
                raise VerificationError(Reason.STALE_STATUS_LIST, "status list uri mismatch")
            self._verified[uri] = tok
        elif now > tok.expires_at + self._skew:
            raise VerificationError(Reason.STALE_STATUS_LIST, "status list token expired")
        return tok

    def lookup(self, uri: str, idx: int, *, now: datetime) -> StatusLookup:
        tok = self.token(uri, now=now)
        if idx >= tok.status_list.size:
            raise VerificationError(Reason.STALE_STATUS_LIST, "index outside the status list")
        stale = None
        if self._enforce_ttl and tok.ttl is not None and now > tok.issued_at + tok.ttl + self._skew:
            stale = "status list past its TTL"
        return StatusLookup(tok.status_list.get(idx), tok.issued_at, source="cached",
                            stale=stale)


@dataclass(frozen=True)
class VerifiedCertificate:
    """A certificate that passed every check, with the age of the data used."""

    claims: GuardClaims
    kid: bytes
    alg: str
    status: int
    trust_list_age: timedelta
    status_list_age: timedelta | None
    status_source: str | None
    key: TrustedKey = field(repr=False)
    presentation: str = "static"  # "live" (a device-signed SGP1 presentation) or "card"

    def to_json(self) -> dict[str, Any]:
        return {
            "result": "valid",
            "claims": self.claims.to_json(),
            "kid": self.kid.hex(),
            "alg": self.alg,
            "trust_list_age_s": int(self.trust_list_age.total_seconds()),
            "status_list_age_s": (
                int(self.status_list_age.total_seconds())
                if self.status_list_age is not None
                else None
            ),
            "status_source": self.status_source,
            "presentation": self.presentation,
            "card": self.presentation == "card",
        }


def _malformed(exc: DecodeError) -> VerificationError:
    return VerificationError(Reason.MALFORMED, exc.detail, malformed=exc.stage)


def check_binding(binding: StatusBinding, msg: Sign1, claims: GuardClaims) -> None:
    """Refuse (``status-mismatch``) a certificate whose status entry is not its own."""
    import hashlib

    if (binding.number != claims.certificate_number
            or (binding.kid is not None and binding.kid != msg.kid)
            or (binding.payload_sha256 is not None
                and binding.payload_sha256 != hashlib.sha256(msg.payload).digest())):
        raise VerificationError(Reason.STATUS_MISMATCH,
                                "the status entry belongs to another certificate")


def parse(text: str, policy: VerificationPolicy) -> Sign1:
    """Steps 1-3: size cap, envelope and COSE structure (no signature check)."""
    return parse_any(text, policy)[0]


def parse_any(text: str, policy: VerificationPolicy) -> tuple[Sign1, Presentation | None]:
    """Steps 1-3 for a certificate (``SG1:``) or a presentation (``SGP1:``): the
    certificate's COSE message, and the presentation around it if any."""
    if not isinstance(text, str):
        raise VerificationError(Reason.MALFORMED, "text expected", malformed=Malformed.PREFIX)
    if len(text) > policy.max_text_chars:
        raise VerificationError(Reason.OVERSIZED, f"longer than {policy.max_text_chars} chars")
    proof = None
    try:
        if text.startswith(PRESENTATION_PREFIX):
            proof = decode_presentation(text, limit=policy.max_decompressed)
            cose = proof.cert_cose
        else:
            cose = decode_text(text, policy.prefix, limit=policy.max_decompressed)
        msg = decode_guard_sign1(cose)
        if HDR_TYP in msg.protected:
            # A guard certificate has no typ; anything typed (an exam ticket, a status
            # or trust list) is another kind of token, whoever signed it.
            raise DecodeError(Malformed.COSE, "not a guard certificate (typed token)")
    except DecodeError as exc:
        raise _malformed(exc) from None
    except AlgorithmMismatch as exc:
        raise VerificationError(Reason.ALGORITHM_MISMATCH, exc.detail) from None
    if msg.alg not in policy.allowed_algs:
        raise VerificationError(Reason.ALGORITHM_MISMATCH, f"{msg.alg} not allowed")
    return msg, proof


def check_device_proof(claims: GuardClaims, proof: Presentation | None, *, now: datetime,
                       policy: VerificationPolicy, challenge: bytes | None) -> str:
    """Step 13; returns "live", "static" or "card" (the printed card: no device, the
    officer compares the photo; ``card-not-accepted`` where the policy refuses cards)."""
    if claims.card is not None:
        if proof is not None:
            raise VerificationError(Reason.DEVICE_MISMATCH,
                                    "presentation of a card (a card is bound to no device)")
        if not policy.accept_cards:
            raise VerificationError(Reason.CARD_NOT_ACCEPTED,
                                    "printed cards are not accepted at checkpoints")
        return "card"
    if claims.device_key is None:
        if proof is not None:
            raise VerificationError(Reason.DEVICE_MISMATCH,
                                    "presentation of a certificate bound to no device")
        return "static"
    if proof is None:
        if policy.require_device_proof:
            raise VerificationError(Reason.NO_DEVICE_PROOF, "copy: no live device proof")
        return "static"
    if not device_signature_ok(claims.device_key, proof):
        raise VerificationError(Reason.DEVICE_MISMATCH,
                                "not signed by the device this certificate is bound to")
    t = datetime.fromtimestamp(proof.window_start, now.tzinfo)
    if not t - policy.proof_skew <= now <= t + policy.proof_window + policy.proof_skew:
        raise VerificationError(Reason.PROOF_EXPIRED, "device proof outside its time window")
    if challenge and proof.challenge != challenge:
        raise VerificationError(Reason.CHALLENGE_MISMATCH,
                                "the device answered another challenge")
    return "live"


def check_clock(now: datetime, floor: datetime, policy: VerificationPolicy) -> None:
    """``clock-wrong`` when ``now`` is behind ``floor`` (the newest signed time seen)
    by more than the skew, or more than ``policy.max_clock_ahead`` past it."""
    if now + policy.clock_skew < floor:
        raise VerificationError(
            Reason.CLOCK_WRONG, f"this device's clock is behind signed data seen "
            f"({floor.isoformat()}): set the clock")
    if policy.max_clock_ahead is not None and now > floor + policy.max_clock_ahead:
        raise VerificationError(
            Reason.CLOCK_WRONG, f"this device's clock is far ahead of the newest signed "
            f"data ({floor.isoformat()}): set the clock or sync")


def verify(
    text: str,
    *,
    now: datetime,
    trust: TrustList,
    status: StatusProvider | None,
    policy: VerificationPolicy,
    clock_floor: datetime | None = None,
    challenge: bytes | None = None,
) -> VerifiedCertificate:
    """Verify guard certificate or presentation ``text`` at ``now`` (see the module doc
    for the order). ``clock_floor``: the newest signed time the caller has seen (offline
    stores); ``challenge``: the one this verifier showed the guard's phone, if any."""
    msg, proof = parse_any(text, policy)
    if policy.check_clock:
        floor = trust.issued_at if clock_floor is None else max(clock_floor, trust.issued_at)
        check_clock(now, floor, policy)
    if policy.require_low_s and msg.alg == "ES256" and es256_is_high_s(msg.signature):
        raise VerificationError(Reason.BAD_SIGNATURE, "high-s ECDSA signature (not canonical)")
    skew = policy.clock_skew
    if now > trust.expires_at:
        raise VerificationError(Reason.STALE_TRUST_LIST, "trust list expired")
    trust_age = now - trust.issued_at
    if policy.max_trust_list_age is not None and trust_age > policy.max_trust_list_age:
        raise VerificationError(Reason.STALE_TRUST_LIST, "trust list older than allowed")
    key = check_signature(msg, trust.candidates(msg.kid, policy.purpose))
    try:
        claims = GuardClaims.decode(msg.payload)
    except DecodeError as exc:
        raise _malformed(exc) from None
    if policy.check_issuer and claims.issuer != trust.issuer:
        raise VerificationError(Reason.WRONG_ISSUER, "issuer is not the trust list's issuer")
    if not key.usable_for(issued_at=claims.issued_at, now=now, skew=skew):
        raise VerificationError(Reason.UNKNOWN_KEY, "key not valid for this certificate")
    if now > claims.expires_at + skew:
        raise VerificationError(Reason.EXPIRED, "certificate expired")
    if now + skew < (claims.not_before or claims.issued_at):
        raise VerificationError(Reason.NOT_YET_VALID, "certificate not yet valid")
    value, status_age, source = VALID, None, None
    if status is None:
        if policy.require_status:
            raise VerificationError(Reason.STALE_STATUS_LIST, "no status data")
    else:
        found = status.lookup(claims.status.uri, claims.status.idx, now=now)
        if found.binding is not None:
            check_binding(found.binding, msg, claims)
        status_age, source = now - found.issued_at, found.source
        if policy.max_status_list_age is not None and status_age > policy.max_status_list_age:
            raise VerificationError(Reason.STALE_STATUS_LIST, "status data older than allowed")
        value = found.value
        if value == SUSPENDED:
            raise VerificationError(Reason.SUSPENDED, "certificate suspended")
        if value != VALID:
            raise VerificationError(
                Reason.REVOKED, "certificate revoked" if value == REVOKED else "status 3"
            )
        if found.stale:
            raise VerificationError(Reason.STALE_STATUS_LIST, found.stale)
    presentation = check_device_proof(claims, proof, now=now, policy=policy,
                                      challenge=challenge)
    assert msg.kid is not None
    return VerifiedCertificate(
        claims=claims, kid=msg.kid, alg=msg.alg, status=value, trust_list_age=trust_age,
        status_list_age=status_age, status_source=source, key=key, presentation=presentation,
    )
