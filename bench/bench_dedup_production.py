"""Fused 1:N deduplication through the production path at city scale (issue #13).

Usage (from the repository root)::

    FPINDEX_CACHE=DIR [FPINDEX_WAIT=1] .venv/bin/python -u bench/bench_dedup_production.py
        [--identities 100000] [--mated 300] [--non-mated 300]
        [--faces-cache ~/.cache/guardreg/fusion/faces-*.npz] [--lfw DIR]
        [--stop-at HH:MM] [--stop-file PATH] [--progress 25]

(``--faces-cache FILE`` that does not exist: the face-like model is fitted on 2,000 LFW
photos and their encodings saved there for the next run. ``FPINDEX_WAIT=1``: the finger
gallery is being made by ``bench/_finger_gallery.py`` in other processes; faces, the face
index and the probes are made first, then each chunk of fingers is loaded as it appears.)

What runs is what enrollment runs: a PostgreSQL 18 + pgvector server in a temporary
directory, every guardreg migration, ``identities`` guards each with a face row (vectors
drawn from ``bench_face.FaceLikeModel``, the Gaussian model of our LFW encodings used
for the face-index benchmark) and two fingers (positions 2 and 7; distinct synthetic
fingers from ``biometrics.fingerprint.synthetic``, first impressions, prepared and cached
by ``bench/_finger_gallery.py``), sealed as enrollment seals them and indexed with the
production index (``finger_repository.index_fingers_bulk``, as `guardreg biometrics
finger-index` does: staged, then every list written once); the face index installed
by ``biometrics.face.projection.install``.
Then ``biometrics.enrollment.find_duplicates`` (face and finger indexes -> candidates ->
every modality scored -> calibrated LLRs fused -> hold threshold for FPIR 1% at the
configured gallery of 500,000) inside a ``Database.transaction``:

- mated probes: an enrolled identity presented again (a new face capture from its
  centre, a second impression of each of its two fingers): FNIR = the mate not held;
- non-mated probes: new people (new face centre, new fingers): false candidates per
  search (an estimate of FPIR at this gallery size);
- the same probes with the face alone and with the fingers alone.

Each probe runs in the three modes in turn (each mode with its own bounded template
cache), after one unrecorded warm-up search per mode. Latency is the whole
``find_duplicates`` call under ``dedup_repository.lock_dedup`` (BEGIN to COMMIT), per
mode: p50 / p95 wall and the client's CPU time. The baseline in the same run is the
face-only search (one index, no fingers). Running figures are printed every
``--progress`` probes; ``--stop-at`` / ``--stop-file`` end a run early with the figures of
the probes done.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(ROOT / "bench")):
    if p not in sys.path:
        sys.path.insert(0, p)

import _finger_gallery as gallery  # noqa: E402
from bench_face import FaceLikeModel, _copy_binary, _start_server, fit_model  # noqa: E402

CHUNK = 50_000


def _stamp() -> str:
    return f"{time.strftime('%H:%M:%S UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}"


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")


def _face_model(path: str | None, n_fit: int) -> FaceLikeModel:
    from api.cli_eval_dedup import default_cache

    files = [path] if path else sorted(glob.glob(str(default_cache() / "faces-*.npz")))
    for f in files:
        if f and Path(f).exists():
            with np.load(f, allow_pickle=True) as z:
                key = "enc" if "enc" in z.files else "encodings"
                print(f"face-like vector model from {f} ({len(z[key])} LFW encodings)")
                return FaceLikeModel(np.asarray(z[key], dtype=np.float64))
    print(f"fitting the face-like vector model on {n_fit} LFW photos (no cache)", flush=True)
    model = fit_model(n_fit)
    if path:  # a named cache that does not exist yet: keep the encodings for the next run
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, enc=model.encodings)
        print(f"  saved {len(model.encodings)} encodings to {path}", flush=True)
    return model


def load_faces(dsn: str, n: int, faces: np.ndarray, face_model: str, pii: Any) -> list[str]:
    """Guards (sealed ID numbers) and their faces; returns the subjects."""
    import psycopg2

    t = time.perf_counter()
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE UNLOGGED TABLE bench_stage (id int4 PRIMARY KEY, embedding vector(128))")
    for s in range(0, n, CHUNK):
        cur.copy_expert("COPY bench_stage (id, embedding) FROM STDIN WITH (FORMAT binary)",
                        io.BytesIO(_copy_binary(faces[s: s + CHUNK], s)))
    # ID numbers are sealed at rest since registry 0080: the blind index and the sealed
    # copy made by the service's codec (find_duplicates opens each candidate's guard row)
    buf = io.StringIO()
    for i in range(n):
        v = pii.seal_person({"id_number": f"BENCH{i:013d}"})
        buf.write(f"bench\t\\\\x{v['id_number_bidx'].hex()}\t\\\\x{v['id_number_sealed'].hex()}"
                  f"\t1990-01-01\tM\t{hashlib.md5(str(i).encode()).hexdigest()}\n")
    buf.seek(0)
    cur.copy_expert("COPY registry_guard (name, id_number_bidx, id_number_sealed, birth_date,"
                    " sex, biometric_subject) FROM STDIN", buf)
    # The full-vector HNSW index of migration 0100 is built once after the bulk insert
    # (the same index as enrollment maintains row by row; 100,000 inserts into the
    # graph one at a time took over 8 minutes on the loaded machine)
    cur.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'biometrics_face'"
                " AND indexname = 'biometrics_face_embedding_hnsw'")
    (indexdef,) = cur.fetchone()
    cur.execute("DROP INDEX biometrics_face_embedding_hnsw")
    cur.execute("INSERT INTO biometrics_face (subject, status, model, embedding, photo_sealed,"
                " photo_sha256, quality, transform_kid, display_sealed)"
                " SELECT md5(id::text)::uuid, 'enrolled', %s, embedding,"
                " decode(md5(id::text), 'hex'), sha256(id::text::bytea), '{}'::jsonb, 'bench',"
                " NULL FROM bench_stage ORDER BY id", (face_model,))
    cur.execute("SET maintenance_work_mem = '1GB'")
    cur.execute(indexdef)
    cur.execute("SELECT id, md5(id::text)::uuid::text AS s FROM bench_stage ORDER BY id")
    subjects = [r[1] for r in cur.fetchall()]
    cur.execute("DROP TABLE bench_stage")
    cur.execute("VACUUM ANALYZE")  # the faces now: at the end only the finger tables
    conn.close()
    print(f"  guards and faces: {time.perf_counter() - t:.0f} s ({_stamp()})", flush=True)
    return subjects


def load_fingers(dsn: str, db: Any, subjects: list[str], finger_model: str,
                 sealer: Any) -> float:
    """Two sealed fingers per subject and the finger index (staged, then every list
    written once, as `guardreg biometrics finger-index` builds it); returns seconds."""
    import psycopg2

    from biometrics import finger_repository
    from biometrics.finger_search import finger_aad
    from biometrics.fingerprint import index

    t = time.perf_counter()
    n = len(subjects)
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    per_chunk = gallery.CHUNK
    done = 0
    for c in range((2 * n + per_chunk - 1) // per_chunk):
        templates, postings = gallery.load_chunk(c)
        rows: list[tuple[str, int, bytes]] = []
        items: list[tuple[str, int, np.ndarray, np.ndarray]] = []
        for j, (tpl, (cds, slots)) in enumerate(zip(templates, postings, strict=True)):
            finger = c * per_chunk + j
            if finger >= 2 * n:
                break
            subject, position = subjects[finger // 2], (2 if finger % 2 == 0 else 7)
            rows.append((subject, position, sealer.seal(bytes(tpl),
                                                        aad=finger_aad(subject, position))))
            items.append((subject, position, np.asarray(cds), np.asarray(slots)))
        buf = io.StringIO()
        for subject, position, sealed in rows:
            buf.write(f"{subject}\t{position}\tenrolled\t{finger_model}\t"
                      f"\\\\x{sealed.hex()}\t80\t40\n")
        buf.seek(0)
        cur.copy_expert("COPY biometrics_finger (subject, position, status, model,"
                        " template_sealed, quality, minutiae) FROM STDIN", buf)
        with db.transaction() as icur:
            finger_repository.index_fingers_bulk(icur, items, scheme=index.SCHEME,
                                                 max_postings=index.MAX_POSTINGS, staged=True)
        done += len(rows)
        print(f"  fingers: {done:,} sealed and staged ({_stamp()})", flush=True)
    staged = time.perf_counter() - t
    with db.transaction() as icur:  # as `finger-index` ends: every list written once
        finger_repository.merge_staged_postings(icur, max_postings=index.MAX_POSTINGS)
    print(f"  fingers sealed and staged in {staged:.0f} s; merge of the staged postings into"
          f" the lists: {time.perf_counter() - t - staged:.0f} s ({_stamp()})", flush=True)
    cur.execute("VACUUM ANALYZE biometrics_finger, biometrics_finger_index,"
                " biometrics_finger_posting")
    cur.execute("SELECT (SELECT count(*) FROM registry_guard), (SELECT count(*) FROM"
                " biometrics_face), (SELECT count(*) FROM biometrics_finger), (SELECT count(*)"
                " FROM biometrics_finger_index), (SELECT count(*) FROM biometrics_finger_posting),"
                " pg_total_relation_size('biometrics_finger_posting')")
    guards, faces_n, fingers_n, indexed, lists, size = cur.fetchone()
    print(f"  in the database: {guards:,} guards, {faces_n:,} faces, {fingers_n:,} sealed"
          f" fingers, {indexed:,} fingers indexed, {lists:,} posting lists"
          f" ({size / 2**20:.0f} MiB)", flush=True)
    conn.close()
    return time.perf_counter() - t


def run(a: argparse.Namespace) -> None:
    from biometrics import dedup_repository, enrollment, fusion
    from biometrics.face import projection
    from biometrics.face.pipeline import MODEL_ID as FACE_MODEL
    from biometrics.finger_capture import MODEL_ID as FINGER_MODEL
    from biometrics.finger_search import TemplateCache
    from biometrics.fingerprint import matcher, synthetic
    from biometrics.sealing import Sealer
    from registry import migrate
    from registry.db import Database

    if a.lfw:
        import bench_face

        bench_face.LFW = Path(a.lfw)
    model = _face_model(a.faces_cache, 2000)
    n = a.identities
    need = (2 * n + gallery.CHUNK - 1) // gallery.CHUNK
    print(f"finger gallery: {need} chunk(s) of {gallery.CHUNK:,} from {gallery.CACHE} "
          "(made on first use)", flush=True)
    tmp = tempfile.mkdtemp(prefix="bench_dedup_prod_")
    server = _start_server(tmp, {"shared_buffers": a.shared_buffers})
    try:
        dsn = server.get_uri()
        db = Database(dsn, max_size=4)  # the service's statement timeout, for the searches
        bulk = Database(dsn, max_size=1, statement_timeout_ms=0)  # loading and index builds
        migrate.upgrade(bulk, ["registry", "biometrics", "certificates"])
        rng = np.random.default_rng(n)
        centres = model.centres(n, rng)
        faces = model.samples(centres, rng)
        sealer = Sealer(b"\x07" * 32)
        # faces and their index first: they need no finger chunk (with FPINDEX_WAIT=1 the
        # finger gallery may still be being made meanwhile)
        subjects = load_faces(dsn, n, faces, FACE_MODEL, bulk.pii)
        with bulk.transaction() as cur:
            done = projection.install(cur, model=FACE_MODEL, shards=2, sample=200_000)
        print(f"face index: build {done.build_seconds:.0f} s ({_stamp()})", flush=True)

        policy = fusion.Policy()  # FPIR 1% (10% for banned) at N = 500,000
        mated = rng.choice(n, a.mated, replace=False)
        probes: list[tuple[str, str | None, enrollment.Probe]] = []
        for i in mated:
            f2 = matcher.prepare_minutiae(synthetic.impression(
                synthetic.master_finger(gallery.SEED0 + 2 * int(i)), 1))
            f7 = matcher.prepare_minutiae(synthetic.impression(
                synthetic.master_finger(gallery.SEED0 + 2 * int(i) + 1), 1))
            face = model.samples(centres[[i]], rng)[0].astype(np.float64)
            probes.append(("mated", subjects[int(i)], enrollment.Probe(
                face=face, face_model=FACE_MODEL, fingers={2: f2, 7: f7})))
        new_centres = model.centres(a.non_mated, rng)
        for k in range(a.non_mated):
            seed = 90_000_000 + 2 * k
            probes.append(("non-mated", None, enrollment.Probe(
                face=model.samples(new_centres[[k]], rng)[0].astype(np.float64),
                face_model=FACE_MODEL, fingers={
                    2: matcher.prepare_minutiae(synthetic.impression(
                        synthetic.master_finger(seed), 1)),
                    7: matcher.prepare_minutiae(synthetic.impression(
                        synthetic.master_finger(seed + 1), 1))})))

        print(f"{len(probes)} probes prepared ({_stamp()})", flush=True)
        seconds = load_fingers(dsn, bulk, subjects, FINGER_MODEL, sealer)
        print(f"N={n:,} identities ({2 * n:,} fingers): fingers loaded and indexed in"
              f" {seconds:.0f} s ({_stamp()})", flush=True)

        def variant(p: enrollment.Probe, mode: str) -> enrollment.Probe:
            if mode == "face":
                return enrollment.Probe(face=p.face, face_model=p.face_model)
            if mode == "fingers":
                return enrollment.Probe(fingers=p.fingers)
            return p

        # Each probe in the three modes in turn (mated and non-mated alternating), so that
        # a run stopped early (--stop-at) still has comparable figures for every mode.
        # Each mode keeps its own bounded template cache: it sees the searches it would
        # see if the modes ran one after the other (no warmth from another mode).
        modes = ("face", "fingers", "fused")
        caches = {m: TemplateCache(1024) for m in modes}
        mated_p = [x for x in probes if x[0] == "mated"]
        other_p = [x for x in probes if x[0] != "mated"]
        order = [x for pair in zip(mated_p, other_p, strict=False) for x in pair]
        order += mated_p[len(other_p):] + other_p[len(mated_p):]
        stats: dict[str, dict[str, Any]] = {m: {"wall": [], "cpu": [], "hits": 0, "misses": 0,
                                                 "false": []} for m in modes}

        def summary(final: bool) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for mode in modes:
                st = stats[mode]
                tried = st["hits"] + st["misses"]
                res = {"p50_ms": _pct(st["wall"], 0.5), "p95_ms": _pct(st["wall"], 0.95),
                       "cpu_p50_ms": _pct(st["cpu"], 0.5), "cpu_p95_ms": _pct(st["cpu"], 0.95),
                       "fnir": st["misses"] / max(1, tried),
                       "false_candidates_per_search": statistics.mean(st["false"] or [0]),
                       "searches_with_a_false_candidate":
                       sum(1 for x in st["false"] if x) / max(1, len(st["false"]))}
                out[mode] = res
                print(f"{'' if final else '  (so far) '}{mode:8s}: FNIR {res['fnir']:.4f} "
                      f"({st['misses']} of {tried} mates missed); false candidates per search "
                      f"{res['false_candidates_per_search']:.4f} over {len(st['false'])} searches"
                      f" (searches with one: {res['searches_with_a_false_candidate']:.4f}); "
                      f"p50 {res['p50_ms']:.1f} ms, p95 {res['p95_ms']:.1f} ms (wall); client CPU"
                      f" p50 {res['cpu_p50_ms']:.1f} ms, p95 {res['cpu_p95_ms']:.1f} ms"
                      f" ({_stamp()})", flush=True)
            return out

        # One unrecorded search per mode first (loading the calibration, the first
        # connections of the pool), with a cache of its own.
        warm = TemplateCache(1024)
        for mode in modes:
            t = time.perf_counter()
            with db.transaction() as cur:
                dedup_repository.lock_dedup(cur)
                enrollment.find_duplicates(
                    cur, subject=str(uuid.uuid4()), probe=variant(order[-1][2], mode),
                    today=dt.date.today(), sealer=sealer, policy=policy,
                    finger_model=FINGER_MODEL, db=db, cache=warm)
            print(f"warm-up search, {mode}: {1000 * (time.perf_counter() - t):.0f} ms"
                  " (not counted)", flush=True)

        stop = (dt.datetime.combine(dt.datetime.now(dt.UTC).date(),
                                    dt.time.fromisoformat(a.stop_at), dt.UTC)
                if a.stop_at else None)
        done_probes = 0
        for kind, mate, p in order:
            if ((stop and dt.datetime.now(dt.UTC) >= stop)
                    or (a.stop_file and Path(a.stop_file).exists())):
                print(f"stopped ({_stamp()}; --stop-at {a.stop_at} UTC, --stop-file) after"
                      f" {done_probes} of {len(order)} probes", flush=True)
                break
            for mode in modes:
                st = stats[mode]
                t, c0 = time.perf_counter(), time.process_time()
                with db.transaction() as cur:
                    dedup_repository.lock_dedup(cur)  # as enroll_face / enroll_finger do
                    held = enrollment.find_duplicates(
                        cur, subject=str(uuid.uuid4()), probe=variant(p, mode),
                        today=dt.date.today(),
                        sealer=sealer, policy=policy, finger_model=FINGER_MODEL, db=db,
                        cache=caches[mode])
                st["wall"].append(1000 * (time.perf_counter() - t))
                st["cpu"].append(1000 * (time.process_time() - c0))
                names = {c.subject for c in held}
                if kind == "mated":
                    st["hits"] += mate in names
                    st["misses"] += mate not in names
                st["false"].append(len(names - {mate}))
            done_probes += 1
            if done_probes % a.progress == 0 and done_probes < len(order):
                print(f"{done_probes} of {len(order)} probes:", flush=True)
                summary(False)
        print(f"N={n:,} identities, {done_probes} probes "
              f"({sum(1 for k, _, _ in order[:done_probes] if k == 'mated')} mated):", flush=True)
        results = summary(True)
        base = results["face"]["p95_ms"]
        print(f"fused p95 / face-only p95 in the same run: "
              f"{results['fused']['p95_ms'] / base:.2f}x")
    finally:
        server.cleanup()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--identities", type=int, default=100_000)
    ap.add_argument("--mated", type=int, default=300)
    ap.add_argument("--non-mated", type=int, default=300)
    ap.add_argument("--faces-cache", default=None)
    ap.add_argument("--lfw", default=None,
                    help="LFW image folder for fitting the face model (default: bench_face's,"
                    " ../shared relative to the repository)")
    ap.add_argument("--shared-buffers", default="2GB")
    ap.add_argument("--stop-at", default=None, metavar="HH:MM",
                    help="take no new probe after this UTC time; report those done")
    ap.add_argument("--stop-file", default=None,
                    help="take no new probe once this file exists")
    ap.add_argument("--progress", type=int, default=25,
                    help="print the figures so far every this many probes")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
