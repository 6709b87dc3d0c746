"""1:N face search through the production code at scale (issue #3's bar: 1M vectors,
p95 <= 50 ms with recall@10 >= 0.99 against exact search).

Usage (from the repository root)::

    .venv/bin/python bench/bench_face_production.py [--size 1000000] [--queries 400]
        [--shards 2] [--m 32] [--ef-construction 128] [--ef-search 400,300,500]
        [--shared-buffers 4GB] [--model-cache /tmp/facemodel.npz]

Unlike ``bench_face.py search`` (which tries index layouts on a bare table), this runs
what the service runs: a PostgreSQL 18 + pgvector server started in a temporary
directory, every guardreg migration, ``size`` guards each with a face row in the real
``biometrics_face`` table (synthetic face-like vectors from ``bench_face.FaceLikeModel``;
the sealed photo columns hold a few bytes, as TOAST pointers do in the heap),
``biometrics.face.projection.install`` (the code behind ``guardreg biometrics
face-index``: fit on a sample, partial HNSW index per shard), then
``biometrics.repository.search_faces`` inside a ``Database.transaction`` as enrollment
calls it: with ``db`` (shards searched at the same time, one pooled connection each)
and, as the baseline in the same run, without (the shards one after the other on the
caller's connection). Timing covers the whole transaction (BEGIN to COMMIT).

Recall@10 is the overlap of the returned 10 with the exact top 10 (numpy brute force
over the same float32 vectors). Each query is a fresh capture of an enrolled identity.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(ROOT / "bench")):
    if p not in sys.path:
        sys.path.insert(0, p)

from bench_face import FaceLikeModel, _copy_binary, _pct, _start_server, fit_model  # noqa: E402

MODEL = "bench-face@production"
CHUNK = 100_000


def _subject(i: int) -> str:
    """The subject the load gives row ``i``: PostgreSQL's ``md5(i::text)::uuid``."""
    return str(uuid.UUID(hashlib.md5(str(i).encode()).hexdigest()))


def _stamp() -> str:
    return f"{time.strftime('%H:%M:%S UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}"


def load(dsn: str, vectors: np.ndarray) -> float:
    """Guards and faces through plain SQL (the enrollment API would take days at 1M)."""
    import psycopg2

    t = time.perf_counter()
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE UNLOGGED TABLE bench_stage (id int4 PRIMARY KEY, embedding vector(128))")
    for s in range(0, len(vectors), CHUNK):
        cur.copy_expert("COPY bench_stage (id, embedding) FROM STDIN WITH (FORMAT binary)",
                        io.BytesIO(_copy_binary(vectors[s : s + CHUNK], s)))
    # Enrollment-like rows; 0100's full-vector index is dropped by the projection
    # installer anyway, and maintaining it row by row would take hours here.
    cur.execute("DROP INDEX IF EXISTS biometrics_face_embedding_hnsw")
    cur.execute("INSERT INTO registry_guard (name, id_number, birth_date, sex, biometric_subject)"
                " SELECT 'bench', lpad((100000000000 + id)::text, 18, '0'), '1990-01-01', 'M',"
                " md5(id::text)::uuid FROM bench_stage")
    quality = ('{"eye_distance": 81.2, "roll": 1.3, "yaw": 0.04, "sharpness": 412.5,'
               ' "brightness": 121.0, "contrast": 48.7, "faces": 1, "detector": "hog"}')
    cur.execute("INSERT INTO biometrics_face (subject, status, model, embedding, photo_sealed,"
                " photo_sha256, quality, transform_kid, display_sealed)"
                " SELECT md5(id::text)::uuid, 'enrolled', %s, embedding,"
                " decode(md5(id::text), 'hex'), sha256(id::text::bytea), %s::jsonb, 'bench',"
                " decode(md5(id::text), 'hex') FROM bench_stage ORDER BY id", (MODEL, quality))
    cur.execute("DROP TABLE bench_stage")
    cur.execute("VACUUM ANALYZE registry_guard")
    cur.execute("VACUUM ANALYZE biometrics_face")
    conn.close()
    return time.perf_counter() - t


def run(model: FaceLikeModel, a: argparse.Namespace) -> None:
    from biometrics import repository
    from biometrics.face import projection
    from registry import migrate
    from registry.db import Database

    tmp = tempfile.mkdtemp(prefix="bench_face_prod_")
    settings = {"shared_buffers": a.shared_buffers} if a.shared_buffers else {}
    server = _start_server(tmp, settings)
    try:
        dsn = server.get_uri()
        db = Database(dsn, max_size=4)  # the service's default statement timeout
        migrate.upgrade(db, ["registry", "biometrics", "certificates"])
        with db.transaction() as cur:
            cur.execute("SELECT version() AS v, current_setting('shared_buffers') AS sb,"
                        " (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgv")
            info = cur.fetchone()
        assert info is not None
        print(f"{str(info['v']).split(' on ')[0]}, pgvector {info['pgv']}, shared_buffers "
              f"{info['sb']}; {os.cpu_count()} cores")

        n = a.size
        rng = np.random.default_rng(n)
        cents = model.centres(n, rng)
        vecs = model.samples(cents, rng)
        q_ids = rng.choice(n, a.queries, replace=False)
        queries = model.samples(cents[q_ids], rng).astype(np.float64)
        print(f"N={n:,}: load {load(dsn, vecs):.0f} s ({_stamp()})", flush=True)

        with db.transaction() as cur:  # as `guardreg biometrics face-index` runs it
            done = projection.install(cur, model=MODEL, shards=a.shards, m=a.m,
                                      ef_construction=a.ef_construction, sample=200_000,
                                      maintenance_work_mem=a.maintenance_work_mem)
            cur.execute("SELECT pg_relation_size('biometrics_face') AS heap")
            heap = cur.fetchone()
        assert heap is not None
        print(f"face-index: fitted on {done.projection.fitted_on:,} vectors (keeps "
              f"{100 * done.projection.variance_kept:.1f}% of the variance), {a.shards} "
              f"shard(s), m={a.m}, ef_construction={a.ef_construction}, maintenance_work_mem "
              f"{a.maintenance_work_mem}: build {done.build_seconds:.0f} s, index "
              f"{done.index_bytes / 2**20:.0f} MiB, heap {int(heap['heap']) / 2**20:.0f} MiB "
              f"({_stamp()})", flush=True)

        k = 10
        exact: list[set[str]] = []
        # Where the own template ranks in the exact order (0 = nearest): a miss at rank 9
        # (displaced by a near-tie impostor) differs from a miss at rank 0.
        mate_rank: list[int] = []
        sq = np.sum(vecs.astype(np.float64) ** 2, axis=1)
        for s in range(0, len(queries), 50):
            q = queries[s : s + 50]
            d2 = sq[None, :] - 2.0 * q @ vecs.T.astype(np.float64)
            top = np.argpartition(d2, k, axis=1)[:, :k]
            exact.extend({_subject(int(i)) for i in row} for row in top)
            own_d2 = d2[np.arange(len(q)), q_ids[s : s + 50]]
            mate_rank.extend(int(r) for r in np.sum(d2 < own_d2[:, None], axis=1))
        mates = [_subject(int(i)) for i in q_ids]
        in_exact = sum(m in ex for m, ex in zip(mates, exact, strict=True))
        print(f"exact search has the query's own template in its top {k} for "
              f"{in_exact}/{len(queries)} queries (a property of the data)")

        def measure(ef: int, fan_out: bool, cand: int | None = None) -> dict[str, Any]:
            extra = {} if cand is None else {"candidates": cand}

            def one(q: np.ndarray) -> list[str]:
                with db.transaction() as cur:
                    hits = repository.search_faces(cur, q, model=MODEL, exclude_subject=None,
                                                   k=k, ef_search=ef,
                                                   db=db if fan_out else None, **extra)
                return [s for s, _ in hits]

            for q in queries[:20]:  # warm the cache and the pool
                one(q)
            lat: list[float] = []
            recall: list[float] = []
            own = 0
            missed: list[int] = []  # exact ranks of own templates exact finds and we miss
            for q, ex, mate, rank in zip(queries, exact, mates, mate_rank, strict=True):
                t = time.perf_counter()
                got = one(q)
                lat.append(time.perf_counter() - t)
                recall.append(len(set(got) & ex) / k)
                own += mate in got
                if mate in ex and mate not in got:
                    missed.append(rank)
            return {"p50": 1000 * statistics.median(lat), "p95": 1000 * _pct(lat, 95),
                    "recall": statistics.fmean(recall), "min": min(recall), "own": own,
                    "missed": sorted(missed)}

        print(f"search_faces, {len(queries)} queries, k={k}, default candidates per shard, "
              "timed BEGIN..COMMIT:")
        rows: list[tuple[str, dict[str, Any]]] = []

        def report(label: str, r: dict[str, Any]) -> None:
            rows.append((label, r))
            print(f"  {label}: p50 {r['p50']:6.1f} ms, p95 {r['p95']:6.1f} ms, recall@10 "
                  f"{r['recall']:.4f} (min {r['min']:.1f}), own template in top 10: "
                  f"{r['own']}/{len(queries)}, missed ones at exact ranks {r['missed']} "
                  f"({_stamp()})", flush=True)

        for ef in a.ef_search:
            for fan_out in ([True, False] if ef == a.ef_search[0] else [True]):
                report(f"ef_search {ef:4d}, " + ("shards at the same time (db)" if fan_out
                                                 else "baseline: shards one after the other"),
                       measure(ef, fan_out))
        for cand in a.candidates:
            report(f"ef_search {max(a.ef_search[0], cand):4d}, {cand} candidates per shard",
                   measure(a.ef_search[0], True, cand))
        if len(rows) >= 2:
            print(f"p95 ratio baseline / fan-out at ef_search {a.ef_search[0]}: "
                  f"{rows[1][1]['p95'] / rows[0][1]['p95']:.2f}")
        db.close()
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=128)
    ap.add_argument("--ef-search", type=lambda s: [int(x) for x in s.split(",")],
                    default=[400, 300, 500],
                    help="per shard; search_faces raises it to the candidate count")
    ap.add_argument("--candidates", type=lambda s: [int(x) for x in s.split(",") if x],
                    default=[], help="also measure these candidate counts per shard (with "
                    "the first --ef-search, fan-out); the other lines use search_faces' default")
    ap.add_argument("--shared-buffers", default="4GB",
                    help="the server's shared_buffers ('' = the embedded default, 128MB)")
    ap.add_argument("--maintenance-work-mem", default="4GB")
    ap.add_argument("--model-cache", default="",
                    help="npz file to reuse the LFW encodings the vector model is fitted on")
    a = ap.parse_args(argv)
    print(time.strftime("run at %Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    cache = Path(a.model_cache) if a.model_cache else None
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            model = FaceLikeModel(z["encodings"])
    else:
        model = fit_model(400)
        if cache is not None:
            np.savez(cache, encodings=model.encodings)
    run(model, a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
