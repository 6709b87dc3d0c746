"""SQL of the read-replica leases (migration 0091, api/replicas.py) and of the
replication state the steward watches on the primary."""

from __future__ import annotations

from typing import Any

from registry.db import Cursor, execute_prepared, fetch_all

Row = dict[str, Any]


# -- API processes --------------------------------------------------------------------
def serving_leases(cur: Cursor) -> list[Row]:
    """The replicas that may serve reads now, with the seconds their lease has left by
    the primary's clock."""
    execute_prepared(
        cur, "guardreg_replica_leases",
        "SELECT name, extract(epoch FROM lease_until - clock_timestamp())::float8 AS left_s"
        " FROM registry_read_replica WHERE state = 'serving'"
        " AND lease_until > clock_timestamp()", ())
    return fetch_all(cur)


def replica_identity(cur: Cursor) -> Row | None:
    """On a replica: its cluster_name (the name it streams under) and whether it is one."""
    cur.execute("SELECT current_setting('cluster_name') AS name,"
                " pg_is_in_recovery() AS standby")
    row = cur.fetchone()
    return dict(row) if row else None


def leases(cur: Cursor) -> list[Row]:
    cur.execute("SELECT name, state, lease_until, fence_lsn::text AS fence_lsn,"
                " replay_lsn::text AS replay_lsn, behind_bytes, changed_at, checked_at,"
                " lease_until > clock_timestamp() AS leased"
                " FROM registry_read_replica ORDER BY name")
    return fetch_all(cur)


# -- the steward (on the primary) ---------------------------------------------------------
def take_steward_lock(cur: Cursor, key: int) -> bool:
    """A session-level advisory lock: one steward per cluster, for as long as its
    connection lives."""
    cur.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,))
    row = cur.fetchone()
    return bool(row and row["ok"])


def replication_state(cur: Cursor) -> dict[str, Row]:
    """Per standby name: its replay position, how far behind the primary's WAL it is in
    bytes, and whether the primary counts it as synchronous."""
    cur.execute(
        "SELECT application_name AS name, state, sync_state, replay_lsn::text AS replay_lsn,"
        " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS behind"
        " FROM pg_stat_replication")
    return {r["name"]: dict(r) for r in cur.fetchall()}


def current_lsn(cur: Cursor) -> str:
    cur.execute("SELECT pg_current_wal_lsn()::text AS lsn")
    row = cur.fetchone()
    assert row is not None
    return str(row["lsn"])


def lsn_reached(cur: Cursor, position: str, target: str) -> bool:
    cur.execute("SELECT %s::pg_lsn >= %s::pg_lsn AS ok", (position, target))
    row = cur.fetchone()
    return bool(row and row["ok"])


def sync_names_setting(cur: Cursor) -> str:
    cur.execute("SELECT current_setting('synchronous_standby_names') AS v")
    row = cur.fetchone()
    return str(row["v"]) if row else ""


def set_sync_names(cur: Cursor, value: str) -> None:
    """``ALTER SYSTEM`` (outside any transaction) and reload. ``value`` is built by
    api/replicas.py from names it validated, and is passed as a literal."""
    cur.execute("ALTER SYSTEM SET synchronous_standby_names = %s", (value,))
    cur.execute("SELECT pg_reload_conf()")


def upsert_replica(cur: Cursor, name: str, *, state: str, lease_s: float | None = None,
                   fence_lsn: str | None = None, replay_lsn: str | None = None,
                   behind_bytes: float | None = None) -> None:
    """Set a replica's state; ``lease_s`` renews its lease from now (None: unchanged,
    0: ended)."""
    cur.execute(
        "INSERT INTO registry_read_replica AS r (name, state, lease_until, fence_lsn,"
        " replay_lsn, behind_bytes)"
        " VALUES (%(name)s, %(state)s,"
        " clock_timestamp() + make_interval(secs => coalesce(%(lease)s, 0)),"
        " %(fence)s::pg_lsn, %(replay)s::pg_lsn, %(lag)s)"
        " ON CONFLICT (name) DO UPDATE SET"
        " changed_at = CASE WHEN r.state = EXCLUDED.state THEN r.changed_at ELSE now() END,"
        " state = EXCLUDED.state,"
        " lease_until = CASE WHEN %(lease)s::float8 IS NULL THEN r.lease_until"
        "   ELSE EXCLUDED.lease_until END,"
        " fence_lsn = CASE WHEN r.state <> EXCLUDED.state THEN EXCLUDED.fence_lsn"
        "   ELSE coalesce(EXCLUDED.fence_lsn, r.fence_lsn) END,"
        " replay_lsn = coalesce(EXCLUDED.replay_lsn, r.replay_lsn),"
        " behind_bytes = EXCLUDED.behind_bytes, checked_at = now()",
        {"name": name, "state": state, "lease": lease_s, "fence": fence_lsn,
         "replay": replay_lsn, "lag": behind_bytes})


def lease_over(cur: Cursor, name: str, margin_s: float) -> bool:
    """Whether ``name``'s lease ended more than ``margin_s`` ago (or it never had one)."""
    cur.execute(
        "SELECT coalesce(lease_until + make_interval(secs => %s) < clock_timestamp(), true)"
        " AS over FROM registry_read_replica WHERE name = %s", (margin_s, name))
    row = cur.fetchone()
    return True if row is None else bool(row["over"])


def replicas(cur: Cursor) -> dict[str, Row]:
    cur.execute("SELECT name, state, fence_lsn::text AS fence_lsn FROM registry_read_replica")
    return {r["name"]: dict(r) for r in cur.fetchall()}
