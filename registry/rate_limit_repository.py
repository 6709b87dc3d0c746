"""SQL of the shared rate limits (migration 0090, api/rate_limits.py)."""

from __future__ import annotations

from registry.db import Cursor, execute_prepared

# GCRA in one statement: the row's theoretical arrival time (tat) moves on by one
# emission interval per admitted request; a request is refused (no row returned, the
# row left as it was) while tat lies more than the burst tolerance in the future.
# ON CONFLICT takes the row lock, so concurrent requests on any host serialise on it.
_TAKE = (
    "INSERT INTO registry_rate_limit AS r (kind, key, tat)"
    " VALUES ($1, $2, now() + make_interval(secs => $3))"
    " ON CONFLICT (kind, key) DO UPDATE"
    " SET tat = greatest(r.tat, now()) + make_interval(secs => $3)"
    " WHERE greatest(r.tat, now()) <= now() + make_interval(secs => $4)"
    " RETURNING 1 AS ok"
)


def take(cur: Cursor, kind: str, key: int, interval_s: float, tolerance_s: float) -> bool:
    """Admit one request of ``key`` under ``kind`` (True) or refuse it (False).

    ``interval_s``: seconds per request at the sustained rate; ``tolerance_s``: how far
    ahead of now the arrival time may run (the burst)."""
    execute_prepared(cur, "guardreg_rate_limit_take", _TAKE,
                     (kind, key, interval_s, tolerance_s))
    return cur.fetchone() is not None


def wait_s(cur: Cursor, kind: str, key: int, tolerance_s: float) -> float:
    """After a refusal: seconds until ``key`` is admitted again under ``kind`` (for the
    ``Retry-After`` header); 0 when the row is gone."""
    cur.execute("SELECT extract(epoch FROM tat - now())::float8 - %s AS wait"
                " FROM registry_rate_limit WHERE kind = %s AND key = %s",
                (tolerance_s, kind, key))
    row = cur.fetchone()
    return max(0.0, float(row["wait"])) if row is not None else 0.0


def sweep(cur: Cursor, idle_s: float) -> int:
    """Forget keys idle for ``idle_s`` (their bucket is full again anyway)."""
    cur.execute("DELETE FROM registry_rate_limit"
                " WHERE tat < now() - make_interval(secs => %s)", (idle_s,))
    return int(cur.rowcount)
