"""SQL of complaints, their events and attachments (migration 0014)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]

_CASE = ("id, category, company_id, company_text, guard_id, certificate_number, description,"
         " contact_sealed, status, priority, assigned_to, outcome, public_summary, created_at,"
         " closed_at, purged_at")


def insert_complaint(cur: Cursor, values: dict[str, Any]) -> int:
    return int(insert_returning(cur, "registry_complaint", values, "id")["id"])


def get(cur: Cursor, complaint_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(f"SELECT {_CASE} FROM registry_complaint WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (complaint_id,))
    return fetch_one(cur)


def by_tracking(cur: Cursor, tracking_hash: bytes) -> Row | None:
    cur.execute(f"SELECT {_CASE} FROM registry_complaint WHERE tracking_hash = %s",
                (tracking_hash,))
    return fetch_one(cur)


def tracking_hash(cur: Cursor, complaint_id: int) -> bytes:
    cur.execute("SELECT tracking_hash FROM registry_complaint WHERE id = %s", (complaint_id,))
    row = fetch_one(cur)
    if row is None:
        raise LookupError(complaint_id)
    return bytes(row["tracking_hash"])


def update(cur: Cursor, complaint_id: int, changes: dict[str, Any]) -> None:
    sets = ", ".join(f"{k} = %s" for k in changes)  # keys from registry/complaints.py
    cur.execute(f"UPDATE registry_complaint SET {sets} WHERE id = %s",
                [*changes.values(), complaint_id])


def list_cases(cur: Cursor, *, status: str | None, after_id: int, limit: int) -> list[Row]:
    cur.execute(
        "SELECT id, category, company_id, status, priority, assigned_to, outcome, created_at,"
        " closed_at FROM registry_complaint WHERE id > %s AND (%s::text IS NULL OR status = %s)"
        " AND purged_at IS NULL ORDER BY id LIMIT %s", (after_id, status, status, limit))
    return fetch_all(cur)


def add_event(cur: Cursor, values: dict[str, Any]) -> None:
    insert_returning(cur, "registry_complaint_event", values, "id")


def events(cur: Cursor, complaint_id: int, *, public_only: bool) -> list[Row]:
    cur.execute(
        "SELECT kind, public, detail, ref_type, ref_id, actor, created_at"
        " FROM registry_complaint_event WHERE complaint_id = %s"
        + (" AND public" if public_only else "") + " ORDER BY id", (complaint_id,))
    return fetch_all(cur)


def add_attachment(cur: Cursor, values: dict[str, Any]) -> None:
    insert_returning(cur, "registry_complaint_attachment", values, "id")


def attachments(cur: Cursor, complaint_id: int) -> list[Row]:
    cur.execute("SELECT id, media_type, size, sha256 FROM registry_complaint_attachment"
                " WHERE complaint_id = %s ORDER BY id", (complaint_id,))
    return fetch_all(cur)


def attachment(cur: Cursor, complaint_id: int, attachment_id: int) -> Row | None:
    cur.execute("SELECT id, media_type, sha256, sealed FROM registry_complaint_attachment"
                " WHERE complaint_id = %s AND id = %s", (complaint_id, attachment_id))
    return fetch_one(cur)


def closed_before(cur: Cursor, before: dt.datetime, *, limit: int) -> list[int]:
    cur.execute("SELECT id FROM registry_complaint WHERE status = 'closed' AND purged_at IS NULL"
                " AND closed_at < %s ORDER BY id LIMIT %s", (before, limit))
    return [int(r["id"]) for r in fetch_all(cur)]


def purge(cur: Cursor, complaint_id: int, now: dt.datetime) -> None:
    """Keep the case's skeleton (category, company, outcome, dates, action links) for the
    statistics and the credit ledger's evidence; drop what could identify anyone."""
    cur.execute("DELETE FROM registry_complaint_attachment WHERE complaint_id = %s",
                (complaint_id,))
    cur.execute("UPDATE registry_complaint_event SET detail = NULL WHERE complaint_id = %s"
                " AND kind IN ('note', 'received')", (complaint_id,))
    cur.execute("UPDATE registry_complaint SET description = NULL, contact_sealed = NULL,"
                " company_text = NULL, certificate_number = NULL, guard_id = NULL,"
                " purged_at = %s WHERE id = %s", (now, complaint_id))
