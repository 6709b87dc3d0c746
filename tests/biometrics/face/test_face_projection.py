"""Migration 0101: the 48-d projection index installer and search_faces on top of it,
in a database of their own (the installer replaces a function and an index)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import psycopg2
import pytest

from biometrics import repository
from tests.conftest import Clock, isolated_stack, make_principal

N_FACES = 60
MODEL = "test-model@projection"


def _vector_literal(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


@pytest.fixture(scope="module")
def projected(pg_server: str, template_db: str, data_dir: Path) -> Any:
    rng = np.random.default_rng(7)
    with isolated_stack(pg_server, template_db, data_dir, Clock()) as (rt, client):
        reg = make_principal(rt, client, "regulator")
        company = reg.make_company()
        ids = [reg.make_guard(company["id"])["id"] for _ in range(N_FACES)]
        vectors = rng.normal(0.0, 0.1, (N_FACES, 128))
        with rt.db.transaction() as cur:
            cur.execute("SELECT biometric_subject::text AS s FROM registry_guard"
                        " WHERE id = ANY(%s) ORDER BY id", (ids,))
            subjects = [r["s"] for r in cur.fetchall()]
            for subject, v in zip(subjects, vectors, strict=True):
                repository.upsert_face(cur, subject=subject, status="enrolled", model=MODEL,
                                       embedding=v, photo_sealed=b"x", photo_sha256=b"x",
                                       quality={}, transform_kid="k")
        centre = vectors.mean(axis=0)
        _, _, vt = np.linalg.svd(vectors - centre, full_matrices=False)
        axes = vt[:48]  # principal axes, as docs/face.md fits them (N_FACES > 48)
        with rt.db.transaction() as cur:
            cur.execute("SELECT biometrics_face_install_projection(%s::vector[], %s::vector)"
                        " AS n", ([_vector_literal(a) for a in axes], _vector_literal(centre)))
            assert cur.fetchone()["n"] == 48
        yield rt, subjects, vectors, axes, centre


def test_the_projection_function_computes_the_centred_coordinates(projected: Any) -> None:
    rt, _, vectors, axes, centre = projected
    with rt.db.transaction(readonly=True) as cur:
        cur.execute("SELECT biometrics_face_proj(%s::vector)::text AS p",
                    (_vector_literal(vectors[0]),))
        got = np.array([float(x) for x in cur.fetchone()["p"].strip("[]").split(",")])
    want = (vectors[0] - centre) @ axes.T
    assert np.allclose(got, want, atol=2e-3)  # halfvec precision


def test_search_uses_the_projection_index_and_returns_the_exact_nearest(projected: Any) -> None:
    rt, subjects, vectors, _, _ = projected
    probe = vectors[5] + 0.01
    with rt.db.transaction() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN SELECT subject FROM biometrics_face ORDER BY"
                    " biometrics_face_proj(embedding)::halfvec(48)"
                    " <-> biometrics_face_proj(%s::vector)::halfvec(48) LIMIT 10",
                    (_vector_literal(probe),))
        plan = " ".join(r["QUERY PLAN"] for r in cur.fetchall())
        hits = repository.search_faces(cur, probe, model=MODEL, exclude_subject=None, k=5)
    assert "biometrics_face_proj_hnsw" in plan
    exact = np.argsort(np.linalg.norm(vectors - probe, axis=1))[:5]
    assert [s for s, _ in hits] == [subjects[i] for i in exact]
    assert hits[0][1] == pytest.approx(float(np.linalg.norm(vectors[5] - probe)), abs=1e-5)


def test_the_installer_refuses_wrong_axes_and_can_run_again(projected: Any) -> None:
    rt, _, _, axes, centre = projected
    with pytest.raises(psycopg2.Error, match="expected 48 projection axes"), \
            rt.db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT biometrics_face_install_projection(%s::vector[])",
                    ([_vector_literal(a) for a in axes[:10]],))
    with rt.db.transaction() as cur:  # a refit replaces function and index
        cur.execute("SELECT biometrics_face_install_projection(%s::vector[], %s::vector) AS n",
                    ([_vector_literal(a) for a in axes[::-1]], _vector_literal(centre)))
        assert cur.fetchone()["n"] == 48
        cur.execute("SELECT count(*) AS n FROM pg_indexes"
                    " WHERE indexname = 'biometrics_face_proj_hnsw'")
        assert cur.fetchone()["n"] == 1
