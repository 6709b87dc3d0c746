from __future__ import annotations

from datetime import timedelta

import pytest
from certfixtures import NOW, Pki

from certificates.errors import Reason, VerificationError
from certificates.trustlist import build_trust_list, sign_trust_list, verify_trust_list


def test_lists_active_and_retired_keys(pki: Pki) -> None:
    old = pki.ring.active("certificate")
    pki.ring.rotate("certificate", now=NOW - timedelta(days=1))
    pki.retrust()
    cert_keys = {k.kid: k for k in pki.trust.keys if k.purpose == "certificate"}
    assert old.kid in cert_keys
    assert len(cert_keys) == 2
    assert cert_keys[old.kid].not_after == NOW - timedelta(days=1) + timedelta(days=365)
    assert cert_keys[old.kid].retired_at == NOW - timedelta(days=1)
    assert {k.purpose for k in pki.trust.keys} == {"certificate", "status-list", "trust-list"}
    assert pki.trust.expires_at == NOW + timedelta(days=7)


def test_keys_past_verifiable_until_are_dropped(pki: Pki) -> None:
    old = pki.ring.active("certificate")
    pki.ring.rotate("certificate", now=NOW - timedelta(days=3))
    pki.ring.set_verifiable_until(old.kid, NOW - timedelta(days=1))
    pki.retrust()
    assert old.kid not in {k.kid for k in pki.trust.keys}


def test_expired_trust_list_refused(pki: Pki) -> None:
    with pytest.raises(VerificationError) as info:
        verify_trust_list(pki.trust_token, anchors=[pki.anchor], now=NOW + timedelta(days=8))
    assert info.value.reason is Reason.STALE_TRUST_LIST
    with pytest.raises(VerificationError) as info:
        verify_trust_list(pki.trust_token, anchors=[pki.anchor], now=NOW + timedelta(days=2),
                          max_age=timedelta(days=1))
    assert info.value.reason is Reason.STALE_TRUST_LIST


def test_unpinned_signer_refused(pki: Pki) -> None:
    tl = build_trust_list(pki.ring.list_keys(), issuer="evil", now=NOW, validity=timedelta(1))
    token = sign_trust_list(tl, pki.ring.signer("status-list"))
    with pytest.raises(VerificationError) as info:
        verify_trust_list(token, anchors=[pki.anchor], now=NOW)
    assert info.value.reason is Reason.UNKNOWN_KEY


def test_tampered_trust_list_refused(pki: Pki) -> None:
    raw = bytearray(pki.trust_token)
    raw[len(raw) // 2] ^= 0x01
    with pytest.raises(VerificationError) as info:
        verify_trust_list(bytes(raw), anchors=[pki.anchor], now=NOW)
    assert info.value.reason in (Reason.BAD_SIGNATURE, Reason.MALFORMED)
    with pytest.raises(VerificationError) as info:
        verify_trust_list(pki.status_token, anchors=[pki.anchor], now=NOW)
    assert info.value.reason is Reason.MALFORMED
