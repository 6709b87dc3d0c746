"""The check log of online verifications, written in batches off the request path.

A verification is a read: the answer an officer gets depends only on committed state.
Writing its log row inside the request cost a transaction (BEGIN, INSERT, COMMIT) per
check, about a third of the database's work per verification. Rows are queued here and a
background thread inserts them in one statement per batch, at most ``max_delay_s``
after they were queued.

What this trades away, on purpose: a worker that crashes loses the rows queued in the
last ``max_delay_s`` (the previous design, with an asynchronous commit, already accepted
losing the last few rows in a database crash). While the database is down the rows stay
queued and are retried; beyond ``max_pending`` the oldest are dropped and counted in
:attr:`VerificationLog.dropped` (logged as an error). Readers of the log call
:meth:`flush` first, so they see every verification answered before they asked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from certificates import repository as cert_repo
from registry.db import Database, relax_commit
from registry.errors import Unavailable

log = logging.getLogger(__name__)

Row = tuple[Any, ...]


class VerificationLog:
    def __init__(self, db: Database, *, max_delay_s: float = 0.2, max_batch: int = 1000,
                 max_pending: int = 100_000) -> None:
        self.db = db
        self.max_delay_s = max_delay_s
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.dropped = 0
        self._rows: list[Row] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def add(self, *, at: Any, principal_id: int | None, number: str | None, verdict: str,
            location: str | None, channel: str) -> None:
        with self._lock:
            self._rows.append((at, principal_id, number, verdict, location, channel))
            pending = len(self._rows)
            if self._thread is None and not self._stop:
                self._thread = threading.Thread(target=self._run, name="verification-log",
                                                daemon=True)
                self._thread.start()
        if pending >= self.max_batch:
            self._wake.set()

    def pending(self) -> int:
        with self._lock:
            return len(self._rows)

    def flush(self) -> int:
        """Write every queued row now; returns how many were written. Raises
        :class:`Unavailable` when the database is down (the rows stay queued)."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                self._write(rows)
            except Unavailable:
                self._requeue(rows)
                raise
            except Exception:
                # Not the database being away: retrying would fail the same way forever.
                with self._lock:
                    self.dropped += len(rows)
                log.exception("verification log: dropped a batch of %d rows", len(rows))
                raise
            return len(rows)

    def _write(self, rows: Sequence[Row]) -> None:
        with self.db.transaction() as cur:
            relax_commit(cur)
            cert_repo.log_verifications(cur, rows)

    def _requeue(self, rows: list[Row]) -> None:
        with self._lock:
            self._rows = rows + self._rows
            excess = len(self._rows) - self.max_pending
            if excess > 0:
                del self._rows[:excess]
                self.dropped += excess
        if excess > 0:
            log.error("verification log: database unavailable, dropped %d oldest rows", excess)

    def _run(self) -> None:
        backoff = self.max_delay_s
        while True:
            self._wake.wait(backoff)
            self._wake.clear()
            if self._stop:
                return
            try:
                self.flush()
                backoff = self.max_delay_s
            except Unavailable:
                backoff = min(5.0, backoff * 2)
                log.warning("verification log: database unavailable, %d rows queued",
                            self.pending())
            except Exception:  # never let the writer thread die silently
                log.exception("verification log: write failed, %d rows queued", self.pending())
                backoff = min(5.0, backoff * 2)

    def close(self) -> None:
        """Stop the thread and write what is queued (best effort)."""
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.flush()
        except Exception:
            log.error("verification log: %d rows not written at shutdown", self.pending())
