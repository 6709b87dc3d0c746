"""Distortion-tolerant 1:N fingerprint shortlists, studied in memory (issue 13).

Usage (from the repository root; the distractor cache of bench/_finger_gallery.py)::

    FPINDEX_CACHE=DIR nice -n 10 .venv/bin/python bench/study_finger_geometry.py
        [--fingers 10000] [--probes 255] [--variants base,hough,tri,...]

Same gallery, probes and 200,000 scaling as ``bench/study_finger_index.py`` (which see).
Every variant ranks the same probes in the same run, the production scheme 2 first:

- ``base``: production codes and ``index.rank_votes`` (16 bits x 32 tables, votes);
- ``hough@M``: the ``M`` best (at 200,000; ``M / scale`` here) of ``base`` re-ranked by
  the geometric consistency of their voted cylinder pairs: each (probe minutia, enrolled
  minutia) pair that shares codes implies a rotation and a translation; a finger scores
  the vote mass of its most populated (rotation, translation) cell (Hough; soft bins).
  Needs only the candidates' minutiae (x, y, direction), no cylinders;
- ``tri``: a second channel: minutia triplets (each minutia with pairs of its ``K``
  nearest neighbours), keyed by their three side lengths and the three minutia
  directions relative to the triangle, quantised coarsely, the probe looking up the
  neighbouring bins of values near a bin edge (multi-probe); a finger scores the
  rarity-weighted mass of its most populated (rotation, translation) cell (``,r``:
  rotation only, as an int32 entry ``finger << 6 | direction`` allows; ``,none``: no
  geometry; ``,c``: the Hough only for the ``CASCADE`` fingers of largest summed
  weight, a cascade that bounds its cost);
- ``union``: the best ``K/2`` of ``base`` and of ``tri`` (recall@K when either channel
  ranks the mate within K/2);
- ``rrf``: ``base`` and ``tri`` fused by reciprocal ranks (``1 / (60 + rank)`` summed,
  ranks at 200,000);
- ``16x64`` / ``flip1``: 64 tables, and 32 tables with one multi-probe flip (scheme 2's
  comparison).

Recall is the share of genuine probes whose mate's rank, scaled to 200,000, is below K;
CPU is the process time per probe of the ranking (lists from a dict: no database).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(ROOT / "bench")):
    if p not in sys.path:
        sys.path.insert(0, p)

from study_finger_index import TARGET, cells, codes_of, load_study  # noqa: E402

from biometrics.fingerprint import index  # noqa: E402
from biometrics.fingerprint.matcher import PreparedTemplate  # noqa: E402

KS = (25, 50, 100, 200, 1000)
CASCADE = 5000  # fingers (at 200,000) that the ",c" triplet channels Hough-score
RRF_K = 60.0  # reciprocal-rank fusion constant, in ranks at 200,000
TWO_PI = 2 * math.pi


def wrap(a: np.ndarray) -> np.ndarray:
    return np.mod(a + math.pi, TWO_PI) - math.pi


def code_lists(codes: np.ndarray, ent: np.ndarray, scale: float) -> dict[int, np.ndarray]:
    """Posting lists ``code -> entries`` without those saturated at 200,000."""
    o = np.argsort(codes, kind="stable")
    g, e = codes[o], ent[o]
    st = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    en = np.r_[st[1:], g.size]
    keep = (en - st) * scale < index.MAX_POSTINGS
    return {int(g[s]): e[s:t] for s, t, k in zip(st, en, keep, strict=True) if k}


# ------------------------------------------------------------------- Hough consistency
def soft_bins(x: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Each value's bin and the neighbouring bin it is nearer to."""
    q = x / width
    b = np.floor(q).astype(np.int64)
    return b, np.where(q - b >= 0.5, b + 1, b - 1)


def hough_best(finger: np.ndarray, rot: np.ndarray, tx: np.ndarray, ty: np.ndarray,
               w: np.ndarray, *, rbin: float, tbin: float) -> tuple[np.ndarray, np.ndarray]:
    """Per finger, the largest total weight of one (rotation, tx, ty) cell, every vote
    cast into its cell and the 7 neighbours nearest to it. ``(fingers, best)``."""
    rb = soft_bins(rot + math.pi, rbin)
    nr = round(TWO_PI / rbin)
    xb = soft_bins(tx, tbin)
    yb = soft_bins(ty, tbin)
    keys = []
    for a in rb:
        for b in xb:
            for c in yb:
                keys.append((((finger << 6 | np.mod(a, nr)) << 12 | (b & 4095)) << 12)
                            | (c & 4095))
    k = np.concatenate(keys)
    ww = np.tile(w, 8)
    o = np.argsort(k, kind="stable")
    k, ww = k[o], ww[o]
    st = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    mass = np.add.reduceat(ww, st)
    f = k[st] >> 30
    s2 = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
    return f[s2], np.maximum.reduceat(mass, s2)


def rank_of(mate: int, fingers: np.ndarray, score: np.ndarray) -> int:
    """Rank (0 = first) of ``mate`` among ``fingers`` by ``score`` (ties: lower id);
    10**7 when absent."""
    hit = np.flatnonzero(fingers == mate)
    if hit.size == 0:
        return 10**7
    s = score[hit[0]]
    return int(((score > s) | ((score == s) & (fingers < mate))).sum())


# ------------------------------------------------------------------- minutia triplets
def triangles(m: np.ndarray, k: int, max_side: float) -> tuple[np.ndarray, np.ndarray]:
    """Triplets of a finger's minutiae ``m`` (x, y, theta): every minutia with each pair
    of its ``k`` nearest neighbours, sides at most ``max_side``, each triangle once.
    Returns ``(features, pose)``: features ``(t, 7)`` = sides opposite vertices 0..2
    (ascending), each vertex's direction relative to the direction from the centroid to
    it, handedness; pose ``(t, 3)`` = centroid x, y and the direction vertex 0 -> 2."""
    n = len(m)
    if n < 3:
        return np.zeros((0, 7)), np.zeros((0, 3))
    xy = m[:, :2].astype(np.float64)
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, : min(k, n - 1)]
    a_, b_ = np.triu_indices(nn.shape[1], 1)
    tri = np.sort(np.column_stack([np.repeat(np.arange(n), a_.size), nn[:, a_].ravel(),
                                   nn[:, b_].ravel()]), axis=1)
    tri = np.unique(tri, axis=0)
    sides = np.column_stack([d[tri[:, 1], tri[:, 2]], d[tri[:, 0], tri[:, 2]],
                             d[tri[:, 0], tri[:, 1]]])
    ok = sides.max(axis=1) <= max_side
    tri, sides = tri[ok], sides[ok]
    order = np.argsort(sides, axis=1, kind="stable")
    tri = np.take_along_axis(tri, order, axis=1)
    sides = np.take_along_axis(sides, order, axis=1)
    v = xy[tri]  # (t, 3, 2)
    c = v.mean(axis=1)
    out = np.arctan2(v[:, :, 1] - c[:, None, 1], v[:, :, 0] - c[:, None, 0])
    phi = np.mod(m[tri, 2] - out, TWO_PI)
    e1, e2 = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
    hand = (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] > 0).astype(np.float64)
    psi = np.arctan2(e2[:, 1], e2[:, 0])
    return np.column_stack([sides, phi, hand]), np.column_stack([c, psi])


def tri_keys(feat: np.ndarray, side: float, abins: int, edge: float) -> tuple[
        np.ndarray, np.ndarray]:
    """Keys of triangles ``feat``; with ``edge`` > 0 also the keys of the neighbouring
    bins of every value within ``edge`` (bin fraction) of a bin edge. Returns ``(keys,
    which triangle)``."""
    q = np.column_stack([feat[:, :3] / side, feat[:, 3:6] / (TWO_PI / abins)])
    b = np.floor(q).astype(np.int64)
    frac = q - b
    alt = np.where(frac < 0.5, b - 1, b + 1)
    near = (frac < edge) | (frac > 1 - edge)
    alt[:, 3:] = np.mod(alt[:, 3:], abins)
    hand = feat[:, 6].astype(np.int64)
    rows = np.arange(len(feat))
    keys, who = [], []
    for mask in range(64 if edge > 0 else 1):
        use = np.ones(len(feat), bool)
        vals = b.copy()
        for dim in range(6):
            if mask >> dim & 1:
                use &= near[:, dim]
                vals[:, dim] = alt[:, dim]
        if not use.any():
            continue
        v = vals[use]
        key = hand[use]
        for dim in range(3):
            key = key << 6 | np.clip(v[:, dim], 0, 63)
        for dim in range(3, 6):
            key = key << 4 | v[:, dim]
        keys.append(key)
        who.append(rows[use])
    return np.concatenate(keys), np.concatenate(who)


class TriangleChannel:
    def __init__(self, gallery: list[PreparedTemplate], scale: float, *, k: int,
                 max_side: float, side: float, abins: int, edge: float, mode: str = "rt",
                 ) -> None:
        self.mode = mode
        self.k, self.max_side, self.side, self.abins, self.edge = k, max_side, side, abins, edge
        feats, poses, owners = [], [], []
        for f, g in enumerate(gallery):
            ft, ps = triangles(g.minutiae, k, max_side)
            feats.append(ft)
            poses.append(ps)
            owners.append(np.full(len(ft), f + 1, np.int64))
        self.scale = scale
        self.pose = np.concatenate(poses)
        self.owner = np.concatenate(owners)
        keys, who = tri_keys(np.concatenate(feats), side, abins, 0.0)
        self.lists = code_lists(keys, who, scale)
        self.total = max(len(self.owner) * scale, 2.0)
        self.per_finger = len(self.owner) / len(gallery)

    def rank(self, probe: PreparedTemplate, *, rbin: float, tbin: float,
             ) -> tuple[np.ndarray, np.ndarray, int, int]:
        """``(fingers, scores, lists read, entries read)`` for ``probe``."""
        ft, ps = triangles(probe.minutiae, self.k, self.max_side)
        if len(ft) == 0:
            return np.zeros(0, np.int64), np.zeros(0), 0, 0
        keys, who = tri_keys(ft, self.side, self.abins, self.edge)
        uk, inv = np.unique(keys, return_inverse=True)
        got = [self.lists.get(int(c)) for c in uk.tolist()]
        lens = np.array([0 if x is None else len(x) for x in got], np.int64)
        if not lens.any():
            return np.zeros(0, np.int64), np.zeros(0), len(uk), 0
        ent = np.concatenate([got[j] for j in np.flatnonzero(lens).tolist()])
        # every (probe triangle, key) lookup reads its key's list
        lk = lens[inv]
        hit = lk > 0
        start = np.r_[0, np.cumsum(lens)][:-1][inv[hit]]
        cnt = lk[hit]
        rep = np.repeat(np.arange(cnt.size), cnt)
        offs = np.arange(rep.size) - np.repeat(np.r_[0, np.cumsum(cnt)][:-1], cnt)
        g = ent[start[rep] + offs]
        pt = who[hit][rep]
        # rarity at 200,000: the list would be ``scale`` times longer
        wt = np.log(np.maximum(self.total / (cnt[rep] * self.scale), 1.0))
        if self.mode == "c":  # cascade: the Hough only for the best CASCADE fingers by
            # their summed weights (a bincount), as at 200,000
            mass = np.bincount(self.owner[g], wt)
            top = max(1, round(CASCADE / self.scale))
            if np.count_nonzero(mass) > top:
                keep = np.argpartition(-mass, top - 1)[:top]
                sel = np.isin(self.owner[g], keep)
                g, pt, wt = g[sel], pt[sel], wt[sel]
        gp = self.pose[g]
        pp = ps[pt]
        pc = probe.minutiae[:, :2].mean(axis=0)
        rot = wrap(gp[:, 2] - pp[:, 2])
        cr, sr = np.cos(rot), np.sin(rot)
        px, py = pp[:, 0] - pc[0], pp[:, 1] - pc[1]
        tx = gp[:, 0] - (cr * px - sr * py)
        ty = gp[:, 1] - (sr * px + cr * py)
        if self.mode in ("r", "none"):  # translation unknown: only the rotation (or nothing)
            tx = ty = np.zeros_like(rot)
        if self.mode == "none":
            rot = np.zeros_like(rot)
            rbin = TWO_PI
        f, best = hough_best(self.owner[g], rot, tx, ty, wt, rbin=rbin, tbin=tbin)
        return f, best, len(uk), int(rep.size)


# ------------------------------------------------------------------- cylinder-pair Hough
def hough_rescore(probe: PreparedTemplate, pair: np.ndarray, votes: np.ndarray,
                  candidates: np.ndarray, gm: np.ndarray, off: np.ndarray, *,
                  rbin: float, tbin: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores of ``candidates`` (finger ids) from the geometric consistency of their
    voted cylinder pairs (:func:`index.cylinder_votes`' ``pair`` and ``votes``)."""
    f = pair >> (index.SLOT_BITS + 6)
    keep = np.isin(f, candidates)
    pair, v, f = pair[keep], votes[keep], f[keep]
    i = (pair >> index.SLOT_BITS) & 63
    j = pair & ((1 << index.SLOT_BITS) - 1)
    g = gm[off[f - 1] + j]
    p = probe.minutiae[i]
    pc = probe.minutiae[:, :2].mean(axis=0)
    rot = wrap(g[:, 2] - p[:, 2])
    cr, sr = np.cos(rot), np.sin(rot)
    px, py = p[:, 0] - pc[0], p[:, 1] - pc[1]
    tx = g[:, 0] - (cr * px - sr * py)
    ty = g[:, 1] - (sr * px + cr * py)
    return hough_best(f, rot, tx, ty, v * v, rbin=rbin, tbin=tbin)


def report(ranks: dict[str, list[int]], cpu: dict[str, float], reads: dict[str, list[int]],
           note: dict[str, str], scale: float, n: int) -> None:
    """Print the recall table (so far)."""
    sensor = np.array(ranks["sensor"])
    done = len(sensor)
    print(f"\n{done} probes\n| variant | @25 | @50 | @100 | @200 | @1000 "
          "| @100 DB1 / DB2 / DB3 / DB4 | CPU ms per probe |")
    print("|---|---|---|---|---|---|---|---|")
    for name, got in ranks.items():
        if name == "sensor":
            continue
        rr = np.array(got, np.float64) * scale
        per = " / ".join(f"{np.mean(rr[sensor == s] < 100):.2f}" for s in (1, 2, 3, 4))
        c = cpu.get(name)
        cs = f"{1000 * c / done:.1f}" if c is not None else "-"
        print(f"| {name} | " + " | ".join(f"{np.mean(rr < K):.3f}" for K in KS)
              + f" | {per} | {cs} |", flush=True)
    for name, x in reads.items():
        print(f"{name} read per probe: p50 {np.median(x):.0f}, p95 {np.percentile(x, 95):.0f}"
              f" (at {n:,} fingers)")
    for name, s in note.items():
        print(f"{name}: {s}")
    print(flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fingers", type=int, default=10_000)
    ap.add_argument("--probes", type=int, default=0,
                    help="about this many probes, evenly spread (0: all)")
    ap.add_argument("--variants", default="base,hough,tri,union,rrf,flip1,16x64")
    ap.add_argument("--hough-at", default="1000,2000,5000")
    ap.add_argument("--rbin", type=float, default=30.0, help="degrees")
    ap.add_argument("--tbin", type=float, default=40.0, help="pixels")
    ap.add_argument("--tri", default="6,160,8,12,0.25",
                    help="K neighbours, max side, side bin (px), angle bins, edge[, Hough: "
                         "rt (rotation and translation, default), c (rt for the best CASCADE "
                         "fingers by summed weights), r (rotation only: "
                         "entries need only the triangle's direction) or none]; more "
                         "configurations separated by ';' (fusions use the first)")
    a = ap.parse_args()
    variants = a.variants.split(",")
    t0 = time.time()
    real, keys, probes, gallery = load_study(a.fingers)
    if a.probes:
        probes = probes[:: max(1, math.ceil(len(probes) / a.probes))]
    n = len(gallery)
    scale = TARGET / n
    rbin, tbin = math.radians(a.rbin), a.tbin
    print(f"{n:,} fingers, {len(probes)} genuine probes; ranks scaled x{scale:.1f} to "
          f"{TARGET:,} (loaded in {time.time() - t0:.0f} s)", flush=True)
    owner = np.concatenate([np.full(g.size, f + 1, np.int64) for f, g in enumerate(gallery)])
    slot = np.concatenate([np.arange(g.size, dtype=np.int64) for g in gallery])
    ent = (owner << index.SLOT_BITS) | slot
    gm = np.concatenate([g.minutiae[:, :3] for g in gallery]).astype(np.float64)
    off = np.r_[0, np.cumsum([g.size for g in gallery])][:-1]
    cyl = np.concatenate([g.cylinders for g in gallery])

    ranks: dict[str, list[int]] = {}
    cpu: dict[str, float] = {}
    note: dict[str, str] = {}
    reads: dict[str, list[int]] = {}
    prod = np.concatenate([index.minutia_codes(g) for g in gallery])
    lists = code_lists(prod.ravel(), np.repeat(ent, index.TABLES), scale)
    extra = {}
    if "flip1" in variants:
        extra["flip1"] = (cells(16, 32), 1)
    if "16x64" in variants:
        extra["16x64"] = (cells(16, 64), 0)
    extra_lists = {name: code_lists(codes_of(cyl, cel).ravel(), np.repeat(ent, cel.shape[0]),
                                    scale) for name, (cel, _) in extra.items()}
    del cyl
    channels: dict[str, TriangleChannel] = {}
    for spec in a.tri.split(";") if {"tri", "union", "rrf"} & set(variants) else []:
        kk, ms, sb, ab, edge, *mode = spec.split(",")
        t1 = time.time()
        name = "tri" if not channels else f"tri {spec}"
        channels[name] = tri = TriangleChannel(
            gallery, scale, k=int(kk), max_side=float(ms), side=float(sb), abins=int(ab),
            edge=float(edge), mode=mode[0] if mode else "rt")
        note[name] = (f"K={kk}, sides <= {ms} px in {sb} px bins, {ab} angle bins, "
                      f"multi-probe within {edge} of an edge; {tri.per_finger:.0f} "
                      f"triangles per finger, {len(tri.lists):,} lists "
                      f"(built in {time.time() - t1:.0f} s)")
    hough_at = [int(x) for x in a.hough_at.split(",")]
    print(f"gallery indexed in {time.time() - t0:.0f} s", flush=True)

    for pn, k in enumerate(probes):
        mate = keys.index(k.rsplit("_", 1)[0]) + 1
        pr = real[k]
        ranks.setdefault("sensor", []).append(int(k[2]))
        c0 = time.process_time()
        pc = index.minutia_codes(pr)
        pair, v, runs, unit = index.cylinder_votes(pc, lists, gallery_size=n)
        ids, sc, _ = index.vote_scores(pair, v, runs, unit)
        order = np.lexsort((ids, -sc))
        ranked = ids[order]
        c1 = time.process_time()
        cpu["base"] = cpu.get("base", 0.0) + c1 - c0
        ranks.setdefault("base", []).append(rank_of(mate, ids, sc))
        reads.setdefault("base lists", []).append(int(np.unique(pc).size))
        reads.setdefault("base entries (x scale)", []).append(
            round(sum(len(lists.get(int(c), ())) for c in np.unique(pc).tolist()) * scale))
        pos = np.flatnonzero(ranked == mate)
        if "hough" in variants:
            for m in hough_at:
                c1 = time.process_time()
                top = max(1, round(m / scale))
                f, s_ = hough_rescore(pr, pair, v, ranked[:top], gm, off, rbin=rbin, tbin=tbin)
                cpu[f"hough@{m}"] = cpu.get(f"hough@{m}", 0.0) + time.process_time() - c1 \
                    + c1 - c0
                r = (10**7 if pos.size == 0 else int(pos[0]) if pos[0] >= top
                     else rank_of(mate, f, s_))
                ranks.setdefault(f"hough@{m}", []).append(r)
        for name, tri in reversed(channels.items()):  # "tri" last: fused below
            c1 = time.process_time()
            tf, ts, nl, ne = tri.rank(pr, rbin=rbin, tbin=tbin)
            c2 = time.process_time()
            cpu[name] = cpu.get(name, 0.0) + c2 - c1
            reads.setdefault(f"{name} lists", []).append(nl)
            reads.setdefault(f"{name} entries (x scale)", []).append(round(ne * scale))
            ranks.setdefault(name, []).append(rank_of(mate, tf, ts))
        if channels:
            if "union" in variants:
                ranks.setdefault("union", []).append(2 * min(ranks["base"][-1],
                                                             ranks["tri"][-1]))
                cpu["union"] = cpu.get("union", 0.0) + c2 - c0
            if "rrf" in variants:
                rt = np.full(n + 1, float(n))
                rt[tf[np.lexsort((tf, -ts))]] = np.arange(tf.size)
                rb = np.full(n + 1, float(n))
                rb[ranked] = np.arange(ranked.size)
                k0 = RRF_K / scale  # RRF_K at 200,000
                fused = 1.0 / (k0 + rb[1:]) + 1.0 / (k0 + rt[1:])
                ranks.setdefault("rrf", []).append(rank_of(mate, np.arange(1, n + 1), fused))
                cpu["rrf"] = cpu.get("rrf", 0.0) + time.process_time() - c0
        for name, (cel, flips) in extra.items():
            c1 = time.process_time()
            ids, sc, _ = index.vote_scores(*index.cylinder_votes(
                codes_of(pr.cylinders, cel, flips), extra_lists[name], gallery_size=n))
            cpu[name] = cpu.get(name, 0.0) + time.process_time() - c1
            ranks.setdefault(name, []).append(rank_of(mate, ids, sc))
        if (pn + 1) % 50 == 0:
            print(f"  {pn + 1} probes ({time.time() - t0:.0f} s)", flush=True)
            if pn + 1 < len(probes):
                report(ranks, cpu, reads, {}, scale, n)

    report(ranks, cpu, reads, note, scale, n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
