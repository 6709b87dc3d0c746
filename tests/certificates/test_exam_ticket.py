"""Exam admission tickets are their own token type: never a guard certificate, and a
guard certificate is never a ticket (issue 15)."""

from __future__ import annotations

import datetime as dt

import pytest
from certfixtures import NOW, URI, Pki, make_claims

from certificates import base45
from certificates.credential import seal
from certificates.envelope import GUARD_PREFIX, decode_text, encode_text
from certificates.errors import Malformed, Reason, VerificationError
from certificates.exam_ticket import TICKET_PREFIX, TicketClaims, seal_ticket, verify_ticket
from certificates.verification import CachedStatusProvider, VerificationPolicy, verify


def _ticket(pki: Pki, **overrides: object) -> str:
    values: dict[str, object] = {
        "issuer": "guardreg-test", "issued_at": NOW - dt.timedelta(days=2),
        "expires_at": NOW + dt.timedelta(hours=6), "registration_id": 41,
        "name": "王小明", "sits_on": NOW.date(), "venue": "河西区考点", "session_id": 7}
    values.update(overrides)
    return seal_ticket(TicketClaims(**values), pki.ring.signer("certificate"))  # type: ignore[arg-type]


def _guard_verify(pki: Pki, text: str) -> Reason:
    with pytest.raises(VerificationError) as info:
        verify(text, now=NOW, trust=pki.trust,
               status=CachedStatusProvider({URI: pki.status_token}, trust=pki.trust),
               policy=VerificationPolicy())
    return info.value.reason


def test_a_ticket_verifies_as_a_ticket(pki: Pki) -> None:
    text = _ticket(pki)
    assert text.startswith("SGX1:")
    claims = verify_ticket(text, now=NOW, trust=pki.trust)
    assert (claims.registration_id, claims.name, claims.session_id) == (41, "王小明", 7)
    with pytest.raises(VerificationError) as late:
        verify_ticket(text, now=NOW + dt.timedelta(days=1), trust=pki.trust)
    assert late.value.reason is Reason.EXPIRED


def test_the_guard_verifier_refuses_a_ticket_even_re_prefixed(pki: Pki) -> None:
    text = _ticket(pki)
    assert _guard_verify(pki, text) is Reason.MALFORMED  # prefix
    # Same signed bytes under the guard prefix: the typ header refuses it.
    cose = decode_text(text, TICKET_PREFIX)
    assert _guard_verify(pki, encode_text(cose, GUARD_PREFIX)) is Reason.MALFORMED
    with pytest.raises(VerificationError) as info:
        verify(encode_text(cose, GUARD_PREFIX), now=NOW, trust=pki.trust, status=None,
               policy=VerificationPolicy(require_status=False))
    assert info.value.malformed is Malformed.COSE


def test_the_ticket_verifier_refuses_a_guard_certificate(pki: Pki) -> None:
    cert = seal(make_claims(), pki.ring.signer("certificate"))
    with pytest.raises(VerificationError) as as_is:
        verify_ticket(cert, now=NOW, trust=pki.trust)
    assert as_is.value.malformed is Malformed.PREFIX
    body = cert[len(GUARD_PREFIX):]
    with pytest.raises(VerificationError) as re_prefixed:
        verify_ticket(TICKET_PREFIX + body, now=NOW, trust=pki.trust)
    assert re_prefixed.value.reason is Reason.MALFORMED
    assert base45.decode(body)  # the body itself is a valid guard certificate


def test_a_ticket_from_an_unknown_key_or_issuer_is_refused(pki: Pki, tmp_path: object) -> None:
    with pytest.raises(VerificationError) as info:
        verify_ticket(_ticket(pki, issuer="someone-else"), now=NOW, trust=pki.trust)
    assert info.value.reason is Reason.WRONG_ISSUER
    text = _ticket(pki)
    tampered = text[:-6] + ("A" if text[-6] != "A" else "B") + text[-5:]
    with pytest.raises(VerificationError):
        verify_ticket(tampered, now=NOW, trust=pki.trust)
