"""Synthetic distractor fingers for bench/bench_finger_index.py, made once and cached.

Chunk ``c`` holds fingers ``c * CHUNK .. (c + 1) * CHUNK - 1``: finger ``i`` is the first
impression of ``synthetic.master_finger(SEED0 + i)``. Each chunk file stores the
serialised prepared templates and the index postings (``index.finger_postings``: codes
and cylinder slots), so that a benchmark run only loads.
Run directly to fill the cache in the background: ``python bench/_finger_gallery.py
START_CHUNK END_CHUNK``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biometrics.fingerprint import index, matcher, synthetic

CACHE = Path(os.environ.get("FPINDEX_CACHE",
                           Path(tempfile.gettempdir()) / "guardreg-finger-gallery"))
CHUNK = int(os.environ.get("FPINDEX_CHUNK", "10000"))
SEED0 = 7_000_000


def chunk_path(c: int) -> Path:
    return CACHE / f"gallery-s{index.SCHEME}-t{index.TABLES}-b{index.BITS}-{c:03d}.npz"


def build_chunk(c: int) -> Path:
    path = chunk_path(c)
    if path.exists():
        return path
    templates: list[bytes] = []
    codes: list[np.ndarray] = []
    slots: list[np.ndarray] = []
    # the same fingers under another index scheme: reuse their templates
    made = sorted(CACHE.glob(f"gallery-*-{c:03d}.npz"))
    old = list(np.load(made[0], allow_pickle=True)["templates"]) if made else []
    for i in range(c * CHUNK, (c + 1) * CHUNK):
        if old:
            prep = matcher.prepare(old[i - c * CHUNK])
        else:
            prep = matcher.prepare_minutiae(
                synthetic.impression(synthetic.master_finger(SEED0 + i), 0))
        templates.append(matcher.serialize(prep))
        c_, s_ = index.finger_postings(prep)
        codes.append(c_)
        slots.append(s_.astype(np.uint8))
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, templates=np.array(templates, dtype=object),
             codes=np.concatenate(codes), slots=np.concatenate(slots),
             offsets=np.cumsum([0] + [len(x) for x in codes]))
    tmp.rename(path)
    return path


def load_chunk(c: int) -> tuple[list[bytes], list[tuple[np.ndarray, np.ndarray]]]:
    """Templates and ``(codes, slots)`` postings of chunk ``c``'s fingers. With
    ``FPINDEX_WAIT=1`` a missing chunk is awaited (another process is making it)
    instead of built here."""
    if os.environ.get("FPINDEX_WAIT") == "1":
        while not chunk_path(c).exists():
            time.sleep(10)
    z = np.load(build_chunk(c), allow_pickle=True)
    off = z["offsets"]
    codes, slots = z["codes"], z["slots"].astype(np.int32)
    return list(z["templates"]), [(codes[off[i]:off[i + 1]], slots[off[i]:off[i + 1]])
                                  for i in range(len(off) - 1)]


if __name__ == "__main__":
    CACHE.mkdir(parents=True, exist_ok=True)
    start, end = int(sys.argv[1]), int(sys.argv[2])
    step = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    for c in range(start, end, step):
        t0 = time.time()
        build_chunk(c)
        print(f"chunk {c} in {time.time() - t0:.0f} s", flush=True)
