"""Where the 1:N fingerprint index loses the mate: index parameters studied in memory.

Usage (from the repository root; the distractor cache of bench/_finger_gallery.py)::

    FPINDEX_CACHE=DIR .venv/bin/python bench/study_finger_index.py [--fingers 10000]
        [--configs 16x32,16x64,12x32] [--flips 0]

Gallery: impression 1 of the 40 FVC2002 DB1-4_B fingers among ``--fingers`` synthetic
distractors (the benchmark's, prepared from their cached templates); probes: the other
impressions that the full matcher scores >= THRESHOLD_FMR_01 against their mate (255).
For each ``BITSxTABLES`` configuration the cylinders are hashed as
``biometrics.fingerprint.index`` does (other cell draws for other configurations),
posting lists are built in memory, and the probes are ranked by the production vote
ranking (``index.rank_votes``) and, as the baseline, by scheme 1 (codes shared by the
finger as a whole, rarity-weighted). The mate's rank is scaled to a gallery of 200,000
(the number of distractors above the mate grows with the gallery) and lists that would
hold ``index.MAX_POSTINGS`` entries at 200,000 are dropped. ``--flips F`` also looks up
each probe code with its F least certain cells flipped (multi-probe).
No database: this separates the codes' quality for genuine pairs from the shortlist cut.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(ROOT / "bench")):
    if p not in sys.path:
        sys.path.insert(0, p)

from _finger_gallery import CHUNK, load_chunk  # noqa: E402
from bench_finger_index import fvc_minutiae  # noqa: E402

from biometrics.fingerprint import index, matcher  # noqa: E402
from biometrics.fingerprint.matcher import PreparedTemplate  # noqa: E402

TARGET = 200_000


def cells(bits: int, tables: int) -> np.ndarray:
    c = (np.arange(matcher.NS) - (matcher.NS - 1) / 2.0) * (2.0 * matcher.RADIUS / matcher.NS)
    inner = (c[:, None] ** 2 + c[None, :] ** 2) <= (index.INNER * matcher.RADIUS) ** 2
    ok = np.flatnonzero(np.repeat(inner[:, :, None], matcher.ND, axis=2).ravel())
    rng = np.random.default_rng(bits * 1000 + tables)
    return np.stack([rng.choice(ok, bits, replace=False) for _ in range(tables)])


def codes_of(cyl: np.ndarray, cel: np.ndarray, flips: int = 0) -> np.ndarray:
    v = cyl[:, cel]
    w = (1 << np.arange(cel.shape[1])).astype(np.int64)
    base = (v > 0.5) @ w + (np.arange(cel.shape[0], dtype=np.int64) << cel.shape[1])
    out = [base]
    if flips:
        unsure = np.argsort(np.abs(v - 0.5), axis=2)[:, :, :flips]
        out += [base ^ (np.int64(1) << unsure[:, :, f]) for f in range(flips)]
    return np.concatenate(out, axis=1)


def load_study(fingers: int) -> tuple[dict[str, PreparedTemplate], list[str], list[str],
                                      list[PreparedTemplate]]:
    """``(real, keys, probes, gallery)``: the prepared FVC2002 B impressions by name, the
    40 fingers (``DBn_B/NNN``; finger ``keys[f]`` is gallery entry ``f``, id ``f + 1``),
    the genuine probes' names and the gallery (the 40 mates, then ``fingers`` synthetic
    distractors)."""
    real = {k: matcher.prepare_minutiae(v) for k, v in fvc_minutiae().items()}
    keys = sorted(k.rsplit("_", 1)[0] for k in real if k.endswith("_1"))
    probes = [k for k in sorted(real) if not k.endswith("_1") and matcher.match(
        real[k], real[k.rsplit("_", 1)[0] + "_1"]) >= matcher.THRESHOLD_FMR_01]
    gallery = [real[k + "_1"] for k in keys]
    for c in range((fingers + CHUNK - 1) // CHUNK):
        templates, _ = load_chunk(c)
        gallery += [matcher.prepare(t) for t in templates[: fingers - c * CHUNK]]
    return real, keys, probes, gallery


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fingers", type=int, default=10_000)
    ap.add_argument("--configs", default="16x32,16x64,12x32")
    ap.add_argument("--flips", type=int, default=0)
    a = ap.parse_args()
    real, keys, probes, gallery = load_study(a.fingers)
    n = len(gallery)
    scale = TARGET / n
    cyl = np.concatenate([g.cylinders for g in gallery])
    owner = np.concatenate([np.full(g.size, f + 1, np.int64) for f, g in enumerate(gallery)])
    slot = np.concatenate([np.arange(g.size, dtype=np.int64) for g in gallery])
    print(f"{n:,} fingers, {len(probes)} genuine probes; ranks scaled x{scale:.1f} to "
          f"{TARGET:,}", flush=True)
    for spec in a.configs.split(","):
        bits, tables = (int(x) for x in spec.split("x"))
        cel = cells(bits, tables)
        g = codes_of(cyl, cel).ravel()
        ent = np.repeat((owner << index.SLOT_BITS) | slot, tables)
        fing = np.repeat(owner, tables)
        o = np.argsort(g, kind="stable")
        g, ent, fing = g[o], ent[o], fing[o]
        st = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        en = np.r_[st[1:], g.size]
        keep = (en - st) * scale < index.MAX_POSTINGS
        lists = {int(g[s]): ent[s:e] for s, e, k in zip(st, en, keep, strict=True) if k}
        flists = {int(g[s]): np.unique(fing[s:e])
                  for s, e, k in zip(st, en, keep, strict=True) if k}
        votes, bag, sensor, mate_scores = [], [], {}, []
        for k in probes:
            mate = keys.index(k.rsplit("_", 1)[0]) + 1
            mate_scores.append(matcher.match(real[k], gallery[mate - 1]))
            pc = codes_of(real[k].cylinders, cel, a.flips)
            ranked = [i for i, _ in index.rank_votes(pc, lists, gallery_size=n, top=n)]
            r = ranked.index(mate) if mate in ranked else 10**7
            votes.append(r)
            sensor.setdefault(k.split("/")[0], []).append(r * scale < 100)
            uniq, mult = np.unique(pc, return_counts=True)
            sc = np.zeros(n + 1)
            for c_, m_ in zip(uniq.tolist(), mult.tolist(), strict=True):
                ids = flists.get(c_)
                if ids is not None:
                    sc[ids] += m_ * np.log(max(n / len(ids), 1.0))
            bag.append(int((sc > sc[mate]).sum()))
        for name, ranks in (("votes (scheme 2)", votes), ("shared codes (scheme 1)", bag)):
            r = np.array(ranks) * scale
            print(f"{bits} bits x {tables} tables, {name}"
                  f"{f', {a.flips} flip(s)' if a.flips else ''}: mate within "
                  + ", ".join(f"@{K} {np.mean(r < K):.3f}" for K in (25, 50, 100, 200, 1000,
                                                                      5000)), flush=True)
        print("  votes @100 per sensor: " + ", ".join(
            f"{s} {np.mean(v):.2f}" for s, v in sorted(sensor.items())), flush=True)
        # Which mates are lost: recall @100 among the probes whose mate the full matcher
        # scores at least t (the stronger the evidence, the more the index must find).
        r, ms = np.array(votes) * scale, np.array(mate_scores)
        for t, label in ((matcher.THRESHOLD_FMR_01, "FMR 1e-3"),
                         (matcher.THRESHOLD_FMR_001, "FMR 1e-4"),
                         *((float(np.quantile(ms, q)), f"score q{q:.2f}")
                           for q in (0.25, 0.5, 0.75))):
            sel = ms >= t
            print(f"  mate score >= {t:.3f} ({label}): {int(sel.sum())} probes, @100 "
                  f"{np.mean(r[sel] < 100):.3f}, @1000 {np.mean(r[sel] < 1000):.3f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
