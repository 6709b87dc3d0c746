"""Online verification from read replicas, never staler than a committed revocation.

``DATABASE_READ_URL`` names one or more streaming standbys. A notification arrives only
after a commit, so it cannot keep a replica from answering "valid" for a certificate
the primary has just revoked. What does:

1. **Status changes wait for the readers.** The transaction that changes a certificate's
   status commits with ``synchronous_commit = remote_apply`` and no statement timeout
   (``registry.db.fence_status_change``). The primary's ``synchronous_standby_names``
   lists every replica that may serve reads (``ANY n (...)`` with n = all of them), so
   the change becomes visible on the primary only once each of them has applied it.
2. **Reads need a lease.** A replica serves reads only while it holds a lease in the
   primary's ``registry_read_replica`` table (migration 0091). Each API process learns
   the leases from the primary every quarter lease and keeps its own, shorter, copy: the
   seconds left by the primary's clock, counted from *before* it asked (its monotonic
   clock), so its copy always ends first. A read whose lease ran out before it finished
   is done again on the primary, so a read that counts started inside a lease.
3. **A replica that stops applying loses its lease before it may be skipped.** The
   steward (:class:`ReplicaSteward`, one per cluster under an advisory lock on the
   primary) renews a lease only while the replica's replay has reached the position the
   primary's WAL had ``replica_max_lag_s`` ago. A replica that falls behind is
   ``draining``: no renewal, and it leaves ``synchronous_standby_names`` only once its
   lease has ended plus a margin of one more lease. Until then, a status change waits
   (blocked, not wrong); after, no process reads from it any more.
4. **Joining is the reverse.** A caught-up replica is first added to the synchronous
   set; once the primary reports it synchronous (and a grace period for every backend
   to reload the setting has passed), the steward notes the primary's WAL position and
   grants the lease only when the replica has replayed past it.

The one gap PostgreSQL leaves: a commit whose wait an administrator cancels (or whose
client disconnects) becomes visible locally without the standby. Our own timeouts
never cancel it (step 1); docs/DEPLOYMENT.md says what an operator must not do.

Enrollment searches and every other read stay on the primary: only callers of
:meth:`ReplicaPool.read` use the replicas. Both objects belong to the runtime.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

from registry import replicas_repository as repo
from registry.db import Cursor, Database
from registry.errors import Unavailable

log = logging.getLogger("guardreg.replicas")
T = TypeVar("T")

# pg_try_advisory_lock key of the steward ("grdr" "stwd").
STEWARD_LOCK = 0x67726472_73747764 - (1 << 63)
_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,63}$")


@dataclass
class _Replica:
    url: str
    db: Database
    name: str | None = None
    expires: float = 0.0  # monotonic: reads may start (and must end) before this
    down_until: float = 0.0


class ReplicaPool:
    """Where online verification reads: a leased replica, else the primary."""

    def __init__(self, primary: Database, urls: Sequence[str], *, lease_s: float = 2.0,
                 pool_max: int = 10, statement_timeout_ms: int = 5000,
                 connect_timeout_s: int = 3) -> None:
        self.primary = primary
        self.lease_s = lease_s
        self.replicas = [
            _Replica(url=u, db=Database(u, max_size=pool_max, pii=primary.pii,
                                        statement_timeout_ms=statement_timeout_ms,
                                        connect_timeout_s=connect_timeout_s))
            for u in urls]
        self.served: dict[str, int] = {"primary": 0}
        self._next = 0
        self._lock = threading.Lock()
        self._refreshed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the request path ------------------------------------------------------------
    def read(self, fn: Callable[[Cursor], T]) -> T:
        """``fn`` on a leased replica's snapshot cursor (ONE statement per call, as for
        :meth:`Database.snapshot`), else on the primary's. ``fn`` may run twice (first on
        a replica whose lease ran out meanwhile, then on the primary): it must build its
        result from scratch and have no other effect."""
        replica = self._pick()
        if replica is not None:
            try:
                with replica.db.snapshot() as cur:
                    result = fn(cur)
            except (Unavailable, psycopg2.errors.SerializationFailure):
                # Down, or a query cancelled by recovery on the standby: the primary answers.
                replica.expires, replica.down_until = 0.0, time.monotonic() + self.lease_s
            else:
                if time.monotonic() < replica.expires:
                    self._count(replica.name or replica.url)
                    return result
        with self.primary.snapshot() as cur:
            result = fn(cur)
        self._count("primary")
        return result

    def _pick(self) -> _Replica | None:
        if not self.replicas:
            return None
        self._ensure_started()
        now = time.monotonic()
        with self._lock:
            n = len(self.replicas)
            for i in range(n):
                replica = self.replicas[(self._next + i) % n]
                if replica.expires > now:
                    self._next = (self._next + i + 1) % n
                    return replica
        return None

    def _count(self, where: str) -> None:
        with self._lock:
            self.served[where] = self.served.get(where, 0) + 1

    # -- leases ------------------------------------------------------------------------
    def names(self) -> set[str]:
        """The standby names of the configured replicas (those identified so far)."""
        return {r.name for r in self.replicas if r.name}

    def refresh(self) -> None:
        """Learn the replicas' names and the leases they hold now (from the primary)."""
        for replica in self.replicas:
            if replica.name is None and replica.down_until <= time.monotonic():
                self._identify(replica)
        started = time.monotonic()
        with self.primary.snapshot() as cur:
            left = {r["name"]: float(r["left_s"]) for r in repo.serving_leases(cur)}
        with self._refreshed:
            for replica in self.replicas:
                seconds = left.get(replica.name or "")
                ok = seconds is not None and replica.down_until <= started
                # Counted from before the question: this copy ends before the lease does.
                replica.expires = started + min(seconds or 0.0, self.lease_s) if ok else 0.0
            self._refreshed.notify_all()

    def _identify(self, replica: _Replica) -> None:
        try:
            with replica.db.snapshot() as cur:
                row = repo.replica_identity(cur)
        except Unavailable:
            # Not reachable: try again later, so that the other replicas' leases keep
            # being refreshed meanwhile (a connection attempt may take seconds).
            replica.down_until = time.monotonic() + 4 * self.lease_s
            return
        name = str(row["name"]) if row else ""
        if not row or not row["standby"] or not _NAME.match(name):
            log.warning("a DATABASE_READ_URL entry is not a standby with a cluster_name;"
                        " it serves no reads")
            return
        replica.name = name

    def serving(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            return [r.name or r.url for r in self.replicas if r.expires > now]

    def wait_serving(self, timeout: float, *, count: int = 1) -> bool:
        """Block until ``count`` replicas hold a lease (tests and tools)."""
        self._ensure_started()
        deadline = time.monotonic() + timeout
        with self._refreshed:
            while True:
                now = time.monotonic()
                if sum(r.expires > now for r in self.replicas) >= count:
                    return True
                if now >= deadline:
                    return False
                self._refreshed.wait(min(deadline - now, self.lease_s))

    def start(self) -> None:
        """Start learning the leases (else done on the first read)."""
        self._ensure_started()

    def _ensure_started(self) -> None:
        if self._thread is not None or not self.replicas:
            return
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="guardreg-replica-leases")
                self._thread.start()

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.refresh()
                failing = False
            except Exception as exc:  # the primary is away: the leases run out by themselves
                if not failing:  # once per outage
                    log.warning("replica lease refresh failed: %s", type(exc).__name__)
                failing = True
            self._stop.wait(self.lease_s / 4)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for replica in self.replicas:
            replica.db.close()


def sync_names_value(names: Sequence[str]) -> str:
    """``synchronous_standby_names`` that waits for every one of ``names``."""
    if not names:
        return ""
    quoted = ", ".join(f'"{n}"' for n in sorted(names))
    return f"ANY {len(names)} ({quoted})"


class ReplicaSteward:
    """Grants and renews the replicas' read leases and keeps the primary's synchronous
    set in step with them (see the module's docstring). Every API host may run one; the
    one holding the advisory lock acts."""

    def __init__(self, dsn: str, names: Callable[[], set[str]], *, lease_s: float = 2.0,
                 max_lag_s: float = 1.0, grace_s: float = 1.0) -> None:
        self.dsn = dsn
        self.names = names
        self.lease_s = lease_s
        self.max_lag_s = max_lag_s
        self.grace_s = grace_s
        self.tick_s = min(lease_s / 4, max_lag_s / 2)
        self.leader = False
        self._leader_since = 0.0
        self._conn: psycopg2.extensions.connection | None = None
        self._history: deque[tuple[float, str]] = deque()
        self._in_set_since: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _cursor(self) -> Cursor:
        if self._conn is None or self._conn.closed:
            self.leader = False
            self._history.clear()
            conn = psycopg2.connect(
                self.dsn, connect_timeout=3, application_name="guardreg-steward",
                options="-c statement_timeout=5000 -c synchronous_commit=local")
            conn.autocommit = True
            self._conn = conn
        cur = self._conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
        assert isinstance(cur, psycopg2.extras.RealDictCursor)
        return cur

    def _reference(self, now: float, lsn: str) -> str:
        """The primary's WAL position ``max_lag_s`` ago (or the oldest one known)."""
        self._history.append((now, lsn))
        while len(self._history) > 1 and self._history[1][0] <= now - self.max_lag_s:
            self._history.popleft()
        return self._history[0][1]

    def tick(self) -> None:
        with self._cursor() as cur:
            if not self.leader:
                self.leader = repo.take_steward_lock(cur, STEWARD_LOCK)
                if not self.leader:
                    return
                self._leader_since = time.monotonic()
            now = time.monotonic()
            reference = self._reference(now, repo.current_lsn(cur))
            standbys = repo.replication_state(cur)
            known = repo.replicas(cur)
            setting = repo.sync_names_setting(cur)
            wanted = {n for n in self.names() if _NAME.match(n)}
            for name in sorted(wanted | set(known)):
                self._step(cur, name, known.get(name), standbys.get(name), reference,
                           setting, now, wanted)
            members = {n for n, r in repo.replicas(cur).items()
                       if r["state"] in ("joining", "serving", "draining") and _NAME.match(n)}
            if now - self._leader_since < 2 * self.lease_s:
                # A new steward (or a restarted primary, whose unlogged lease table came
                # back empty) does not know which leases API processes still hold: it
                # removes nobody from the synchronous set until any such lease has ended.
                members |= {n for n in re.findall(r'"([^"]+)"', setting) if _NAME.match(n)}
            value = sync_names_value(sorted(members))
            if value != setting:
                log.info("synchronous_standby_names -> %r", value)
                repo.set_sync_names(cur, value)
                for name in list(self._in_set_since):
                    if name not in members:
                        del self._in_set_since[name]

    def _step(self, cur: Cursor, name: str, row: dict[str, Any] | None,
              standby: dict[str, Any] | None, reference: str, setting: str, now: float,
              wanted: set[str]) -> None:
        state = row["state"] if row else "out"
        replay = standby["replay_lsn"] if standby else None
        behind = standby["behind"] if standby else None
        applying = (standby is not None and standby["state"] == "streaming"
                    and replay is not None and repo.lsn_reached(cur, replay, reference))
        in_set = f'"{name}"' in setting
        if in_set:
            self._in_set_since.setdefault(name, now)
        common = {"replay_lsn": replay, "behind_bytes": behind}
        if state == "serving":
            # Renewed only while it applies WAL and status changes still wait for it (the
            # setting may have been edited by hand: this steward puts it back, but the
            # lease runs out first).
            if applying and in_set:
                repo.upsert_replica(cur, name, state="serving", lease_s=self.lease_s, **common)
            else:
                log.warning("replica %s stopped applying WAL or left the synchronous set:"
                            " its read lease is not renewed", name)
                repo.upsert_replica(cur, name, state="draining", **common)
        elif state == "draining":
            if repo.lease_over(cur, name, self.lease_s):
                repo.upsert_replica(cur, name, state="out", lease_s=0, **common)
            else:
                repo.upsert_replica(cur, name, state="draining", **common)
        elif state == "joining":
            sync = standby is not None and standby["sync_state"] in ("sync", "quorum")
            fence = row["fence_lsn"] if row else None
            if not applying or name not in wanted:
                repo.upsert_replica(cur, name, state="out", lease_s=0, **common)
            elif (fence is not None and sync and in_set and replay is not None
                  and repo.lsn_reached(cur, replay, fence)):
                log.info("replica %s serves reads", name)
                repo.upsert_replica(cur, name, state="serving", lease_s=self.lease_s,
                                    **common)
            elif fence is None and sync and in_set and now - self._in_set_since[name] >= (
                    self.grace_s):
                # Every commit visible from here on waited for this replica; everything
                # before lies below this position.
                repo.upsert_replica(cur, name, state="joining",
                                    fence_lsn=repo.current_lsn(cur), **common)
            else:
                repo.upsert_replica(cur, name, state="joining", **common)
        elif applying and name in wanted:
            repo.upsert_replica(cur, name, state="joining", lease_s=0, **common)
        elif row is not None:
            repo.upsert_replica(cur, name, state="out", **common)

    # -- background thread ---------------------------------------------------------------
    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.tick_s):
                try:
                    self.tick()
                except Exception as exc:  # the primary is away; leases run out by themselves
                    log.warning("replica steward tick failed: %s", type(exc).__name__)
                    self._drop()

        self._thread = threading.Thread(target=loop, name="guardreg-replica-steward",
                                        daemon=True)
        self._thread.start()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self.leader = False
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._drop()
