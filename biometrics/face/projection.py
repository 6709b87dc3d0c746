"""The 48-d projection behind 1:N face search at scale (docs/face.md, "1:N search").

The approximate index works on the top 48 principal components of the stored
(protected) vectors: they hold ~92% of the variance, and the exact top-100 in that
space contains the true top-10 of the 128-d space (0.999 at 1M). The axes depend on
this deployment's vector key, so they are fitted here, on enrolled templates, and
handed to migration 0103's installer, which (re)builds one partial HNSW index per
shard. Run it (``guardreg biometrics face-index``) once a few thousand faces are
enrolled, and again after a rekey or a face-model change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from biometrics import repository
from registry.db import Cursor

DIMS = 48
MIN_VECTORS = 500  # fewer and the principal axes are mostly noise


@dataclass(frozen=True)
class Projection:
    axes: np.ndarray  # DIMS x 128, orthonormal rows, largest variance first
    centre: np.ndarray  # 128
    variance_kept: float  # share of the sample's variance along the axes
    fitted_on: int


@dataclass(frozen=True)
class Installed:
    projection: Projection
    build_seconds: float
    index_bytes: int


def fit(vectors: np.ndarray) -> Projection:
    """Principal axes of ``vectors`` (n x 128)."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 128:
        raise ValueError(f"expected n x 128 vectors, got shape {x.shape}")
    if len(x) < MIN_VECTORS:
        raise ValueError(f"need at least {MIN_VECTORS} enrolled faces to fit the projection,"
                         f" found {len(x)}")
    centre = x.mean(axis=0)
    w, v = np.linalg.eigh(np.cov((x - centre).T))
    order = np.argsort(w)[::-1]
    axes = v[:, order[:DIMS]].T
    kept = float(w[order[:DIMS]].sum() / w.sum())
    return Projection(axes, centre, kept, len(x))


def install(cur: Cursor, *, model: str, shards: int = 2, m: int = 32,
            ef_construction: int = 128, sample: int = 200_000,
            maintenance_work_mem: str = "1GB") -> Installed:
    """Fit the axes on up to ``sample`` templates of ``model`` and (re)build the index
    in ``cur``'s transaction (face writes wait until it commits)."""
    projection = fit(repository.sample_face_vectors(cur, model=model, limit=sample))
    t = time.perf_counter()
    repository.install_face_projection(cur, axes=projection.axes, centre=projection.centre,
                                       shards=shards, m=m, ef_construction=ef_construction,
                                       maintenance_work_mem=maintenance_work_mem)
    seconds = time.perf_counter() - t
    return Installed(projection, seconds, repository.face_index_size(cur))
