"""Secret distance-preserving transform of searchable face vectors.

DESIGN.md: searchable face vectors are stored only after a secret orthogonal
transform. An orthogonal matrix ``Q`` (``Q.T @ Q = I``) preserves Euclidean
distances and inner products, so 1:1 comparison, thresholds and 1:N search (pgvector
L2 or cosine) give the same results on protected vectors as on raw ones, yet a
stored vector cannot be compared with a raw encoding (e.g. one computed from a
leaked or public photo) without the key, and the store can be re-keyed.

Public API:

- :class:`FaceVectorKey` (``from_key(key: bytes, *, dim=128)``): ``protect``,
  ``unprotect``, ``key_id``.
- :func:`protect(vec, key)`, :func:`unprotect(vec, key)`.
- :func:`rekey(vectors, old_key, new_key)` and :func:`rekey_matrix(old, new)`.

Derivation: ``HKDF-SHA256(key, salt=b"guardreg/face/orthogonal/v1", info=dim)`` gives
a 32-byte seed for numpy's PCG64 generator; a ``dim x dim`` standard normal matrix is
QR-decomposed and the signs of ``R``'s diagonal are folded into ``Q`` (this makes
``Q`` unique for the Gaussian draw and Haar-distributed). Deterministic for a given
key and numpy's documented PCG64/standard_normal streams.

What it does NOT do (see docs/face.md): it is not encryption. It is a linear map;
anyone who learns about 128 (raw, protected) vector pairs can solve for ``Q``, and
someone holding the key and the stored vectors recovers the raw encodings. Norms and
all pairwise distances stay visible, so a leaked table still reveals which records
are the same person. Keep the key in the key store, apart from the database.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["FaceVectorKey", "protect", "rekey", "rekey_matrix", "unprotect"]

_SALT = b"guardreg/face/orthogonal/v1"
MIN_KEY_BYTES = 16


def _derive_matrix(key: bytes, dim: int) -> np.ndarray:
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError("key must be bytes")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"key must be at least {MIN_KEY_BYTES} bytes")
    if dim < 2:
        raise ValueError("dim must be >= 2")
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=_SALT,
        info=b"dim=" + str(dim).encode("ascii"),
    ).derive(bytes(key))
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(seed, "big")))
    g = rng.standard_normal((dim, dim))
    q, r = np.linalg.qr(g)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    q = q * signs  # multiply column j by sign(R_jj)
    return np.ascontiguousarray(q)


@dataclass(frozen=True)
class FaceVectorKey:
    """A secret orthogonal matrix derived from key bytes.

    ``protect(v) = Q @ v`` (works on one vector or on rows of an ``N x dim`` array);
    ``unprotect(p) = Q.T @ p``. ``key_id`` (hex, 16 chars) identifies the key without
    revealing it; store it with each protected vector to know which key applies.
    """

    matrix: np.ndarray
    key_id: str

    @classmethod
    def from_key(cls, key: bytes, *, dim: int = 128) -> FaceVectorKey:
        kid = hashlib.sha256(b"guardreg/face/key-id/v1" + bytes(key)).hexdigest()[:16]
        return _cached(bytes(key), dim, kid)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[0])

    def _check(self, vec: np.ndarray) -> np.ndarray:
        v = np.asarray(vec, dtype=np.float64)
        if v.ndim not in (1, 2) or v.shape[-1] != self.dim:
            raise ValueError(f"expected a vector of {self.dim} values (or rows of them), "
                             f"got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError("vector contains NaN or infinity")
        return v

    def protect(self, vec: np.ndarray) -> np.ndarray:
        """Protected copy of ``vec`` (float64); distances between vectors are unchanged."""
        v = self._check(vec)
        return np.asarray(v @ self.matrix.T)

    def unprotect(self, vec: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`protect` (needed only for re-keying or migration)."""
        v = self._check(vec)
        return np.asarray(v @ self.matrix)


_cache: dict[tuple[bytes, int], FaceVectorKey] = {}
_cache_lock = threading.Lock()


def _cached(key: bytes, dim: int, kid: str) -> FaceVectorKey:
    with _cache_lock:
        hit = _cache.get((key, dim))
        if hit is None:
            hit = FaceVectorKey(matrix=_derive_matrix(key, dim), key_id=kid)
            hit.matrix.setflags(write=False)
            if len(_cache) > 16:
                _cache.clear()
            _cache[(key, dim)] = hit
        return hit


def protect(vec: np.ndarray, key: bytes) -> np.ndarray:
    """``FaceVectorKey.from_key(key).protect(vec)``."""
    return FaceVectorKey.from_key(key, dim=np.asarray(vec).shape[-1]).protect(vec)


def unprotect(vec: np.ndarray, key: bytes) -> np.ndarray:
    """``FaceVectorKey.from_key(key).unprotect(vec)``."""
    return FaceVectorKey.from_key(key, dim=np.asarray(vec).shape[-1]).unprotect(vec)


def rekey_matrix(old_key: bytes, new_key: bytes, *, dim: int = 128) -> np.ndarray:
    """``M = Q_new @ Q_old.T``: ``M @ protect_old(v) == protect_new(v)``.

    Lets a migration re-key stored vectors without materialising raw encodings
    one by one in application code.
    """
    old = FaceVectorKey.from_key(old_key, dim=dim)
    new = FaceVectorKey.from_key(new_key, dim=dim)
    return np.asarray(new.matrix @ old.matrix.T)


def rekey(vectors: np.ndarray, old_key: bytes, new_key: bytes) -> np.ndarray:
    """Re-protect vectors (one, or rows of ``N x dim``) from ``old_key`` to ``new_key``."""
    v = np.asarray(vectors, dtype=np.float64)
    m = rekey_matrix(old_key, new_key, dim=v.shape[-1])
    return np.asarray(v @ m.T)
