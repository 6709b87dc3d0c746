"""The read pool's rules without a real standby (tests/resilience/test_replicas.py has
one): a read counts on a replica only if it finished inside that process's copy of the
lease; otherwise it is done again on the primary. The primary's database stands in for
the replica's address here; the pool is told the lease instead of learning it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from api.replicas import ReplicaPool, sync_names_value
from api.runtime import Runtime
from registry.db import Cursor, Database


@pytest.fixture
def pool(runtime: Runtime) -> Iterator[ReplicaPool]:
    p = ReplicaPool(runtime.db, [runtime.db.dsn], lease_s=2.0, pool_max=2)
    p._thread = object()  # type: ignore[assignment]  # no lease refresher: the test sets them
    yield p
    p._thread = None
    p.close()


def _backend(cur: Cursor) -> int:
    cur.execute("SELECT pg_backend_pid() AS pid")
    row = cur.fetchone()
    assert row is not None
    return int(row["pid"])


def test_without_a_lease_every_read_goes_to_the_primary(pool: ReplicaPool) -> None:
    pool.read(_backend)
    assert pool.served == {"primary": 1}


def test_inside_a_lease_the_replica_serves(pool: ReplicaPool) -> None:
    replica = pool.replicas[0]
    replica.name = "r1"
    replica.expires = time.monotonic() + 60
    pool.read(_backend)
    assert pool.served.get("r1") == 1 and pool.served["primary"] == 0


def test_a_read_that_outlives_its_lease_is_done_again_on_the_primary(
        pool: ReplicaPool) -> None:
    replica = pool.replicas[0]
    replica.name = "r1"
    replica.expires = time.monotonic() + 60
    calls: list[int] = []

    def slow(cur: Cursor) -> int:
        calls.append(_backend(cur))
        if len(calls) == 1:
            replica.expires = time.monotonic() - 0.001  # the copy ran out meanwhile
        return len(calls)

    assert pool.read(slow) == 2  # the primary's answer, not the replica's
    assert pool.served.get("r1", 0) == 0 and pool.served["primary"] == 1


def test_a_non_standby_address_is_never_named_and_serves_nothing(
        pool: ReplicaPool, runtime: Runtime) -> None:
    pool.refresh()  # the address is the primary itself: not in recovery
    assert pool.replicas[0].name is None
    assert pool.serving() == []


def test_the_synchronous_set_waits_for_every_reader() -> None:
    assert sync_names_value([]) == ""
    assert sync_names_value(["b", "a"]) == 'ANY 2 ("a", "b")'


def test_status_changes_ask_for_remote_apply_without_a_timeout(runtime: Runtime) -> None:
    from registry.db import fence_status_change

    db: Database = runtime.db
    with db.transaction() as cur:
        fence_status_change(cur)
        cur.execute("SELECT current_setting('synchronous_commit') AS v")
        row = cur.fetchone()
        assert row is not None and row["v"] == "remote_apply"
        for hook in cur.before_commit:  # what runs just before COMMIT
            hook(cur)
        cur.execute("SELECT current_setting('statement_timeout') AS v")
        row = cur.fetchone()
        assert row is not None and row["v"] == "0"
