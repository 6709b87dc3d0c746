from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from certfixtures import NOW, URI, Pki, make_claims

from certificates.cache import OfflineCache
from certificates.credential import seal
from certificates.errors import Reason, VerificationError
from certificates.statuslist import REVOKED
from certificates.verification import VerificationPolicy, verify


def test_offline_sync_and_verify(pki: Pki, tmp_path: Path) -> None:
    cache = OfflineCache(tmp_path / "offline")
    with pytest.raises(VerificationError) as info:
        cache.load_verifier_inputs(anchors=[pki.anchor], now=NOW)
    assert info.value.reason is Reason.STALE_TRUST_LIST

    cache.save_trust_list(pki.trust_token, fetched_at=NOW)
    cache.save_status_list(URI, pki.status_token, fetched_at=NOW)
    assert cache.trust_list() is not None
    assert cache.status_lists()[URI].fetched_at == NOW

    text = seal(make_claims(), pki.ring.signer("certificate"))
    later = NOW + timedelta(hours=3)
    trust, status = OfflineCache(tmp_path / "offline").load_verifier_inputs(
        anchors=[pki.anchor], now=later)
    r = verify(text, now=later, trust=trust, status=status, policy=VerificationPolicy())
    assert r.trust_list_age == timedelta(hours=3)
    assert r.status_list_age == timedelta(hours=3)

    pki.status_list.set(4242, REVOKED)
    pki.republish(now=later)
    cache.save_status_list(URI, pki.status_token, fetched_at=later)
    trust, status = cache.load_verifier_inputs(anchors=[pki.anchor], now=later)
    with pytest.raises(VerificationError) as info:
        verify(text, now=later, trust=trust, status=status, policy=VerificationPolicy())
    assert info.value.reason is Reason.REVOKED


def test_cache_does_not_trust_its_files(pki: Pki, tmp_path: Path) -> None:
    cache = OfflineCache(tmp_path)
    raw = bytearray(pki.trust_token)
    raw[-5] ^= 0xFF
    cache.save_trust_list(bytes(raw), fetched_at=NOW)
    with pytest.raises(VerificationError) as info:
        cache.load_verifier_inputs(anchors=[pki.anchor], now=NOW)
    assert info.value.reason is Reason.BAD_SIGNATURE
