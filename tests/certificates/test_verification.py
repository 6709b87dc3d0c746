"""User journeys: issue, verify, revoke, verify again; rotation; staleness; fuzzing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from certfixtures import NOW, URI, Pki, make_claims
from hypothesis import given, settings
from hypothesis import strategies as st

from certificates import base45
from certificates.credential import inspect, seal
from certificates.envelope import encode_text
from certificates.errors import Malformed, Reason, VerificationError
from certificates.statuslist import REVOKED, SUSPENDED, VALID
from certificates.verification import (
    CachedStatusProvider,
    CallableStatusProvider,
    VerificationPolicy,
    verify,
)

POLICY = VerificationPolicy()


def _verify(pki: Pki, text: str, *, now: datetime = NOW, **kw: object):  # type: ignore[no-untyped-def]
    status = kw.pop("status", CachedStatusProvider({URI: pki.status_token}, trust=pki.trust))
    policy = kw.pop("policy", POLICY)
    floor = kw.pop("clock_floor", None)
    return verify(text, now=now, trust=pki.trust, status=status, policy=policy,  # type: ignore[arg-type]
                  clock_floor=floor)  # type: ignore[arg-type]


def _reason(fn: Callable[[], object]) -> Reason:
    with pytest.raises(VerificationError) as info:
        fn()
    return info.value.reason


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_issue_verify_revoke_verify_again(pki_factory: Callable[[str], Pki], alg: str) -> None:
    pki = pki_factory(alg)
    claims = make_claims()
    text = seal(claims, pki.ring.signer("certificate"))
    assert text.startswith("SG1:")
    result = _verify(pki, text)
    assert result.claims == claims
    assert result.alg == alg
    assert result.status == VALID
    assert result.trust_list_age == timedelta(0)
    assert result.status_source == "cached"
    assert inspect(text)[1] == claims

    pki.status_list.set(claims.status.idx, SUSPENDED)
    pki.republish(now=NOW + timedelta(minutes=1))
    assert _reason(lambda: _verify(pki, text, now=NOW + timedelta(minutes=2))) is Reason.SUSPENDED
    pki.status_list.set(claims.status.idx, REVOKED)
    pki.republish(now=NOW + timedelta(minutes=3))
    assert _reason(lambda: _verify(pki, text, now=NOW + timedelta(minutes=4))) is Reason.REVOKED


def test_online_status_callable(pki: Pki) -> None:
    text = seal(make_claims(), pki.ring.signer("certificate"))
    db = {(URI, 4242): VALID}
    seen: list[tuple[str, int]] = []

    def lookup(uri: str, idx: int) -> tuple[int, datetime]:
        seen.append((uri, idx))
        return db[(uri, idx)], NOW

    online = CallableStatusProvider(lookup)
    r = _verify(pki, text, status=online)
    assert r.status_source == "online"
    assert seen == [(URI, 4242)]
    db[(URI, 4242)] = REVOKED
    assert _reason(lambda: _verify(pki, text, status=online)) is Reason.REVOKED
    db.clear()
    assert _reason(lambda: _verify(pki, text, status=online)) is Reason.STALE_STATUS_LIST


def test_time_window_with_skew(pki: Pki) -> None:
    claims = make_claims(issued_at=NOW, expires_at=NOW + timedelta(days=10))
    text = seal(claims, pki.ring.signer("certificate"))
    online = CallableStatusProvider(lambda u, i: (VALID, NOW + timedelta(days=11)))
    skew = POLICY.clock_skew
    _verify(pki, text, now=NOW - skew + timedelta(seconds=1), status=online,
            policy=VerificationPolicy(max_status_list_age=None))
    # A clock behind the trust list's own iat is clock-wrong (the trusted clock, tested
    # in test_clock_*); a list signed earlier lets the certificate's window be judged.
    pki.retrust(now=NOW - timedelta(days=1))
    assert _reason(lambda: _verify(pki, text, now=NOW - skew - timedelta(seconds=1))) is \
        Reason.NOT_YET_VALID
    late = NOW + timedelta(days=10) + skew + timedelta(seconds=1)
    trust_ok = VerificationPolicy(max_trust_list_age=None, max_status_list_age=None)
    pki.retrust(now=late - timedelta(days=1))
    assert _reason(lambda: _verify(pki, text, now=late, status=online, policy=trust_ok)) is \
        Reason.EXPIRED


def test_not_before_claim(pki: Pki) -> None:
    c = make_claims(not_before=NOW + timedelta(hours=1))
    text = seal(c, pki.ring.signer("certificate"))
    assert _reason(lambda: _verify(pki, text)) is Reason.NOT_YET_VALID


def test_stale_data(pki: Pki) -> None:
    text = seal(make_claims(), pki.ring.signer("certificate"))
    # status list older than allowed (but not expired)
    strict = VerificationPolicy(max_status_list_age=timedelta(hours=1))
    assert _reason(lambda: _verify(pki, text, now=NOW + timedelta(hours=2), policy=strict)) is \
        Reason.STALE_STATUS_LIST
    # status list expired (validity 1 day)
    assert _reason(lambda: _verify(pki, text, now=NOW + timedelta(days=2),
                                   policy=VerificationPolicy(max_status_list_age=None))) is \
        Reason.STALE_STATUS_LIST
    # trust list expired / too old
    assert _reason(lambda: _verify(pki, text, now=NOW + timedelta(days=8))) is \
        Reason.STALE_TRUST_LIST
    old_ok = VerificationPolicy(max_trust_list_age=timedelta(hours=1))
    assert _reason(lambda: _verify(pki, text, now=NOW + timedelta(hours=2), policy=old_ok)) is \
        Reason.STALE_TRUST_LIST
    # no status provider while required / allowed
    assert _reason(lambda: verify(text, now=NOW, trust=pki.trust, status=None,
                                  policy=POLICY)) is Reason.STALE_STATUS_LIST
    r = verify(text, now=NOW, trust=pki.trust, status=None,
               policy=VerificationPolicy(require_status=False))
    assert r.status_list_age is None
    # status list for another uri only
    other = CachedStatusProvider({"https://other/sl/9": pki.status_token}, trust=pki.trust)
    assert _reason(lambda: _verify(pki, text, status=other)) is Reason.STALE_STATUS_LIST


def test_rotation_keeps_old_certificates_verifiable(pki: Pki) -> None:
    old_text = seal(make_claims(), pki.ring.signer("certificate"))
    old_kid = pki.ring.active("certificate").kid
    pki.ring.rotate("certificate", now=NOW - timedelta(hours=1))
    pki.retrust()
    new_text = seal(make_claims(issued_at=NOW), pki.ring.signer("certificate"))
    assert _verify(pki, old_text).kid == old_kid
    assert _verify(pki, new_text).kid != old_kid
    # a certificate claiming issuance after the old key's retirement is refused
    from certificates.signing import Keyring

    assert isinstance(pki.ring, Keyring)
    late_old = seal(make_claims(issued_at=NOW), pki.ring.load_signer(old_kid))
    assert _reason(lambda: _verify(pki, late_old)) is Reason.UNKNOWN_KEY
    # once past verifiable_until the old key is gone from the trust list
    pki.ring.set_verifiable_until(old_kid, NOW - timedelta(minutes=1))
    pki.retrust()
    assert _reason(lambda: _verify(pki, old_text)) is Reason.UNKNOWN_KEY


def test_foreign_key_and_wrong_purpose(pki: Pki, pki_factory: Callable[[str], Pki]) -> None:
    other = pki_factory("ES256")
    text = seal(make_claims(), other.ring.signer("certificate"))
    assert _reason(lambda: _verify(pki, text)) is Reason.UNKNOWN_KEY
    by_status_key = seal(make_claims(), pki.ring.signer("status-list"))
    assert _reason(lambda: _verify(pki, by_status_key)) is Reason.UNKNOWN_KEY


def test_oversized_and_malformed(pki: Pki) -> None:
    assert _reason(lambda: _verify(pki, "SG1:" + "0" * 5000)) is Reason.OVERSIZED
    for text, stage in [
        ("HC1:BB8", Malformed.PREFIX),
        ("SG1:abc", Malformed.BASE45),
        (encode_text(b"\x78\x9c\x01\x02\x03", compress=False), Malformed.COMPRESSION),
        ("SG1:" + base45.encode(b"\xff\xff"), Malformed.CBOR),
        ("SG1:" + base45.encode(b"\x83\x01\x02\x03"), Malformed.COSE),
    ]:
        with pytest.raises(VerificationError) as info:
            _verify(pki, text)
        assert info.value.reason is Reason.MALFORMED
        assert info.value.malformed is stage, text


def test_verified_json(pki: Pki) -> None:
    r = _verify(pki, seal(make_claims(), pki.ring.signer("certificate")))
    j = r.to_json()
    assert j["result"] == "valid"
    assert j["claims"]["guard_name"] == "张伟明"
    assert j["kid"] == r.kid.hex()
    assert j["status_list_age_s"] == 0


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=500),
    st.text(alphabet=base45.ALPHABET, max_size=600).map(lambda s: "SG1:" + s),
    st.binary(max_size=400).map(lambda b: "SG1:" + base45.encode(b)),
    st.binary(max_size=400).map(lambda b: encode_text(b"\xd2\x84" + b)),
))
def test_arbitrary_text_only_raises_verification_error(text: str) -> None:
    from certfixtures import make_pki

    global _FUZZ_PKI
    if _FUZZ_PKI is None:
        import tempfile
        from pathlib import Path

        _FUZZ_PKI = make_pki(Path(tempfile.mkdtemp()) / "keys")
    reason: object = None
    try:
        _verify(_FUZZ_PKI, text)
    except VerificationError as exc:
        reason = exc.reason
    assert reason is None or isinstance(reason, Reason)


_FUZZ_PKI: Pki | None = None


def test_mutated_real_certificates_only_raise_verification_error(pki: Pki) -> None:
    text = seal(make_claims(), pki.ring.signer("certificate"))
    from certificates.credential import seal_cose

    cose = seal_cose(make_claims(), pki.ring.signer("certificate"))
    accepted = 0
    for i in range(len(cose)):
        for bit in (0x01, 0x80):
            raw = bytearray(cose)
            raw[i] ^= bit
            try:
                _verify(pki, encode_text(bytes(raw)))
                accepted += 1
            except VerificationError:
                pass
    assert accepted == 0
    assert _verify(pki, text).status == VALID


def test_ps256_not_allowed_for_guard_certificates(pki: Pki) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from certificates.cose import encode_sign1

    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cose = encode_sign1(make_claims().encode(), alg="PS256", kid=b"\x00" * 8, sign=lambda d: k.sign(
        d, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()))
    assert _reason(lambda: _verify(pki, encode_text(cose))) is Reason.ALGORITHM_MISMATCH


def test_policy_from_settings() -> None:
    from registry.settings import Settings

    p = VerificationPolicy.from_settings(Settings(clock_skew_s=60, status_list_max_age_s=600))
    assert p.clock_skew == timedelta(seconds=60)
    assert p.max_status_list_age == timedelta(seconds=600)
    assert p.max_trust_list_age == timedelta(days=7)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_tokens_only_raise_verification_error(data: bytes) -> None:
    from certificates.statuslist import verify_status_list_token
    from certificates.trustlist import verify_trust_list

    global _FUZZ_PKI
    if _FUZZ_PKI is None:
        import tempfile
        from pathlib import Path

        from certfixtures import make_pki

        _FUZZ_PKI = make_pki(Path(tempfile.mkdtemp()) / "keys")
    for fn in (
        lambda: verify_status_list_token(data, trust=_FUZZ_PKI.trust, now=NOW),  # type: ignore[union-attr]
        lambda: verify_trust_list(data, anchors=[_FUZZ_PKI.anchor], now=NOW),  # type: ignore[union-attr]
    ):
        with pytest.raises(VerificationError):
            fn()


def test_clock_behind_the_trust_list_or_the_floor_is_clock_wrong(pki: Pki) -> None:
    """The trusted clock: a certificate that would be valid at the device's (set back)
    time is refused as clock-wrong when that time is before signed data held."""
    text = seal(make_claims(issued_at=NOW - timedelta(days=2),
                            expires_at=NOW - timedelta(days=1)), pki.ring.signer("certificate"))
    online = CallableStatusProvider(lambda u, i: (VALID, NOW - timedelta(days=2)))
    relaxed = VerificationPolicy(max_status_list_age=None)
    back = NOW - timedelta(days=1, hours=12)  # inside the certificate's window
    assert _reason(lambda: _verify(pki, text, now=back, status=online, policy=relaxed)) is \
        Reason.CLOCK_WRONG  # the trust list held was signed at NOW
    pki.retrust(now=NOW - timedelta(days=3))
    _verify(pki, text, now=back, status=online, policy=relaxed)  # no newer data: valid
    assert _reason(lambda: _verify(pki, text, now=back, status=online, policy=relaxed,
                                   clock_floor=NOW)) is Reason.CLOCK_WRONG
    assert _reason(lambda: _verify(pki, text, now=NOW + timedelta(days=31),
                                   status=online, policy=VerificationPolicy(
                                       max_trust_list_age=None, max_status_list_age=None))) \
        is Reason.CLOCK_WRONG
