"""SQL of the idempotency records of write requests.

One module per aggregate (issue 19); ``registry.repository`` re-exports them all.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from registry.db import Cursor, fetch_one

Row = dict[str, Any]


# -- idempotency -----------------------------------------------------------------------
def try_idempotency_lock(cur: Cursor, principal_id: int, key: str) -> bool:
    cur.execute(
        "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, %s)) AS locked",
        (key, principal_id),
    )
    row = cur.fetchone()
    return bool(row and row["locked"])


def get_idempotency(cur: Cursor, principal_id: int, key: str, *,
                    newer_than: dt.datetime) -> Row | None:
    """The stored result of (principal, key), unless it expired (created before
    ``newer_than``)."""
    cur.execute(
        "SELECT request_hash, response_status, response_body FROM registry_idempotency"
        " WHERE principal_id = %s AND key = %s AND created_at >= %s",
        (principal_id, key, newer_than),
    )
    return fetch_one(cur)


def insert_idempotency(cur: Cursor, principal_id: int, key: str, request_hash: bytes,
                       status: int, body: Any, *, now: dt.datetime) -> None:
    # An expired record of the same key is replaced (the caller holds the key's lock).
    cur.execute(
        "INSERT INTO registry_idempotency (principal_id, key, request_hash, response_status,"
        " response_body, created_at) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (principal_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,"
        " response_status = EXCLUDED.response_status,"
        " response_body = EXCLUDED.response_body, created_at = EXCLUDED.created_at",
        (principal_id, key, request_hash, status, json.dumps(body, default=str), now),
    )


def purge_idempotency(cur: Cursor, *, older_than: dt.datetime, limit: int) -> int:
    """Delete up to ``limit`` expired records; how many went."""
    cur.execute(
        "DELETE FROM registry_idempotency WHERE ctid = ANY(ARRAY(SELECT ctid FROM"
        " registry_idempotency WHERE created_at < %s LIMIT %s))",
        (older_than, limit),
    )
    return int(cur.rowcount)
