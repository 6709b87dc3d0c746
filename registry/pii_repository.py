"""SQL of the personal-field backfill (registry/pii.py): rows written before migration
0080 still hold their ID number and phone in the legacy clear columns."""

from __future__ import annotations

from typing import Any

from registry.db import Cursor, fetch_all

Row = dict[str, Any]


def legacy_guards(cur: Cursor, limit: int) -> list[Row]:
    cur.execute("SELECT id, legacy_id_number, legacy_phone FROM registry_guard"
                " WHERE legacy_id_number IS NOT NULL ORDER BY id LIMIT %s"
                " FOR UPDATE SKIP LOCKED", (limit,))
    return fetch_all(cur)


def seal_guard(cur: Cursor, guard_id: int, bidx: bytes, id_sealed: bytes,
               phone_sealed: bytes | None) -> None:
    cur.execute("UPDATE registry_guard SET id_number_bidx = %s, id_number_sealed = %s,"
                " phone_sealed = %s, legacy_id_number = NULL, legacy_phone = NULL"
                " WHERE id = %s", (bidx, id_sealed, phone_sealed, guard_id))


def legacy_bans(cur: Cursor, limit: int) -> list[Row]:
    cur.execute("SELECT id, legacy_id_number FROM registry_ban"
                " WHERE legacy_id_number IS NOT NULL ORDER BY id LIMIT %s"
                " FOR UPDATE SKIP LOCKED", (limit,))
    return fetch_all(cur)


def seal_ban(cur: Cursor, ban_id: int, bidx: bytes, id_sealed: bytes) -> None:
    cur.execute("UPDATE registry_ban SET id_number_bidx = %s, id_number_sealed = %s,"
                " legacy_id_number = NULL WHERE id = %s", (bidx, id_sealed, ban_id))


def clear_pii_constraints_pending(cur: Cursor) -> list[str]:
    """The NOT VALID constraints that forbid clear personal fields, still unvalidated."""
    cur.execute("SELECT conrelid::regclass::text || '.' || conname AS name"
                " FROM pg_constraint WHERE conname IN"
                " ('registry_guard_no_clear_pii', 'registry_ban_no_clear_pii')"
                " AND NOT convalidated ORDER BY 1")
    return [r["name"] for r in fetch_all(cur)]


def validate_clear_pii_constraints(cur: Cursor) -> None:
    cur.execute("ALTER TABLE registry_guard VALIDATE CONSTRAINT registry_guard_no_clear_pii")
    cur.execute("ALTER TABLE registry_ban VALIDATE CONSTRAINT registry_ban_no_clear_pii")
