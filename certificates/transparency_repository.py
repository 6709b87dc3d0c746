"""All SQL of the audit transparency log. Functions take the caller's cursor; none commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from registry.db import Cursor, fetch_one, insert_many

_LOG_LOCK = 0x746C6F6773657100  # "tlogseq": one sequencer or signer at a time


def lock(cur: Cursor) -> None:
    """Serialise sequencing and signing until the transaction ends."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOG_LOCK,))


def tree_size(cur: Cursor) -> int:
    """How many leaves the stored tree holds (one index probe, not a count)."""
    cur.execute("SELECT max(idx) AS last FROM certificates_log_node WHERE level = 0")
    row = cur.fetchone()
    return 0 if row is None or row["last"] is None else int(row["last"]) + 1


def nodes(cur: Cursor, ids: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored subtree hashes of ``ids`` (level, idx), in one query."""
    if not ids:
        return {}
    cur.execute(
        "SELECT n.level, n.idx, n.hash FROM certificates_log_node n"
        " JOIN unnest(%s::smallint[], %s::bigint[]) AS want(level, idx)"
        " ON n.level = want.level AND n.idx = want.idx",
        ([lvl for lvl, _ in ids], [i for _, i in ids]),
    )
    return {(int(r["level"]), int(r["idx"])): bytes(r["hash"]) for r in cur.fetchall()}


def insert_nodes(cur: Cursor, rows: Sequence[tuple[int, int, bytes]]) -> None:
    insert_many(cur, "certificates_log_node", ("level", "idx", "hash"), rows)


def leaf_hashes(cur: Cursor, start: int, end: int) -> list[bytes]:
    """Leaf hashes of leaves [start, end), in order."""
    cur.execute(
        "SELECT hash FROM certificates_log_node WHERE level = 0 AND idx >= %s AND idx < %s"
        " ORDER BY idx", (start, end))
    return [bytes(r["hash"]) for r in cur.fetchall()]


def latest_checkpoint(cur: Cursor) -> dict[str, Any] | None:
    cur.execute(
        "SELECT id, tree_size, root_hash, kid, signed_at, note FROM certificates_log_checkpoint"
        " ORDER BY id DESC LIMIT 1")
    return fetch_one(cur)


def insert_checkpoint(cur: Cursor, *, tree_size: int, root_hash: bytes, kid: bytes,
                      signed_at: dt.datetime, note: str) -> None:
    cur.execute(
        "INSERT INTO certificates_log_checkpoint (tree_size, root_hash, kid, signed_at, note)"
        " VALUES (%s, %s, %s, %s, %s)", (tree_size, root_hash, kid, signed_at, note))
