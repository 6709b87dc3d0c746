"""File-based keyring: one encrypted PKCS#8 PEM + one metadata JSON per key.

Layout of the directory (default ``<settings.data_dir>/keys``)::

    <kid hex>.json      metadata: kid, purpose, alg, spki (base64 DER), state,
                        created_at, not_before, retired_at, verifiable_until
    <kid hex>.key.pem   PKCS#8 private key sealed with the passphrase: scrypt + AES-GCM
                        (certificates/signing/keyfile.py; mode 0600)
    <kid hex>.key.sm2   an SM2SM3 key's private scalar (JSON: scrypt + AES-256-GCM with
                        the passphrase, the kid as associated data; mode 0600)

The signing algorithm is a per-key attribute (``alg`` in the metadata): ES256, EdDSA
or SM2SM3 (``generate(purpose, alg)``, ``keys generate --alg``); every key of one
keyring may use another. ``load_signer`` returns a :class:`Signer`; with
``signer_factory`` (a hardware security module) the keyring keeps only the metadata
and the factory returns a Signer whose private key stays in the module (checked
against the recorded SPKI like a file key).

Purposes: ``certificate`` (guard certificates), ``status-list`` (status list tokens),
``trust-list`` (the trust list; its public key is the verifiers' pinned anchor),
``log`` (the audit transparency log's checkpoints; witnesses pin its public key),
``statement`` (signed credit statements answered to procurement queries, evidence).
At most one key per purpose is ``active``. ``rotate`` makes a new active key and
retires the old one; a retired key stays in the trust list, verifiable until
``verifiable_until`` = retired_at + certificate validity (for certificate keys; the
status-list ttl-based value is the caller's to set with ``set_verifiable_until``).

All writes are atomic (temp file in the same directory, fsync, ``os.replace``).
Private keys are loaded only here and checked against the recorded SPKI and kid.

Example::

    ring = Keyring(Path("var/keys"), passphrase=b"...")
    rec = ring.generate("certificate", "ES256", now=now)
    signer = ring.signer("certificate")
    new = ring.rotate("certificate", now=later)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from certificates.errors import KeyringError
from certificates.fileio import atomic_write
from certificates.keys import SIGNING_ALGS, kid_from_spki, spki_der
from certificates.signing import keyfile
from certificates.signing.signer import (
    PrivateKey,
    Signer,
    Sm2SoftwareSigner,
    SoftwareSigner,
    generate_sm2_scalar,
    sm2_public_key,
)

Purpose = Literal["certificate", "status-list", "trust-list", "log", "statement"]
PURPOSES: tuple[str, ...] = ("certificate", "status-list", "trust-list", "log", "statement")
State = Literal["active", "retired", "next"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class KeyRecord:
    """Public metadata of one key (never the private part)."""

    kid: bytes
    purpose: str
    alg: str
    spki: bytes
    state: str
    created_at: datetime
    not_before: datetime
    retired_at: datetime | None = None
    verifiable_until: datetime | None = None
    # Key compromise (see mark_compromised): from when the key may have leaked, and when
    # that was declared. A compromised key is refused by verifiers whatever the dates.
    compromised_since: datetime | None = None
    compromised_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["kid"] = self.kid.hex()
        d["spki"] = base64.b64encode(self.spki).decode()
        for k in ("created_at", "not_before", "retired_at", "verifiable_until",
                  "compromised_since", "compromised_at"):
            d[k] = _iso(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> KeyRecord:
        created = _parse(d["created_at"])
        not_before = _parse(d["not_before"])
        assert created is not None
        assert not_before is not None
        return cls(
            kid=bytes.fromhex(d["kid"]),
            purpose=d["purpose"],
            alg=d["alg"],
            spki=base64.b64decode(d["spki"]),
            state=d["state"],
            created_at=created,
            not_before=not_before,
            retired_at=_parse(d.get("retired_at")),
            verifiable_until=_parse(d.get("verifiable_until")),
            compromised_since=_parse(d.get("compromised_since")),
            compromised_at=_parse(d.get("compromised_at")),
        )


class Keyring:
    """Keys for certificates, status lists and the trust list, in one directory.

    ``passphrase``: bytes, or a callable returning bytes; default
    ``registry.settings.get_settings().key_passphrase``. ``certificate_validity``:
    how long a retired certificate key stays verifiable (default from settings).
    """

    def __init__(
        self,
        directory: Path,
        *,
        passphrase: bytes | Callable[[], bytes] | None = None,
        certificate_validity: timedelta | None = None,
        clock: Callable[[], datetime] = _utcnow,
        signer_factory: Callable[[KeyRecord], Signer] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._signer_factory = signer_factory
        self._passphrase = passphrase
        self._validity = certificate_validity
        self._clock = clock

    # -- settings-backed defaults -------------------------------------------------
    def _get_passphrase(self) -> bytes:
        p = self._passphrase
        if p is None:
            from registry.settings import get_settings

            return get_settings().key_passphrase.get_secret_value().encode()
        return p() if callable(p) else p

    def _certificate_validity(self) -> timedelta:
        if self._validity is not None:
            return self._validity
        from registry.settings import get_settings

        return timedelta(days=get_settings().certificate_validity_days)

    # -- reading ------------------------------------------------------------------
    def _meta_path(self, kid: bytes) -> Path:
        return self.directory / f"{kid.hex()}.json"

    def _key_path(self, kid: bytes) -> Path:
        return self.directory / f"{kid.hex()}.key.pem"

    def _sm2_path(self, kid: bytes) -> Path:
        return self.directory / f"{kid.hex()}.key.sm2"

    def _seal_scalar(self, kid: bytes, scalar: int) -> bytes:
        import os

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        salt, nonce = os.urandom(16), os.urandom(12)
        key = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(self._get_passphrase())
        ct = AESGCM(key).encrypt(nonce, scalar.to_bytes(32, "big"), kid)
        b64 = base64.b64encode
        return json.dumps({"v": 1, "alg": "SM2SM3", "kdf": "scrypt", "n": 2**15, "r": 8,
                           "p": 1, "salt": b64(salt).decode(), "nonce": b64(nonce).decode(),
                           "ct": b64(ct).decode()}).encode()

    def _open_scalar(self, kid: bytes) -> int:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        try:
            d = json.loads(self._sm2_path(kid).read_text())
        except FileNotFoundError:
            raise KeyringError(f"private key of {kid.hex()} missing") from None
        except ValueError:
            raise KeyringError(f"unreadable private key {kid.hex()}") from None
        try:
            key = Scrypt(salt=base64.b64decode(d["salt"]), length=32, n=int(d["n"]),
                         r=int(d["r"]), p=int(d["p"])).derive(self._get_passphrase())
            raw = AESGCM(key).decrypt(base64.b64decode(d["nonce"]),
                                      base64.b64decode(d["ct"]), kid)
        except (InvalidTag, KeyError, ValueError, TypeError):
            raise KeyringError(f"cannot decrypt private key {kid.hex()}") from None
        return int.from_bytes(raw, "big")

    def list_keys(self, purpose: str | None = None) -> list[KeyRecord]:
        """All key records (active and retired), oldest first."""
        if not self.directory.is_dir():
            return []
        out = []
        for p in sorted(self.directory.glob("*.json")):
            try:
                rec = KeyRecord.from_json(json.loads(p.read_text()))
            except (ValueError, KeyError, TypeError) as exc:
                raise KeyringError(f"unreadable key metadata {p.name}") from exc
            if purpose is None or rec.purpose == purpose:
                out.append(rec)
        return sorted(out, key=lambda r: (r.created_at, r.kid))

    def get(self, kid: bytes) -> KeyRecord:
        p = self._meta_path(kid)
        if not p.exists():
            raise KeyringError(f"no key {kid.hex()}")
        return KeyRecord.from_json(json.loads(p.read_text()))

    def active(self, purpose: str) -> KeyRecord:
        act = [r for r in self.list_keys(purpose) if r.state == "active"]
        if not act:
            raise KeyringError(f"no active {purpose} key")
        return act[-1]

    # -- writing ------------------------------------------------------------------
    def _save(self, rec: KeyRecord) -> None:
        data = json.dumps(rec.to_json(), indent=2, sort_keys=True).encode()
        atomic_write(self._meta_path(rec.kid), data)

    def generate(
        self, purpose: str, alg: str = "ES256", *, now: datetime | None = None,
        successor: bool = False,
    ) -> KeyRecord:
        """Create a key; it becomes the active key of ``purpose`` (the previous active
        one, if any, is retired as by :meth:`rotate`). ``successor=True`` (trust-list
        keys): create the pre-announced next key instead (state ``next``); nothing is
        retired and the trust list publishes only its hash."""
        if purpose not in PURPOSES:
            raise KeyringError(f"unknown purpose {purpose!r}")
        if alg not in SIGNING_ALGS:
            raise KeyringError(f"unsupported signing algorithm {alg!r}")
        now = now or self._clock()
        previous = [] if successor else [r for r in self.list_keys(purpose)
                                         if r.state == "active"]
        if alg == "SM2SM3":
            scalar = generate_sm2_scalar()
            spki = sm2_public_key(scalar).spki()
            kid = kid_from_spki(spki)
            atomic_write(self._sm2_path(kid), self._seal_scalar(kid, scalar), mode=0o600)
        else:
            key: PrivateKey = (
                ec.generate_private_key(ec.SECP256R1())
                if alg == "ES256"
                else ed25519.Ed25519PrivateKey.generate()
            )
            spki = spki_der(key.public_key())
            kid = kid_from_spki(spki)
            atomic_write(self._key_path(kid), keyfile.seal_key(key, self._get_passphrase()),
                         mode=0o600)
        rec = KeyRecord(
            kid=kid, purpose=purpose, alg=alg, spki=spki,
            state="next" if successor else "active", created_at=now, not_before=now,
        )
        self._save(rec)
        for old in previous:
            self.retire(old.kid, now=now)
        return rec

    def rotate(
        self, purpose: str, alg: str | None = None, *, now: datetime | None = None
    ) -> KeyRecord:
        """New active key for ``purpose`` (same algorithm unless given); the old active
        key is retired and stays verifiable until its certificates expire. For the
        trust-list key the pre-announced successor is promoted (verifiers pinned to the
        old key roll forward to it) and a new successor is announced."""
        if purpose == "trust-list" and self.successor(purpose) is not None:
            return self.promote_successor(purpose, now=now)
        if alg is None:
            try:
                alg = self.active(purpose).alg
            except KeyringError:
                alg = "ES256"
        return self.generate(purpose, alg, now=now)

    def retire(
        self, kid: bytes, *, now: datetime | None = None, verifiable_until: datetime | None = None
    ) -> KeyRecord:
        """Stop signing with ``kid``. It stays verifiable until ``verifiable_until``
        (default retired_at + certificate validity). Idempotent."""
        rec = self.get(kid)
        if rec.state == "retired":
            return rec
        now = now or self._clock()
        rec = replace(
            rec, state="retired", retired_at=now,
            verifiable_until=verifiable_until or now + self._certificate_validity(),
        )
        self._save(rec)
        return rec

    def successor(self, purpose: str) -> KeyRecord | None:
        """The pre-announced next key of ``purpose`` (trust-list), if any."""
        nxt = [r for r in self.list_keys(purpose) if r.state == "next"]
        return nxt[-1] if nxt else None

    def ensure_successor(self, purpose: str = "trust-list", *,
                         now: datetime | None = None) -> KeyRecord:
        """The next key of ``purpose``, generated (same alg as the active one) if none."""
        found = self.successor(purpose)
        if found is not None:
            return found
        try:
            alg = self.active(purpose).alg
        except KeyringError:
            alg = "ES256"
        return self.generate(purpose, alg, now=now, successor=True)

    def promote_successor(self, purpose: str = "trust-list", *,
                          now: datetime | None = None) -> KeyRecord:
        """Make the pre-announced next key active (retiring the active one) and announce
        a new successor. Raises ``KeyringError`` when no successor was announced."""
        nxt = self.successor(purpose)
        if nxt is None:
            raise KeyringError(f"no pre-announced {purpose} key to roll forward to")
        now = now or self._clock()
        for old in [r for r in self.list_keys(purpose) if r.state == "active"]:
            self.retire(old.kid, now=now)
        rec = replace(nxt, state="active", not_before=now)
        self._save(rec)
        self.ensure_successor(purpose, now=now)
        return rec

    def mark_compromised(self, kid: bytes, *, since: datetime,
                         now: datetime | None = None) -> KeyRecord:
        """Declare ``kid`` compromised from ``since`` on: it stops signing at once (it is
        retired if it was active) and stays in the trust list flagged compromised, so
        that verifiers refuse everything under it whatever its dates. Idempotent (the
        earliest ``since`` wins)."""
        rec = self.get(kid)
        now = now or self._clock()
        if rec.state in ("next", "active"):
            # A stolen successor (state next) is listed too, flagged, so that verifiers
            # holding its announced hash drop it; it can no longer be promoted.
            rec = replace(rec, state="retired", retired_at=now,
                          verifiable_until=now + self._certificate_validity())
        earliest = since if rec.compromised_since is None else min(since,
                                                                    rec.compromised_since)
        rec = replace(rec, compromised_since=earliest, compromised_at=rec.compromised_at or now)
        self._save(rec)
        return rec

    def set_verifiable_until(self, kid: bytes, when: datetime) -> KeyRecord:
        """Caller-provided end of verifiability (e.g. the last certificate's expiry)."""
        rec = replace(self.get(kid), verifiable_until=when)
        self._save(rec)
        return rec

    # -- signing ------------------------------------------------------------------
    def load_signer(self, kid: bytes) -> Signer:
        """The signer of ``kid`` (decrypted from the keyring, or from ``signer_factory``),
        checked against its metadata (SPKI, kid, algorithm)."""
        rec = self.get(kid)
        if self._signer_factory is not None:
            signer = self._signer_factory(rec)
            if (signer.public_key_spki() != rec.spki or signer.kid != rec.kid
                    or signer.alg != rec.alg):
                raise KeyringError(f"signer of {kid.hex()} does not match its recorded key")
            return signer
        if rec.alg == "SM2SM3":
            try:
                sm2_signer = Sm2SoftwareSigner(self._open_scalar(kid), kid=rec.kid,
                                               purpose=rec.purpose)
            except ValueError:
                raise KeyringError(f"private key {kid.hex()} is not an SM2 key") from None
            if sm2_signer.public_key_spki() != rec.spki or kid_from_spki(rec.spki) != rec.kid:
                raise KeyringError(
                    f"private key {kid.hex()} does not match its recorded public key")
            return sm2_signer
        key = self._open_key_file(kid)
        spki = spki_der(key.public_key())
        if spki != rec.spki or kid_from_spki(spki) != rec.kid:
            raise KeyringError(f"private key {kid.hex()} does not match its recorded public key")
        if rec.alg == "ES256" and not (
            isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
        ):
            raise KeyringError("ES256 key is not on P-256")
        if rec.alg == "EdDSA" and not isinstance(key, ed25519.Ed25519PrivateKey):
            raise KeyringError("EdDSA key is not Ed25519")
        return SoftwareSigner(key, kid=rec.kid, alg=rec.alg, purpose=rec.purpose)

    def signer(self, purpose: str) -> Signer:
        """Signer for the active key of ``purpose``."""
        return self.load_signer(self.active(purpose).kid)

    # -- key files (certificates/signing/keyfile.py) -----------------------------------
    def _open_key_file(self, kid: bytes) -> PrivateKey:
        """The private key of ``kid``; a file in the old PBKDF2 format is rewritten
        sealed with scrypt once it has opened (and matched its recorded public key)."""
        path = self._key_path(kid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyringError(f"private key of {kid.hex()} missing") from None
        passphrase = self._get_passphrase()
        try:
            key, legacy = keyfile.open_key(data, passphrase)
        except KeyringError:
            raise KeyringError(f"cannot decrypt private key {kid.hex()}") from None
        if legacy and spki_der(key.public_key()) == self.get(kid).spki:
            atomic_write(path, keyfile.seal_key(key, passphrase), mode=0o600)
        return key

    def migrate_key_files(self) -> list[bytes]:
        """Rewrite every key file still in the old format; the kids rewritten."""
        done = []
        for rec in self.list_keys():
            path = self._key_path(rec.kid)
            if path.exists() and not keyfile.is_sealed(path.read_bytes()):
                self._open_key_file(rec.kid)
                done.append(rec.kid)
        return done


def default_keyring() -> Keyring:
    """Keyring in ``<settings.data_dir>/keys`` with the settings passphrase."""
    from registry.settings import get_settings

    return Keyring(get_settings().data_dir / "keys")


def generate(purpose: str, alg: str = "ES256") -> KeyRecord:
    return default_keyring().generate(purpose, alg)


def list_keys(purpose: str | None = None) -> list[KeyRecord]:
    return default_keyring().list_keys(purpose)


def rotate(purpose: str, alg: str | None = None) -> KeyRecord:
    return default_keyring().rotate(purpose, alg)


def retire(kid: bytes) -> KeyRecord:
    return default_keyring().retire(kid)
