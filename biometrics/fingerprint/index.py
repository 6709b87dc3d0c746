"""1:N fingerprint search: MCC locality-sensitive hashing, and an in-memory baseline.

**MCC indexing** (after Cappelli, Ferrara, Maltoni, "Fingerprint indexing based on
Minutia Cylinder-Code", IEEE TPAMI 2011). Each valid MCC cylinder of a finger is
binarised (a cell is 1 when its value is above 0.5) and hashed by ``TABLES`` hash
functions, each reading ``BITS`` fixed cells chosen at random (fixed seed) among the
cells of the inner ``INNER`` part of the cylinder disk. Every cylinder's ``TABLES``
*codes* ``(table, bits)`` are indexed (:func:`finger_postings`, scheme 2): PostgreSQL
stores posting lists ``code -> (finger, cylinder slot)``
(``biometrics/finger_repository.py``).
Corresponding minutiae of two impressions of a finger have nearly the same cylinder,
so their codes collide in many tables whatever the finger's position and rotation;
:func:`rank_votes` counts, for each probe cylinder, the tables each enrolled cylinder
shares with it (each vote weighted by the code's rarity, ``log(cylinders / list
length)``: a code most cylinders have says little) and scores fingers by their best
corresponding cylinders; the best few are then scored with the full matcher. Nothing
here touches a database.

``FingerprintIndex`` is the earlier in-memory index (cylinder-code histograms and a
cosine prefilter). It is kept as a library class and as the baseline of
``bench/bench_finger_index.py``; the service searches the database index.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np

from biometrics.fingerprint import matcher
from biometrics.fingerprint.matcher import PreparedTemplate

HIST_TABLES = 64
HIST_BITS = 4
HIST_DIM = HIST_TABLES * (1 << HIST_BITS)
_SEED = 0x5EED_F1


def _projections() -> np.ndarray:
    rng = np.random.default_rng(_SEED)
    return rng.standard_normal((matcher.DIM, HIST_TABLES * HIST_BITS)).astype(np.float32)


_PROJ = _projections()
_POW = (1 << np.arange(HIST_BITS)).astype(np.int64)


def code_histogram(prep: PreparedTemplate) -> np.ndarray:
    """The ``HIST_DIM`` uint8 histogram of cylinder codes of a prepared template."""
    h = np.zeros(HIST_DIM, np.int64)
    if prep.size:
        centred = prep.cylinders - 0.5 * (prep.cylinders > 0)  # sign relative to mid-level
        bits = (centred @ _PROJ > 0).reshape(prep.size, HIST_TABLES, HIST_BITS)
        codes = (bits * _POW).sum(axis=2) + np.arange(HIST_TABLES) * (1 << HIST_BITS)
        h = np.bincount(codes.ravel(), minlength=HIST_DIM)
    return np.minimum(h, 255).astype(np.uint8)


# --------------------------------------------------------------------- MCC indexing (LSH)
SCHEME = 2  # bump when TABLES, BITS, INNER, the seed or the posting layout change
TABLES = 32
BITS = 16
INNER = 0.8  # cells whose centre lies within INNER * RADIUS of the minutia
_LSH_SEED = 0x1DE7_C0DE
# A posting entry is ``finger_id << SLOT_BITS | slot`` (int32 big-endian): the finger and
# which of its cylinders (matcher.MAX_MINUTIAE = 64 at most) has the code. finger ids
# must stay below 2**25.
SLOT_BITS = 6
MAX_FINGER_ID = (1 << (31 - SLOT_BITS)) - 1
# A code whose posting list holds this many entries is *saturated*: it stops growing and
# is ignored by searches (it is on so many cylinders that it says little; see
# docs/fingerprint.md, "1:N search").
MAX_POSTINGS = 8192
# Cylinders per enrolled finger on average (FVC2002 and the synthetic gallery: 35-38):
# turns the gallery size into the number of cylinders for the rarity weights.
CYLINDERS_PER_FINGER = 36.0


def _lsh_cells() -> np.ndarray:
    c = (np.arange(matcher.NS) - (matcher.NS - 1) / 2.0) * (2.0 * matcher.RADIUS / matcher.NS)
    inner = (c[:, None] ** 2 + c[None, :] ** 2) <= (INNER * matcher.RADIUS) ** 2
    cells = np.flatnonzero(np.repeat(inner[:, :, None], matcher.ND, axis=2).ravel())
    rng = np.random.default_rng(_LSH_SEED)
    return np.stack([rng.choice(cells, BITS, replace=False) for _ in range(TABLES)])


_CELLS = _lsh_cells()  # (TABLES, BITS) cylinder cells read by each hash function
_BIT_WEIGHTS = (1 << np.arange(BITS)).astype(np.int64)
_TABLE_BASE = np.arange(TABLES, dtype=np.int64) << BITS


def minutia_codes(prep: PreparedTemplate) -> np.ndarray:
    """The ``size x TABLES`` codes (int64, all below ``TABLES << BITS``) of every valid
    cylinder: code ``t << BITS | bits`` for hash function ``t``. Row ``j`` is the
    cylinder of ``prep.minutiae[j]`` (its *slot*)."""
    if prep.size == 0:
        return np.zeros((0, TABLES), np.int64)
    bits = prep.cylinders[:, _CELLS] > 0.5  # (n, TABLES, BITS)
    return (bits @ _BIT_WEIGHTS) + _TABLE_BASE


def finger_postings(prep: PreparedTemplate) -> tuple[np.ndarray, np.ndarray]:
    """What gets indexed for an enrolled finger: ``(codes, slots)``, int32 arrays of
    ``size * TABLES`` pairs, sorted by code: cylinder ``slot`` has ``code``."""
    codes = minutia_codes(prep)
    slots = np.repeat(np.arange(prep.size, dtype=np.int64), TABLES)
    flat = codes.ravel()
    order = np.argsort(flat, kind="stable")
    return flat[order].astype(np.int32), slots[order].astype(np.int32)


def entries(finger_id: int, slots: np.ndarray) -> np.ndarray:
    """Posting entries of ``finger_id``'s cylinders ``slots`` (int64)."""
    if not 0 < finger_id <= MAX_FINGER_ID:
        raise ValueError(f"finger id {finger_id} out of the index's range")
    return (np.int64(finger_id) << SLOT_BITS) | np.asarray(slots, np.int64)


_WEIGHT_LEVELS = 63  # rarity weights are quantised to 6 bits inside the sort key
# Fingers whose collisions are voted per cylinder: the ones with the largest summed
# rarity weight of all their collisions. At 200,000 fingers a probe's lists name ~1
# million entries of ~150,000 fingers; sorting them all was most of the ranking's CPU
# (p95 128 ms), and the mates the votes rank in the top 100 are in the top 5,000 by
# summed weight (bench/bench_finger_index.py: recall @100 0.831 -> 0.835, p95 39 ms).
# On 300 synthetic second impressions at 200k it costs 1.7 points @100 (0.597 -> 0.580;
# 20,000 costs 0.4 but puts the search's p95 at 337 ms): docs/BENCHMARKS.md.
PREFILTER = 5000


def cylinder_votes(codes: np.ndarray, lists: dict[int, np.ndarray], *, gallery_size: int,
                   prefilter: int = PREFILTER,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The votes behind :func:`rank_votes`: ``(pairs, votes, best_of, unit)``.

    ``pairs`` (int64, sorted) are ``(finger << 6 | probe cylinder) << SLOT_BITS | gallery
    slot`` for every (probe cylinder, enrolled cylinder) that share at least one code,
    ``votes`` their summed quantised rarity weights (multiply by ``unit`` for the rarity
    sum), and ``best_of`` the index in ``pairs`` where each (finger, probe cylinder) run
    starts. Empty arrays when nothing collides. When more than ``prefilter`` fingers
    collide, only the ``prefilter`` with the largest summed weight (every collision of the
    finger, whatever its cylinder) are voted."""
    n, t = codes.shape
    none = np.zeros(0, np.int64)
    if n == 0:
        return none, none.astype(np.float64), none, 1.0
    flat = codes.ravel()
    got = [lists.get(int(c)) for c in flat.tolist()]
    lens = np.array([0 if x is None else len(x) for x in got], np.int64)
    use = (lens > 0) & (lens < MAX_POSTINGS)
    if not use.any():
        return none, none.astype(np.float64), none, 1.0
    cylinders = max(float(gallery_size) * CYLINDERS_PER_FINGER, 2.0)
    weight = np.log(np.maximum(cylinders / np.maximum(lens, 1), 1.0))
    wmax = max(float(np.log(cylinders)), 1e-9)
    wq = np.clip(np.rint(weight / wmax * _WEIGHT_LEVELS), 1, _WEIGHT_LEVELS).astype(np.int64)
    idx = np.flatnonzero(use)
    ent = np.concatenate([got[i] for i in idx.tolist()]).astype(np.int64)
    probe_i = np.repeat(idx // t, lens[idx])
    # key = finger | probe cylinder | gallery slot | weight: one sort groups everything
    w_ent = np.repeat(wq[idx], lens[idx])
    finger = ent >> SLOT_BITS
    if prefilter > 0:
        total = np.bincount(finger, weights=w_ent)
        if np.count_nonzero(total) > prefilter:
            keep = np.zeros(total.size, bool)
            keep[np.argpartition(-total, prefilter - 1)[:prefilter]] = True
            sel = keep[finger]
            ent, probe_i, w_ent, finger = ent[sel], probe_i[sel], w_ent[sel], finger[sel]
    slot = ent & ((1 << SLOT_BITS) - 1)
    key = (((finger << 6 | probe_i) << SLOT_BITS | slot) << 6) | w_ent
    key.sort()
    pair = key >> 6  # (finger, probe cylinder, gallery slot)
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    votes = np.add.reduceat(key & 63, starts).astype(np.float64)
    pair = pair[starts]
    fi = pair >> SLOT_BITS  # (finger, probe cylinder)
    runs = np.flatnonzero(np.r_[True, fi[1:] != fi[:-1]])
    return pair, votes, runs, wmax / _WEIGHT_LEVELS


def vote_scores(pair: np.ndarray, votes: np.ndarray, runs: np.ndarray, unit: float,
                ) -> tuple[np.ndarray, np.ndarray, float]:
    """``(finger ids, scores, unit)`` of every finger in :func:`cylinder_votes`' output,
    in id order: the sum over probe cylinders of the squared best vote (multiply by
    ``unit ** 2`` for rarity units)."""
    if pair.size == 0:
        return pair, votes, unit
    best = np.maximum.reduceat(votes, runs)
    f = pair[runs] >> (SLOT_BITS + 6)
    s3 = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
    return f[s3], np.add.reduceat(best * best, s3), unit


def rank_votes(codes: np.ndarray, lists: dict[int, np.ndarray], *, gallery_size: int,
               top: int, prefilter: int = PREFILTER) -> list[tuple[int, float]]:
    """Rank the fingers of the posting lists for a probe whose cylinders have ``codes``
    (``size x TABLES``, :func:`minutia_codes`); ``lists[code]`` holds the entries
    (``finger_id << SLOT_BITS | slot``) of that code.

    Each probe cylinder ``i`` *votes* for every gallery cylinder that shares one of its
    codes, the vote weighted by the code's rarity ``log(cylinders / list length)``
    (quantised); a gallery cylinder that collides with ``i`` in many tables is likely its
    true mate (:func:`cylinder_votes`). A finger scores the sum over the probe's
    cylinders of the square of the best vote total any one of its cylinders got from
    that probe cylinder: many probe minutiae each with a strongly colliding counterpart.
    Saturated lists (``MAX_POSTINGS`` or more entries) are ignored. Returns the ``top``
    ``(finger id, score)`` pairs, best first (ties: lower id first)."""
    ids, scores, unit = vote_scores(*cylinder_votes(codes, lists, gallery_size=gallery_size,
                                                    prefilter=prefilter))
    if ids.size == 0:
        return []
    k = min(top, ids.size)
    pick = np.argpartition(-scores, k - 1)[:k] if k < ids.size else np.arange(ids.size)
    pick = pick[np.lexsort((ids[pick], -scores[pick]))]
    scale = unit ** 2
    return [(int(ids[i]), float(scores[i]) * scale) for i in pick.tolist()]


class FingerprintIndex:
    """Enrolled fingers ``id -> template`` with vectorised 1:N search.

    ``add(id, template)`` accepts anything :func:`matcher.prepare` accepts (ISO/ANSI bytes,
    serialised prepared templates, minutiae arrays, prepared templates).
    """

    def __init__(self, *, shortlist: int = 200, cache_size: int = 4096) -> None:
        self.shortlist = shortlist
        self._ids: list[Hashable] = []
        self._row: dict[Hashable, int] = {}
        self._minutiae: list[np.ndarray] = []
        self._hist = np.zeros((1024, HIST_DIM), np.uint8)
        self._df = np.zeros(HIST_DIM, np.int64)  # in how many fingers each code occurs
        self._cache: OrderedDict[Hashable, PreparedTemplate] = OrderedDict()
        self._cache_size = cache_size

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._row

    def ids(self) -> list[Hashable]:
        return list(self._ids)

    def _grow(self) -> None:
        n = self._hist.shape[0]
        self._hist = np.concatenate([self._hist, np.zeros((n, HIST_DIM), np.uint8)])

    def add(self, key: Hashable, template: Any) -> None:
        """Enrol (or replace) finger ``key``."""
        prep = matcher.prepare(template)
        if key in self._row:
            self.remove(key)
        row = len(self._ids)
        if row >= self._hist.shape[0]:
            self._grow()
        h = code_histogram(prep)
        self._hist[row] = h
        self._df += h > 0
        self._ids.append(key)
        self._row[key] = row
        self._minutiae.append(prep.all_minutiae.astype(np.float32))
        self._remember(key, prep)

    def add_many(self, items: Iterable[tuple[Hashable, Any]]) -> None:
        for key, template in items:
            self.add(key, template)

    def remove(self, key: Hashable) -> None:
        """Remove finger ``key`` (``KeyError`` if absent)."""
        row = self._row.pop(key)
        self._df -= self._hist[row] > 0
        last = len(self._ids) - 1
        if row != last:
            moved = self._ids[last]
            self._ids[row] = moved
            self._row[moved] = row
            self._hist[row] = self._hist[last]
            self._minutiae[row] = self._minutiae[last]
        self._ids.pop()
        self._minutiae.pop()
        self._hist[last] = 0
        self._cache.pop(key, None)

    def _remember(self, key: Hashable, prep: PreparedTemplate) -> None:
        self._cache[key] = prep
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _prepared(self, key: Hashable) -> PreparedTemplate:
        prep = self._cache.get(key)
        if prep is None:
            m = self._minutiae[self._row[key]].astype(np.float64)
            iso = np.column_stack([m[:, 0], m[:, 1], np.mod(-m[:, 2], 2 * np.pi), m[:, 3]])
            prep = matcher.prepare_minutiae(iso, 500.0)
        self._remember(key, prep)
        return prep

    def prefilter(self, probe: PreparedTemplate, k: int) -> list[Hashable]:
        """The ``k`` enrolled ids whose code histograms are closest to the probe's."""
        n = len(self._ids)
        if n == 0:
            return []
        idf = np.log((n + 1.0) / (self._df + 1.0)).astype(np.float32)
        idf2 = idf * idf
        q = code_histogram(probe).astype(np.float32) * idf2
        sims = np.empty(n, np.float32)
        step = 16384
        for s in range(0, n, step):
            e = min(n, s + step)
            h = self._hist[s:e].astype(np.float32)
            sims[s:e] = (h @ q) / (np.sqrt((h * h) @ idf2) + 1e-6)
        k = min(k, n)
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return [self._ids[i] for i in top]

    def _score(self, probe: PreparedTemplate, keys: list[Hashable]) -> list[tuple[Hashable, float]]:
        if not keys:
            return []
        scores = matcher.match_many(probe, [self._prepared(k) for k in keys])
        return list(zip(keys, (float(s) for s in scores), strict=True))

    def search(
        self,
        probe: Any,
        *,
        top_k: int = 10,
        candidates: Iterable[Hashable] | None = None,
        full_search: bool = True,
        shortlist: int | None = None,
    ) -> list[tuple[Hashable, float]]:
        """Best ``top_k`` ``(id, score)`` pairs, highest score first (scores as in
        :func:`matcher.match`; compare with ``matcher.THRESHOLD_FMR_*`` corrected for the
        gallery size)."""
        prep = matcher.prepare(probe)
        results: dict[Hashable, float] = {}
        if candidates is not None:
            keys = [k for k in dict.fromkeys(candidates) if k in self._row]
            results.update(self._score(prep, keys))
        if full_search or candidates is None:
            short = self.prefilter(prep, shortlist or self.shortlist)
            rest = [k for k in short if k not in results]
            results.update(self._score(prep, rest))
        ranked = sorted(results.items(), key=lambda kv: -kv[1])
        return ranked[:top_k]

    def brute_force(self, probe: Any, *, top_k: int = 10) -> list[tuple[Hashable, float]]:
        """Exhaustive search with the full matcher (baseline; slow for large galleries)."""
        prep = matcher.prepare(probe)
        res = self._score(prep, list(self._ids))
        return sorted(res, key=lambda kv: -kv[1])[:top_k]
