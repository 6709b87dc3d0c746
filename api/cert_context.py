"""Certificate keys, configuration and the trust list, built from settings per process."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certificates.issuance import IssuanceConfig
from certificates.publication import StatusConfig
from certificates.signing.keyring import PURPOSES, Keyring
from certificates.signing.signer import Signer
from certificates.trustlist import TrustList, build_trust_list, sign_trust_list
from certificates.verification import VerificationPolicy
from registry.settings import Settings


class KeysMissing(RuntimeError):
    pass


@dataclass
class CertContext:
    settings: Settings
    keyring: Keyring
    issuance: IssuanceConfig
    policy: VerificationPolicy
    _trust: tuple[TrustList, bytes, float] | None = None
    _signers: dict[str, Signer] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._checked_at = -1e9
        self._mtime = 0.0

    def signer(self, purpose: str) -> Signer:
        with self._lock:
            if self._signers is None:
                self._signers = {}
            active = self.keyring.active(purpose)
            cached = self._signers.get(purpose)
            if cached is None or cached.kid != active.kid:
                cached = self.keyring.load_signer(active.kid)
                self._signers[purpose] = cached
            return cached

    def trust(self, now: dt.datetime) -> tuple[TrustList, bytes]:
        """The current trust list and its signed token, re-signed daily or on key change."""
        import time

        # Look at the key directory at most once a second, not on every verification.
        tick = time.monotonic()
        if tick - self._checked_at > 1.0:
            self._mtime = max((p.stat().st_mtime
                               for p in self.keyring.directory.glob("*.json")), default=0.0)
            self._checked_at = tick
        mtime = self._mtime
        with self._lock:
            cached = self._trust
        if cached is not None and cached[2] == mtime and now - cached[0].issued_at < dt.timedelta(
                days=1) and now < cached[0].expires_at:
            return cached[0], cached[1]
        records: list[Any] = list(self.keyring.list_keys())
        tl = build_trust_list(records, issuer=self.settings.issuer, now=now,
                              validity=dt.timedelta(seconds=self.settings.trust_list_validity_s))
        token = sign_trust_list(tl, self.signer("trust-list"))
        with self._lock:
            self._trust = (tl, token, mtime)
        return tl, token

    def forget(self) -> None:
        with self._lock:
            self._trust = None
            self._signers = None
            self._checked_at = -1e9


def make_context(settings: Settings) -> CertContext:
    keyring = Keyring(Path(settings.data_dir) / "keys",
                      certificate_validity=dt.timedelta(days=settings.certificate_validity_days))
    missing = [p for p in PURPOSES if not keyring.list_keys(p) or not _has_active(keyring, p)]
    if missing:
        if settings.mode == "production":
            raise KeysMissing("no active signing key for " + ", ".join(missing)
                              + "; run `guardreg keys generate --purpose ...`")
        for purpose in missing:
            keyring.generate(purpose, settings.signature_algorithm)
    if settings.mode != "production":
        # Pre-rotation: the trust list announces the hash of the next trust-list key.
        # (Production: `guardreg keys announce-successor`, see docs/OPERATIONS.md.)
        keyring.ensure_successor("trust-list")
    status = StatusConfig(
        base_uri=settings.base_url + "/v1/status-lists",
        validity=dt.timedelta(seconds=settings.status_list_max_age_s),
        ttl=dt.timedelta(seconds=settings.status_list_ttl_s))
    issuance = IssuanceConfig(issuer=settings.issuer, city_code=settings.city_code,
                              validity=dt.timedelta(days=settings.certificate_validity_days),
                              status=status)
    return CertContext(settings=settings, keyring=keyring, issuance=issuance,
                       # online: the server's own clock is the reference (no floor)
                       policy=VerificationPolicy.from_settings(settings, check_clock=False))


def _has_active(keyring: Keyring, purpose: str) -> bool:
    try:
        keyring.active(purpose)
    except Exception:
        return False
    return True
