"""Exam admission tickets: a token of their own type, never a guard certificate.

Text: ``SGX1:`` + Base45(zlib-if-smaller(COSE_Sign1)), signed by the issuer's
``certificate`` key (so a venue verifies it with the same trust list), with the protected
header ``typ`` (16) = ``application/guardreg-exam-ticket+cwt``. Claims (CBOR, integer
keys)::

    1  iss  tstr        issuer
    4  exp  uint        end of the exam day (epoch seconds)
    6  iat  uint        issued at
    -65538 ticket {     (private-use claim; a guard certificate carries -65537 instead)
        1: uint  registration id
        2: tstr  candidate name
        3: tstr  exam day, YYYY-MM-DD
        4: tstr  venue
        5: uint  session id
    }

Three independent walls keep the two token types apart: the prefix (``SG1:`` vs
``SGX1:``), the ``typ`` header (a guard certificate has none, and the guard verifier
refuses any) and the claim key (the guard verifier needs -65537, this one -65538). No ID
number, phone or biometric data is in a ticket.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import cbor2

from certificates.cose import HDR_TYP, SigningKey, decode_guard_sign1, loads_strict, sign1_with
from certificates.cwt import CLAIM_EXP, CLAIM_IAT, CLAIM_ISS, from_epoch, to_epoch
from certificates.envelope import decode_text, encode_text
from certificates.errors import AlgorithmMismatch, DecodeError, Malformed, Reason, VerificationError
from certificates.trustlist import TrustList, check_signature

TICKET_PREFIX = "SGX1:"
TICKET_TYP = "application/guardreg-exam-ticket+cwt"
CLAIM_TICKET = -65538
T_REGISTRATION, T_NAME, T_DAY, T_VENUE, T_SESSION = 1, 2, 3, 4, 5
MAX_TEXT = 4096


@dataclass(frozen=True)
class TicketClaims:
    issuer: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    registration_id: int
    name: str
    sits_on: dt.date
    venue: str
    session_id: int

    def encode(self) -> bytes:
        return cbor2.dumps({
            CLAIM_ISS: self.issuer, CLAIM_IAT: to_epoch(self.issued_at),
            CLAIM_EXP: to_epoch(self.expires_at),
            CLAIM_TICKET: {T_REGISTRATION: self.registration_id, T_NAME: self.name,
                           T_DAY: self.sits_on.isoformat(), T_VENUE: self.venue,
                           T_SESSION: self.session_id}}, canonical=True)

    @classmethod
    def decode(cls, payload: bytes) -> TicketClaims:
        m = loads_strict(payload, Malformed.CLAIMS)
        t = m.get(CLAIM_TICKET) if isinstance(m, dict) else None
        if not isinstance(t, dict):
            raise DecodeError(Malformed.CLAIMS, "not an exam ticket (no ticket claim)")
        try:
            reg, session = t[T_REGISTRATION], t[T_SESSION]
            name, venue, iss = t[T_NAME], t[T_VENUE], m[CLAIM_ISS]
            day = dt.date.fromisoformat(t[T_DAY])
        except (KeyError, TypeError, ValueError):
            raise DecodeError(Malformed.CLAIMS, "incomplete exam ticket claims") from None
        for value in (reg, session):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
                raise DecodeError(Malformed.CLAIMS, "ticket ids must be positive integers")
        for value in (name, venue, iss):
            if not isinstance(value, str) or not value or len(value) > 256:
                raise DecodeError(Malformed.CLAIMS, "ticket texts must be non-empty text")
        return cls(issuer=iss, issued_at=from_epoch(m.get(CLAIM_IAT), "iat"),
                   expires_at=from_epoch(m.get(CLAIM_EXP), "exp"), registration_id=reg,
                   name=name, sits_on=day, venue=venue, session_id=session)

    def to_json(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "issued_at": self.issued_at.isoformat(),
                "expires_at": self.expires_at.isoformat(),
                "registration_id": self.registration_id, "name": self.name,
                "sits_on": self.sits_on.isoformat(), "venue": self.venue,
                "session_id": self.session_id}


def seal_ticket(claims: TicketClaims, signer: SigningKey) -> str:
    return encode_text(sign1_with(signer, claims.encode(), typ=TICKET_TYP), TICKET_PREFIX)


def verify_ticket(text: str, *, now: dt.datetime, trust: TrustList,
                  skew: dt.timedelta = dt.timedelta(minutes=5)) -> TicketClaims:
    """Verify an admission ticket (signature by a trusted ``certificate`` key, issuer,
    validity window). Refuses a guard certificate (``malformed``: prefix, typ or claims)."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise VerificationError(Reason.MALFORMED, "not an exam ticket",
                                malformed=Malformed.PREFIX)
    try:
        msg = decode_guard_sign1(decode_text(text, TICKET_PREFIX))
        if msg.protected.get(HDR_TYP) != TICKET_TYP:
            raise DecodeError(Malformed.COSE, "not an exam ticket (typ)")
    except DecodeError as exc:
        raise VerificationError(Reason.MALFORMED, exc.detail, malformed=exc.stage) from None
    except AlgorithmMismatch as exc:
        raise VerificationError(Reason.ALGORITHM_MISMATCH, exc.detail) from None
    if now > trust.expires_at:
        raise VerificationError(Reason.STALE_TRUST_LIST, "trust list expired")
    check_signature(msg, trust.candidates(msg.kid, "certificate"))
    try:
        claims = TicketClaims.decode(msg.payload)
    except DecodeError as exc:
        raise VerificationError(Reason.MALFORMED, exc.detail, malformed=exc.stage) from None
    if claims.issuer != trust.issuer:
        raise VerificationError(Reason.WRONG_ISSUER, "issuer is not the trust list's issuer")
    if now > claims.expires_at + skew:
        raise VerificationError(Reason.EXPIRED, "the ticket's exam day is over")
    if now + skew < claims.issued_at:
        raise VerificationError(Reason.NOT_YET_VALID, "ticket not yet valid")
    return claims
