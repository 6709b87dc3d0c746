"""Migrations 0101/0103: the 48-d projection index (in shards searched at the same time)
and search_faces on top of it, in databases of their own (the installer replaces a
function and indexes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg2
import pytest
from click.testing import CliRunner

from api.cli import main
from biometrics import repository
from biometrics.face import projection
from registry.db import Cursor, Database
from registry.settings import reset_settings_cache
from tests.conftest import Clock, isolated_stack

N_FACES = 600
MODEL = "test-model@projection"


def _vector_literal(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


def _bulk_faces(cur: Cursor, vectors: np.ndarray, model: str) -> list[str]:
    """One guard and one face per vector, written straight to the tables (the API path
    is covered elsewhere; here only the index matters)."""
    cur.execute(
        "INSERT INTO registry_guard (name, id_number_bidx, id_number_sealed, birth_date, sex)"
        " SELECT 'projection test', sha256(convert_to('projection' || (n + i), 'UTF8')),"
        " '\\x00', '1990-01-01', 'M'"
        " FROM generate_series(1, %s) AS i, (SELECT count(*) AS n FROM registry_guard) c"
        " RETURNING biometric_subject::text AS s",
        (len(vectors),))
    subjects = [r["s"] for r in cur.fetchall()]
    for subject, v in zip(subjects, vectors, strict=True):
        repository.upsert_face(cur, subject=subject, status="enrolled", model=model,
                               embedding=v, photo_sealed=b"x", photo_sha256=b"x",
                               quality={}, transform_kid="k")
    return subjects


def _face_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """Vectors whose variance falls off over the dimensions, as real encodings' does."""
    scale = 0.12 * np.exp(-np.arange(128) / 40.0)
    return rng.normal(0.0, 1.0, (n, 128)) * scale


def _index_names(cur: Cursor) -> list[str]:
    cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'biometrics_face'"
                " AND indexname LIKE 'biometrics_face_proj_hnsw%' ORDER BY indexname")
    return [r["indexname"] for r in cur.fetchall()]


@pytest.fixture(scope="module")
def projected(pg_server: str, template_db: str, data_dir: Path) -> Iterator[Any]:
    rng = np.random.default_rng(7)
    with isolated_stack(pg_server, template_db, data_dir, Clock()) as (rt, _):
        vectors = _face_like(rng, N_FACES)
        with rt.db.transaction() as cur:
            subjects = _bulk_faces(cur, vectors, MODEL)
        fitted = projection.fit(vectors)
        with rt.db.transaction() as cur:
            cur.execute("SELECT biometrics_face_install_projection(%s::vector[], %s::vector,"
                        " m => 16, ef_construction => 64) AS n",  # default: 2 shards
                        ([_vector_literal(a) for a in fitted.axes],
                         _vector_literal(fitted.centre)))
            assert cur.fetchone()["n"] == 48
        yield rt, subjects, vectors, fitted


def test_the_projection_function_computes_the_centred_coordinates(projected: Any) -> None:
    rt, _, vectors, fitted = projected
    with rt.db.transaction(readonly=True) as cur:
        cur.execute("SELECT biometrics_face_proj(%s::vector)::text AS p",
                    (_vector_literal(vectors[0]),))
        got = np.array([float(x) for x in cur.fetchone()["p"].strip("[]").split(",")])
    want = (vectors[0] - fitted.centre) @ fitted.axes.T
    assert np.allclose(got, want, atol=2e-3)  # halfvec precision


def test_the_fit_keeps_the_high_variance_axes(projected: Any) -> None:
    _, _, vectors, fitted = projected
    assert fitted.axes.shape == (48, 128)
    assert np.allclose(fitted.axes @ fitted.axes.T, np.eye(48), atol=1e-9)
    assert 0.7 < fitted.variance_kept < 1.0
    with pytest.raises(ValueError, match="at least 500"):
        projection.fit(vectors[:100])
    with pytest.raises(ValueError, match="n x 128"):
        projection.fit(vectors[:, :64])


def test_two_shards_split_the_faces_and_each_query_uses_its_own_index(
        projected: Any) -> None:
    rt, _, vectors, _ = projected
    with rt.db.transaction() as cur:
        assert repository.face_index_shards(cur) == 2
        assert _index_names(cur) == ["biometrics_face_proj_hnsw_0", "biometrics_face_proj_hnsw_1"]
        cur.execute("SELECT (uuid_hash(subject) & 2147483647) % 2 AS shard, count(*) AS n"
                    " FROM biometrics_face GROUP BY 1 ORDER BY 1")
        sizes = [r["n"] for r in cur.fetchall()]
        assert sum(sizes) == N_FACES and min(sizes) > N_FACES / 3  # a hash, not a range
        cur.execute("SET LOCAL enable_seqscan = off")
        for shard in (0, 1):
            cur.execute("EXPLAIN SELECT subject FROM biometrics_face"
                        " WHERE model = %s AND (uuid_hash(subject) & 2147483647) %% 2 = %s"
                        " ORDER BY biometrics_face_proj(embedding)::halfvec(48)"
                        " <-> biometrics_face_proj(%s::vector)::halfvec(48) LIMIT 10",
                        (MODEL, shard, _vector_literal(vectors[0])))
            plan = " ".join(r["QUERY PLAN"] for r in cur.fetchall())
            assert f"biometrics_face_proj_hnsw_{shard}" in plan


@pytest.mark.parametrize("fan_out", [True, False])
def test_search_returns_the_exact_nearest_across_shards(projected: Any, fan_out: bool) -> None:
    rt, subjects, vectors, _ = projected
    rng = np.random.default_rng(11)
    for row in rng.choice(N_FACES, 5, replace=False):
        probe = vectors[row] + rng.normal(0.0, 0.005, 128)
        with rt.db.transaction() as cur:
            hits = repository.search_faces(cur, probe, model=MODEL, exclude_subject=None, k=5,
                                           db=rt.db if fan_out else None)
        exact = np.argsort(np.linalg.norm(vectors - probe, axis=1))[:5]
        assert [s for s, _ in hits] == [subjects[i] for i in exact]
        assert hits[0][1] == pytest.approx(float(np.linalg.norm(vectors[row] - probe)),
                                           abs=1e-5)


def test_search_leaves_out_the_subject_itself_and_other_models(projected: Any) -> None:
    rt, subjects, vectors, _ = projected
    with rt.db.transaction() as cur:
        hits = repository.search_faces(cur, vectors[3], model=MODEL,
                                       exclude_subject=subjects[3], k=5, db=rt.db)
        assert subjects[3] not in [s for s, _ in hits] and len(hits) == 5
        assert repository.search_faces(cur, vectors[3], model="another-model@1",
                                       exclude_subject=None, db=rt.db) == []


def test_fan_out_runs_reads_at_the_same_time_on_other_backends(projected: Any) -> None:
    rt = projected[0]
    started = threading.Event()

    def first(cur: Cursor) -> int:
        # Only returns once the second read has started: they overlap.
        assert started.wait(timeout=30), "the second read did not run alongside the first"
        cur.execute("SELECT pg_backend_pid() AS pid")
        return int(cur.fetchone()["pid"])

    def second(cur: Cursor) -> int:
        started.set()
        cur.execute("SELECT pg_backend_pid() AS pid")
        return int(cur.fetchone()["pid"])

    with rt.db.transaction() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        own = cur.fetchone()["pid"]
        pids = rt.db.fan_out(cur, [first, second, second])
    assert pids[0] == own and len({own, pids[1], pids[2]}) == 3


def test_fan_out_on_a_full_pool_runs_on_the_callers_connection(projected: Any) -> None:
    db = Database(projected[0].db.dsn, max_size=1)  # the caller holds the only connection
    try:
        def pid(cur: Cursor) -> int:
            cur.execute("SELECT pg_backend_pid() AS pid")
            return int(cur.fetchone()["pid"])

        with db.transaction() as cur:
            own = pid(cur)
            assert db.fan_out(cur, [pid, pid, pid]) == [own, own, own]
    finally:
        db.close()


def test_a_failing_read_raises_and_gives_its_connection_back(projected: Any) -> None:
    db = Database(projected[0].db.dsn, max_size=3)
    try:
        def boom(cur: Cursor) -> int:
            cur.execute("SELECT 1 / 0 AS x")
            return 0

        def one(cur: Cursor) -> int:
            cur.execute("SELECT 1 AS x")
            return int(cur.fetchone()["x"])

        for _ in range(5):  # would run out of connections if a lease leaked
            with pytest.raises(psycopg2.errors.DivisionByZero), db.transaction() as cur:
                db.fan_out(cur, [one, boom, one])
        with db.transaction() as cur:
            assert db.fan_out(cur, [one, one, one]) == [1, 1, 1]
    finally:
        db.close()


def test_the_installer_refuses_bad_input_and_can_change_the_layout(projected: Any) -> None:
    rt, _, _, fitted = projected
    axes = [_vector_literal(a) for a in fitted.axes]
    centre = _vector_literal(fitted.centre)
    for args, message in [((axes[:10], centre, 2), "expected 48 projection axes"),
                          ((axes, centre, 17), "shards must be between 1 and 16")]:
        with pytest.raises(psycopg2.Error, match=message), \
                rt.db.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT biometrics_face_install_projection(%s::vector[], %s::vector,"
                        " m => 16, ef_construction => 64, shards => %s)", args)
    try:
        with rt.db.transaction() as cur:  # one index, then three shards
            cur.execute("SELECT biometrics_face_install_projection(%s::vector[], %s::vector,"
                        " m => 16, ef_construction => 64, shards => 1)", (axes, centre))
            assert repository.face_index_shards(cur) == 1
            assert _index_names(cur) == ["biometrics_face_proj_hnsw"]
            cur.execute("SELECT biometrics_face_install_projection(%s::vector[], %s::vector,"
                        " m => 16, ef_construction => 64, shards => 3)", (axes, centre))
            assert repository.face_index_shards(cur) == 3
            assert _index_names(cur) == [f"biometrics_face_proj_hnsw_{i}" for i in range(3)]
            assert repository.face_index_size(cur) > 0
    finally:
        with rt.db.transaction() as cur:  # as the other tests expect it
            cur.execute("SELECT biometrics_face_install_projection(%s::vector[], %s::vector,"
                        " m => 16, ef_construction => 64)", (axes, centre))


def test_search_works_before_any_projection_is_installed(
        pg_server: str, template_db: str, data_dir: Path) -> None:
    rng = np.random.default_rng(5)
    with isolated_stack(pg_server, template_db, data_dir, Clock()) as (rt, _):
        vectors = _face_like(rng, 50)
        with rt.db.transaction() as cur:
            subjects = _bulk_faces(cur, vectors, MODEL)
            assert repository.face_index_shards(cur) == 0
            hits = repository.search_faces(cur, vectors[7], model=MODEL, exclude_subject=None,
                                           k=3, db=rt.db)
        assert hits[0] == (subjects[7], pytest.approx(0.0, abs=1e-5))


def test_face_index_command_fits_installs_and_audits(
        pg_server: str, template_db: str, data_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from biometrics.face.pipeline import MODEL_ID

    rng = np.random.default_rng(9)
    with isolated_stack(pg_server, template_db, data_dir, Clock()) as (rt, _):
        monkeypatch.setenv("DATABASE_URL", rt.db.dsn)
        monkeypatch.setenv("GUARDREG_MODE", "test")
        monkeypatch.setenv("GUARDREG_DATA_DIR", str(rt.settings.data_dir))
        reset_settings_cache()
        try:
            with rt.db.transaction() as cur:
                _bulk_faces(cur, _face_like(rng, 100), MODEL_ID)
            too_few = CliRunner().invoke(main, ["biometrics", "face-index"])
            assert too_few.exit_code != 0 and "at least 500" in too_few.output
            with rt.db.transaction() as cur:
                assert repository.face_index_shards(cur) == 0  # nothing was installed
                _bulk_faces(cur, _face_like(rng, 500), MODEL_ID)
            bad = CliRunner().invoke(main, ["biometrics", "face-index", "--m", "40",
                                            "--ef-construction", "64"])
            assert bad.exit_code == 2 and "twice" in bad.output
            done = CliRunner().invoke(main, ["biometrics", "face-index", "--shards", "3",
                                             "--m", "12", "--ef-construction", "40"])
            assert done.exit_code == 0, done.output
            assert "fitted on 600 faces" in done.output and "3 shard(s)" in done.output
            with rt.db.transaction() as cur:
                assert repository.face_index_shards(cur) == 3
                cur.execute("SELECT data FROM registry_audit_event WHERE action ="
                            " 'biometrics.face-index'")
                audited = cur.fetchone()["data"]
            assert audited["shards"] == 3 and audited["fitted_on"] == 600
        finally:
            reset_settings_cache()
