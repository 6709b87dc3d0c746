"""SQL of the 1:N fingerprint index (migration 0110). Functions take the caller's cursor;
none commits. The codes themselves come from :mod:`biometrics.fingerprint.index`."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg2

from registry.db import Cursor, fetch_all

Row = dict[str, Any]


def index_finger(cur: Cursor, *, subject: str, position: int, scheme: int,
                 codes: np.ndarray, max_postings: int) -> int:
    """(Re)index one finger: a new ``finger_id`` whose id is appended to the posting list
    of each of ``codes`` (sorted, distinct), except lists already ``max_postings`` long.
    Any earlier index row of the finger goes (its postings become stale, see 0110).
    Lists are locked in code order, so concurrent enrollments never deadlock here."""
    cur.execute("DELETE FROM biometrics_finger_index WHERE subject = %s AND position = %s",
                (subject, position))
    cur.execute(
        "INSERT INTO biometrics_finger_index (subject, position, scheme, codes)"
        " VALUES (%s, %s, %s, %s) RETURNING finger_id",
        (subject, position, scheme, len(codes)))
    row = cur.fetchone()
    assert row is not None
    finger_id = int(row["finger_id"])
    cur.execute(
        "INSERT INTO biometrics_finger_posting AS p (code, fingers)"
        " SELECT c, %s FROM unnest(%s::integer[]) AS c ORDER BY c"
        " ON CONFLICT (code) DO UPDATE SET fingers = p.fingers || EXCLUDED.fingers"
        " WHERE length(p.fingers) < %s",
        (psycopg2.Binary(np.array([finger_id], "<i4").tobytes()),
         [int(c) for c in codes], 4 * max_postings))
    return finger_id


def posting_lists(cur: Cursor, codes: Sequence[int], *, max_postings: int,
                  ) -> dict[int, np.ndarray]:
    """The finger ids of each of ``codes`` that has a list shorter than ``max_postings``."""
    cur.execute(
        "SELECT code, fingers FROM biometrics_finger_posting"
        " WHERE code = ANY(%s::integer[]) AND length(fingers) < %s",
        ([int(c) for c in codes], 4 * max_postings))
    return {int(r["code"]): np.frombuffer(bytes(r["fingers"]), "<i4") for r in cur.fetchall()}


def gallery_size(cur: Cursor) -> int:
    """How many fingers have been indexed (re-enrollments included): the N of the
    codes' rarity weights. Read from the identity's high-water mark, so it costs one
    index probe whatever the gallery size."""
    cur.execute("SELECT coalesce(max(finger_id), 0) AS n FROM biometrics_finger_index")
    row = cur.fetchone()
    return int(row["n"]) if row else 0


def indexed_fingers(cur: Cursor, finger_ids: Sequence[int], *,
                    exclude_subject: str | None) -> list[Row]:
    """The current, not rejected fingers among ``finger_ids`` (stale ids drop out), with
    their sealed templates; any order."""
    cur.execute(
        "SELECT i.finger_id, f.subject::text AS subject, f.position, f.change_seq,"
        " f.template_sealed FROM biometrics_finger_index i"
        " JOIN biometrics_finger f ON f.subject = i.subject AND f.position = i.position"
        " WHERE i.finger_id = ANY(%s::integer[]) AND f.status <> 'rejected'"
        " AND f.subject IS DISTINCT FROM %s::uuid",
        ([int(i) for i in finger_ids], exclude_subject))
    return fetch_all(cur)


def fingers_of(cur: Cursor, subjects: Sequence[str], *,
               exclude_subject: str | None) -> list[Row]:
    """Every not rejected finger of ``subjects``, with its sealed template."""
    cur.execute(
        "SELECT subject::text AS subject, position, change_seq, template_sealed"
        " FROM biometrics_finger WHERE subject = ANY(%s::uuid[]) AND status <> 'rejected'"
        " AND subject IS DISTINCT FROM %s::uuid ORDER BY subject, position",
        (list(subjects), exclude_subject))
    return fetch_all(cur)


# -- maintenance (guardreg biometrics finger-index) -----------------------------------
def index_fingers_bulk(cur: Cursor, items: Sequence[tuple[str, int, np.ndarray]], *,
                       scheme: int, max_postings: int) -> None:
    """:func:`index_finger` for many ``(subject, position, codes)`` at once: one index
    row insert, and the postings grouped by code and loaded with COPY, then appended
    in code order (a list is cut at ``max_postings``)."""
    if not items:
        return
    subjects = [s for s, _, _ in items]
    positions = [int(p) for _, p, _ in items]
    cur.execute(
        "DELETE FROM biometrics_finger_index i USING unnest(%s::uuid[], %s::smallint[])"
        " AS t(s, p) WHERE i.subject = t.s AND i.position = t.p", (subjects, positions))
    cur.execute(
        "INSERT INTO biometrics_finger_index (subject, position, scheme, codes)"
        " SELECT s, p, %s, n FROM unnest(%s::uuid[], %s::smallint[], %s::integer[])"
        " WITH ORDINALITY AS t(s, p, n, o) ORDER BY o RETURNING finger_id",
        (scheme, subjects, positions, [len(c) for _, _, c in items]))
    ids = np.array([int(r["finger_id"]) for r in cur.fetchall()], np.int64)
    codes = np.concatenate([c for _, _, c in items]).astype(np.int64)
    owners = np.repeat(ids, [len(c) for _, _, c in items])
    order = np.lexsort((owners, codes))
    codes, owners = codes[order], owners[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], codes.size]
    raw = owners.astype("<i4").tobytes()
    buf = io.StringIO()
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        b = min(b, a + max_postings)
        buf.write(f"{codes[a]}\t\\\\x{raw[4 * a:4 * b].hex()}\n")
    buf.seek(0)
    cur.execute("CREATE TEMP TABLE IF NOT EXISTS biometrics_finger_posting_load"
                " (code integer, fingers bytea) ON COMMIT DELETE ROWS")
    cur.copy_expert("COPY biometrics_finger_posting_load (code, fingers) FROM STDIN", buf)
    cur.execute(
        "INSERT INTO biometrics_finger_posting AS p (code, fingers)"
        " SELECT code, fingers FROM biometrics_finger_posting_load ORDER BY code"
        " ON CONFLICT (code) DO UPDATE SET fingers ="
        " substring(p.fingers || EXCLUDED.fingers FROM 1 FOR %s)"
        " WHERE length(p.fingers) < %s", (4 * max_postings, 4 * max_postings))
    cur.execute("TRUNCATE biometrics_finger_posting_load")


def fingers_to_index(cur: Cursor, *, scheme: int, after: tuple[str, int] | None,
                     limit: int) -> list[Row]:
    """Fingers after ``after`` in (subject, position) order that have no index row made
    with ``scheme``, locked against a concurrent re-enrollment."""
    subject, position = after if after is not None else ("", -1)
    cur.execute(
        "SELECT f.subject::text AS subject, f.position, f.template_sealed"
        " FROM biometrics_finger f LEFT JOIN biometrics_finger_index i"
        " ON i.subject = f.subject AND i.position = f.position AND i.scheme = %s"
        " WHERE i.finger_id IS NULL AND (f.subject::text, f.position) > (%s, %s)"
        " ORDER BY f.subject::text, f.position LIMIT %s FOR UPDATE OF f",
        (scheme, subject, position, limit))
    return fetch_all(cur)


def clear_finger_index(cur: Cursor) -> None:
    """Drop every index row and posting (before a full rebuild)."""
    cur.execute("TRUNCATE biometrics_finger_posting, biometrics_finger_index"
                " RESTART IDENTITY")


def finger_index_status(cur: Cursor, *, scheme: int) -> Row:
    """Fingers enrolled, fingers indexed with ``scheme``, posting lists and bytes."""
    cur.execute(
        "SELECT (SELECT count(*) FROM biometrics_finger) AS fingers,"
        " (SELECT count(*) FROM biometrics_finger_index WHERE scheme = %s) AS indexed,"
        " (SELECT count(*) FROM biometrics_finger_posting) AS codes,"
        " pg_total_relation_size('biometrics_finger_posting')"
        " + pg_total_relation_size('biometrics_finger_index') AS bytes", (scheme,))
    row = cur.fetchone()
    assert row is not None
    return dict(row)


def index_rows_of(cur: Cursor, subject: str) -> list[Row]:
    cur.execute("SELECT finger_id, position FROM biometrics_finger_index WHERE subject = %s"
                " ORDER BY position", (subject,))
    return fetch_all(cur)


def remove_from_postings(cur: Cursor, finger_id: int, codes: Sequence[int]) -> int:
    """Take ``finger_id`` out of the posting lists of ``codes`` (retention: the codes
    are derived from the person's template); returns how many lists changed. Lists are
    locked in code order, as enrollment does, so the two never deadlock."""
    cur.execute("SELECT code, fingers FROM biometrics_finger_posting"
                " WHERE code = ANY(%s::integer[]) ORDER BY code FOR UPDATE",
                ([int(c) for c in codes],))
    changed: list[tuple[int, bytes]] = []
    for row in cur.fetchall():
        ids = np.frombuffer(bytes(row["fingers"]), "<i4")
        kept = ids[ids != finger_id]
        if len(kept) != len(ids):
            changed.append((int(row["code"]), kept.astype("<i4").tobytes()))
    for code, fingers in changed:
        if fingers:
            cur.execute("UPDATE biometrics_finger_posting SET fingers = %s WHERE code = %s",
                        (psycopg2.Binary(fingers), code))
        else:
            cur.execute("DELETE FROM biometrics_finger_posting WHERE code = %s", (code,))
    return len(changed)
