"""1:N fingerprint search over many enrolled fingers.

Every enrolled finger is kept as (a) its minutiae (float32, about 0.5 KB) and (b) a
fixed-length *cylinder-code histogram* (``TABLES x 2**BITS`` uint8 counts, 1 KB): each
MCC cylinder is hashed by ``TABLES`` random-hyperplane sign codes of ``BITS`` bits and the
codes are counted. Similar fingers share many cylinder codes, whatever their position and
rotation, so the cosine between TF-IDF weighted histograms (codes common in the gallery
count less) is a cheap, vectorised prefilter (two matrix-vector products over all
enrolled fingers). The best ``shortlist`` fingers are then scored with
the full matcher (:func:`biometrics.fingerprint.matcher.match_many`); their prepared
templates are kept in a small LRU cache.

A ``candidates`` subset (e.g. a face shortlist) is always scored in full first; the
prefilter then searches everything else unless ``full_search=False``.
Memory: about 1.6 KB per finger, i.e. ~160 MB for 100,000 fingers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np

from biometrics.fingerprint import matcher
from biometrics.fingerprint.matcher import PreparedTemplate

TABLES = 64
BITS = 4
HIST_DIM = TABLES * (1 << BITS)
_SEED = 0x5EED_F1


def _projections() -> np.ndarray:
    rng = np.random.default_rng(_SEED)
    return rng.standard_normal((matcher.DIM, TABLES * BITS)).astype(np.float32)


_PROJ = _projections()
_POW = (1 << np.arange(BITS)).astype(np.int64)


def code_histogram(prep: PreparedTemplate) -> np.ndarray:
    """The ``HIST_DIM`` uint8 histogram of cylinder codes of a prepared template."""
    h = np.zeros(HIST_DIM, np.int64)
    if prep.size:
        centred = prep.cylinders - 0.5 * (prep.cylinders > 0)  # sign relative to mid-level
        bits = (centred @ _PROJ > 0).reshape(prep.size, TABLES, BITS)
        codes = (bits * _POW).sum(axis=2) + np.arange(TABLES) * (1 << BITS)
        h = np.bincount(codes.ravel(), minlength=HIST_DIM)
    return np.minimum(h, 255).astype(np.uint8)


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
