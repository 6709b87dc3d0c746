"""Offline cache for ``guardreg sync`` / ``guardreg verify --offline``.

Directory layout::

    <dir>/trust-list.cose            the signed trust list token (bytes as fetched)
    <dir>/status/<sha256(uri)[:16]>.cose   one signed status list token per list
    <dir>/index.json                 {"trust_list": {"fetched_at": iso},
                                      "status_lists": {uri: {"file": name,
                                                             "fetched_at": iso}}}

Tokens are stored exactly as fetched and verified again at every load (the cache is
not trusted). All writes are atomic. Fetching over HTTP is the caller's job: these
functions take and return bytes.

Example::

    cache = OfflineCache(Path("~/.guardreg").expanduser())
    cache.save_trust_list(token, fetched_at=now)
    cache.save_status_list(uri, token, fetched_at=now)
    trust, status = cache.load_verifier_inputs(anchors=[anchor_spki], now=now)
    verify(text, now=now, trust=trust, status=status, policy=policy)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from certificates.errors import Reason, VerificationError
from certificates.fileio import atomic_write
from certificates.trustlist import TrustList, verify_trust_list
from certificates.verification import CachedStatusProvider

TRUST_FILE = "trust-list.cose"
INDEX_FILE = "index.json"


@dataclass(frozen=True)
class CachedToken:
    token: bytes
    fetched_at: datetime


class OfflineCache:
    """Trust list and status list tokens on disk, with their fetch times."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _index(self) -> dict[str, Any]:
        p = self.directory / INDEX_FILE
        if not p.exists():
            return {"trust_list": None, "status_lists": {}}
        data: dict[str, Any] = json.loads(p.read_text())
        data.setdefault("status_lists", {})
        return data

    def _write_index(self, index: dict[str, Any]) -> None:
        atomic_write(self.directory / INDEX_FILE, json.dumps(index, indent=2).encode())

    @staticmethod
    def _status_file(uri: str) -> str:
        return "status/" + hashlib.sha256(uri.encode()).hexdigest()[:16] + ".cose"

    def save_trust_list(self, token: bytes, *, fetched_at: datetime) -> None:
        atomic_write(self.directory / TRUST_FILE, token)
        index = self._index()
        index["trust_list"] = {"fetched_at": fetched_at.isoformat()}
        self._write_index(index)

    def save_status_list(self, uri: str, token: bytes, *, fetched_at: datetime) -> None:
        name = self._status_file(uri)
        atomic_write(self.directory / name, token)
        index = self._index()
        index["status_lists"][uri] = {"file": name, "fetched_at": fetched_at.isoformat()}
        self._write_index(index)

    def trust_list(self) -> CachedToken | None:
        entry = self._index().get("trust_list")
        p = self.directory / TRUST_FILE
        if not entry or not p.exists():
            return None
        return CachedToken(p.read_bytes(), datetime.fromisoformat(entry["fetched_at"]))

    def status_lists(self) -> dict[str, CachedToken]:
        out = {}
        for uri, entry in self._index()["status_lists"].items():
            p = self.directory / entry["file"]
            if p.exists():
                out[uri] = CachedToken(p.read_bytes(), datetime.fromisoformat(entry["fetched_at"]))
        return out

    def load_verifier_inputs(
        self,
        *,
        anchors: Sequence[bytes],
        now: datetime,
        max_trust_list_age: timedelta | None = None,
        skew: timedelta = timedelta(minutes=5),
    ) -> tuple[TrustList, CachedStatusProvider]:
        """Verified trust list and a status provider over the cached tokens.
        Raises ``VerificationError`` (``stale-trust-list`` when nothing is cached)."""
        cached = self.trust_list()
        if cached is None:
            raise VerificationError(Reason.STALE_TRUST_LIST, "no cached trust list; run sync")
        trust = verify_trust_list(
            cached.token, anchors=anchors, now=now, max_age=max_trust_list_age
        )
        tokens = {uri: c.token for uri, c in self.status_lists().items()}
        return trust, CachedStatusProvider(tokens, trust=trust, skew=skew)
