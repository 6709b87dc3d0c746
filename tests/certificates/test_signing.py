from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from certfixtures import NOW, PASSPHRASE

from certificates.cose import decode_sign1, encode_sign1, verify_sign1
from certificates.errors import KeyringError
from certificates.keys import kid_from_spki, load_spki
from certificates.signing import Keyring


def _ring(tmp_path: Path, passphrase: bytes = PASSPHRASE) -> Keyring:
    return Keyring(tmp_path, passphrase=passphrase, certificate_validity=timedelta(days=365))


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_generate_sign_verify(tmp_path: Path, alg: str) -> None:
    ring = _ring(tmp_path)
    rec = ring.generate("certificate", alg, now=NOW)
    assert rec.kid == kid_from_spki(rec.spki)
    assert len(rec.kid) == 8
    assert rec.state == "active"
    assert rec.verifiable_until is None
    signer = ring.signer("certificate")
    assert (signer.kid, signer.alg, signer.public_key_spki()) == (rec.kid, alg, rec.spki)
    msg = decode_sign1(encode_sign1(b"x", alg=alg, kid=signer.kid, sign=signer.sign))
    verify_sign1(msg, load_spki(rec.spki))
    pem = tmp_path / f"{rec.kid.hex()}.key.pem"
    assert pem.read_bytes().startswith(b"-----BEGIN GUARDREG SEALED PRIVATE KEY-----")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_signer_exposes_no_private_key(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    ring.generate("certificate", now=NOW)
    signer = ring.signer("certificate")
    public = {n for n in dir(signer) if not n.startswith("_")}
    assert public == {"alg", "kid", "purpose", "sign", "public_key_spki"}


def test_rotate_retires_old_key_until_certificates_expire(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    old = ring.generate("certificate", now=NOW)
    later = NOW + timedelta(days=10)
    new = ring.rotate("certificate", now=later)
    assert new.kid != old.kid
    recs = {r.kid: r for r in ring.list_keys("certificate")}
    assert recs[new.kid].state == "active"
    assert recs[old.kid].state == "retired"
    assert recs[old.kid].retired_at == later
    assert recs[old.kid].verifiable_until == later + timedelta(days=365)
    assert ring.signer("certificate").kid == new.kid
    ring.set_verifiable_until(old.kid, later + timedelta(days=30))
    assert ring.get(old.kid).verifiable_until == later + timedelta(days=30)
    assert ring.retire(old.kid, now=later + timedelta(days=1)).retired_at == later  # idempotent


def test_purposes_are_separate(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    a = ring.generate("certificate", now=NOW)
    b = ring.generate("status-list", now=NOW)
    assert ring.active("certificate").kid == a.kid
    assert ring.active("status-list").kid == b.kid
    with pytest.raises(KeyringError):
        ring.active("trust-list")
    with pytest.raises(KeyringError):
        ring.generate("payments", now=NOW)
    with pytest.raises(KeyringError):
        ring.generate("certificate", "RS256", now=NOW)


def test_wrong_passphrase_refused(tmp_path: Path) -> None:
    _ring(tmp_path).generate("certificate", now=NOW)
    with pytest.raises(KeyringError):
        _ring(tmp_path, b"wrong").signer("certificate")


def test_key_must_match_recorded_public_key(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    a = ring.generate("certificate", now=NOW)
    b = ring.generate("status-list", now=NOW)
    # swap in another key's PEM: load must notice
    (tmp_path / f"{a.kid.hex()}.key.pem").write_bytes(
        (tmp_path / f"{b.kid.hex()}.key.pem").read_bytes()
    )
    with pytest.raises(KeyringError):
        ring.signer("certificate")


def test_tampered_metadata_refused(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    a = ring.generate("certificate", "ES256", now=NOW)
    meta = tmp_path / f"{a.kid.hex()}.json"
    d = json.loads(meta.read_text())
    d["alg"] = "EdDSA"
    meta.write_text(json.dumps(d))
    with pytest.raises(KeyringError):
        ring.signer("certificate")


def test_passphrase_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from registry.settings import reset_settings_cache

    monkeypatch.setenv("GUARDREG_KEY_PASSPHRASE", "x" * 40)
    reset_settings_cache()
    try:
        ring = Keyring(tmp_path)
        ring.generate("trust-list", now=NOW)
        assert ring.signer("trust-list").alg == "ES256"
        with pytest.raises(KeyringError):
            _ring(tmp_path, b"y" * 40).signer("trust-list")
    finally:
        reset_settings_cache()
