"""Authenticated API keys cached per worker, invalidated across workers by PostgreSQL.

A verification must not pay a database round trip to authenticate its key, so each
worker caches key -> principal. A revoked key must stop working everywhere at once,
not after a TTL: a trigger (registry migration 0008) announces every change to a
principal with ``NOTIFY guardreg_principal, '<id>'`` at commit, and each cache keeps one
connection that LISTENs and drops that principal's keys when the announcement arrives.

Safety rules:

- the cache answers only while its listening connection is up; when it drops, the
  cache is flushed and every request goes to the database until it is back;
- a lookup that raced with an invalidation is not cached (a generation counter taken
  before the database read must still be current when the result is stored);
- a TTL (default 60 s) bounds an entry's life even so.

The connection belongs to the :class:`~api.runtime.Runtime`, and so does this cache.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from registry import principal_repository, repository
from registry.auth import Principal
from registry.db import Cursor

log = logging.getLogger("guardreg.auth")


class PrincipalCache:
    def __init__(self, dsn: str, *, ttl_s: float = 60.0, max_entries: int = 10_000,
                 health_check_s: float = 5.0, reconnect_s: float = 1.0) -> None:
        self.dsn = dsn
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.health_check_s = health_check_s
        self.reconnect_s = reconnect_s
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.generation = 0  # bumped by every invalidation
        self.listening = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg2.extensions.connection | None = None
        # Other caches kept in step by the same listener: channel -> callbacks, each
        # called on a notification of its channel and whenever listening starts or stops.
        self._watchers: dict[str, list[Callable[[], None]]] = {}

    def watch(self, channel: str, flush: Callable[[], None]) -> None:
        """Call ``flush`` on every notification of ``channel`` and whenever the listener
        connects or drops (what a cache held may have missed a notification). Watch
        before the listener starts (the first :meth:`get`)."""
        with self._lock:
            self._watchers.setdefault(channel, []).append(flush)

    def _flush_watchers(self, channel: str | None = None) -> None:
        for name, callbacks in list(self._watchers.items()):
            if channel is None or name == channel:
                for flush in list(callbacks):
                    flush()

    # -- the request path ----------------------------------------------------------
    def get(self, key: str) -> Principal | None:
        self._ensure_started()
        with self._lock:
            if not self.listening:
                return None
            hit = self._entries.get(key)
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[0]

    def token(self) -> int:
        """Take before reading the database; hand to :meth:`put`."""
        with self._lock:
            return self.generation

    def put(self, key: str, principal: Principal, token: int) -> None:
        with self._lock:
            if not self.listening or token != self.generation:
                return  # an invalidation may have happened while we read: do not cache
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (principal, time.monotonic() + self.ttl_s)

    def invalidate(self, principal_id: int | None = None) -> None:
        """Drop the keys of ``principal_id`` (every key when None)."""
        with self._changed:
            if principal_id is None:
                self._entries.clear()
            else:
                for key in [k for k, (p, _) in self._entries.items() if p.id == principal_id]:
                    del self._entries[key]
            self.generation += 1
            self._changed.notify_all()

    def wait_for_invalidation(self, after: int, timeout: float) -> bool:
        """Block until the generation passes ``after`` (for tests and tools)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.generation > after, timeout)

    def wait_listening(self, timeout: float) -> bool:
        self._ensure_started()
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.listening:
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    return self.listening
            return True

    # -- the listener ----------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="guardreg-principal-listener")
                self._thread.start()

    def _set_listening(self, value: bool) -> None:
        with self._changed:
            self.listening = value
            self._entries.clear()  # whatever was cached may have missed a notification
            self.generation += 1
            self._changed.notify_all()
        self._flush_watchers()

    def _run(self) -> None:
        delay = self.reconnect_s
        while not self._stop.is_set():
            was_listening = False
            try:
                self._listen()
            except Exception as exc:  # the connection dropped or could not be made
                was_listening = self.listening
                # Once per outage, not once per retry.
                (log.warning if was_listening or delay == self.reconnect_s else log.debug)(
                    "principal change listener down (%s); caching paused",
                    type(exc).__name__)
            finally:
                if self.listening:
                    self._set_listening(False)
                conn, self._conn = self._conn, None
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
            # Retry at once after a drop, then back off while the database stays away.
            delay = self.reconnect_s if was_listening else min(delay * 2, 30.0)
            self._stop.wait(self.reconnect_s if was_listening else delay)

    def _listen(self) -> None:
        conn = psycopg2.connect(self.dsn, connect_timeout=3, keepalives=1, keepalives_idle=5,
                                keepalives_interval=2, keepalives_count=2,
                                application_name="guardreg-listener")
        self._conn = conn
        conn.autocommit = True
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            repository.listen_principal_changes(cur)
            for channel in list(self._watchers):
                principal_repository.listen(cur, channel)
        self._set_listening(True)
        last_check = time.monotonic()
        while not self._stop.is_set():
            readable, _, _ = select.select([conn], [], [], min(1.0, self.health_check_s))
            if readable:
                conn.poll()
                while conn.notifies:
                    note = conn.notifies.pop(0)
                    if note.channel != principal_repository.PRINCIPAL_CHANNEL:
                        self._flush_watchers(note.channel)
                        continue
                    try:
                        self.invalidate(int(note.payload))
                    except ValueError:
                        self.invalidate(None)
            elif time.monotonic() - last_check >= self.health_check_s:
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor
                                 ) as cur:  # a silent drop shows up here
                    repository.ping(cur)
                last_check = time.monotonic()

    def close(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        if self._thread is not None:
            self._thread.join(5)


class PolicyCache:
    """The service-scope policy the checkpoint answers with (issue 19: state on the
    runtime, shared where correctness needs it). Cached only while the change listener
    is up; a new policy version (``NOTIFY guardreg_policy`` at commit, migration 0093)
    or a dropped listener empties it at once, so no process answers with an old policy
    after the new one is committed and announced, and there is no polling interval."""

    def __init__(self, listener: PrincipalCache) -> None:
        self._listener = listener
        self._lock = threading.Lock()
        self._flushed = threading.Condition(self._lock)
        self._generation = 0
        self._value: tuple[int, list[dict[str, Any]]] | None = None
        self.loads = 0  # reads of the database (for tests and tools)
        listener.watch(principal_repository.POLICY_CHANNEL, self.flush)

    def flush(self) -> None:
        with self._flushed:
            self._generation += 1
            self._value = None
            self._flushed.notify_all()

    @property
    def generation(self) -> int:
        with self._lock:
            return self._generation

    def wait_for_flush(self, after: int, timeout: float) -> bool:
        """Block until the cache has been emptied since generation ``after`` (tests)."""
        with self._flushed:
            return self._flushed.wait_for(lambda: self._generation > after, timeout)

    def get(self, cur: Cursor) -> list[dict[str, Any]]:
        self._listener._ensure_started()
        with self._lock:
            token = self._generation
            hit = self._value
        if hit is not None and hit[0] == token and self._listener.listening:
            return hit[1]
        rows = repository.current_policy(cur)
        self.loads += 1
        with self._lock:
            if self._listener.listening and token == self._generation:
                self._value = (token, rows)
        return rows
