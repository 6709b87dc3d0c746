"""Key compromise, pre-rotation, status binding and signature hygiene (issue 14), at the
level of the certificates package (no database)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from certfixtures import NOW, URI, Pki, make_claims

from certificates.cose import P256_ORDER, decode_sign1, encode_sign1, es256_is_high_s
from certificates.credential import seal, seal_cose
from certificates.envelope import decode_text, encode_text
from certificates.errors import Reason, VerificationError
from certificates.statuslist import verify_status_list_token
from certificates.trustlist import (
    TrustPins,
    build_trust_list,
    sign_trust_list,
    spki_digest,
    verify_trust_list_pinned,
)
from certificates.verification import (
    CachedStatusProvider,
    CallableStatusProvider,
    StatusBinding,
    VerificationPolicy,
    verify,
)

POLICY = VerificationPolicy()


def _verify(pki: Pki, text: str) -> str:
    try:
        verify(text, now=NOW, trust=pki.trust,
               status=CachedStatusProvider({URI: pki.status_token}, trust=pki.trust),
               policy=POLICY)
    except VerificationError as exc:
        return exc.reason.value
    return "valid"


def test_a_compromised_certificate_key_is_refused_whatever_the_dates(pki: Pki) -> None:
    signer = pki.ring.signer("certificate")
    before = seal(make_claims(issued_at=NOW - timedelta(days=20)), signer)
    thief = seal(make_claims(issued_at=NOW - timedelta(days=25), guard_name="Mallory"), signer)
    assert _verify(pki, before) == _verify(pki, thief) == "valid"
    rec = pki.ring.mark_compromised(signer.kid, since=NOW - timedelta(days=2), now=NOW)
    assert rec.state == "retired" and rec.compromised_since == NOW - timedelta(days=2)
    pki.retrust()
    entry = next(k for k in pki.trust.keys if k.kid == signer.kid)
    assert entry.compromised  # still listed, flagged: a distinct verdict, not unknown-key
    # Dated before the leak or not, everything under the key is refused.
    assert _verify(pki, before) == "key-compromised"
    assert _verify(pki, thief) == "key-compromised"
    # Idempotent; the earliest time wins.
    again = pki.ring.mark_compromised(signer.kid, since=NOW - timedelta(days=1), now=NOW)
    assert again.compromised_since == NOW - timedelta(days=2)


def test_a_compromised_status_list_key_is_refused(pki: Pki) -> None:
    kid = pki.ring.active("status-list").kid
    old_token = pki.status_token
    pki.ring.mark_compromised(kid, since=NOW - timedelta(hours=1), now=NOW)
    pki.ring.generate("status-list", now=NOW)
    pki.retrust()
    with pytest.raises(VerificationError) as info:
        verify_status_list_token(old_token, trust=pki.trust, now=NOW)
    assert info.value.reason is Reason.KEY_COMPROMISED
    pki.republish()  # re-signed with the new key
    assert verify_status_list_token(pki.status_token, trust=pki.trust, now=NOW).kid != kid


def test_trust_list_pre_rotation(pki: Pki) -> None:
    successor = pki.ring.ensure_successor("trust-list", now=NOW)
    pki.retrust()
    assert pki.trust.successors == (spki_digest(successor.spki),)
    assert successor.kid not in {k.kid for k in pki.trust.keys}  # only its hash is published
    _, pins = verify_trust_list_pinned(pki.trust_token, pins=TrustPins((pki.anchor,)), now=NOW)
    assert pins.successors == (spki_digest(successor.spki),)
    # The old trust-list key is declared compromised; the successor takes over.
    old_kid = pki.ring.active("trust-list").kid
    pki.ring.mark_compromised(old_kid, since=NOW - timedelta(hours=2), now=NOW)
    promoted = pki.ring.promote_successor("trust-list", now=NOW)
    assert promoted.kid == successor.kid and promoted.state == "active"
    new_next = pki.ring.successor("trust-list")
    assert new_next is not None and new_next.kid != successor.kid
    tl = build_trust_list(pki.ring.list_keys(), issuer="guardreg-test", now=NOW,
                          validity=timedelta(days=7))
    token = sign_trust_list(tl, pki.ring.signer("trust-list"))
    trust, rolled = verify_trust_list_pinned(token, pins=pins, now=NOW)
    assert rolled.anchors == (successor.spki,)
    assert rolled.successors == (spki_digest(new_next.spki),)
    assert old_kid in trust.compromised_kids("trust-list")
    # A list signed by the old (compromised, now unpinned) key is refused...
    forged = sign_trust_list(tl, pki.ring.load_signer(old_kid))
    with pytest.raises(VerificationError) as info:
        verify_trust_list_pinned(forged, pins=rolled, now=NOW)
    assert info.value.reason is Reason.UNKNOWN_KEY
    # ...and so is one it signs while still pinned, because the list flags it.
    with pytest.raises(VerificationError) as info:
        verify_trust_list_pinned(forged, pins=pins, now=NOW)
    assert info.value.reason is Reason.KEY_COMPROMISED


def test_the_thief_of_the_trust_list_key_cannot_redirect_the_roll_forward(pki: Pki) -> None:
    real_next = pki.ring.ensure_successor("trust-list", now=NOW)
    pki.retrust()
    _, pins = verify_trust_list_pinned(pki.trust_token, pins=TrustPins((pki.anchor,)), now=NOW)
    # The thief announces a successor of their own in a list signed with the stolen key.
    from cryptography.hazmat.primitives.asymmetric import ec

    from certificates.keys import spki_der

    theirs = spki_der(ec.generate_private_key(ec.SECP256R1()).public_key())
    evil = build_trust_list(pki.ring.list_keys(), issuer="guardreg-test",
                            now=NOW + timedelta(minutes=1), validity=timedelta(days=7))
    from dataclasses import replace

    evil = replace(evil, successors=(spki_digest(theirs),))
    token = sign_trust_list(evil, pki.ring.signer("trust-list"))
    _, after = verify_trust_list_pinned(token, pins=pins, now=NOW + timedelta(minutes=1))
    assert after.successors == (spki_digest(real_next.spki),)  # sticky


def test_guard_certificates_are_low_s_and_high_s_twins_are_refused(pki: Pki) -> None:
    signer = pki.ring.signer("certificate")
    for i in range(16):  # a high s comes up half the time before normalisation
        cose = seal_cose(make_claims(guard_name=f"Guard {i}"), signer)
        assert not es256_is_high_s(decode_sign1(cose).signature)
    text = seal(make_claims(), signer)
    cose = decode_text(text)
    sig = decode_sign1(cose).signature
    twin_sig = sig[:32] + (P256_ORDER - int.from_bytes(sig[32:], "big")).to_bytes(32, "big")
    twin = encode_text(cose[:-64] + twin_sig)
    assert twin != text and cose.endswith(sig)
    assert _verify(pki, text) == "valid"
    assert _verify(pki, twin) == "bad-signature"
    # The same bytes verify when the policy does not ask for low-s (as the generic DCC
    # layer does): it is the canonical-form rule that refuses them.
    r = verify(twin, now=NOW, trust=pki.trust,
               status=CachedStatusProvider({URI: pki.status_token}, trust=pki.trust),
               policy=VerificationPolicy(require_low_s=False))
    assert r.claims.certificate_number == make_claims().certificate_number


def test_iss_must_be_the_trust_lists_issuer(pki: Pki) -> None:
    text = seal(make_claims(issuer="guardreg-elsewhere"), pki.ring.signer("certificate"))
    assert _verify(pki, text) == "wrong-issuer"


def test_status_binding_refuses_another_certificates_entry(pki: Pki) -> None:
    signer = pki.ring.signer("certificate")
    real = seal(make_claims(), signer)
    real_payload = decode_sign1(decode_text(real)).payload
    binding = StatusBinding(number=make_claims().certificate_number, kid=signer.kid,
                            payload_sha256=hashlib.sha256(real_payload).digest())
    status = CallableStatusProvider(lambda uri, idx: (0, NOW, binding))
    ok = verify(real, now=NOW, trust=pki.trust, status=status, policy=POLICY)
    assert ok.claims.guard_name == make_claims().guard_name
    forgeries = [
        seal(make_claims(certificate_number="120120269999999X"), signer),  # other number
        seal(make_claims(guard_name="Mallory"), signer),  # same number, other claims
    ]
    for text in forgeries:
        with pytest.raises(VerificationError) as info:
            verify(text, now=NOW, trust=pki.trust, status=status, policy=POLICY)
        assert info.value.reason is Reason.STATUS_MISMATCH
    # Another key with the same payload: also not this entry's certificate.
    other = pki.ring.generate("certificate", now=NOW - timedelta(days=29))
    pki.retrust()
    text = encode_text(encode_sign1(real_payload, alg="ES256", kid=other.kid,
                                    sign=pki.ring.load_signer(other.kid).sign))
    with pytest.raises(VerificationError) as info:
        verify(text, now=NOW, trust=pki.trust, status=status, policy=POLICY)
    assert info.value.reason is Reason.STATUS_MISMATCH


def test_a_stolen_successor_key_is_dropped_and_replaced(pki: Pki) -> None:
    stolen = pki.ring.ensure_successor("trust-list", now=NOW)
    pki.retrust()
    _, pins = verify_trust_list_pinned(pki.trust_token, pins=TrustPins((pki.anchor,)), now=NOW)
    assert pins.successors == (spki_digest(stolen.spki),)
    pki.ring.mark_compromised(stolen.kid, since=NOW - timedelta(hours=1), now=NOW)
    fresh = pki.ring.ensure_successor("trust-list", now=NOW)
    assert fresh.kid != stolen.kid
    later = NOW + timedelta(minutes=1)
    pki.retrust(now=later)
    trust, pins = verify_trust_list_pinned(pki.trust_token, pins=pins, now=later)
    assert pins.successors == (spki_digest(fresh.spki),)
    assert stolen.kid in trust.compromised_kids("trust-list")
    # The thief signs a list with the stolen successor: not rolled forward to.
    from dataclasses import replace

    from certificates.trustlist import TrustedKey

    evil = replace(trust, keys=(*trust.keys, TrustedKey(
        kid=stolen.kid, alg="ES256", purpose="trust-list", spki=stolen.spki,
        not_before=NOW)))
    token = sign_trust_list(evil, pki.ring.load_signer(stolen.kid))
    with pytest.raises(VerificationError) as info:
        verify_trust_list_pinned(token, pins=pins, now=later)
    assert info.value.reason is Reason.UNKNOWN_KEY
