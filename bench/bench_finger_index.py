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
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",")]
    sealer = Sealer(os.urandom(32))

    mins = fvc_minutiae()
    real = {k: matcher.prepare_minutiae(v) for k, v in mins.items()}
    mates = {k.rsplit("_", 1)[0]: real[k] for k in real if k.endswith("_1")}  # "DB1_B/101"
    probes = sorted(k for k in real if not k.endswith("_1"))
    if a.probes:
        probes = probes[:: max(1, len(probes) // a.probes)][: a.probes]
    genuine = {k: matcher.match(real[k], mates[k.rsplit("_", 1)[0]]) >= matcher.THRESHOLD_FMR_01
               for k in probes}
    mate_subject = {f: _subject("real", i) for i, f in enumerate(sorted(mates))}
    print(f"{len(probes)} probes, {sum(genuine.values())} of them a genuine match of their "
          f"mate (score >= {matcher.THRESHOLD_FMR_01}); scheme {index.SCHEME}: "
          f"{index.TABLES} tables x {index.BITS} bits, per-cylinder votes, saturation "
          f"{index.MAX_POSTINGS}",
          flush=True)

    tmp = tempfile.mkdtemp(prefix="bench_finger_index_")
    server = _start_server(tmp, {"shared_buffers": a.shared_buffers})
    try:
        db = Database(server.get_uri(), max_size=4)
        migrate.upgrade(db, ["registry", "biometrics", "certificates"])
        with db.transaction() as cur:
            cur.execute("SELECT version() AS v")
            print(str(cur.fetchone()["v"]).split(" on ")[0], f"shared_buffers "
                  f"{a.shared_buffers}; {os.cpu_count()} cores ({_stamp()})", flush=True)
            build = add_fingers(cur, sealer, [
                (mate_subject[f], 1, matcher.serialize(p), index.finger_postings(p))
                for f, p in mates.items()])
        enrolled = len(mates)
        sample: list[matcher.PreparedTemplate] = []
        for size in sizes:
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
            measure(db, sealer, size, probes, real, genuine, mate_subject, a.shortlist,
                    status, build, sample, a.timed)
        return 0
    finally:
        server.cleanup()


def measure(db: Any, sealer: Sealer, size: int, probes: list[str],
            real: dict[str, matcher.PreparedTemplate], genuine: dict[str, bool],
            mate_subject: dict[str, str], shortlist: int, status: dict[str, Any],
            build: float, sample: list[matcher.PreparedTemplate], timed: int) -> None:
    lat: list[float] = []
    cpu: list[float] = []
    lat_one: list[float] = []
    rank1 = 0
    index_rank: list[int] = []
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
        if genuine[k]:
            with db.transaction(readonly=True) as cur:
                t = time.perf_counter()
                ranked = shortlist_ids(cur, probe, k=1000)
                lat_one.append(time.perf_counter() - t)
            ids = [i for i, _ in ranked]
            index_rank.append(ids.index(fid[mate]) if fid[mate] in ids else 10**6)
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


if __name__ == "__main__":
    raise SystemExit(main())
