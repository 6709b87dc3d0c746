from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from certfixtures import NOW, URI, Pki, make_claims

from certificates.cache import OfflineCache
from certificates.credential import seal
from certificates.errors import Reason, VerificationError
from certificates.statuslist import REVOKED
from certificates.trustlist import TrustPins
from certificates.verification import VerificationPolicy, verify


def _cache(pki: Pki, path: Path) -> OfflineCache:
    cache = OfflineCache(path)
    cache.set_pins(TrustPins((pki.anchor,)))
    return cache


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def test_offline_sync_and_verify(pki: Pki, tmp_path: Path) -> None:
    cache = _cache(pki, tmp_path / "offline")
    with pytest.raises(VerificationError) as info:
        cache.load_verifier_inputs(now=NOW)
    assert info.value.reason is Reason.STALE_TRUST_LIST

    trust = cache.accept_trust_list(pki.trust_token, now=NOW)
    cache.accept_status_list(pki.status_token, trust=trust, now=NOW, uri=URI)
    assert cache.trust_list() is not None
    assert cache.status_lists()[URI].issued_at == int(NOW.timestamp())

    text = seal(make_claims(), pki.ring.signer("certificate"))
    soon = NOW + timedelta(minutes=3)  # within the list's TTL (5 min)
    trust, status = OfflineCache(tmp_path / "offline").load_verifier_inputs(now=soon)
    r = verify(text, now=soon, trust=trust, status=status, policy=VerificationPolicy())
    assert r.trust_list_age == timedelta(minutes=3)
    assert r.status_list_age == timedelta(minutes=3)  # from the list's own iat

    pki.status_list.set(4242, REVOKED)
    later = NOW + timedelta(hours=3)
    pki.republish(now=later)
    cache.accept_status_list(pki.status_token, trust=trust, now=later)
    trust, status = cache.load_verifier_inputs(now=later)
    with pytest.raises(VerificationError) as info:
        verify(text, now=later, trust=trust, status=status, policy=VerificationPolicy())
    assert info.value.reason is Reason.REVOKED


def test_a_list_past_its_ttl_is_stale_but_a_revocation_still_shows(pki: Pki,
                                                                   tmp_path: Path) -> None:
    cache = _cache(pki, tmp_path)
    trust = cache.accept_trust_list(pki.trust_token, now=NOW)
    cache.accept_status_list(pki.status_token, trust=trust, now=NOW)
    text = seal(make_claims(), pki.ring.signer("certificate"))
    late = NOW + timedelta(minutes=11)  # TTL 5 min + 5 min skew passed
    trust, status = cache.load_verifier_inputs(now=late)
    with pytest.raises(VerificationError) as info:
        verify(text, now=late, trust=trust, status=status, policy=VerificationPolicy())
    assert info.value.reason is Reason.STALE_STATUS_LIST
    assert "TTL" in info.value.detail
    pki.status_list.set(4242, REVOKED)
    pki.republish(now=NOW)
    cache2 = _cache(pki, tmp_path / "b")
    cache2.accept_status_list(pki.status_token, trust=cache2.accept_trust_list(
        pki.trust_token, now=NOW), now=NOW)
    trust, status = cache2.load_verifier_inputs(now=late)
    with pytest.raises(VerificationError) as info:
        verify(text, now=late, trust=trust, status=status, policy=VerificationPolicy())
    assert info.value.reason is Reason.REVOKED


def test_a_status_list_rollback_is_refused_and_the_cache_kept(pki: Pki, tmp_path: Path) -> None:
    cache = _cache(pki, tmp_path)
    trust = cache.accept_trust_list(pki.trust_token, now=NOW)
    old_token = pki.status_token  # signed at NOW: certificate valid
    pki.status_list.set(4242, REVOKED)
    later = NOW + timedelta(minutes=1)
    pki.republish(now=later)
    cache.accept_status_list(pki.status_token, trust=trust, now=later)
    before = _snapshot(tmp_path)
    with pytest.raises(VerificationError) as info:
        cache.accept_status_list(old_token, trust=trust, now=later)  # a replayed old list
    assert info.value.reason is Reason.ROLLBACK
    assert _snapshot(tmp_path) == before
    text = seal(make_claims(), pki.ring.signer("certificate"))
    trust, status = cache.load_verifier_inputs(now=later)
    with pytest.raises(VerificationError) as info:
        verify(text, now=later, trust=trust, status=status, policy=VerificationPolicy())
    assert info.value.reason is Reason.REVOKED


def test_a_trust_list_rollback_is_refused(pki: Pki, tmp_path: Path) -> None:
    cache = _cache(pki, tmp_path)
    old = pki.trust_token
    pki.retrust(now=NOW + timedelta(hours=1))
    cache.accept_trust_list(pki.trust_token, now=NOW + timedelta(hours=1))
    before = _snapshot(tmp_path)
    with pytest.raises(VerificationError) as info:
        cache.accept_trust_list(old, now=NOW + timedelta(hours=1))
    assert info.value.reason is Reason.ROLLBACK
    assert _snapshot(tmp_path) == before


def test_bad_data_from_the_network_leaves_the_cache_as_it_was(pki: Pki, tmp_path: Path) -> None:
    cache = _cache(pki, tmp_path)
    trust = cache.accept_trust_list(pki.trust_token, now=NOW)
    cache.accept_status_list(pki.status_token, trust=trust, now=NOW)
    before = _snapshot(tmp_path)
    forged = bytearray(pki.trust_token)
    forged[-5] ^= 0xFF
    with pytest.raises(VerificationError) as info:
        cache.accept_trust_list(bytes(forged), now=NOW)
    assert info.value.reason is Reason.BAD_SIGNATURE
    # A status list signed with the certificate key (wrong role) is refused too.
    from certificates.statuslist import sign_status_list

    wrong_role = sign_status_list(pki.status_list, uri=URI, signer=pki.ring.signer("certificate"),
                                  now=NOW + timedelta(minutes=1), validity=timedelta(days=1))
    with pytest.raises(VerificationError) as info:
        cache.accept_status_list(wrong_role, trust=trust, now=NOW)
    assert info.value.reason is Reason.UNKNOWN_KEY
    with pytest.raises(VerificationError) as info:
        cache.accept_status_list(pki.status_token, trust=trust, now=NOW, uri=URI + "9")
    assert info.value.reason is Reason.MALFORMED
    assert _snapshot(tmp_path) == before


def test_cache_does_not_trust_its_files(pki: Pki, tmp_path: Path) -> None:
    cache = _cache(pki, tmp_path)
    cache.accept_trust_list(pki.trust_token, now=NOW)
    path = tmp_path / "trust-list.cose"
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(VerificationError) as info:
        cache.load_verifier_inputs(now=NOW)
    assert info.value.reason is Reason.BAD_SIGNATURE


def test_the_clock_floor_refuses_a_device_clock_set_back(pki: Pki, tmp_path: Path) -> None:
    """The trusted clock: the newest list iat accepted is a floor kept in the index; a
    clock set back behind it (to make an expired certificate valid) is clock-wrong."""
    cache = _cache(pki, tmp_path)
    assert cache.clock_floor() is None
    trust = cache.accept_trust_list(pki.trust_token, now=NOW)
    later = NOW + timedelta(hours=3)
    pki.republish(now=later)
    cache.accept_status_list(pki.status_token, trust=trust, now=later)
    assert cache.clock_floor() == later
    expired = seal(make_claims(issued_at=NOW - timedelta(days=1),
                               expires_at=NOW + timedelta(hours=1)),
                   pki.ring.signer("certificate"))
    # At the real time the certificate is expired ...
    trust, status = cache.load_verifier_inputs(now=later)
    with pytest.raises(VerificationError) as info:
        verify(expired, now=later, trust=trust, status=status, policy=VerificationPolicy(),
               clock_floor=cache.clock_floor())
    assert info.value.reason is Reason.EXPIRED
    # ... and with the clock set back to when it was valid, the clock is wrong.
    back = NOW + timedelta(minutes=30)
    with pytest.raises(VerificationError) as info:
        cache.load_verifier_inputs(now=back)
    assert info.value.reason is Reason.CLOCK_WRONG
    with pytest.raises(VerificationError) as info:
        verify(expired, now=back, trust=trust, status=status, policy=VerificationPolicy(),
               clock_floor=cache.clock_floor())
    assert info.value.reason is Reason.CLOCK_WRONG
    # Within the skew it is not.
    policy = VerificationPolicy()
    near = later - policy.clock_skew + timedelta(seconds=1)
    with pytest.raises(VerificationError) as info:
        verify(expired, now=near, trust=trust, status=status, policy=policy,
               clock_floor=cache.clock_floor())
    assert info.value.reason is Reason.EXPIRED
    # A list older than the floor does not lower it; far ahead of it is wrong too.
    cache.accept_trust_list(pki.trust_token, now=later)  # the same list again (iat NOW)
    assert cache.clock_floor() == later
    with pytest.raises(VerificationError) as info:
        cache.load_verifier_inputs(now=later + timedelta(days=31))
    assert info.value.reason is Reason.CLOCK_WRONG
