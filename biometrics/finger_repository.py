"""SQL of the 1:N fingerprint index (migrations 0110, 0111). Functions take the caller's
cursor; none commits. The codes themselves come from :mod:`biometrics.fingerprint.index`.

Posting lists map a code to entries ``finger_id << 6 | slot`` (int32 big-endian): which
cylinder of which finger has the code (``index.entries``)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg2

from registry.db import Cursor, fetch_all

Row = dict[str, Any]
# one enrolled finger's postings: (subject, position, codes, slots) from index.finger_postings
Postings = tuple[str, int, np.ndarray, np.ndarray]
SLOT_BITS = 6  # = index.SLOT_BITS (the repository does not import the index module)


def _grouped(ids: np.ndarray, items: Sequence[Postings], max_postings: int,
             ) -> list[tuple[int, bytes]]:
    """``(code, entries bytes)`` of every code of ``items`` (finger ``ids[k]`` for
    ``items[k]``), in code order, each list cut at ``max_postings`` entries."""
    codes = np.concatenate([c for _, _, c, _ in items]).astype(np.int64)
    owners = np.repeat(ids.astype(np.int64), [len(c) for _, _, c, _ in items])
    slots = np.concatenate([s for _, _, _, s in items]).astype(np.int64)
    ent = (owners << SLOT_BITS) | slots
    order = np.lexsort((ent, codes))
    codes, ent = codes[order], ent[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], codes.size]
    raw = ent.astype(">i4").tobytes()
    return [(int(codes[a]), raw[4 * a:4 * min(b, a + max_postings)])
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def _new_index_rows(cur: Cursor, items: Sequence[Postings], scheme: int) -> np.ndarray:
    subjects = [s for s, _, _, _ in items]
    positions = [int(p) for _, p, _, _ in items]
    cur.execute(
        "DELETE FROM biometrics_finger_index i USING unnest(%s::uuid[], %s::smallint[])"
        " AS t(s, p) WHERE i.subject = t.s AND i.position = t.p", (subjects, positions))
    cur.execute(
        "INSERT INTO biometrics_finger_index (subject, position, scheme, codes)"
        " SELECT s, p, %s, n FROM unnest(%s::uuid[], %s::smallint[], %s::integer[])"
        " WITH ORDINALITY AS t(s, p, n, o) ORDER BY o RETURNING finger_id",
        (scheme, subjects, positions, [len(c) for _, _, c, _ in items]))
    return np.array([int(r["finger_id"]) for r in cur.fetchall()], np.int64)


def index_finger(cur: Cursor, *, subject: str, position: int, scheme: int,
                 codes: np.ndarray, slots: np.ndarray, max_postings: int) -> int:
    """(Re)index one finger: a new ``finger_id`` whose entries are appended to the list of
    each of its codes, except lists already ``max_postings`` long. Any earlier index row
    of the finger goes (its postings become stale and are skipped). Lists are locked in
    code order, so concurrent enrollments never deadlock here."""
    ids = _new_index_rows(cur, [(subject, position, codes, slots)], scheme)
    grouped = _grouped(ids, [(subject, position, codes, slots)], max_postings)
    cur.execute(
        "INSERT INTO biometrics_finger_posting AS p (code, entries)"
        " SELECT c, e FROM unnest(%s::integer[], %s::bytea[]) AS t(c, e) ORDER BY c"
        " ON CONFLICT (code) DO UPDATE SET entries = p.entries || EXCLUDED.entries"
        " WHERE length(p.entries) < %s",
        ([c for c, _ in grouped], [psycopg2.Binary(e) for _, e in grouped],
         4 * max_postings))
    return int(ids[0])


def posting_lists(cur: Cursor, codes: Sequence[int], *, max_postings: int,
                  ) -> dict[int, np.ndarray]:
    """The entries of each of ``codes`` that has a list shorter than ``max_postings``."""
    cur.execute(
        "SELECT code, entries FROM biometrics_finger_posting"
        " WHERE code = ANY(%s::integer[]) AND length(entries) < %s",
        ([int(c) for c in codes], 4 * max_postings))
    return {int(r["code"]): np.frombuffer(bytes(r["entries"]), ">i4")
            for r in cur.fetchall()}


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
def _copy(cur: Cursor, table: str, grouped: list[tuple[int, bytes]]) -> None:
    buf = io.StringIO()
    for code, raw in grouped:
        buf.write(f"{code}\t\\\\x{raw.hex()}\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {table} (code, entries) FROM STDIN", buf)


def index_fingers_bulk(cur: Cursor, items: Sequence[Postings], *, scheme: int,
                       max_postings: int, staged: bool = False) -> None:
    """:func:`index_finger` for many ``(subject, position, codes, slots)`` at once: one
    index row insert, and the postings grouped by code and loaded with COPY.

    ``staged``: the postings go to ``biometrics_finger_posting_stage`` and become
    searchable at :func:`merge_staged_postings` (a bulk build: every list is written
    once per run instead of once per batch). Otherwise they are appended to the lists
    now, in code order (a list is cut at ``max_postings``)."""
    if not items:
        return
    ids = _new_index_rows(cur, items, scheme)
    grouped = _grouped(ids, items, max_postings)
    if staged:
        _copy(cur, "biometrics_finger_posting_stage", grouped)
        return
    cur.execute("CREATE TEMP TABLE IF NOT EXISTS biometrics_finger_posting_load"
                " (code integer, entries bytea) ON COMMIT DELETE ROWS")
    _copy(cur, "biometrics_finger_posting_load", grouped)
    cur.execute(
        "INSERT INTO biometrics_finger_posting AS p (code, entries)"
        " SELECT code, entries FROM biometrics_finger_posting_load ORDER BY code"
        " ON CONFLICT (code) DO UPDATE SET entries ="
        " substring(p.entries || EXCLUDED.entries FROM 1 FOR %s)"
        " WHERE length(p.entries) < %s", (4 * max_postings, 4 * max_postings))
    cur.execute("TRUNCATE biometrics_finger_posting_load")


def staged_postings(cur: Cursor) -> int:
    """Rows waiting in the stage (a bulk build not merged yet)."""
    cur.execute("SELECT count(*) AS n FROM biometrics_finger_posting_stage")
    row = cur.fetchone()
    return int(row["n"]) if row else 0


def merge_staged_postings(cur: Cursor, *, max_postings: int, keep_stage: bool = False,
                          ) -> int:
    """Move the staged postings into the posting lists: one aggregate per code, each list
    cut at ``max_postings`` entries. Into an empty posting table the lists are loaded
    first and the primary key is built afterwards (no index maintenance per row, no dead
    rows); otherwise each list is appended to once. Returns the lists written.
    ``keep_stage`` leaves the stage as it was (benchmarks re-merge it)."""
    cap = 4 * max_postings
    # one statement over the whole gallery: no per-statement limit, room to aggregate
    cur.execute("SET LOCAL statement_timeout = 0")
    cur.execute("SET LOCAL work_mem = '256MB'")
    # enrollments append to the lists meanwhile: hold them off until the merge commits
    # (so the emptiness seen below still holds when the key is rebuilt)
    cur.execute("LOCK TABLE biometrics_finger_posting IN ACCESS EXCLUSIVE MODE")
    cur.execute("SELECT NOT EXISTS (SELECT 1 FROM biometrics_finger_posting) AS empty")
    row = cur.fetchone()
    agg = ("SELECT code, substring(string_agg(entries, ''::bytea) FROM 1 FOR %s) AS entries"
           " FROM biometrics_finger_posting_stage GROUP BY code ORDER BY code")
    if row is not None and row["empty"]:
        cur.execute("ALTER TABLE biometrics_finger_posting"
                    " DROP CONSTRAINT biometrics_finger_posting_pkey")
        cur.execute(f"INSERT INTO biometrics_finger_posting (code, entries) {agg}", (cap,))
        n = cur.rowcount
        cur.execute("ALTER TABLE biometrics_finger_posting ADD PRIMARY KEY (code)")
    else:
        cur.execute(
            f"INSERT INTO biometrics_finger_posting AS p (code, entries) {agg}"
            " ON CONFLICT (code) DO UPDATE SET entries ="
            " substring(p.entries || EXCLUDED.entries FROM 1 FOR %s)"
            " WHERE length(p.entries) < %s", (cap, cap, cap))
        n = cur.rowcount
    if not keep_stage:
        cur.execute("TRUNCATE biometrics_finger_posting_stage")
    return int(n)


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
    """Drop every index row, posting and staged posting (before a full rebuild)."""
    cur.execute("TRUNCATE biometrics_finger_posting, biometrics_finger_posting_stage,"
                " biometrics_finger_index RESTART IDENTITY")


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
    """Take ``finger_id``'s entries (every cylinder slot) out of the posting lists of
    ``codes`` (retention: the codes are derived from the person's template); returns how
    many lists changed. Lists are locked in code order, as enrollment does, so the two
    never deadlock."""
    cur.execute("SELECT code, entries FROM biometrics_finger_posting"
                " WHERE code = ANY(%s::integer[]) ORDER BY code FOR UPDATE",
                (sorted({int(c) for c in codes}),))
    changed: list[tuple[int, bytes]] = []
    for row in cur.fetchall():
        entries = np.frombuffer(bytes(row["entries"]), ">i4")
        kept = entries[(entries.astype(np.int64) >> SLOT_BITS) != finger_id]
        if len(kept) != len(entries):
            changed.append((int(row["code"]), kept.astype(">i4").tobytes()))
    for code, remaining in changed:
        if remaining:
            cur.execute("UPDATE biometrics_finger_posting SET entries = %s WHERE code = %s",
                        (psycopg2.Binary(remaining), code))
        else:
            cur.execute("DELETE FROM biometrics_finger_posting WHERE code = %s", (code,))
    return len(changed)
