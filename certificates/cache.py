"""Offline cache for ``guardreg sync`` / ``guardreg verify --offline``: rollback-proof.

Directory layout::

    <dir>/anchors.json               the pins: pinned trust-list key(s) and the digests
                                     of their announced successor(s) (``TrustPins``)
    <dir>/trust-list.cose            the signed trust list token (bytes as fetched)
    <dir>/status/<sha256(uri)[:16]>.cose   one signed status list token per list
    <dir>/index.json                 {"trust_list": {"fetched_at": iso, "iat": epoch},
                                      "status_lists": {uri: {"file": name,
                                                             "fetched_at": iso,
                                                             "iat": epoch}},
                                      "clock_floor": epoch}

Nothing enters the cache unverified: :meth:`OfflineCache.accept_trust_list` checks the
trust list against the pins (signature, role, expiry, roll-forward to an announced
successor key) and :meth:`OfflineCache.accept_status_list` checks a status list against
the cached trust list (signature by a ``status-list`` key that is not compromised,
expiry). Each keeps the newest ``iat`` seen per list (a high-water mark in the index)
and refuses an older one (``rollback``): a man in the middle replaying an old signed
list (say, from before a revocation) cannot turn the clock back. Two lists of the
same second cannot be ordered by ``iat``: the one fetched last wins (the window an
attacker could replay within is that one second). A refusal raises
``VerificationError`` and leaves every file as it was. Tokens are verified again at
every load (the cache directory is not trusted), and a status list past its own TTL
(``iat + ttl``) makes a "valid" answer ``stale-status-list``: the age an offline
verifier reports is the list's own ``iat``, never the time it was fetched.

The trusted clock: ``clock_floor`` is the newest ``iat`` of any list ever accepted
(never lowered, kept in the same index that refuses rollbacks). A verifier whose
clock is behind it (beyond the skew) or far ahead of it gets ``clock-wrong`` (see
``verification.check_clock``): :meth:`load_verifier_inputs` checks it first, and
callers pass :meth:`clock_floor` to ``verify``.

Example::

    cache = OfflineCache(Path("~/.guardreg").expanduser())
    cache.set_pins(TrustPins((anchor_spki,)))
    trust = cache.accept_trust_list(token, now=now)
    cache.accept_status_list(status_token, trust=trust, now=now)
    trust, status = cache.load_verifier_inputs(now=now)
    verify(text, now=now, trust=trust, status=status, policy=policy,
           clock_floor=cache.clock_floor())
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from certificates.cwt import from_epoch, to_epoch
from certificates.errors import Malformed, Reason, VerificationError
from certificates.fileio import atomic_write
from certificates.statuslist import StatusListToken, verify_status_list_token
from certificates.trustlist import TrustList, TrustPins, verify_trust_list_pinned
from certificates.verification import CachedStatusProvider, VerificationPolicy, check_clock

TRUST_FILE = "trust-list.cose"
INDEX_FILE = "index.json"
PINS_FILE = "anchors.json"


@dataclass(frozen=True)
class CachedToken:
    token: bytes
    fetched_at: datetime
    issued_at: int | None = None  # the list's own iat (epoch seconds)


class OfflineCache:
    """Trust list and status list tokens on disk, with their fetch times and the newest
    ``iat`` accepted for each."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    # -- index and pins -------------------------------------------------------------
    def _index(self) -> dict[str, Any]:
        p = self.directory / INDEX_FILE
        if not p.exists():
            return {"trust_list": None, "status_lists": {}}
        data: dict[str, Any] = json.loads(p.read_text())
        data.setdefault("status_lists", {})
        return data

    def _write_index(self, index: dict[str, Any]) -> None:
        atomic_write(self.directory / INDEX_FILE, json.dumps(index, indent=2).encode())

    def pins(self) -> TrustPins | None:
        p = self.directory / PINS_FILE
        if not p.exists():
            return None
        return TrustPins.from_json(json.loads(p.read_text()))

    def set_pins(self, pins: TrustPins) -> None:
        atomic_write(self.directory / PINS_FILE, json.dumps(pins.to_json(), indent=2).encode())

    def clock_floor(self) -> datetime | None:
        """The newest signed time (list ``iat``) this cache has accepted, or None."""
        index = self._index()
        values = [index.get("clock_floor"), (index.get("trust_list") or {}).get("iat"),
                  *(e.get("iat") for e in index["status_lists"].values())]
        held = [int(v) for v in values if v is not None]
        return from_epoch(max(held), "clock_floor") if held else None

    @staticmethod
    def _raise_floor(index: dict[str, Any], iat: int) -> None:
        index["clock_floor"] = max(int(index.get("clock_floor") or 0), iat)

    @staticmethod
    def _status_file(uri: str) -> str:
        return "status/" + hashlib.sha256(uri.encode()).hexdigest()[:16] + ".cose"

    # -- accepting data from the network --------------------------------------------
    def accept_trust_list(self, token: bytes, *, now: datetime,
                          pins: TrustPins | None = None) -> TrustList:
        """Verify ``token`` against the pins and store it if it is at least as new as
        the one held. Rolls the pins forward when the list is signed by the announced
        successor key. Raises ``VerificationError`` (``rollback`` for an older list);
        the cache is unchanged then."""
        pins = pins or self.pins()
        if pins is None or not pins.anchors:
            raise VerificationError(Reason.UNKNOWN_KEY, "no pinned trust anchor")
        trust, new_pins = verify_trust_list_pinned(token, pins=pins, now=now)
        index = self._index()
        held = (index.get("trust_list") or {}).get("iat")
        iat = to_epoch(trust.issued_at)
        if held is not None and iat < int(held):
            raise VerificationError(
                Reason.ROLLBACK, f"trust list issued at {iat} is older than the one held "
                f"({held}); cache unchanged")
        atomic_write(self.directory / TRUST_FILE, token)
        index["trust_list"] = {"fetched_at": now.isoformat(), "iat": iat}
        self._raise_floor(index, iat)
        self._write_index(index)
        if new_pins != pins:
            self.set_pins(new_pins)
        return trust

    def accept_status_list(self, token: bytes, *, trust: TrustList, now: datetime,
                           uri: str | None = None,
                           skew: timedelta = timedelta(minutes=5)) -> StatusListToken:
        """Verify a status list token with ``trust`` (signature and ``status-list``
        role, key not compromised, not expired) and store it unless an older one than
        held (``rollback``). ``uri``: the list the caller asked for."""
        tok = verify_status_list_token(token, trust=trust, now=now, skew=skew)
        if uri is not None and tok.uri != uri:
            raise VerificationError(Reason.MALFORMED, "status list for another URI",
                                    malformed=Malformed.CLAIMS)
        index = self._index()
        entry = index["status_lists"].get(tok.uri) or {}
        held = entry.get("iat")
        iat = to_epoch(tok.issued_at)
        if held is not None and iat < int(held):
            raise VerificationError(
                Reason.ROLLBACK, f"status list {tok.uri} issued at {iat} is older than the "
                f"one held ({held}); cache unchanged")
        name = self._status_file(tok.uri)
        atomic_write(self.directory / name, token)
        index["status_lists"][tok.uri] = {"file": name, "fetched_at": now.isoformat(),
                                          "iat": iat}
        self._raise_floor(index, iat)
        self._write_index(index)
        return tok

    # -- reading --------------------------------------------------------------------
    def trust_list(self) -> CachedToken | None:
        entry = self._index().get("trust_list")
        p = self.directory / TRUST_FILE
        if not entry or not p.exists():
            return None
        return CachedToken(p.read_bytes(), datetime.fromisoformat(entry["fetched_at"]),
                           entry.get("iat"))

    def status_lists(self) -> dict[str, CachedToken]:
        out = {}
        for uri, entry in self._index()["status_lists"].items():
            p = self.directory / entry["file"]
            if p.exists():
                out[uri] = CachedToken(p.read_bytes(),
                                       datetime.fromisoformat(entry["fetched_at"]),
                                       entry.get("iat"))
        return out

    def load_verifier_inputs(
        self,
        *,
        now: datetime,
        anchors: Sequence[bytes] | None = None,
        max_trust_list_age: timedelta | None = None,
        skew: timedelta = timedelta(minutes=5),
        max_clock_ahead: timedelta | None = timedelta(days=30),
    ) -> tuple[TrustList, CachedStatusProvider]:
        """Verified trust list and a status provider over the cached tokens (a status
        list past its TTL answers ``stale-status-list`` unless the entry is revoked or
        suspended). ``anchors``: override the pins (tests, first use). Raises
        ``VerificationError`` (``stale-trust-list`` when nothing is cached,
        ``clock-wrong`` when ``now`` is behind the clock floor or far ahead of it)."""
        floor = self.clock_floor()
        if floor is not None:
            check_clock(now, floor, VerificationPolicy(clock_skew=skew,
                                                       max_clock_ahead=max_clock_ahead))
        cached = self.trust_list()
        if cached is None:
            raise VerificationError(Reason.STALE_TRUST_LIST, "no cached trust list; run sync")
        pins = TrustPins(tuple(anchors)) if anchors else self.pins()
        if pins is None:
            raise VerificationError(Reason.UNKNOWN_KEY, "no pinned trust anchor")
        trust, _ = verify_trust_list_pinned(cached.token, pins=pins, now=now,
                                            max_age=max_trust_list_age)
        tokens = {uri: c.token for uri, c in self.status_lists().items()}
        return trust, CachedStatusProvider(tokens, trust=trust, skew=skew, enforce_ttl=True)

    def oldest_issued_at(self) -> int | None:
        """The oldest ``iat`` of the cached lists (for the age of the data used)."""
        values = [c.issued_at for c in (self.trust_list(), *self.status_lists().values())
                  if c is not None and c.issued_at is not None]
        return min(values) if values else None
