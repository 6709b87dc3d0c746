"""SQL of registry-level enrollment holds (migration 0020)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]

_HOLD = ("id, guard_id, company_id, reason, status, decided_by, decided_at, decision_note,"
         " created_at")


def insert_hold(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_enrollment_hold", values, _HOLD)


def get_hold(cur: Cursor, hold_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(f"SELECT {_HOLD} FROM registry_enrollment_hold WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (hold_id,))
    return fetch_one(cur)


def pending_for_guard(cur: Cursor, guard_id: int) -> Row | None:
    cur.execute(f"SELECT {_HOLD} FROM registry_enrollment_hold WHERE guard_id = %s"
                " AND status = 'pending'", (guard_id,))
    return fetch_one(cur)


def decide(cur: Cursor, hold_id: int, *, status: str, by: str, note: str | None,
           now: dt.datetime) -> bool:
    cur.execute("UPDATE registry_enrollment_hold SET status = %s, decided_by = %s,"
                " decided_at = %s, decision_note = %s WHERE id = %s AND status = 'pending'",
                (status, by, now, note, hold_id))
    return bool(cur.rowcount)


def holds(cur: Cursor, *, status: str | None, limit: int) -> list[Row]:
    cur.execute(f"SELECT {_HOLD} FROM registry_enrollment_hold"
                " WHERE (%s::text IS NULL OR status = %s) ORDER BY id LIMIT %s",
                (status, status, limit))
    return fetch_all(cur)
