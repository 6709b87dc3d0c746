"""Fingerprint robustness stress test: FVC2002 B sets with degraded impressions.

Run:  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_fingerprint_stress.py [--kinds ...]

What held-out sensors have more of than FVC2002 (issue 13): skin distortion, dry and wet
prints, partial contact, low contrast. Each kind writes a copy of DB1_B..DB4_B in which
impressions 5-8 of every finger are degraded (1-4 stay clean, so genuine pairs mix clean
and degraded impressions, as enrolment vs. a later verification would) and reports the
FVC-protocol and extended EER of guardreg's matcher on it, next to the clean sets and the
NBIS peer (mindtct + bozorth3) on the same images when ``nbis-py`` is installed. The
degradations are deterministic (seeded per file name):

* ``distortion``: smooth random elastic warp (up to 8 px displacement, local
  stretch up to ~10%), as from pressing and twisting the finger;
* ``dry``: ridges broken by a blotchy mask and lightened;
* ``wet``: ridges thickened (erosion of the bright valleys) and darkened, valleys filled;
* ``partial``: only 55-70% of the area kept (a random side cut away);
* ``lowcontrast``: contrast divided by 5 around a bright grey, plus sensor noise.

Minutiae are cached under ``--cache`` (default: ``fpmatch-cache`` in the system temporary
directory, or ``$FPMATCH_CACHE``), so reruns are cheap.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import zlib
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biometrics.fingerprint import evaluation, matcher

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fingerprints" / "fvc2002"
KINDS = ("distortion", "dry", "wet", "partial", "lowcontrast")


def degrade(img: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape
    f = img.astype(np.float32)
    if kind == "distortion":
        amp = 8.0
        dx = np.asarray(cv2.resize(rng.normal(0, 1, (4, 4)).astype(np.float32), (w, h),
                                   interpolation=cv2.INTER_CUBIC), np.float32)
        dy = np.asarray(cv2.resize(rng.normal(0, 1, (4, 4)).astype(np.float32), (w, h),
                                   interpolation=cv2.INTER_CUBIC), np.float32)
        dx = dx * np.float32(amp / max(float(np.abs(dx).max()), 1e-6))
        dy = dy * np.float32(amp / max(float(np.abs(dy).max()), 1e-6))
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        out = cv2.remap(f, gx + dx, gy + dy, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    elif kind == "dry":
        blot = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 3)
        blot = (blot - blot.mean()) / (blot.std() + 1e-6)
        # only ridge pixels (darker than their surroundings) are lightened
        ridge = f < cv2.GaussianBlur(f, (0, 0), 4) - 4
        broken = (blot > 0.3) & ridge
        out = np.where(broken, 255 - 0.35 * (255 - f), f)
        out = 255 - 0.7 * (255 - out)
    elif kind == "wet":
        out = cv2.erode(f, np.ones((3, 3), np.uint8))
        out = cv2.GaussianBlur(out, (0, 0), 1.2) * 0.75
    elif kind == "partial":
        keep = rng.uniform(0.55, 0.7)
        side = int(rng.integers(4))
        out = f.copy()
        if side == 0:
            out[:, int(w * keep):] = 255
        elif side == 1:
            out[:, : int(w * (1 - keep))] = 255
        elif side == 2:
            out[int(h * keep):, :] = 255
        else:
            out[: int(h * (1 - keep)), :] = 255
    elif kind == "lowcontrast":
        out = 200 + (f - f.mean()) / 5 + rng.normal(0, 2.0, f.shape)
    else:
        raise ValueError(kind)
    return np.clip(out, 0, 255).astype(np.uint8)


def make_set(src: Path, dst: Path, kind: str) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for p in sorted(src.iterdir()):
        if p.suffix.lower() not in evaluation.IMAGE_EXT:
            continue
        out = dst / (p.stem + ".png")
        if out.exists():
            continue
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        imp = int(p.stem.split("_")[1])
        if imp >= 5:
            rng = np.random.default_rng(zlib.crc32(f"{kind}/{src.name}/{p.name}".encode()))
            img = degrade(img, kind, rng)
        cv2.imwrite(str(out), img)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--cache", default=os.environ.get(
        "FPMATCH_CACHE", str(Path(tempfile.gettempdir()) / "fpmatch-cache")))
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--params", default="{}",
                    help='matcher parameter overrides as JSON, e.g. {"DIST_TOL": 0.05}')
    args = ap.parse_args()
    overrides = json.loads(args.params)
    cache = Path(args.cache)
    sets = sorted(DATA.glob("DB?_B"))
    peer = not args.no_peer
    try:
        import nbis  # noqa: F401
    except ImportError:
        peer = False
    rows = []
    for kind in ["clean", *[k for k in args.kinds.split(",") if k]]:
        folders = sets if kind == "clean" else [
            make_set(s, cache / "stress" / kind / s.name, kind) for s in sets]
        ours = []
        for d in folders:
            with matcher.parameters(**overrides):
                r = evaluation.evaluate_folder(d, cache_dir=cache / "minutiae")
            ours.append((r["fvc"]["eer"], r["extended"]["eer"]))
        line = (f"{kind:<12} ours FVC EER " + " ".join(f"{100 * o[0]:5.2f}" for o in ours)
                + f" mean {100 * np.mean([o[0] for o in ours]):5.2f}% | ext. mean "
                f"{100 * np.mean([o[1] for o in ours]):5.2f}%")
        if peer:
            b = evaluation.evaluate_nbis(folders)
            line += (f" || NBIS FVC mean {100 * b['mean']['fvc']['eer']:5.2f}%, ext. mean "
                     f"{100 * b['mean']['extended']['eer']:5.2f}%")
        print(line + (f" (matcher {overrides})" if overrides else ""), flush=True)
        rows.append(line)


if __name__ == "__main__":
    main()
