"""SQL of API principals (keys) and their change notifications.

One module per aggregate (issue 19); ``registry.repository`` re-exports them all.
"""

from __future__ import annotations

from typing import Any

from registry.db import Cursor, fetch_all, fetch_one

Row = dict[str, Any]


# -- principals ------------------------------------------------------------------------
def insert_principal(cur: Cursor, *, name: str, role: str, company_id: int | None,
                     guard_id: int | None, key_prefix: str, key_hash: bytes) -> int:
    cur.execute(
        "INSERT INTO registry_principal (name, role, company_id, guard_id, key_prefix, key_hash)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (name, role, company_id, guard_id, key_prefix, key_hash),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["id"])


def get_principal_by_prefix(cur: Cursor, prefix: str) -> Row | None:
    cur.execute(
        "SELECT id, name, role, company_id, guard_id, key_hash, revoked_at"
        " FROM registry_principal WHERE key_prefix = %s",
        (prefix,),
    )
    return fetch_one(cur)


def list_principals(cur: Cursor) -> list[Row]:
    cur.execute(
        "SELECT id, name, role, company_id, guard_id, key_prefix, created_at, revoked_at"
        " FROM registry_principal ORDER BY id"
    )
    return fetch_all(cur)


def revoke_principal(cur: Cursor, principal_id: int) -> bool:
    cur.execute(
        "UPDATE registry_principal SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
        (principal_id,),
    )
    return bool(cur.rowcount)


# -- principal change notifications (migration 0008) -------------------------------------
PRINCIPAL_CHANNEL = "guardreg_principal"


def listen_principal_changes(cur: Cursor) -> None:
    """Subscribe this (autocommit) connection to principal changes."""
    cur.execute(f"LISTEN {PRINCIPAL_CHANNEL}")


def ping(cur: Cursor) -> None:
    """A round trip that fails on a dropped connection."""
    cur.execute("SELECT 1")


POLICY_CHANNEL = "guardreg_policy"
LISTENED = frozenset({PRINCIPAL_CHANNEL, POLICY_CHANNEL})


def listen(cur: Cursor, channel: str) -> None:
    """Subscribe this (autocommit) connection to ``channel`` (one of :data:`LISTENED`)."""
    if channel not in LISTENED:
        raise ValueError(f"not a guardreg channel: {channel}")
    cur.execute(f"LISTEN {channel}")
