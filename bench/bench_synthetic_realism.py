"""Realism of the synthetic fingers: matcher score distributions, synthetic vs real.

Run:  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_synthetic_realism.py
          [--masters 100] [--impressions 8] [--seed 0] [--images 0]

Real side: minutiae extracted by the project's extractor from FVC2002 DB1_B, DB2_B and
DB3_B (real sensors) and DB4_B (made by SFinGe), cached under ``$FPSYNTH_CACHE``
(default ``fpsynth-cache`` in the system temporary directory) keyed by a hash of
``extraction.py`` (so a changed extractor is re-run; the matcher is always the current
one). Per set: genuine = every pair of impressions of one finger (280),
impostor = every cross-finger pair (2,880, the extended protocol).

Synthetic side: ``--masters`` master fingers x ``--impressions`` impressions each from
``biometrics.fingerprint.synthetic`` (minutiae level); the same protocol, every pair.
With ``--images N`` also N masters rendered by ``synthetic_image`` and put through the
extractor (about 0.15 s an image), the same figures again.

Printed for each real set: two-sample Kolmogorov-Smirnov statistic D of the impostor
(and genuine) scores against the synthetic set and against DB4_B (the bar: the synthetic
set no further from DB1-3 than DB4_B is), the upper tail (99th, 99.9th percentile, max)
and the share of synthetic impostor pairs above the real set's FMR1000 threshold (the
expected share is 0.001).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biometrics.fingerprint import extraction, matcher, synthetic
from biometrics.fingerprint.evaluation import threshold_at
from biometrics.fingerprint.extraction import extract, extract_from_bytes

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fingerprints" / "fvc2002"
CACHE = Path(os.environ.get("FPSYNTH_CACHE",
                           Path(tempfile.gettempdir()) / "fpsynth-cache"))
REAL = ("DB1_B", "DB2_B", "DB3_B")
SFINGE = "DB4_B"


def extractor_tag() -> str:
    return hashlib.sha256(Path(extraction.__file__).read_bytes()).hexdigest()[:12]


def real_minutiae(db: str) -> dict[str, np.ndarray]:
    """``{"101_1": minutiae}`` of one FVC set, extracted once and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{db}-{extractor_tag()}.npz"
    if not path.exists():
        out = {p.stem: extract_from_bytes(p.read_bytes()).minutiae
               for p in sorted((DATA / db).glob("*.png"))}
        np.savez(path, **out)  # type: ignore[arg-type]
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def scores(sets: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor scores of every pair of templates (``sets[finger][impression]``),
    one symmetric score per unordered pair."""
    preps = [matcher.prepare_minutiae(m) for imps in sets for m in imps]
    owner = np.repeat(np.arange(len(sets)), [len(imps) for imps in sets])
    batch = matcher.stack(preps)
    s = np.array([matcher.match_many(p, batch) for p in preps])
    s = (s + s.T) / 2
    iu, ju = np.triu_indices(len(preps), k=1)
    same = owner[iu] == owner[ju]
    return s[iu, ju][same], s[iu, ju][~same]


def fvc_sets(db: str) -> list[list[np.ndarray]]:
    mins = real_minutiae(db)
    fingers = sorted({k.split("_")[0] for k in mins})
    return [[mins[k] for k in sorted(mins, key=lambda k: int(k.split("_")[1]))
             if k.split("_")[0] == f] for f in fingers]


def ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (largest gap between the empirical CDFs)."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.abs(fa - fb).max())


def tail(x: np.ndarray) -> str:
    p99, p999 = np.percentile(x, [99, 99.9])
    return (f"n={len(x):7d} median {np.median(x):.4f} p99 {p99:.4f} p99.9 {p999:.4f} "
            f"max {x.max():.4f}")


def synthetic_sets(masters: int, impressions: int, seed: int) -> list[list[np.ndarray]]:
    return [[synthetic.impression(synthetic.master_finger(seed + i), k)
             for k in range(impressions)] for i in range(masters)]


def image_sets(masters: int, impressions: int, seed: int) -> list[list[np.ndarray]]:
    """Images rendered by the image-level generator, then extracted like real captures."""
    from biometrics.fingerprint import synthetic_image

    CACHE.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(Path(synthetic_image.__file__).read_bytes()
                         + extractor_tag().encode()).hexdigest()[:12]
    path = CACHE / f"images-{tag}-{seed}-{masters}x{impressions}.npz"
    if path.exists():
        with np.load(path) as f:
            return [[f[f"{i}_{k}"] for k in range(impressions)] for i in range(masters)]
    out: dict[str, np.ndarray] = {}
    for i in range(masters):
        master = synthetic_image.master_image(seed + i)
        for k in range(impressions):
            img = synthetic_image.impression_image(master, k)
            out[f"{i}_{k}"] = extract(img, 500.0).minutiae
        print(f"  rendered and extracted {i + 1}/{masters} masters", file=sys.stderr)
    np.savez(path, **out)  # type: ignore[arg-type]
    return [[out[f"{i}_{k}"] for k in range(impressions)] for i in range(masters)]


def report(name: str, gen: np.ndarray, imp: np.ndarray,
           real: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    print(f"\n== {name}")
    print(f"  impostor {tail(imp)}")
    print(f"  genuine  n={len(gen):7d} median {np.median(gen):.4f} "
          f"p10 {np.percentile(gen, 10):.4f} p1 {np.percentile(gen, 1):.4f}")
    ks_imp, ks_gen = [], []
    for db, (rg, ri) in real.items():
        thr = threshold_at(ri, 0.001)
        d_i, d_g = ks(imp, ri), ks(gen, rg)
        ks_imp.append(d_i)
        ks_gen.append(d_g)
        print(f"  vs {db}: KS impostor {d_i:.3f}  KS genuine {d_g:.3f}  "
              f"share of impostors above {db}'s FMR1000 threshold {thr:.4f}: "
              f"{(imp >= thr).mean():.5f}  (genuine below it: {(gen < thr).mean():.3f})")
    print(f"  mean KS vs DB1-3: impostor {np.mean(ks_imp):.3f}  genuine {np.mean(ks_gen):.3f}")
    pooled_i = np.concatenate([ri for _, ri in real.values()])
    pooled_g = np.concatenate([rg for rg, _ in real.values()])
    print(f"  KS vs DB1-3 pooled: impostor {ks(imp, pooled_i):.3f}  "
          f"genuine {ks(gen, pooled_g):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--masters", type=int, default=100)
    ap.add_argument("--impressions", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--images", type=int, default=0,
                    help="also this many image-level masters (rendered, then extracted)")
    args = ap.parse_args()
    cv2.setNumThreads(1)

    print(f"extractor {extractor_tag()}, matcher thresholds FMR0.1% "
          f"{matcher.THRESHOLD_FMR_01}")
    real: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for db in (*REAL, SFINGE):
        gen, imp = scores(fvc_sets(db))
        real[db] = (gen, imp)
        print(f"{db}: impostor {tail(imp)}  genuine median {np.median(gen):.4f}")
    dev = {db: real[db] for db in REAL}

    report("DB4_B (SFinGe, the bar)", *real[SFINGE], dev)

    t0 = time.process_time()
    sets = synthetic_sets(args.masters, args.impressions, args.seed)
    gen_s = time.process_time() - t0
    n_imp = args.masters * args.impressions
    counts = np.array([len(m) for imps in sets for m in imps])
    t1 = time.process_time()
    gen, imp = scores(sets)
    match_s = time.process_time() - t1
    report(f"synthetic minutiae ({args.masters} masters x {args.impressions} impressions, "
           f"seed {args.seed})", gen, imp, dev)
    real_counts = np.concatenate([[len(m) for imps in fvc_sets(db) for m in imps]
                                  for db in REAL])
    print(f"  minutiae per impression: synthetic mean {counts.mean():.1f} sd {counts.std():.1f}"
          f"; DB1-3 mean {real_counts.mean():.1f} sd {real_counts.std():.1f}")
    print(f"  generation: {gen_s / n_imp * 1000:.3f} ms CPU per impression incl. its master "
          f"share ({n_imp} impressions); scoring {match_s:.1f} s CPU")
    t2 = time.process_time()
    for s in range(1000):
        synthetic.master_finger(10_000_000 + s)
    t3 = time.process_time()
    m = synthetic.master_finger(1)
    for k in range(1000):
        synthetic.impression(m, k)
    t4 = time.process_time()
    for k in range(200):
        synthetic.synthetic_template(2, k)
    t5 = time.process_time()
    print(f"  speed (CPU, one core): master {(t3 - t2):.3f} ms, impression {(t4 - t3):.3f} ms, "
          f"ISO template (master + impression + encode) {(t5 - t4) * 5:.3f} ms")

    if args.images:
        t6 = time.process_time()
        isets = image_sets(args.images, args.impressions, args.seed)
        print(f"  image-level: {(time.process_time() - t6):.1f} s CPU for "
              f"{args.images * args.impressions} images (0 if cached)")
        gen_i, imp_i = scores(isets)
        report(f"synthetic images ({args.images} masters x {args.impressions} impressions, "
               f"seed {args.seed}, extracted)", gen_i, imp_i, dev)
        icounts = np.array([len(x) for imps in isets for x in imps])
        print(f"  minutiae per impression: {icounts.mean():.1f} sd {icounts.std():.1f}")


if __name__ == "__main__":
    main()
