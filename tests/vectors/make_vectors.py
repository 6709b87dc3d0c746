"""Generate the golden and hostile guard-certificate vectors in this directory.

    .venv/bin/python tests/vectors/make_vectors.py

Uses the committed TEST keyring in ``keys/`` (passphrase below; test-only keys that
sign nothing real), creating it on first run. Writes ``trust-list*.cose``,
``status-list*.cose`` and ``index.json``: one entry per vector with the text, the
trust/status files to verify it with, and the expected verdict (``valid`` or a
``certificates.errors.Reason`` value, plus the ``Malformed`` layer when relevant);
optional ``anchor_spki_b64`` (the pinned trust-list key, default the index's),
optional ``now`` (the verifier's clock, default the index's ``now``),
``clock_floor`` (the newest signed time the verifier's store has seen) and
``accept_cards`` (the checkpoint policy on printed cards, default true). A printed
card that verifies has the verdict ``card`` ("card: compare the photo").
Both verifiers run every vector: tests/certificates/test_vectors.py (Python) and
tests/js/verifier.test.mjs (the browser's, under ``node --test``).
Re-running produces new signatures (ECDSA is randomised) but the same verdicts.
"""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from certificates import base45  # noqa: E402
from certificates.cose import P256_ORDER, encode_sign1  # noqa: E402
from certificates.credential import seal_cose  # noqa: E402
from certificates.cwt import GuardClaims, StatusRef  # noqa: E402
from certificates.envelope import encode_text, looks_like_zlib  # noqa: E402
from certificates.keys import kid_of, spki_der  # noqa: E402
from certificates.signing import Keyring, Sm2SoftwareSigner, SoftwareSigner  # noqa: E402
from certificates.signing.signer import generate_sm2_scalar  # noqa: E402
from certificates.sm2 import N as SM2_N  # noqa: E402
from certificates.statuslist import REVOKED, SUSPENDED, StatusList, sign_status_list  # noqa: E402
from certificates.trustlist import (  # noqa: E402
    TrustedKey,
    build_trust_list,
    sign_trust_list,
    spki_digest,
)

PASSPHRASE = b"guardreg-test-vectors-only-not-a-secret"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
URI = "https://gr.example.cn/sl/0"
IDX_VALID, IDX_REVOKED, IDX_SUSPENDED = 4242, 17, 99


def claims(**kw: Any) -> GuardClaims:
    values: dict[str, Any] = {
        "issuer": "guardreg-test",
        "issued_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=364),
        "certificate_number": "120120260000123X",
        "guard_name": "欧阳明华",
        "skill_level": 3,
        "status": StatusRef(URI, IDX_VALID),
        "employer_id": 7301,
        "employer_name": "天津市保安服务总公司河西分公司",
    }
    values.update(kw)
    return GuardClaims(**values)


def keyring() -> Keyring:
    ring = Keyring(HERE / "keys", passphrase=PASSPHRASE, certificate_validity=timedelta(days=365))
    start = NOW - timedelta(days=30)
    for purpose in ("certificate", "status-list", "trust-list"):
        if not [r for r in ring.list_keys(purpose) if r.state == "active"]:
            ring.generate(purpose, "ES256", now=start)
    ring.ensure_successor("trust-list", now=start)  # announced (by hash) in trust-list.cose
    return ring


def sm2_keyring() -> Keyring:
    """The SM2SM3 profile's test keys (keys-sm2/): certificate, status list, trust list."""
    ring = Keyring(HERE / "keys-sm2", passphrase=PASSPHRASE,
                   certificate_validity=timedelta(days=365))
    start = NOW - timedelta(days=30)
    for purpose in ("certificate", "status-list", "trust-list"):
        if not [r for r in ring.list_keys(purpose) if r.state == "active"]:
            ring.generate(purpose, "SM2SM3", now=start)
    return ring


def es256_high_s_twin(sig: bytes) -> bytes:
    """The other valid ES256 signature of the same message: (r, n - s)."""
    s = int.from_bytes(sig[32:], "big")
    return sig[:32] + (P256_ORDER - s).to_bytes(32, "big")


def flip(data: bytes, offset: int, bit: int = 0x01) -> bytes:
    b = bytearray(data)
    b[offset] ^= bit
    return bytes(b)


def exam15_vectors(cert: Any) -> list[dict[str, Any]]:
    """Issue 15: a certificate without an employer is valid (the credential is personal);
    an exam admission ticket (SGX1:, typ header) is never a guard certificate, even under
    the SG1: prefix."""
    from certificates.envelope import decode_text
    from certificates.exam_ticket import TICKET_PREFIX, TicketClaims, seal_ticket

    personal = claims(certificate_number="120120260000126X", employer_id=None,
                      employer_name=None)
    ticket = seal_ticket(TicketClaims(
        issuer="guardreg-test", issued_at=NOW - timedelta(days=2),
        expires_at=NOW + timedelta(hours=6), registration_id=41, name="欧阳明华",
        sits_on=NOW.date(), venue="河西区考点", session_id=7), cert)
    return [
        {"name": "no-employer-valid", "text": encode_text(seal_cose(personal, cert)),
         "expected": "valid", "claims": personal.to_json(), "kid": cert.kid.hex(),
         "qr_version": None},
        {"name": "exam-ticket", "text": ticket, "expected": "malformed",
         "malformed": "prefix"},
        {"name": "exam-ticket-as-sg1",
         "text": encode_text(decode_text(ticket, TICKET_PREFIX)), "expected": "malformed",
         "malformed": "cose"},
    ]


def main() -> None:
    ring = keyring()
    sm2ring = sm2_keyring()
    cert = ring.signer("certificate")
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = SoftwareSigner(stranger_key, kid=kid_of(stranger_key.public_key()), alg="ES256",
                      purpose="certificate")
    impostor = SoftwareSigner(stranger_key, kid=cert.kid, alg="ES256", purpose="certificate")
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    p384_kid = kid_of(p384)

    # trust lists: fresh (with a P-384 key wrongly registered as ES256), and expired
    sm2_listed = [r for r in sm2ring.list_keys() if r.purpose != "trust-list"]
    tl = build_trust_list([*ring.list_keys(), *sm2_listed], issuer="guardreg-test",
                          now=NOW - timedelta(hours=1), validity=timedelta(days=7))
    extra = TrustedKey(kid=p384_kid, alg="ES256", purpose="certificate", spki=spki_der(p384),
                       not_before=NOW - timedelta(days=30))
    tl = replace(tl, keys=(*tl.keys, extra))
    (HERE / "trust-list.cose").write_bytes(sign_trust_list(tl, ring.signer("trust-list")))
    stale_tl = build_trust_list(ring.list_keys(), issuer="guardreg-test",
                                now=NOW - timedelta(days=10), validity=timedelta(days=7))
    (HERE / "trust-list-stale.cose").write_bytes(
        sign_trust_list(stale_tl, ring.signer("trust-list")))

    sl = StatusList(1 << 16)
    sl.set(IDX_REVOKED, REVOKED)
    sl.set(IDX_SUSPENDED, SUSPENDED)
    sls = ring.signer("status-list")
    (HERE / "status-list.cose").write_bytes(sign_status_list(
        sl, uri=URI, signer=sls, now=NOW - timedelta(minutes=10), validity=timedelta(days=1),
        ttl=timedelta(hours=1)))
    # A newer list that revokes the golden certificate: a verifier holding it must refuse
    # status-list.cose (older) when a man in the middle replays it (rollback).
    newer = StatusList(1 << 16, sl.raw())
    newer.set(IDX_VALID, REVOKED)
    (HERE / "status-list-newer-revoked.cose").write_bytes(sign_status_list(
        newer, uri=URI, signer=sls, now=NOW - timedelta(minutes=5), validity=timedelta(days=1),
        ttl=timedelta(hours=1)))
    (HERE / "status-list-stale.cose").write_bytes(sign_status_list(
        sl, uri=URI, signer=sls, now=NOW - timedelta(days=3), validity=timedelta(days=7),
        ttl=timedelta(minutes=5)))

    golden_claims = claims()
    golden_cose = seal_cose(golden_claims, cert)
    golden = encode_text(golden_cose)
    vectors: list[dict[str, Any]] = []

    def add(name: str, text: str, expected: str, malformed: str | None = None,
            **extra_fields: Any) -> None:
        vectors.append({"name": name, "text": text, "expected": expected,
                        "malformed": malformed, "trust_list": "trust-list.cose",
                        "status_lists": {URI: "status-list.cose"}, **extra_fields})

    add("golden-valid", golden, "valid", claims=golden_claims.to_json(),
        kid=cert.kid.hex(), qr_version=None)
    number = golden_cose.index(b"120120260000123X") + 15
    add("bitflip-payload", encode_text(flip(golden_cose, number)), "bad-signature")
    add("bitflip-signature", encode_text(flip(golden_cose, len(golden_cose) - 1)),
        "bad-signature")
    add("wrong-key", encode_text(seal_cose(claims(), impostor)), "bad-signature")
    add("unknown-kid", encode_text(seal_cose(claims(), stranger)), "unknown-key")
    add("signed-by-status-list-key", encode_text(seal_cose(claims(), sls)), "unknown-key")
    ed = ed25519.Ed25519PrivateKey.generate()
    add("alg-eddsa-header-es256-kid", encode_text(encode_sign1(
        claims().encode(), alg="EdDSA", kid=cert.kid, sign=ed.sign)), "algorithm-mismatch")
    add("alg-es256-header-p384-key", encode_text(encode_sign1(
        claims().encode(), alg="ES256", kid=p384_kid, sign=lambda _d: b"\x01" * 64)),
        "algorithm-mismatch")
    add("expired", encode_text(seal_cose(claims(issued_at=NOW - timedelta(days=29),
                                                expires_at=NOW - timedelta(days=1)), cert)),
        "expired")
    add("not-yet-valid", encode_text(seal_cose(claims(issued_at=NOW + timedelta(days=1)), cert)),
        "not-yet-valid")
    body = golden[4:]
    cut = body[: (len(body) // 2) // 3 * 3]
    add("truncated", "SG1:" + cut, "malformed",
        "compression" if looks_like_zlib(base45.decode(body)) else "cbor")
    add("wrong-prefix", "HC1:" + body, "malformed", "prefix")
    add("invalid-base45", "SG1:" + body[:30].lower() + body[30:], "malformed", "base45")
    add("non-cose-cbor", "SG1:" + base45.encode(cbor2.dumps({"hello": "world", "n": [1, 2]})),
        "malformed", "cose")
    add("oversized", "SG1:" + "0" * 6000, "oversized")
    vectors.append({**vectors[0], "name": "stale-trust-list", "expected": "stale-trust-list",
                    "trust_list": "trust-list-stale.cose", "claims": None})
    vectors.append({**vectors[0], "name": "stale-status-list", "expected": "stale-status-list",
                    "status_lists": {URI: "status-list-stale.cose"}, "claims": None})
    add("revoked", encode_text(seal_cose(claims(status=StatusRef(URI, IDX_REVOKED)), cert)),
        "revoked")
    add("suspended", encode_text(seal_cose(claims(status=StatusRef(URI, IDX_SUSPENDED)), cert)),
        "suspended")

    # Signature hygiene and key compromise (issue 14).
    high_s = golden_cose[:-64] + es256_high_s_twin(golden_cose[-64:])
    add("high-s-signature", encode_text(high_s), "bad-signature")
    add("wrong-issuer", encode_text(seal_cose(claims(issuer="someone-else"), cert)),
        "wrong-issuer")
    def with_idx(idx: Any) -> str:  # claims the issuer would never sign: raw CBOR
        m = claims().to_cbor_map()
        m[65535] = {"status_list": {"idx": idx, "uri": URI}}
        return encode_text(encode_sign1(cbor2.dumps(m, canonical=True), alg="ES256",
                                        kid=cert.kid, sign=cert.sign))

    add("status-idx-negative", with_idx(-1), "malformed", "claims")
    add("status-idx-text", with_idx("7"), "malformed", "claims")
    add("status-idx-fraction", with_idx(7.5), "malformed", "claims")
    add("status-idx-too-big", with_idx(2**32), "malformed", "claims")
    compromised_keys = tuple(
        replace(k, compromised_since=NOW - timedelta(days=3)) if k.purpose == "certificate"
        else k for k in tl.keys)
    cmp_tl = replace(tl, keys=compromised_keys)
    (HERE / "trust-list-compromised.cose").write_bytes(
        sign_trust_list(cmp_tl, ring.signer("trust-list")))
    vectors.append({**vectors[0], "name": "key-compromised", "expected": "key-compromised",
                    "trust_list": "trust-list-compromised.cose", "claims": None})

    # Pre-rotation: the list signed by the announced successor (what the service
    # publishes after `keys rotate --purpose trust-list`), and one signed by a key that
    # lists itself as a trust-list key but was never announced.
    successor = ring.successor("trust-list")
    assert successor is not None and tl.successors == (spki_digest(successor.spki),)
    nxt = ring.load_signer(successor.kid)
    rolled = replace(tl, issued_at=NOW - timedelta(minutes=30), successors=(), keys=(
        *tl.keys, TrustedKey(kid=successor.kid, alg="ES256", purpose="trust-list",
                             spki=successor.spki, not_before=NOW - timedelta(minutes=30))))
    (HERE / "trust-list-rolled.cose").write_bytes(sign_trust_list(rolled, nxt))
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = SoftwareSigner(rogue_key, kid=kid_of(rogue_key.public_key()), alg="ES256",
                   purpose="trust-list")
    rogue_tl = replace(rolled, keys=(*tl.keys, TrustedKey(
        kid=rogue.kid, alg="ES256", purpose="trust-list", spki=rogue.public_key_spki(),
        not_before=NOW - timedelta(minutes=30))))
    (HERE / "trust-list-rogue.cose").write_bytes(sign_trust_list(rogue_tl, rogue))

    # The successor leaked before it was used: the current key's next list flags it and
    # announces another; a verifier must then refuse trust-list-rolled.cose.
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    burnt = replace(tl, issued_at=NOW - timedelta(minutes=20),
                    successors=(spki_digest(spki_der(other)),), keys=(
                        *tl.keys, TrustedKey(kid=successor.kid, alg="ES256",
                                             purpose="trust-list", spki=successor.spki,
                                             not_before=NOW - timedelta(days=30),
                                             not_after=NOW + timedelta(days=365),
                                             retired_at=NOW - timedelta(minutes=20),
                                             compromised_since=NOW - timedelta(hours=2))))
    (HERE / "trust-list-successor-burnt.cose").write_bytes(
        sign_trust_list(burnt, ring.signer("trust-list")))

    # The guard profile's COSE rules (docs/credential-format.md): no CWT tag 61, no
    # header in the unprotected bucket, claims a bare map. Each is signed correctly, so
    # only the profile rule can refuse it, in both verifiers alike.
    add("cwt-tag-61", encode_text(cbor2.dumps(cbor2.CBORTag(61, cbor2.loads(golden_cose)))),
        "malformed", "cose")
    add("kid-unprotected", encode_text(encode_sign1(
        claims().encode(), alg="ES256", kid=cert.kid, sign=cert.sign, kid_in_protected=False)),
        "malformed", "cose")
    prot_kid_only = cbor2.dumps({4: cert.kid})
    payload = claims().encode()
    from certificates.cose import sig_structure

    add("alg-unprotected", encode_text(cbor2.dumps(cbor2.CBORTag(18, [
        prot_kid_only, {1: -7}, payload, cert.sign(sig_structure(prot_kid_only, payload))]))),
        "malformed", "cose")
    prot = cbor2.dumps({1: -7, 4: cert.kid})
    add("unprotected-extra-header", encode_text(cbor2.dumps(cbor2.CBORTag(18, [
        prot, {16: "text/plain"}, payload, cert.sign(sig_structure(prot, payload))]))),
        "malformed", "cose")
    tagged = cbor2.dumps(cbor2.CBORTag(61, claims().to_cbor_map()), canonical=True)
    add("claims-in-tag-61", encode_text(encode_sign1(tagged, alg="ES256", kid=cert.kid,
                                                     sign=cert.sign)), "malformed", "claims")
    add("status-idx-outside-list",
        encode_text(seal_cose(claims(status=StatusRef(URI, (1 << 16) + 5)), cert)),
        "stale-status-list")

    # The trusted clock: ``now`` is the device's clock, ``clock_floor`` the newest signed
    # time its store has seen (a list iat). Set back before the floor (to make an
    # expired certificate valid) or far ahead: clock-wrong, never valid or expired.
    expired_text = next(v["text"] for v in vectors if v["name"] == "expired")
    add("clock-set-back-before-trust-list", expired_text, "clock-wrong",
        now=(NOW - timedelta(days=2)).isoformat())
    add("clock-set-back-before-floor", golden, "clock-wrong",
        clock_floor=(NOW + timedelta(hours=2)).isoformat())
    add("clock-within-skew-of-floor", golden, "valid",
        clock_floor=(NOW + timedelta(minutes=4)).isoformat())
    add("clock-far-ahead", golden, "clock-wrong", now=(NOW + timedelta(days=31)).isoformat())

    # The SM2SM3 profile (certificates/sm2.py, vendored sm-crypto in the browser): an SM2
    # certificate key and an SM2 status-list key listed in trust-list.cose (signed ES256),
    # and a trust list signed by an SM2 trust-list key (its own anchor).
    sm2_cert = sm2ring.signer("certificate")
    uri_sm2 = "https://gr.example.cn/sl/1"
    sl2 = StatusList(1 << 16)
    sl2.set(IDX_REVOKED, REVOKED)
    (HERE / "status-list-sm2.cose").write_bytes(sign_status_list(
        sl2, uri=uri_sm2, signer=sm2ring.signer("status-list"),
        now=NOW - timedelta(minutes=10), validity=timedelta(days=1), ttl=timedelta(hours=1)))

    def add_sm2(name: str, text: str, expected: str, **kw: Any) -> None:
        add(name, text, expected, status_lists={uri_sm2: "status-list-sm2.cose"}, **kw)

    def sm2_claims(**kw: Any) -> GuardClaims:
        return claims(status=StatusRef(uri_sm2, kw.pop("idx", IDX_VALID)),
                      certificate_number="120120260000124X", **kw)

    sm2_golden_cose = seal_cose(sm2_claims(), sm2_cert)
    add_sm2("sm2-golden-valid", encode_text(sm2_golden_cose), "valid",
            claims=sm2_claims().to_json(), kid=sm2_cert.kid.hex())
    add_sm2("sm2-revoked", encode_text(seal_cose(sm2_claims(idx=IDX_REVOKED), sm2_cert)),
            "revoked")
    add_sm2("sm2-expired", encode_text(seal_cose(sm2_claims(
        issued_at=NOW - timedelta(days=29), expires_at=NOW - timedelta(days=1)), sm2_cert)),
        "expired")
    add_sm2("sm2-bitflip-signature", encode_text(flip(sm2_golden_cose, len(sm2_golden_cose) - 1)),
            "bad-signature")
    num = sm2_golden_cose.index(b"120120260000124X") + 15
    add_sm2("sm2-bitflip-payload", encode_text(flip(sm2_golden_cose, num)), "bad-signature")
    sm2_impostor = Sm2SoftwareSigner(generate_sm2_scalar(), kid=sm2_cert.kid,
                                     purpose="certificate")
    add_sm2("sm2-wrong-key", encode_text(seal_cose(sm2_claims(), sm2_impostor)), "bad-signature")
    add_sm2("sm2-signature-s-zero", encode_text(sm2_golden_cose[:-32] + bytes(32)),
            "bad-signature")
    add_sm2("sm2-signature-r-is-n", encode_text(
        sm2_golden_cose[:-64] + SM2_N.to_bytes(32, "big") + sm2_golden_cose[-32:]),
        "bad-signature")
    add_sm2("sm2-alg-on-es256-key", encode_text(encode_sign1(
        sm2_claims().encode(), alg="SM2SM3", kid=cert.kid, sign=sm2_cert.sign)),
        "algorithm-mismatch")
    add_sm2("es256-alg-on-sm2-key", encode_text(encode_sign1(
        sm2_claims().encode(), alg="ES256", kid=sm2_cert.kid, sign=cert.sign)),
        "algorithm-mismatch")
    sm2_tl_signer = sm2ring.signer("trust-list")
    sm2_tl = sign_trust_list(replace(tl, keys=(*tl.keys, TrustedKey(
        kid=sm2_tl_signer.kid, alg="SM2SM3", purpose="trust-list",
        spki=sm2_tl_signer.public_key_spki(), not_before=NOW - timedelta(days=30)))),
        sm2_tl_signer)
    (HERE / "trust-list-sm2.cose").write_bytes(sm2_tl)
    sm2_anchor = base64.b64encode(sm2_tl_signer.public_key_spki()).decode()
    vectors.append({**vectors[0], "name": "sm2-signed-trust-list", "expected": "valid",
                    "trust_list": "trust-list-sm2.cose", "anchor_spki_b64": sm2_anchor,
                    "claims": None})
    (HERE / "trust-list-sm2-forged.cose").write_bytes(flip(sm2_tl, len(sm2_tl) - 1))
    vectors.append({**vectors[0], "name": "sm2-signed-trust-list-forged",
                    "expected": "bad-signature", "trust_list": "trust-list-sm2-forged.cose",
                    "anchor_spki_b64": sm2_anchor, "claims": None})

    # Device binding (certificates/presentation.py): a certificate bound to a phone's
    # P-256 key (cnf) and the rotating presentation that phone signs per 30 s window.
    from certificates.presentation import DeviceKey, encode_presentation, proof_input

    device = ec.generate_private_key(ec.SECP256R1())
    other_device = ec.generate_private_key(ec.SECP256R1())

    def device_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s_ = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s_.to_bytes(32, "big")

    def present(cose: bytes, t: datetime, challenge: bytes = b"",
                key: ec.EllipticCurvePrivateKey = device) -> str:
        ts = int(t.timestamp())
        return encode_presentation(cose, ts, challenge,
                                   device_sign(key, proof_input(cose, ts, challenge)))

    bound_claims = claims(certificate_number="120120260000125X",
                          device_key=DeviceKey.from_public_key(device.public_key()))
    bound = seal_cose(bound_claims, cert)
    window = NOW - timedelta(seconds=10)
    add("device-bound-static-copy", encode_text(bound), "no-device-proof")
    live = present(bound, window)
    add("device-live-valid", live, "valid", claims=bound_claims.to_json(), kid=cert.kid.hex(),
        qr_version=None)
    add("device-live-with-challenge", present(bound, window, b"K7Q2"), "valid",
        challenge="K7Q2")
    add("device-live-challenge-mismatch", present(bound, window, b"K7Q2"),
        "challenge-mismatch", challenge="ZZ99")
    add("device-live-no-challenge-when-asked", present(bound, window), "challenge-mismatch",
        challenge="K7Q2")
    add("device-replayed-after-window", present(bound, NOW - timedelta(seconds=46)),
        "proof-expired")
    add("device-window-end-within-skew", present(bound, NOW - timedelta(seconds=45)), "valid")
    add("device-dated-ahead", present(bound, NOW + timedelta(seconds=16)), "proof-expired")
    add("device-other-device", present(bound, window, key=other_device), "device-mismatch")
    proof_text = present(bound, window)
    add("device-unbound-certificate-presented", present(golden_cose, window), "device-mismatch")
    from certificates.envelope import maybe_decompress

    tampered = bytearray(maybe_decompress(base45.decode(proof_text[5:])))
    tampered[-1] ^= 1  # the last byte of the device signature
    add("device-proof-bitflip", "SGP1:" + base45.encode(bytes(tampered)), "device-mismatch")
    add("device-presentation-not-array", "SGP1:" + base45.encode(cbor2.dumps([bound, 1, b""])),
        "malformed", "cose")
    add("device-presentation-bad-base45", "SGP1:" + proof_text[5:40].lower() + proof_text[40:],
        "malformed", "base45")
    add("device-bound-revoked", present(seal_cose(claims(
        certificate_number="120120260000125X", status=StatusRef(URI, IDX_REVOKED),
        device_key=DeviceKey.from_public_key(device.public_key())), cert), window), "revoked")
    bad_cnf = claims().to_cbor_map()
    bad_cnf[8] = {1: {1: 2, -1: 2, -2: b"\x01" * 32, -3: b"\x02" * 32}}  # crv P-384
    add("device-cnf-not-p256", encode_text(encode_sign1(
        cbor2.dumps(bad_cnf, canonical=True), alg="ES256", kid=cert.kid, sign=cert.sign)),
        "malformed", "claims")
    off_curve = claims().to_cbor_map()
    off_curve[8] = {1: {1: 2, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32}}
    add("device-cnf-off-curve", encode_text(encode_sign1(
        cbor2.dumps(off_curve, canonical=True), alg="ES256", kid=cert.kid, sign=cert.sign)),
        "malformed", "claims")

    for v in exam15_vectors(cert):
        add(**v)
    # The printed card (certificates/cards.py): its own number (-C<n>), its own status
    # entry, no cnf; "card" (compare the photo), or card-not-accepted by policy.
    card_claims = claims(certificate_number="120120260000125X-C1", card=1,
                         status=StatusRef(URI, IDX_VALID + 1))
    card_cose = seal_cose(card_claims, cert)
    card_text = encode_text(card_cose)
    add("card-valid", card_text, "card", claims=card_claims.to_json(), kid=cert.kid.hex())
    add("card-not-accepted", card_text, "card-not-accepted", accept_cards=False)
    card_revoked = encode_text(seal_cose(claims(
        certificate_number="120120260000125X-C2", card=2, status=StatusRef(URI, IDX_REVOKED)),
        cert))
    add("card-revoked", card_revoked, "revoked")
    add("card-revoked-where-cards-refused", card_revoked, "revoked", accept_cards=False)
    add("card-presented-as-live", present(card_cose, window), "device-mismatch")
    add("card-expired", encode_text(seal_cose(claims(
        certificate_number="120120260000125X-C1", card=1, issued_at=NOW - timedelta(days=29),
        expires_at=NOW - timedelta(days=1)), cert)), "expired")

    def raw_card(number: str, serial: Any, *, cnf: bool = False) -> str:
        m = claims(certificate_number=number).to_cbor_map()
        if serial is not None:
            m[-65537][6] = serial
        if cnf:
            m[8] = DeviceKey.from_public_key(device.public_key()).to_cnf()
        return encode_text(encode_sign1(cbor2.dumps(m, canonical=True), alg="ES256",
                                        kid=cert.kid, sign=cert.sign))

    add("card-with-cnf", raw_card("120120260000125X-C1", 1, cnf=True), "malformed", "claims")
    add("card-suffix-mismatch", raw_card("120120260000125X-C2", 1), "malformed", "claims")
    add("card-suffix-without-card-claim", raw_card("120120260000125X-C1", None),
        "malformed", "claims")
    add("card-claim-without-suffix", raw_card("120120260000125X", 1), "malformed", "claims")
    add("card-serial-zero", raw_card("120120260000125X-C0", 0), "malformed", "claims")
    add("card-serial-text", raw_card("120120260000125X-C1", "1"), "malformed", "claims")

    from certificates.qr import qr_version

    for v in vectors:
        if v["name"] == "device-live-valid":
            v["qr_version"] = qr_version(v["text"])

    vectors[0]["qr_version"] = qr_version(golden)
    dn = device.private_numbers()
    jwk_b64 = base64.urlsafe_b64encode

    def _b(v: int) -> str:
        return jwk_b64(v.to_bytes(32, "big")).decode().rstrip("=")

    index = {
        "now": NOW.isoformat(),
        # TEST-ONLY device key of the device-* vectors (so that the browser's own signing
        # code, api/static/lib/device.js, can make presentations of that certificate).
        "device_private_jwk": {"kty": "EC", "crv": "P-256", "d": _b(dn.private_value),
                               "x": _b(dn.public_numbers.x), "y": _b(dn.public_numbers.y)},
        "device_bound_text": encode_text(bound),
        "policy": "VerificationPolicy() defaults: skew 5 min, trust list 7 d, status list 1 d",
        "anchor_spki_b64": base64.b64encode(ring.active("trust-list").spki).decode(),
        "vectors": vectors,
    }
    (HERE / "index.json").write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(vectors)} vectors to {HERE / 'index.json'}")


if __name__ == "__main__":
    main()
