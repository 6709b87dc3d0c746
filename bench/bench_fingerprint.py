"""Fingerprint benchmark: extraction time, comparisons per second, 1:N search.

Run:  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_fingerprint.py [--sizes 10000,100000]

Everything runs on one core (OpenCV and BLAS limited to one thread) and is timed in
process CPU time, so the figures hold per core even on a busy shared machine. The 1:N galleries are
the first impressions of the 20 FVC2002 DB1_B and DB2_B fingers plus synthetic fingers
made by perturbing real templates of the *other* sets, DB3_B and DB4_B (random rotation
up to +-30 degrees, translation up to +-40 px, 20% dropout, 10% spurious minutiae,
2 px / 4 degree jitter). Probes are other impressions of the 20 enrolled fingers.
The baseline is brute force: ``match_many`` over every
enrolled finger, timed on ``--baseline`` prepared candidates and scaled to the gallery
size (holding every cylinder of 100k fingers in memory would need ~10 GB).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biometrics.fingerprint import matcher
from biometrics.fingerprint.extraction import extract_from_bytes
from biometrics.fingerprint.index import FingerprintIndex

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fingerprints" / "fvc2002"


def perturb(m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A realistic synthetic finger from a real ``n x 5`` minutiae array (ISO angles)."""
    m = m.copy()
    a = rng.uniform(-np.pi / 6, np.pi / 6)
    c, s = np.cos(a), np.sin(a)
    centre = m[:, :2].mean(axis=0)
    xy = m[:, :2] - centre
    m[:, 0] = c * xy[:, 0] - s * xy[:, 1] + centre[0] + rng.uniform(-40, 40)
    m[:, 1] = s * xy[:, 0] + c * xy[:, 1] + centre[1] + rng.uniform(-40, 40)
    m[:, :2] += rng.normal(0, 2.0, (len(m), 2))
    m[:, 2] = np.mod(m[:, 2] - a + rng.normal(0, np.radians(4), len(m)), 2 * np.pi)
    m = m[rng.random(len(m)) > 0.2]
    k = max(1, len(m) // 10)
    lo, hi = m[:, :2].min(axis=0), m[:, :2].max(axis=0)
    extra = np.column_stack([
        rng.uniform(lo[0], hi[0], k), rng.uniform(lo[1], hi[1], k),
        rng.uniform(0, 2 * np.pi, k), rng.integers(1, 3, k), np.full(k, 50.0),
    ])
    return np.vstack([m, extra])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--baseline", type=int, default=2000)
    ap.add_argument("--probes", type=int, default=40)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(2026)

    # 1. extraction
    mins: dict[tuple[str, str, int], np.ndarray] = {}
    times = []
    for db in ("DB1_B", "DB2_B", "DB3_B", "DB4_B"):
        for p in sorted((DATA / db).glob("*.png")):
            data = p.read_bytes()
            t0 = time.process_time()
            res = extract_from_bytes(data)
            times.append(time.process_time() - t0)
            f, i = p.stem.split("_")
            mins[(db, f, int(i))] = res.minutiae
    ms = np.array(times) * 1000
    print(f"extraction: {len(ms)} FVC2002 images, median {np.median(ms):.1f} ms, "
          f"p95 {np.percentile(ms, 95):.1f} ms, mean {ms.mean():.1f} ms")

    # 2. comparisons per second: one probe against many prepared candidates
    t0 = time.process_time()
    preps = {k: matcher.prepare_minutiae(v) for k, v in mins.items()}
    prep_ms = (time.process_time() - t0) / len(mins) * 1000
    pool = list(mins.values())
    cands = [matcher.prepare_minutiae(perturb(pool[rng.integers(len(pool))], rng))
             for _ in range(args.baseline)]
    batch = matcher.stack(cands)
    probes = [preps[k] for k in list(preps)[:: max(1, len(preps) // 20)]]
    t0 = time.process_time()
    for p in probes:
        matcher.match_many(p, batch)
    el = time.process_time() - t0
    cps = len(probes) * len(cands) / el
    print(f"prepare: {prep_ms:.2f} ms per template; match_many: {cps:,.0f} comparisons/s "
          f"(one core, {len(probes)} probes x {len(cands)} candidates)")
    t0 = time.process_time()
    for p in probes[:5]:
        for c in cands[:200]:
            matcher.match(p, c)
    single = 1000 / (time.process_time() - t0)
    print(f"match (one pair at a time): {single:,.0f} comparisons/s")

    # 3. 1:N search
    gallery_sets = ("DB1_B", "DB2_B")
    mates = {(db, f): preps[(db, f, 1)] for (db, f, i) in mins if i == 1 and db in gallery_sets}
    probe_keys = [k for k in mins if k[2] != 1 and k[0] in gallery_sets]
    pool = [v for k, v in mins.items() if k[0] not in gallery_sets]
    rng.shuffle(probe_keys)
    probe_keys = probe_keys[: args.probes]
    idx = FingerprintIndex()
    for k, p in mates.items():
        idx.add(k, p)
    for size in [int(s) for s in args.sizes.split(",") if s]:
        t0 = time.process_time()
        while len(idx) < size:
            src = pool[rng.integers(len(pool))]
            idx.add(("syn", len(idx)), perturb(src, rng))
        enrol_s = time.process_time() - t0
        hits = recall = 0
        t0 = time.process_time()
        for k in probe_keys:
            res = idx.search(preps[k], top_k=1)
            hits += bool(res) and res[0][0] == k[:2]
        search_s = (time.process_time() - t0) / len(probe_keys)
        for k in probe_keys:
            recall += k[:2] in idx.prefilter(preps[k], idx.shortlist)
        brute_s = len(idx) / cps
        print(f"1:N at {len(idx):,} fingers: search {search_s * 1000:.0f} ms/probe "
              f"(shortlist {idx.shortlist}), rank-1 {hits}/{len(probe_keys)}, prefilter "
              f"recall {recall}/{len(probe_keys)}; brute-force match_many baseline "
              f"{brute_s * 1000:.0f} ms/probe (scaled from {args.baseline}); speed-up "
              f"x{brute_s / search_s:.1f}; enrolment {enrol_s:.0f} s")


if __name__ == "__main__":
    main()
