"""1:N fingerprint search: MCC locality-sensitive hashing, and an in-memory baseline.

**MCC indexing** (after Cappelli, Ferrara, Maltoni, "Fingerprint indexing based on
Minutia Cylinder-Code", IEEE TPAMI 2011). Each valid MCC cylinder of a finger is
binarised (a cell is 1 when its value is above 0.5) and hashed by ``TABLES`` hash
functions, each reading ``BITS`` fixed cells chosen at random (fixed seed) among the
cells of the inner ``INNER`` part of the cylinder disk. A finger is the set of its
``(table, bits)`` *codes* (:func:`finger_codes`): a fixed-length, indexable
representation that PostgreSQL stores as posting lists ``code -> fingers``
(``biometrics/finger_repository.py``). Corresponding minutiae of two impressions of a
finger have nearly the same cylinder, so they share many codes whatever the finger's
position and rotation; :func:`rank_postings` scores every finger by the codes it
shares with the probe, each weighted by its inverse document frequency
(``log(N / list length)``: a code most fingers have says little), and the best few are
then scored with the full matcher. Nothing here touches a database.

``FingerprintIndex`` is the earlier in-memory index (cylinder-code histograms and a
cosine prefilter). It is kept as a library class and as the baseline of
``bench/bench_finger_index.py``; the service searches the database index.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
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
SCHEME = 1  # bump when TABLES, BITS, INNER or the seed change: stored codes go stale
TABLES = 32
BITS = 16
INNER = 0.8  # cells whose centre lies within INNER * RADIUS of the minutia
_LSH_SEED = 0x1DE7_C0DE
# A code whose posting list holds this many fingers is *saturated*: it stops growing
# and is ignored by searches (it is on so many fingers that it says little; see
# docs/fingerprint.md, "1:N search").
MAX_POSTINGS = 4096


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
    cylinder: code ``t << BITS | bits`` for hash function ``t``."""
    if prep.size == 0:
        return np.zeros((0, TABLES), np.int64)
    bits = prep.cylinders[:, _CELLS] > 0.5  # (n, TABLES, BITS)
    return (bits @ _BIT_WEIGHTS) + _TABLE_BASE


def finger_codes(prep: PreparedTemplate) -> np.ndarray:
    """The distinct codes of an enrolled finger (sorted int32): what gets indexed."""
    return np.unique(minutia_codes(prep)).astype(np.int32)


def probe_codes(prep: PreparedTemplate) -> tuple[np.ndarray, np.ndarray]:
    """A probe's distinct codes (sorted int32) and how many of its cylinders have each."""
    codes, counts = np.unique(minutia_codes(prep), return_counts=True)
    return codes.astype(np.int32), counts.astype(np.float64)


def rank_postings(codes: np.ndarray, multiplicity: np.ndarray, lists: Sequence[np.ndarray],
                  *, gallery_size: int, top: int) -> list[tuple[int, float]]:
    """Rank the fingers of the posting lists ``lists[i]`` (finger ids holding
    ``codes[i]``) for a probe with ``multiplicity[i]`` cylinders of that code: a finger
    scores the sum, over the probe's codes it holds, of ``multiplicity * log(N / len)``.
    Saturated lists (``MAX_POSTINGS`` or more) are ignored. Returns the ``top``
    ``(finger id, score)`` pairs, best first (ties: lower id first)."""
    n = max(int(gallery_size), 1)
    lengths = np.array([len(x) for x in lists], np.int64)
    use = (lengths > 0) & (lengths < MAX_POSTINGS)
    if not use.any():
        return []
    ids = np.concatenate([x for x, u in zip(lists, use, strict=True) if u]).astype(np.int64)
    weight = np.asarray(multiplicity, np.float64)[use] * np.log(
        np.maximum(n / lengths[use], 1.0))
    scores = np.bincount(ids, weights=np.repeat(weight, lengths[use]))
    hit = np.flatnonzero(scores > 0)
    if hit.size == 0:
        return []
    k = min(top, hit.size)
    best = hit[np.argpartition(-scores[hit], k - 1)[:k]] if k < hit.size else hit
    best = best[np.lexsort((best, -scores[best]))]
    return [(int(i), float(scores[i])) for i in best]



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
