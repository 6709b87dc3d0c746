"""LFW-protocol evaluation of the face pipeline (for ``guardreg eval face``).

Public API:

- :func:`evaluate_lfw(pairs_path, images_dir, *, subset_names=None, progress=None,
  analyzer=None, cache=None) -> dict`
- :func:`format_report(result) -> str`
- :func:`read_pairs(path) -> list[list[Pair]]`

Protocol: every image goes through :meth:`FaceAnalyzer.analyse` with
``purpose="evaluate"`` (the face nearest the image centre, no quality gate), each
image encoded once per run. Distances are Euclidean. Per fold, the accuracy is
measured at the threshold that maximises accuracy on the *other* folds (LFW View 2
cross-validation, over however many folds the file has). A pair with an image where
no face was found (failure to enroll, FTE) gets distance ``+inf``: it never matches,
so it is an error for a same-person pair and correct for a different-person pair.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biometrics.errors import QualityRejected
from biometrics.face.pipeline import DEFAULT_THRESHOLD, THRESHOLDS, FaceAnalyzer, get_analyzer
from biometrics.imaging import decode_image

__all__ = ["Pair", "evaluate_lfw", "format_report", "read_pairs"]

ProgressFn = Callable[[int, int], None]

REFERENCE_THRESHOLD = 0.6  # face_recognition's documented default tolerance
SWEEP = [round(0.30 + 0.01 * i, 2) for i in range(36)]  # 0.30 .. 0.65


@dataclass(frozen=True)
class Pair:
    name1: str
    num1: int
    name2: str
    num2: int

    @property
    def same(self) -> bool:
        return self.name1 == self.name2


def read_pairs(path: str | Path) -> list[list[Pair]]:
    """Parse an LFW View 2 ``pairs.txt`` (header ``<folds>\\t<n>``; per fold ``n``
    same-person lines ``name i j`` then ``n`` different-person lines ``a i b j``)."""
    lines = [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise ValueError("pairs file is empty")
    head = lines[0].split()
    if len(head) != 2:
        raise ValueError(f"bad pairs header {lines[0]!r}")
    n_folds, n = int(head[0]), int(head[1])
    body = lines[1:]
    if len(body) != n_folds * 2 * n:
        raise ValueError(f"expected {n_folds * 2 * n} pair lines, found {len(body)}")
    folds: list[list[Pair]] = []
    for f in range(n_folds):
        chunk = body[f * 2 * n : (f + 1) * 2 * n]
        fold: list[Pair] = []
        for ln in chunk:
            p = ln.split("\t") if "\t" in ln else ln.split()
            if len(p) == 3:
                fold.append(Pair(p[0], int(p[1]), p[0], int(p[2])))
            elif len(p) == 4:
                fold.append(Pair(p[0], int(p[1]), p[2], int(p[3])))
            else:
                raise ValueError(f"bad pair line {ln!r}")
        folds.append(fold)
    return folds


def _image_path(images_dir: Path, name: str, num: int) -> Path:
    return images_dir / name / f"{name}_{num:04d}.jpg"


class _Encoder:
    """Encodes each image once; records failures and quality metrics."""

    def __init__(self, analyzer: FaceAnalyzer, cache: dict[str, Any] | None) -> None:
        self.analyzer = analyzer
        self.cache: dict[str, Any] = {} if cache is None else cache

    def get(self, path: Path) -> dict[str, Any]:
        key = str(path)
        hit = self.cache.get(key)
        if hit is not None:
            return dict(hit)
        entry: dict[str, Any]
        try:
            pixels = decode_image(path.read_bytes()).pixels
            res = self.analyzer.analyse(pixels, purpose="evaluate")
            entry = {"encoding": res.encoding, "detector": res.detector,
                     "quality": res.quality}
        except QualityRejected as exc:
            entry = {"encoding": None, "detector": None, "quality": {},
                     "error": exc.detail}
        except FileNotFoundError:
            entry = {"encoding": None, "detector": None, "quality": {},
                     "error": "missing file"}
        self.cache[key] = entry
        return dict(entry)


def _dist(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None:
        return math.inf
    return float(np.linalg.norm(a - b))


# --------------------------------------------------------------------------- metrics


def _best_threshold(d: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Threshold maximising accuracy of ``d <= t``; returns (threshold, accuracy).

    The threshold is the midpoint between consecutive sorted finite distances.
    """
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], same[order]
    n = len(ds)
    # accepting the first k pairs: correct = genuine among first k + impostors after k
    gen_cum = np.concatenate([[0], np.cumsum(ss)])
    imp_total = int((~ss).sum())
    imp_cum = np.concatenate([[0], np.cumsum(~ss)])
    correct = gen_cum + (imp_total - imp_cum)
    valid = np.ones(n + 1, dtype=bool)
    # cannot cut between equal distances, nor accept an infinite distance
    for k in range(1, n):
        if ds[k] == ds[k - 1]:
            valid[k] = False
    finite_count = int(np.isfinite(ds).sum())
    valid[finite_count + 1 :] = False
    correct = np.where(valid, correct, -1)
    k = int(np.argmax(correct))
    if k == 0:
        thr = float(ds[0]) - 1e-6 if n and np.isfinite(ds[0]) else 0.0
    elif k >= finite_count:
        thr = float(ds[finite_count - 1]) + 1e-6
    else:
        thr = float((ds[k - 1] + ds[k]) / 2.0)
    return thr, float(correct[k]) / n


def _accuracy(d: np.ndarray, same: np.ndarray, thr: float) -> float:
    return float(((d <= thr) == same).mean()) if len(d) else float("nan")


def _rates(d: np.ndarray, same: np.ndarray, thr: float) -> dict[str, float]:
    gen, imp = d[same], d[~same]
    far = float((imp <= thr).mean()) if len(imp) else float("nan")
    frr = float((gen > thr).mean()) if len(gen) else float("nan")
    return {"threshold": thr, "accuracy": _accuracy(d, same, thr), "far": far, "frr": frr,
            "false_accepts": int((imp <= thr).sum()), "false_rejects": int((gen > thr).sum())}


def _eer(d: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Equal error rate and its threshold (FAR and FRR interpolated at crossing)."""
    gen, imp = np.sort(d[same]), np.sort(d[~same])
    cands = np.unique(np.concatenate([gen[np.isfinite(gen)], imp[np.isfinite(imp)]]))
    best = (math.inf, 1.0, 0.0)
    for t in cands:
        far = np.searchsorted(imp, t, side="right") / len(imp)
        frr = 1.0 - np.searchsorted(gen, t, side="right") / len(gen)
        gap = abs(far - frr)
        if gap < best[0]:
            best = (gap, (far + frr) / 2.0, float(t))
    return float(best[1]), float(best[2])


def _tar_at_far(d: np.ndarray, same: np.ndarray, far_target: float) -> dict[str, float]:
    """Highest TAR with FAR <= target; the threshold is the largest such distance."""
    gen, imp = np.sort(d[same]), np.sort(d[~same])
    allowed = math.floor(far_target * len(imp) + 1e-9)  # impostors that may pass
    finite_imp = imp[np.isfinite(imp)]
    if allowed >= len(finite_imp):
        thr = float(gen[np.isfinite(gen)].max()) if np.isfinite(gen).any() else 0.0
    else:
        # accept strictly below the (allowed+1)-th smallest impostor distance
        thr = float(np.nextafter(finite_imp[allowed], -np.inf))
    tar = float(np.searchsorted(gen, thr, side="right") / len(gen))
    far = float(np.searchsorted(imp, thr, side="right") / len(imp))
    return {"far_target": far_target, "tar": tar, "far": far, "threshold": thr,
            "impostors": len(imp)}


def _summary(d: np.ndarray, same: np.ndarray, default_thr: float) -> dict[str, Any]:
    eer, eer_thr = _eer(d, same)
    best_thr, best_acc = _best_threshold(d, same)
    return {
        "pairs": len(d),
        "genuine": int(same.sum()),
        "impostor": int((~same).sum()),
        "eer": eer,
        "eer_threshold": eer_thr,
        "tar_at_far": [_tar_at_far(d, same, 0.01), _tar_at_far(d, same, 0.001)],
        "at_default": _rates(d, same, default_thr),
        "at_reference_0.6": _rates(d, same, REFERENCE_THRESHOLD),
        "best": {"threshold": best_thr, "accuracy": best_acc},
        "sweep": [_rates(d, same, t) for t in SWEEP],
    }


# --------------------------------------------------------------------------- main


def evaluate_lfw(
    pairs_path: str | Path,
    images_dir: str | Path,
    *,
    subset_names: set[str] | None = None,
    progress: ProgressFn | None = None,
    analyzer: FaceAnalyzer | None = None,
    cache: dict[str, Any] | None = None,
    default_threshold: float | None = None,
) -> dict[str, Any]:
    """Run the LFW View 2 protocol through our pipeline and return a JSON-able dict.

    ``subset_names``: identities (e.g. the East-Asian list) for which the same metrics
    are computed on the pairs whose *both* identities are in the subset, plus a
    same-ethnicity set built from all their images in ``images_dir`` (every genuine
    pair within an identity, every impostor pair across two identities).
    ``progress(done, total)`` is called after each image is encoded. ``cache`` (path
    -> entry) may be passed to reuse encodings across calls in one process.

    Keys: ``model_id``, ``folds`` (per fold: threshold chosen on the other folds,
    accuracy), ``mean_accuracy``, ``std_accuracy``, ``overall`` (EER, TAR@FAR 1% and
    0.1% with thresholds, accuracy at the default and at 0.6, best threshold, sweep),
    ``fte`` (images without a face, how they are scored), ``detectors``, ``quality``
    (percentiles of the quality metrics), and with a subset ``subset_pairs`` and
    ``same_ethnicity``.
    """
    images_dir = Path(images_dir)
    folds = read_pairs(pairs_path)
    an = analyzer or get_analyzer()
    thr_default = (THRESHOLDS.get(an.model_id, DEFAULT_THRESHOLD) if default_threshold is None
                   else default_threshold)
    enc = _Encoder(an, cache)

    extra_images: list[Path] = []
    subset_ids: list[str] = []
    if subset_names:
        subset_ids = sorted(n for n in subset_names if (images_dir / n).is_dir())
        for name in subset_ids:
            extra_images.extend(sorted((images_dir / name).glob(f"{name}_*.jpg")))

    all_paths: list[Path] = []
    seen: set[Path] = set()
    for fold in folds:
        for p in fold:
            for path in (_image_path(images_dir, p.name1, p.num1),
                         _image_path(images_dir, p.name2, p.num2)):
                if path not in seen:
                    seen.add(path)
                    all_paths.append(path)
    for path in extra_images:
        if path not in seen:
            seen.add(path)
            all_paths.append(path)

    entries: dict[Path, dict[str, Any]] = {}
    for i, path in enumerate(all_paths):
        entries[path] = enc.get(path)
        if progress is not None:
            progress(i + 1, len(all_paths))

    def pair_dist(p: Pair) -> float:
        a = entries[_image_path(images_dir, p.name1, p.num1)]["encoding"]
        b = entries[_image_path(images_dir, p.name2, p.num2)]["encoding"]
        return _dist(a, b)

    fold_d = [np.array([pair_dist(p) for p in fold]) for fold in folds]
    fold_s = [np.array([p.same for p in fold]) for fold in folds]

    fold_results = []
    for k in range(len(folds)):
        if len(folds) > 1:
            d_tr = np.concatenate([fold_d[j] for j in range(len(folds)) if j != k])
            s_tr = np.concatenate([fold_s[j] for j in range(len(folds)) if j != k])
        else:
            d_tr, s_tr = fold_d[k], fold_s[k]
        thr, _ = _best_threshold(d_tr, s_tr)
        fold_results.append({"fold": k + 1, "threshold": thr,
                             "accuracy": _accuracy(fold_d[k], fold_s[k], thr),
                             "accuracy_at_default": _accuracy(fold_d[k], fold_s[k],
                                                              thr_default)})
    accs = [f["accuracy"] for f in fold_results]
    d_all, s_all = np.concatenate(fold_d), np.concatenate(fold_s)

    pair_path_set = {_image_path(images_dir, q.name1, q.num1) for f in folds for q in f} | {
        _image_path(images_dir, q.name2, q.num2) for f in folds for q in f}
    pair_images = [path for path in all_paths if path in pair_path_set]
    failed = [str(path.relative_to(images_dir)) for path in pair_images
              if entries[path]["encoding"] is None]
    affected = sum(1 for fold in folds for p in fold if not math.isfinite(pair_dist(p)))
    detectors: dict[str, int] = {}
    for path in all_paths:
        key = entries[path]["detector"] or "none"
        detectors[key] = detectors.get(key, 0) + 1

    result: dict[str, Any] = {
        "model_id": an.model_id,
        "default_threshold": thr_default,
        "folds": fold_results,
        "mean_accuracy": statistics.fmean(accs),
        "std_accuracy": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        "mean_accuracy_at_default": statistics.fmean(f["accuracy_at_default"]
                                                     for f in fold_results),
        "overall": _summary(d_all, s_all, thr_default),
        "fte": {
            "images": len(pair_images),
            "failed": len(failed),
            "rate": len(failed) / len(pair_images) if pair_images else 0.0,
            "failed_images": failed,
            "pairs_affected": affected,
            "scoring": "a pair with a failed image has distance +inf (scored as non-match)",
        },
        "detectors": detectors,
        "quality": _quality_percentiles(entries[path]["quality"] for path in pair_images),
    }

    if subset_names:
        sub = set(subset_names)
        sp = [(p, dd) for fold in folds for p, dd in zip(fold, map(pair_dist, fold),
                                                         strict=True)
              if p.name1 in sub and p.name2 in sub]
        if sp:
            d_sub = np.array([x[1] for x in sp])
            s_sub = np.array([x[0].same for x in sp])
            result["subset_pairs"] = {
                "pairs": len(sp), "genuine": int(s_sub.sum()), "impostor": int((~s_sub).sum()),
                "at_default": _rates(d_sub, s_sub, thr_default),
                "at_reference_0.6": _rates(d_sub, s_sub, REFERENCE_THRESHOLD),
            }
        else:
            result["subset_pairs"] = {"pairs": 0}
        result["same_ethnicity"] = _same_ethnicity(subset_ids, extra_images, entries,
                                                   thr_default)
    return result


def _same_ethnicity(ids: list[str], images: list[Path], entries: dict[Path, dict[str, Any]],
                    thr_default: float) -> dict[str, Any]:
    by_id: dict[str, list[np.ndarray | None]] = {n: [] for n in ids}
    for path in images:
        by_id[path.parent.name].append(entries[path]["encoding"])
    d: list[float] = []
    s: list[bool] = []
    for n in ids:
        for a, b in itertools.combinations(by_id[n], 2):
            d.append(_dist(a, b))
            s.append(True)
    for n1, n2 in itertools.combinations(ids, 2):
        for a in by_id[n1]:
            for b in by_id[n2]:
                d.append(_dist(a, b))
                s.append(False)
    failed = sum(1 for p in images if entries[p]["encoding"] is None)
    out: dict[str, Any] = {
        "identities": {n: len(by_id[n]) for n in ids},
        "images": len(images),
        "fte": failed,
    }
    if d and any(s) and not all(s):
        out.update(_summary(np.array(d), np.array(s), thr_default))
    return out


def _quality_percentiles(qs: Iterable[dict[str, float]]) -> dict[str, dict[str, float]]:
    rows = [q for q in qs if q]
    out: dict[str, dict[str, float]] = {}
    if not rows:
        return out
    for key in ("inter_eye_px", "roll_deg", "yaw_deg", "sharpness", "exposure_mean"):
        vals = np.array([abs(r[key]) if key in ("roll_deg", "yaw_deg") else r[key]
                         for r in rows if key in r])
        if len(vals):
            out[key] = {f"p{p}": float(np.percentile(vals, p)) for p in (1, 5, 50, 95, 99)}
    return out


# --------------------------------------------------------------------------- report


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.2f}%"


def format_report(result: dict[str, Any]) -> str:
    """Human-readable multi-line report of :func:`evaluate_lfw`'s result."""
    o = result["overall"]
    lines = [
        f"Face evaluation, LFW View 2 protocol, model {result['model_id']}",
        f"Folds: {len(result['folds'])} x {o['pairs'] // max(1, len(result['folds']))} pairs",
    ]
    for f in result["folds"]:
        lines.append(f"  fold {f['fold']}: accuracy {_pct(f['accuracy'])} "
                     f"(threshold {f['threshold']:.4f} chosen on the other folds; "
                     f"{_pct(f['accuracy_at_default'])} at default)")
    lines += [
        f"Mean accuracy: {_pct(result['mean_accuracy'])} +- {_pct(result['std_accuracy'])}",
        f"Mean accuracy at default threshold {result['default_threshold']:.2f}: "
        f"{_pct(result['mean_accuracy_at_default'])}",
        f"EER: {_pct(o['eer'])} at distance {o['eer_threshold']:.4f}",
    ]
    for t in o["tar_at_far"]:
        lines.append(f"TAR at FAR {_pct(t['far_target'])}: {_pct(t['tar'])} "
                     f"(threshold {t['threshold']:.4f}, measured FAR {_pct(t['far'])} of "
                     f"{t['impostors']} impostors)")
    lines.append(_rates_line("At default", o["at_default"]))
    lines.append(_rates_line("At 0.6", o["at_reference_0.6"]))
    fte = result["fte"]
    lines.append(f"Failure to enroll: {fte['failed']}/{fte['images']} images "
                 f"({_pct(fte['rate'])}), {fte['pairs_affected']} pairs affected; "
                 f"{fte['scoring']}")
    if fte["failed_images"]:
        lines.append("  no face: " + ", ".join(fte["failed_images"][:20]))
    lines.append("Detectors used: " + ", ".join(f"{k} {v}" for k, v in
                                               sorted(result["detectors"].items())))
    if "subset_pairs" in result:
        sp = result["subset_pairs"]
        lines.append(f"Subset pairs in pairs.txt (both identities in subset): {sp['pairs']}")
        if sp["pairs"]:
            lines.append(_rates_line("  at default", sp["at_default"]))
            lines.append(_rates_line("  at 0.6", sp["at_reference_0.6"]))
    if "same_ethnicity" in result:
        se = result["same_ethnicity"]
        lines.append(f"Same-ethnicity set: {len(se['identities'])} identities, "
                     f"{se['images']} images, FTE {se['fte']}")
        if "pairs" in se:
            lines.append(f"  {se['genuine']} genuine / {se['impostor']} impostor pairs; "
                         f"EER {_pct(se['eer'])} at {se['eer_threshold']:.4f}")
            lines.append(_rates_line("  at default", se["at_default"]))
            lines.append(_rates_line("  at 0.6", se["at_reference_0.6"]))
            lines.append(f"  best threshold {se['best']['threshold']:.4f}: accuracy "
                         f"{_pct(se['best']['accuracy'])}")
            for t in se["tar_at_far"]:
                lines.append(f"  TAR at FAR {_pct(t['far_target'])}: {_pct(t['tar'])} "
                             f"(threshold {t['threshold']:.4f})")
    lines.append("Threshold sweep (LFW accuracy / FAR / FRR"
                 + (" | same-ethnicity FAR / FRR)" if "same_ethnicity" in result
                    and "sweep" in result["same_ethnicity"] else ")"))
    se_sweep = result.get("same_ethnicity", {}).get("sweep")
    for i, r in enumerate(o["sweep"]):
        if round(r["threshold"] * 100) % 2:
            continue
        line = (f"  {r['threshold']:.2f}: {_pct(r['accuracy'])} / {_pct(r['far'])} / "
                f"{_pct(r['frr'])}")
        if se_sweep:
            s = se_sweep[i]
            line += f" | {_pct(s['far'])} / {_pct(s['frr'])}"
        lines.append(line)
    return "\n".join(lines)


def _rates_line(label: str, r: dict[str, float]) -> str:
    return (f"{label} (threshold {r['threshold']:.2f}): accuracy {_pct(r['accuracy'])}, "
            f"FAR {_pct(r['far'])} ({r['false_accepts']}), "
            f"FRR {_pct(r['frr'])} ({r['false_rejects']})")
