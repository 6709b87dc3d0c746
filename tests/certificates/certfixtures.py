"""Shared helpers of the certificate tests (a uniquely named module, so that it never
clashes with another package's conftest)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from certificates.cwt import GuardClaims, StatusRef  # noqa: E402
from certificates.signing import Keyring  # noqa: E402
from certificates.statuslist import StatusList, sign_status_list  # noqa: E402
from certificates.trustlist import (  # noqa: E402
    TrustList,
    build_trust_list,
    sign_trust_list,
    verify_trust_list,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
URI = "https://gr.example.cn/sl/0"
PASSPHRASE = b"test-only-passphrase-not-a-secret"


def make_claims(**overrides: Any) -> GuardClaims:
    values: dict[str, Any] = {
        "issuer": "guardreg-test",
        "issued_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=364),
        "certificate_number": "120120260000123X",
        "guard_name": "张伟明",
        "skill_level": 3,
        "status": StatusRef(URI, 4242),
        "employer_id": 7301,
        "employer_name": "天津市保安服务总公司河西分公司",
    }
    values.update(overrides)
    return GuardClaims(**values)


@dataclass
class Pki:
    ring: Keyring
    trust_token: bytes
    trust: TrustList
    anchor: bytes
    status_list: StatusList
    status_token: bytes

    def republish(self, *, now: datetime = NOW) -> None:
        self.status_token = sign_status_list(
            self.status_list, uri=URI, signer=self.ring.signer("status-list"), now=now,
            validity=timedelta(days=1), ttl=timedelta(minutes=5),
        )

    def retrust(self, *, now: datetime = NOW, validity: timedelta = timedelta(days=7)) -> None:
        tl = build_trust_list(self.ring.list_keys(), issuer="guardreg-test", now=now,
                              validity=validity)
        self.trust_token = sign_trust_list(tl, self.ring.signer("trust-list"))
        self.trust = verify_trust_list(self.trust_token, anchors=[self.anchor], now=now)


def make_pki(directory: Path, alg: str = "ES256") -> Pki:
    ring = Keyring(directory, passphrase=PASSPHRASE, certificate_validity=timedelta(days=365))
    start = NOW - timedelta(days=30)
    ring.generate("certificate", alg, now=start)
    ring.generate("status-list", "ES256", now=start)
    anchor = ring.generate("trust-list", "ES256", now=start).spki
    pki = Pki(ring, b"", None, anchor, StatusList(1 << 16), b"")  # type: ignore[arg-type]
    pki.retrust()
    pki.republish()
    return pki
