"""All SQL of the biometrics package. Functions take the caller's cursor; none commits."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from registry.db import Cursor, Database, fetch_all, fetch_one

Row = dict[str, Any]


def _vec(v: np.ndarray) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in v) + "]"


def parse_vector(text: str) -> np.ndarray:
    return np.array([float(x) for x in text.strip("[]").split(",")], dtype=np.float64)


# -- faces ---------------------------------------------------------------------------
def get_face(cur: Cursor, subject: str) -> Row | None:
    cur.execute(
        "SELECT subject::text AS subject, status, model, embedding::text AS embedding,"
        " photo_sealed, quality, transform_kid, created_at, updated_at"
        " FROM biometrics_face WHERE subject = %s",
        (subject,),
    )
    return fetch_one(cur)


def get_portrait(cur: Cursor, subject: str) -> Row | None:
    cur.execute("SELECT display_sealed, photo_sealed FROM biometrics_face WHERE subject = %s",
                (subject,))
    return fetch_one(cur)


def get_face_status(cur: Cursor, subject: str) -> Row | None:
    cur.execute(
        "SELECT status, model, quality, updated_at FROM biometrics_face WHERE subject = %s",
        (subject,),
    )
    return fetch_one(cur)


def upsert_face(cur: Cursor, *, subject: str, status: str, model: str, embedding: np.ndarray,
                photo_sealed: bytes, photo_sha256: bytes, quality: dict[str, Any],
                transform_kid: str, display_sealed: bytes | None = None) -> bool:
    """Insert or replace; returns True when a previous template was replaced."""
    cur.execute("SELECT 1 FROM biometrics_face WHERE subject = %s FOR UPDATE", (subject,))
    existed = cur.fetchone() is not None
    cur.execute(
        "INSERT INTO biometrics_face (subject, status, model, embedding, photo_sealed,"
        " photo_sha256, quality, transform_kid, display_sealed)"
        " VALUES (%s, %s, %s, %s::vector, %s, %s, %s, %s, %s)"
        " ON CONFLICT (subject) DO UPDATE SET status = EXCLUDED.status, model = EXCLUDED.model,"
        " embedding = EXCLUDED.embedding, photo_sealed = EXCLUDED.photo_sealed,"
        " display_sealed = EXCLUDED.display_sealed,"
        " photo_sha256 = EXCLUDED.photo_sha256, quality = EXCLUDED.quality,"
        " transform_kid = EXCLUDED.transform_kid, updated_at = now()",
        (subject, status, model, _vec(embedding), photo_sealed, photo_sha256,
         json.dumps(quality), transform_kid, display_sealed),
    )
    return existed


def set_face_status(cur: Cursor, subject: str, status: str) -> None:
    cur.execute("UPDATE biometrics_face SET status = %s, updated_at = now() WHERE subject = %s",
                (status, subject))


def face_index_shards(cur: Cursor) -> int:
    """How many shards the installed projection index has; 0 before one is installed."""
    cur.execute("SELECT shards FROM biometrics_face_projection")
    row = cur.fetchone()
    return int(row["shards"]) if row else 0


def search_faces(cur: Cursor, probe: np.ndarray, *, model: str, exclude_subject: str | None,
                 k: int = 20, ef_search: int | None = None, candidates: int = 200,
                 db: Database | None = None) -> list[tuple[str, float]]:
    """The ``k`` nearest faces by exact distance, nearest first.

    Two stages (docs/face.md, "1:N search"): the top ``max(k, candidates)`` candidates
    of each shard come from an HNSW index and are re-ranked exactly on the stored
    vector(128); the returned distances are recomputed in float64. Which index:

    - the 48-d projection index once ``guardreg biometrics face-index`` has installed it
      (migrations 0101, 0103). With several shards (partial indexes on
      ``uuid_hash(subject)``), each shard gives its own candidates and re-ranks them;
      with ``db``, the shards are searched at the same time, one connection each
      (:meth:`Database.fan_out`), else one after the other on ``cur``;
    - until then the HNSW index of migration 0100 on the full vector.

    ``ef_search`` (per shard) defaults to 400 and ``candidates`` to 200. At 1M in 2
    shards (m=32) that gave recall@10 0.995 at p95 33 ms (100 candidates: 0.994 at
    34 ms, and 4 fewer own templates found of 400; ef_search 300: 0.9915 at 30 ms):
    this runs once per enrollment, where a missed duplicate costs far more than
    milliseconds. Iterative index scans keep the candidate count when the
    model/status filters drop rows.
    """
    candidates = max(k, candidates)
    shards = face_index_shards(cur)
    if shards:
        key = ("biometrics_face_proj(embedding)::halfvec(48)"
               " <-> biometrics_face_proj(%(probe)s::vector)::halfvec(48)")
    else:
        key = "embedding <-> %(probe)s::vector"
    parts = ([f" AND (uuid_hash(subject) & 2147483647) %% {shards} = {i}"
              for i in range(shards)] if shards > 1 else [""])
    ef = min(1000, max(ef_search or 400, candidates))  # 1000: pgvector's maximum
    params = {"model": model, "exclude": exclude_subject, "probe": _vec(probe),
              "candidates": candidates, "k": k}

    def shard_query(part: str) -> Callable[[Cursor], list[Any]]:
        sql = (  # one string: one round trip, and one implicit transaction in autocommit
            f"SET LOCAL hnsw.ef_search = {ef}; SET LOCAL hnsw.iterative_scan = relaxed_order;"
            " SELECT subject::text AS subject, embedding::text AS embedding FROM ("
            " SELECT subject, embedding FROM biometrics_face"
            " WHERE model = %(model)s AND status <> 'rejected'"
            f" AND subject IS DISTINCT FROM %(exclude)s{part}"
            f" ORDER BY {key} LIMIT %(candidates)s) c"
            " ORDER BY embedding <-> %(probe)s::vector LIMIT %(k)s")

        def read(c: Cursor) -> list[Any]:
            c.execute(sql, params)
            return c.fetchall()
        return read

    reads = [shard_query(part) for part in parts]
    found = db.fan_out(cur, reads) if db is not None else [read(cur) for read in reads]
    rows = [r for shard_rows in found for r in shard_rows]
    if not rows:
        return []
    mat = np.stack([parse_vector(r["embedding"]) for r in rows])
    dists = np.linalg.norm(mat - probe[None, :], axis=1)
    order = np.argsort(dists, kind="stable")[:k]
    return [(rows[i]["subject"], float(dists[i])) for i in order]


def sample_face_vectors(cur: Cursor, *, model: str, limit: int) -> np.ndarray:
    """Up to ``limit`` stored (protected) vectors of ``model``, spread over the table:
    what the projection is fitted on. Maintenance: no statement timeout for the rest of
    ``cur``'s transaction (reading 1M rows and building the index take minutes)."""
    cur.execute("SELECT set_config('statement_timeout', '0', true)")
    cur.execute("SELECT count(*) AS n FROM biometrics_face"
                " WHERE model = %s AND status <> 'rejected'", (model,))
    row = cur.fetchone()
    total = int(row["n"]) if row else 0
    # Every row when they fit (random() < 1 always), else a Bernoulli sample of about
    # ``limit`` rows.
    share = min(1.0, limit / total) if total else 1.0
    cur.execute(
        "SELECT embedding::text AS e FROM biometrics_face"
        " WHERE model = %s AND status <> 'rejected' AND random() < %s LIMIT %s",
        (model, share, limit))
    rows = cur.fetchall()
    if not rows:
        return np.zeros((0, 128))
    return np.stack([parse_vector(r["e"]) for r in rows])


def install_face_projection(cur: Cursor, *, axes: np.ndarray, centre: np.ndarray,
                            shards: int, m: int, ef_construction: int,
                            maintenance_work_mem: str) -> None:
    """(Re)build the projection index (migration 0103's installer) in ``cur``'s
    transaction; it blocks face writes until the transaction ends."""
    cur.execute("SELECT set_config('maintenance_work_mem', %s, true)", (maintenance_work_mem,))
    cur.execute(
        "SELECT biometrics_face_install_projection(%s::vector[], %s::vector, m => %s,"
        " ef_construction => %s, shards => %s)",
        ([_vec(a) for a in axes], _vec(centre), m, ef_construction, shards))


def face_index_size(cur: Cursor) -> int:
    """Bytes on disk of the projection index (all shards)."""
    cur.execute(
        "SELECT coalesce(sum(pg_relation_size(x.indexrelid)), 0)::bigint AS n FROM pg_index x"
        " JOIN pg_class c ON c.oid = x.indexrelid"
        " WHERE x.indrelid = 'biometrics_face'::regclass"
        " AND c.relname LIKE 'biometrics\\_face\\_proj\\_hnsw%'")
    row = cur.fetchone()
    return int(row["n"]) if row else 0


# -- fingers -------------------------------------------------------------------------
def upsert_finger(cur: Cursor, *, subject: str, position: int, status: str, model: str,
                  template_sealed: bytes, quality: int, minutiae: int) -> bool:
    cur.execute("SELECT 1 FROM biometrics_finger WHERE subject = %s AND position = %s FOR UPDATE",
                (subject, position))
    existed = cur.fetchone() is not None
    cur.execute(
        "INSERT INTO biometrics_finger (subject, position, status, model, template_sealed,"
        " quality, minutiae) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (subject, position) DO UPDATE SET status = EXCLUDED.status,"
        " model = EXCLUDED.model, template_sealed = EXCLUDED.template_sealed,"
        " quality = EXCLUDED.quality, minutiae = EXCLUDED.minutiae, updated_at = now(),"
        " change_seq = nextval('biometrics_finger_change_seq')",
        (subject, position, status, model, template_sealed, quality, minutiae),
    )
    return existed


def set_finger_status(cur: Cursor, subject: str, status: str) -> None:
    cur.execute(
        "UPDATE biometrics_finger SET status = %s, updated_at = now(),"
        " change_seq = nextval('biometrics_finger_change_seq') WHERE subject = %s",
        (status, subject),
    )


def get_fingers(cur: Cursor, subject: str) -> list[Row]:
    cur.execute(
        "SELECT subject::text AS subject, position, status, model, template_sealed, quality,"
        " minutiae, updated_at FROM biometrics_finger WHERE subject = %s ORDER BY position",
        (subject,),
    )
    return fetch_all(cur)


def fingers_changed_since(cur: Cursor, change_seq: int, *, limit: int = 5000) -> list[Row]:
    cur.execute(
        "SELECT subject::text AS subject, position, status, model, template_sealed, change_seq"
        " FROM biometrics_finger WHERE change_seq > %s ORDER BY change_seq LIMIT %s",
        (change_seq, limit),
    )
    return fetch_all(cur)


def capture_status(cur: Cursor, subject: str) -> Row:
    cur.execute(
        "SELECT (SELECT status FROM biometrics_face WHERE subject = %s) AS face,"
        " (SELECT count(*) FROM biometrics_finger WHERE subject = %s AND status = 'enrolled')"
        " AS fingers_enrolled,"
        " (SELECT count(*) FROM biometrics_finger WHERE subject = %s) AS fingers_total",
        (subject, subject, subject),
    )
    row = cur.fetchone()
    assert row is not None
    return dict(row)


# -- review queue ----------------------------------------------------------------------
def open_review(cur: Cursor, *, subject: str, modality: str, candidates: list[dict[str, Any]],
                banned_match: bool) -> int:
    cur.execute(
        "INSERT INTO biometrics_review (subject, modality, candidates, banned_match)"
        " VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (subject, modality) WHERE status = 'pending' DO UPDATE SET"
        " candidates = EXCLUDED.candidates, banned_match = EXCLUDED.banned_match,"
        " created_at = now() RETURNING id",
        (subject, modality, json.dumps(candidates), banned_match),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["id"])


def get_review(cur: Cursor, review_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(
        "SELECT id, subject::text AS subject, modality, candidates, banned_match, status,"
        " decided_by, decided_at, decision_note, created_at FROM biometrics_review WHERE id = %s"
        + (" FOR UPDATE" if for_update else ""),
        (review_id,),
    )
    return fetch_one(cur)


def list_reviews(cur: Cursor, *, status: str | None, after_id: int, limit: int) -> list[Row]:
    cur.execute(
        "SELECT id, subject::text AS subject, modality, candidates, banned_match, status,"
        " decided_by, decided_at, decision_note, created_at FROM biometrics_review"
        " WHERE id > %s AND (%s::text IS NULL OR status = %s) ORDER BY id LIMIT %s",
        (after_id, status, status, limit),
    )
    return fetch_all(cur)


def pending_reviews_for(cur: Cursor, subject: str) -> list[Row]:
    cur.execute(
        "SELECT id, modality FROM biometrics_review WHERE subject = %s AND status = 'pending'",
        (subject,),
    )
    return fetch_all(cur)


def decide_review(cur: Cursor, review_id: int, *, status: str, decided_by: str,
                  note: str | None) -> bool:
    cur.execute(
        "UPDATE biometrics_review SET status = %s, decided_by = %s, decided_at = now(),"
        " decision_note = %s WHERE id = %s AND status = 'pending'",
        (status, decided_by, note, review_id),
    )
    return bool(cur.rowcount)


# -- checkpoint portraits (backfill) --------------------------------------------------
def faces_without_portrait(cur: Cursor, *, limit: int) -> list[Row]:
    cur.execute(
        "SELECT subject::text AS subject, photo_sealed FROM biometrics_face"
        " WHERE display_sealed IS NULL AND length(photo_sealed) > 0"
        " ORDER BY subject LIMIT %s FOR UPDATE SKIP LOCKED",
        (limit,),
    )
    return fetch_all(cur)


def set_portrait(cur: Cursor, subject: str, display_sealed: bytes) -> None:
    cur.execute("UPDATE biometrics_face SET display_sealed = %s WHERE subject = %s",
                (display_sealed, subject))


# -- re-encoding under a new model ------------------------------------------------------
def faces_of_other_models(cur: Cursor, *, model: str, limit: int,
                          skip: Sequence[str] = ()) -> list[Row]:
    cur.execute(
        "SELECT subject::text AS subject, model, photo_sealed FROM biometrics_face"
        " WHERE model <> %s AND NOT (subject::text = ANY(%s)) AND length(photo_sealed) > 0"
        " ORDER BY subject LIMIT %s FOR UPDATE SKIP LOCKED",
        (model, list(skip), limit),
    )
    return fetch_all(cur)


def replace_face_template(cur: Cursor, subject: str, *, model: str, embedding: np.ndarray,
                          transform_kid: str) -> None:
    cur.execute(
        "UPDATE biometrics_face SET model = %s, embedding = %s::vector, transform_kid = %s,"
        " updated_at = now() WHERE subject = %s",
        (model, _vec(embedding), transform_kid, subject),
    )


# -- rotating the biometric secret ------------------------------------------------------
def faces_not_under_transform(cur: Cursor, *, transform_kid: str, limit: int) -> list[Row]:
    cur.execute(
        "SELECT subject::text AS subject, photo_sealed, display_sealed,"
        " embedding::text AS embedding, transform_kid FROM biometrics_face"
        " WHERE transform_kid <> %s ORDER BY subject LIMIT %s FOR UPDATE SKIP LOCKED",
        (transform_kid, limit),
    )
    return fetch_all(cur)


def replace_face_sealing(cur: Cursor, subject: str, *, photo_sealed: bytes,
                         display_sealed: bytes | None, embedding: np.ndarray,
                         transform_kid: str) -> None:
    """Same photo, portrait and template under another key (no capture change)."""
    cur.execute(
        "UPDATE biometrics_face SET photo_sealed = %s, display_sealed = %s,"
        " embedding = %s::vector, transform_kid = %s WHERE subject = %s",
        (photo_sealed, display_sealed, _vec(embedding), transform_kid, subject),
    )


def fingers_after(cur: Cursor, *, after: tuple[str, int] | None, limit: int) -> list[Row]:
    """Finger rows in (subject, position) order after ``after``, locked."""
    subject, position = after if after is not None else ("", -1)
    cur.execute(
        "SELECT subject::text AS subject, position, template_sealed FROM biometrics_finger"
        " WHERE (subject::text, position) > (%s, %s) ORDER BY subject::text, position"
        " LIMIT %s FOR UPDATE",
        (subject, position, limit),
    )
    return fetch_all(cur)


def replace_finger_sealing(cur: Cursor, subject: str, position: int,
                           template_sealed: bytes) -> None:
    """Same template under another key: change_seq stays (the content is unchanged)."""
    cur.execute("UPDATE biometrics_finger SET template_sealed = %s"
                " WHERE subject = %s AND position = %s", (template_sealed, subject, position))
