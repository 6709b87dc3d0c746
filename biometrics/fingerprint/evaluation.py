"""Verification accuracy of the fingerprint pipeline on a folder, FVC style.

The folder holds ``<finger>_<impression>.<png|tif|tiff|bmp>`` images or ``.iso``/``.ist``
minutiae templates. Two impostor sets are reported separately, never pooled:

* FVC protocol: genuine = every pair of impressions of the same finger; impostor = the
  first impressions of different fingers;
* extended: the same genuine pairs against every cross-finger pair.

Figures: EER, FMR100 and FMR1000 (lowest FNMR with FMR <= 1% / 0.1%), ZeroFMR (lowest
FNMR with no false match), failures to extract, mean extraction time per image and
comparisons per second (one core, one probe against the others, ``match_many``). Times
are process CPU times, so they stay per-core figures on a loaded machine.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from biometrics.fingerprint import matcher
from biometrics.fingerprint.matcher import PreparedTemplate

IMAGE_EXT = {".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg"}
TEMPLATE_EXT = {".iso", ".ist", ".ansi", ".fmr", ".dat"}
_NAME = re.compile(r"^(?P<finger>[^_]+)_(?P<imp>\d+)$")


def error_rates(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, float]:
    """EER, FMR100, FMR1000 and ZeroFMR (fractions) for similarity scores."""
    g = np.sort(np.asarray(genuine, dtype=np.float64))
    imp = np.sort(np.asarray(impostor, dtype=np.float64))
    if len(g) == 0 or len(imp) == 0:
        return {"eer": math.nan, "fmr100": math.nan, "fmr1000": math.nan, "zerofmr": math.nan}
    thr = np.unique(np.concatenate([g, imp, [np.inf]]))
    # accept when score >= threshold
    fmr = 1.0 - np.searchsorted(imp, thr, side="left") / len(imp)
    fnmr = np.searchsorted(g, thr, side="left") / len(g)
    diff = fmr - fnmr
    k = int(np.argmax(diff <= 0))  # first threshold with FMR <= FNMR
    if k == 0:
        eer = float((fmr[0] + fnmr[0]) / 2)
    else:
        # interpolate between thresholds k-1 and k
        d0, d1 = diff[k - 1], diff[k]
        t = d0 / (d0 - d1) if d0 != d1 else 0.5
        eer = float(((1 - t) * (fmr[k - 1] + fnmr[k - 1]) + t * (fmr[k] + fnmr[k])) / 2)

    def at(limit: float) -> float:
        ok = fmr <= limit + 1e-12
        return float(fnmr[ok].min()) if ok.any() else 1.0

    return {"eer": eer, "fmr100": at(0.01), "fmr1000": at(0.001), "zerofmr": at(0.0)}


def threshold_at(impostor: np.ndarray, fmr: float) -> float:
    """Smallest score threshold whose false match rate on ``impostor`` is <= ``fmr``."""
    imp = np.sort(np.asarray(impostor, dtype=np.float64))
    k = math.ceil(len(imp) * (1 - fmr))
    if k >= len(imp):
        return float(imp[-1] + 1e-6)
    return float(imp[k - 1] + 1e-6) if k > 0 else float(imp[0])


def _load(path: Path) -> tuple[PreparedTemplate | None, float]:
    """Prepare one file; returns (template or None on failure, extraction ms)."""
    from registry.errors import GuardregError

    t0 = time.process_time()
    try:
        data = path.read_bytes()
        if path.suffix.lower() in TEMPLATE_EXT:
            prep = matcher.prepare(data)
        else:
            from biometrics.fingerprint.extraction import extract_from_bytes

            prep = matcher.prepare(extract_from_bytes(data))
    except (GuardregError, ValueError, OSError):
        return None, (time.process_time() - t0) * 1000
    return prep, (time.process_time() - t0) * 1000


def evaluate_templates(
    items: dict[tuple[str, int], PreparedTemplate | None],
    *,
    extraction_ms: list[float] | None = None,
) -> dict[str, Any]:
    """Evaluate already prepared templates keyed by ``(finger, impression)``."""
    keys = sorted(items, key=lambda k: (k[0], k[1]))
    fingers = sorted({k[0] for k in keys})
    empty = matcher.prepare_minutiae(np.zeros((0, 3)))
    preps = [items[k] or empty for k in keys]
    fte = sum(1 for p in preps if p.size < 2)
    batch = matcher.stack(preps)
    n = len(keys)
    scores = np.zeros((n, n))
    t0 = time.process_time()
    for i in range(n):
        scores[i] = matcher.match_many(preps[i], batch)
    elapsed = time.process_time() - t0
    sym = (scores + scores.T) / 2  # one score per unordered pair
    gen: list[float] = []
    imp_fvc: list[float] = []
    imp_ext: list[float] = []
    first = {f: min(k[1] for k in keys if k[0] == f) for f in fingers}
    for i in range(n):
        for j in range(i + 1, n):
            (fi, ii), (fj, ij) = keys[i], keys[j]
            if fi == fj:
                gen.append(sym[i, j])
            else:
                imp_ext.append(sym[i, j])
                if ii == first[fi] and ij == first[fj]:
                    imp_fvc.append(sym[i, j])
    g = np.array(gen)
    res: dict[str, Any] = {
        "images": n,
        "fingers": len(fingers),
        "failure_to_extract": fte,
        "genuine_pairs": len(gen),
        "fvc": {"impostor_pairs": len(imp_fvc), **error_rates(g, np.array(imp_fvc))},
        "extended": {"impostor_pairs": len(imp_ext), **error_rates(g, np.array(imp_ext))},
        "comparisons_per_second": (n * n) / elapsed if elapsed > 0 else math.nan,
        "mean_extraction_ms": float(np.mean(extraction_ms)) if extraction_ms else math.nan,
        "thresholds_extended": {
            "fmr_1": threshold_at(np.array(imp_ext), 0.01) if imp_ext else math.nan,
            "fmr_0.1": threshold_at(np.array(imp_ext), 0.001) if imp_ext else math.nan,
        },
        "genuine_scores": [float(x) for x in g],
        "impostor_scores_fvc": [float(x) for x in imp_fvc],
        "impostor_scores_extended": [float(x) for x in imp_ext],
    }
    return res


def evaluate_folder(
    path: str | Path, *, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Extract (or parse) every file of ``path`` and report FVC-style figures."""
    import cv2

    cv2.setNumThreads(1)
    folder = Path(path)
    items: dict[tuple[str, int], PreparedTemplate | None] = {}
    times: list[float] = []
    for p in sorted(folder.iterdir()):
        ext = p.suffix.lower()
        mt = _NAME.match(p.stem)
        if not mt or ext not in IMAGE_EXT | TEMPLATE_EXT:
            continue
        prep, ms = _load(p)
        if ext in IMAGE_EXT:
            times.append(ms)
        items[(mt["finger"], int(mt["imp"]))] = prep
        if progress:
            progress(p.name)
    if not items:
        raise ValueError(f"no <finger>_<impression> images or templates in {folder}")
    res = evaluate_templates(items, extraction_ms=times)
    res["folder"] = str(folder)
    return res


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def format_report(result: dict[str, Any], *, as_json: bool = False) -> str:
    """Human-readable (or JSON, without the raw score lists) report of ``evaluate_folder``."""
    if as_json:
        slim = {k: v for k, v in result.items() if not k.endswith("_scores")
                and not k.startswith("impostor_scores")}
        return json.dumps(slim, indent=2, sort_keys=True)
    lines = [
        f"Folder: {result.get('folder', '-')}",
        f"Images/templates: {result['images']} ({result['fingers']} fingers), "
        f"failures to extract: {result['failure_to_extract']}",
        f"Genuine pairs: {result['genuine_pairs']}",
    ]
    for key, title in (("fvc", "FVC protocol"), ("extended", "Extended impostors")):
        r = result[key]
        lines.append(
            f"{title:<19} impostor pairs {r['impostor_pairs']:>6}: EER {_pct(r['eer'])}, "
            f"FMR100 {_pct(r['fmr100'])}, FMR1000 {_pct(r['fmr1000'])}, "
            f"ZeroFMR {_pct(r['zerofmr'])}"
        )
    ms = result.get("mean_extraction_ms", math.nan)
    lines.append(
        "Mean extraction: " + ("n/a" if math.isnan(ms) else f"{ms:.1f} ms/image")
        + f"; comparisons/s (one core): {result['comparisons_per_second']:.0f}"
    )
    return "\n".join(lines)
