"""Key files sealed with scrypt + AES-GCM, and the migration of the old PBKDF2 files."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from certificates.errors import KeyringError
from certificates.keys import spki_der
from certificates.signing import keyfile
from certificates.signing.keyring import Keyring
from registry.settings import reset_settings_cache

PASS = b"a passphrase for the key files of this test"


def _old_format(ring: Keyring, kid: bytes, passphrase: bytes = PASS) -> Path:
    """Rewrite a key file the way the first keyrings did (PBKDF2, 2,048 iterations)."""
    path = ring.directory / f"{kid.hex()}.key.pem"
    key, _ = keyfile.open_key(path.read_bytes(), passphrase)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(passphrase)))
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    return path


def test_new_key_files_are_sealed_with_scrypt(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, passphrase=PASS)
    rec = ring.generate("certificate")
    data = (tmp_path / f"{rec.kid.hex()}.key.pem").read_bytes()
    assert data.startswith(keyfile.BEGIN) and b"ENCRYPTED PRIVATE KEY" not in data
    raw = base64.b64decode(b"".join(data.strip()[len(keyfile.BEGIN):-len(keyfile.END)].split()))
    assert raw[:4] == b"GRK1" and raw[4] == keyfile.LOG2_N == 17
    assert ring.signer("certificate").kid == rec.kid


def test_a_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    rec = Keyring(tmp_path, passphrase=PASS).generate("certificate")
    with pytest.raises(KeyringError, match="cannot decrypt"):
        Keyring(tmp_path, passphrase=b"another passphrase").load_signer(rec.kid)


def test_a_header_with_a_lowered_cost_does_not_open(tmp_path: Path) -> None:
    rec = Keyring(tmp_path, passphrase=PASS).generate("certificate")
    path = tmp_path / f"{rec.kid.hex()}.key.pem"
    data = path.read_bytes().strip()
    raw = bytearray(base64.b64decode(b"".join(data[len(keyfile.BEGIN):-len(keyfile.END)]
                                              .split())))
    raw[4] = 14  # an attacker "re-costs" the file to guess faster: the tag fails
    path.write_bytes(keyfile.BEGIN + b"\n" + base64.encodebytes(bytes(raw)) + keyfile.END)
    with pytest.raises(KeyringError):
        Keyring(tmp_path, passphrase=PASS).load_signer(rec.kid)


def test_an_old_file_is_read_and_rewritten_sealed_on_load(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, passphrase=PASS)
    rec = ring.generate("certificate")
    path = _old_format(ring, rec.kid)
    signer = ring.load_signer(rec.kid)
    assert signer.kid == rec.kid
    assert keyfile.is_sealed(path.read_bytes())
    key, legacy = keyfile.open_key(path.read_bytes(), PASS)
    assert not legacy and spki_der(key.public_key()) == rec.spki  # the same key


def test_an_old_file_with_a_wrong_passphrase_is_left_alone(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, passphrase=PASS)
    rec = ring.generate("certificate")
    before = _old_format(ring, rec.kid).read_bytes()
    with pytest.raises(KeyringError):
        Keyring(tmp_path, passphrase=b"wrong").load_signer(rec.kid)
    assert (tmp_path / f"{rec.kid.hex()}.key.pem").read_bytes() == before


def test_migrate_rewrites_every_old_file_once(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, passphrase=PASS)
    recs = [ring.generate(p) for p in ("certificate", "status-list", "trust-list")]
    for rec in recs[:2]:
        _old_format(ring, rec.kid)
    assert sorted(ring.migrate_key_files()) == sorted(r.kid for r in recs[:2])
    assert ring.migrate_key_files() == []
    for rec in recs:
        assert ring.load_signer(rec.kid).kid == rec.kid


def test_the_cli_migrates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import main

    secret = "Zq8-vN3kW1rT6yHb0pLs4Xc9Ue2Gm7Jd5Af"
    monkeypatch.setenv("GUARDREG_MODE", "test")
    monkeypatch.setenv("GUARDREG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GUARDREG_KEY_PASSPHRASE", secret)
    reset_settings_cache()
    try:
        ring = Keyring(tmp_path / "keys", passphrase=secret.encode())
        rec = ring.generate("certificate")
        _old_format(ring, rec.kid, secret.encode())
        out = CliRunner().invoke(main, ["keys", "migrate"])
        assert out.exit_code == 0, out.output
        assert f"{rec.kid.hex()}  rewritten" in out.output and "1 key file(s)" in out.output
        assert keyfile.is_sealed((tmp_path / "keys" / f"{rec.kid.hex()}.key.pem").read_bytes())
    finally:
        reset_settings_cache()
