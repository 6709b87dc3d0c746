"""SQL of the scheduled-job table (migration 0011)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one

Row = dict[str, Any]


def ensure_job(cur: Cursor, name: str, interval_s: int, first_run_at: dt.datetime) -> None:
    cur.execute(
        "INSERT INTO registry_job (name, interval_s, next_run_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET interval_s = EXCLUDED.interval_s",
        (name, interval_s, first_run_at),
    )


def take_lease(cur: Cursor, name: str, owner: str, now: dt.datetime,
               lease: dt.timedelta, *, force: bool = False) -> bool:
    """The lease on a due job (or any job with ``force``) whose last lease has ended;
    one statement, so two hosts cannot both take it."""
    cur.execute(
        "UPDATE registry_job SET lease_owner = %s, lease_until = %s, last_started_at = %s"
        " WHERE name = %s AND (next_run_at <= %s OR %s)"
        " AND (lease_until IS NULL OR lease_until < %s)",
        (owner, now + lease, now, name, now, force, now),
    )
    return bool(cur.rowcount)


def finish(cur: Cursor, name: str, owner: str, now: dt.datetime, *, ok: bool,
           result: dict[str, Any] | None, error: str | None) -> None:
    cur.execute(
        "UPDATE registry_job SET lease_owner = NULL, lease_until = NULL, runs = runs + 1,"
        " last_owner = %s, last_finished_at = %s, last_status = %s, last_result = %s,"
        " last_error = %s, next_run_at = %s + make_interval(secs => interval_s)"
        " WHERE name = %s AND lease_owner = %s",
        (owner, now, "ok" if ok else "failed",
         json.dumps(result, default=str) if result is not None else None, error, now,
         name, owner),
    )


def list_jobs(cur: Cursor) -> list[Row]:
    cur.execute(
        "SELECT name, interval_s, next_run_at, lease_owner, lease_until, runs, last_owner,"
        " last_started_at, last_finished_at, last_status, last_result, last_error"
        " FROM registry_job ORDER BY name"
    )
    return fetch_all(cur)


def get_job(cur: Cursor, name: str) -> Row | None:
    cur.execute("SELECT name, runs, last_status, lease_owner FROM registry_job WHERE name = %s",
                (name,))
    return fetch_one(cur)
