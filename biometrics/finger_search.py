"""Process-wide 1:N fingerprint search kept in step with ``biometrics_finger``.

Templates are sealed at rest; this cache holds their prepared (decrypted) form in
memory for matching, keyed by ``subject/position``. Each search first pulls the rows
changed since the last sync (``change_seq``), so every API process sees enrollments
made by the others. The scalable search itself is ``FingerprintIndex``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from biometrics import repository
from biometrics.fingerprint.index import FingerprintIndex
from biometrics.fingerprint.matcher import PreparedTemplate, prepare
from biometrics.sealing import Sealer
from registry.db import Cursor, Database


def finger_aad(subject: str, position: int) -> bytes:
    return f"finger-template:{subject}:{position}".encode()


def finger_key(subject: str, position: int) -> str:
    return f"{subject}/{position}"


class FingerSearch:
    def __init__(self) -> None:
        self._index = FingerprintIndex()
        self._seq = 0
        self._keys: set[str] = set()
        self._lock = threading.Lock()
        self._dsn_key: str | None = None

    def sync(self, cur: Cursor, sealer: Sealer) -> None:
        with self._lock:
            while True:
                rows = repository.fingers_changed_since(cur, self._seq)
                if not rows:
                    return
                for row in rows:
                    key = finger_key(row["subject"], int(row["position"]))
                    if key in self._keys:
                        self._index.remove(key)
                        self._keys.discard(key)
                    if row["status"] != "rejected":
                        record = sealer.open(bytes(row["template_sealed"]),
                                             aad=finger_aad(row["subject"], int(row["position"])))
                        self._index.add(key, prepare(record))
                        self._keys.add(key)
                    self._seq = max(self._seq, int(row["change_seq"]))

    def search(self, probe: PreparedTemplate, *, top_k: int = 10,
               candidates: list[str] | None = None) -> list[tuple[str, float]]:
        with self._lock:
            hits = self._index.search(probe, top_k=top_k, candidates=candidates,
                                      full_search=candidates is None)
            return [(str(key), float(score)) for key, score in hits]

    @property
    def size(self) -> int:
        return len(self._keys)


_searches: dict[str, FingerSearch] = {}
_lock = threading.Lock()


def search_for(cur: Cursor) -> FingerSearch:
    """The process's search for the database this cursor is on."""
    info: Any = cur.connection.info
    key = f"{info.host}|{info.port}|{info.dbname}"
    with _lock:
        found = _searches.get(key)
        if found is None:
            found = _searches[key] = FingerSearch()
        return found


# -- the 1:N interface enrollment uses (helper fpindex replaces this adapter with the
# search in PostgreSQL; same signatures) ----------------------------------------------
@dataclass(frozen=True)
class FingerHit:
    subject: str
    position: int
    score: float  # full matcher score


def search_fingers(cur: Cursor, probe: PreparedTemplate, *, sealer: Sealer,
                   exclude_subject: str | None = None, subjects: Sequence[str] | None = None,
                   limit: int = 10, shortlist: int | None = None,
                   db: Database | None = None) -> list[FingerHit]:
    """Best ``limit`` enrolled fingers for ``probe`` (all of them, or those of
    ``subjects``), best first; ``exclude_subject``'s own fingers are left out."""
    search = search_for(cur)
    search.sync(cur, sealer)
    keys = None if subjects is None else [finger_key(s, p) for s in subjects
                                          for p in range(0, 11)]
    hits = []
    for key, score in search.search(probe, top_k=limit + 10, candidates=keys):
        subject, position = key.rsplit("/", 1)
        if subject != exclude_subject:
            hits.append(FingerHit(subject, int(position), score))
    return hits[:limit]


def index_finger(cur: Cursor, *, subject: str, position: int,
                 prepared: PreparedTemplate) -> None:
    """Nothing to do here: the in-memory search picks new rows up by ``change_seq``."""
