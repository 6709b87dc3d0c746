"""Fingerprint-ness gate: time per image, with the extraction it runs before as baseline.

Run:  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_fingerprint_gate.py [--per-set 20]

One core (OpenCV and BLAS limited to one thread), process CPU time, so the figures hold
per core on a busy shared machine. Images are decoded before timing (decoding is the
shared intake's cost, paid once for both). For each FVC2002 B set, ``--per-set`` images
are gated and extracted; ``--faces`` LFW images are gated (the gate's usual negatives).
The baseline is minutiae extraction of the same fingerprint images in the same run.
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

from biometrics.fingerprint import gate
from biometrics.fingerprint.extraction import extract, image_dpi
from biometrics.imaging import decode_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _cpu_ms(fn: object, *args: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn(*args)  # type: ignore[operator]
        best = min(best, 1000.0 * (time.process_time() - t))
    return best


def _pct(values: list[float]) -> str:
    a = np.array(values)
    return (f"median {np.median(a):7.2f} ms  p95 {np.percentile(a, 95):7.2f} ms  "
            f"max {a.max():7.2f} ms  (n={len(a)})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-set", type=int, default=20)
    ap.add_argument("--faces", type=int, default=200)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    gate_fp: list[float] = []
    extract_fp: list[float] = []
    for s in ("DB1_B", "DB2_B", "DB3_B", "DB4_B"):
        g, e = [], []
        for path in sorted((DATA / "fingerprints/fvc2002" / s).glob("*.png"))[:args.per_set]:
            img = decode_image(path.read_bytes(), mode="L")
            dpi = image_dpi(img.width, img.height, img.dpi)
            g.append(_cpu_ms(gate.assess, img.pixels, dpi))
            e.append(_cpu_ms(extract, img.pixels, dpi, repeat=1))
        print(f"{s} {img.width}x{img.height}: gate {_pct(g)}")
        print(f"{'':>5} {'':>7}  extraction (baseline) {_pct(e)}")
        gate_fp += g
        extract_fp += e
    faces = sorted((DATA / "faces/lfw-dev/images").glob("*/*.jpg"))[::25][:args.faces]
    f = []
    for path in faces:
        data = path.read_bytes()
        img = decode_image(data, mode="L")
        rgb = gate.colour_pixels(data)
        f.append(_cpu_ms(gate.assess, img.pixels, 500.0, rgb))
    print(f"LFW 250x250 (colour check included): gate {_pct(f)}")
    print(f"All fingerprints: gate {_pct(gate_fp)}")
    print(f"All fingerprints: extraction (baseline) {_pct(extract_fp)}")
    print(f"Gate / extraction, medians: {np.median(gate_fp) / np.median(extract_fp):.3f}")


if __name__ == "__main__":
    main()
