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

import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biometrics.fingerprint import matcher
from biometrics.fingerprint.matcher import PreparedTemplate

IMAGE_EXT = {".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg"}
TEMPLATE_EXT = {".iso", ".ist", ".ansi", ".fmr", ".dat"}
SOURCE_IMAGE = "image"
SOURCE_TEMPLATE = "template"
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


def _cache_key(data: bytes, dpi: float | None) -> str:
    """Cache key of one image's extraction: image bytes, resolution and the extractor's
    own source code (any change of the extractor invalidates the cache)."""
    from biometrics.fingerprint import extraction

    h = hashlib.sha256()
    h.update(Path(extraction.__file__).read_bytes())
    h.update(repr(sorted(extraction.current_parameters().items())).encode())
    h.update(repr(dpi).encode())
    h.update(data)
    return h.hexdigest()[:32]


def extract_minutiae(path: Path, cache_dir: Path | None = None) -> tuple[np.ndarray | None, float]:
    """Minutiae (``n x 5``, 500 dpi) of one image, or None when it cannot be read or
    extracted, with the extraction CPU time in ms (NaN when read from ``cache_dir``)."""
    from biometrics.fingerprint.extraction import extract_from_bytes
    from registry.errors import GuardregError

    try:
        data = path.read_bytes()
    except OSError:
        return None, math.nan
    cached = None
    if cache_dir is not None:
        cached = cache_dir / f"{_cache_key(data, None)}.npy"
        if cached.exists():
            arr = np.load(cached)
            return (arr if arr.size or arr.shape == (0, 5) else None), math.nan
    t0 = time.process_time()
    try:
        m = np.asarray(extract_from_bytes(data).minutiae, np.float64).reshape(-1, 5)
    except (GuardregError, ValueError):
        return None, (time.process_time() - t0) * 1000
    ms = (time.process_time() - t0) * 1000
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, m)
    return m, ms


def _load(path: Path, cache_dir: Path | None = None) -> tuple[PreparedTemplate | None, float]:
    """Prepare one file; returns (template or None on failure, extraction ms)."""
    from registry.errors import GuardregError

    if path.suffix.lower() in IMAGE_EXT:
        m, ms = extract_minutiae(path, cache_dir)
        return (None if m is None else matcher.prepare_minutiae(m, 500.0)), ms
    t0 = time.process_time()
    try:
        prep = matcher.prepare(path.read_bytes())
    except (GuardregError, ValueError, OSError):
        return None, (time.process_time() - t0) * 1000
    return prep, (time.process_time() - t0) * 1000


def list_files(folder: Path) -> dict[str, dict[tuple[str, int], Path]]:
    """``<finger>_<impression>`` files of ``folder`` by source (``"image"`` or
    ``"template"``): an image and a template of the same finger and impression are
    kept apart, never one in place of the other. Two files of the same source and
    name (``101_1.png`` and ``101_1.tif``) are ambiguous: ``ValueError``."""
    out: dict[str, dict[tuple[str, int], Path]] = {SOURCE_IMAGE: {}, SOURCE_TEMPLATE: {}}
    for p in sorted(folder.iterdir()):
        ext = p.suffix.lower()
        mt = _NAME.match(p.stem)
        if not mt or not p.is_file():
            continue
        src = (SOURCE_IMAGE if ext in IMAGE_EXT else SOURCE_TEMPLATE if ext in TEMPLATE_EXT
               else None)
        if src is None:
            continue
        key = (mt["finger"], int(mt["imp"]))
        if key in out[src]:
            raise ValueError(f"two {src}s of finger {key[0]} impression {key[1]}: "
                             f"{out[src][key].name} and {p.name}")
        out[src][key] = p
    return {k: v for k, v in out.items() if v}


def _pair_scores(
    keys: list[tuple[str, int]], sym: np.ndarray
) -> tuple[list[float], list[float], list[float]]:
    """Genuine, FVC impostor (first impressions) and extended impostor scores of the
    upper triangle of the symmetric score matrix ``sym`` over ``keys``."""
    gen: list[float] = []
    imp_fvc: list[float] = []
    imp_ext: list[float] = []
    first: dict[str, int] = {}
    for f, imp in keys:
        first[f] = min(first.get(f, imp), imp)
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            (fi, ii), (fj, ij) = keys[i], keys[j]
            if fi == fj:
                gen.append(float(sym[i, j]))
            else:
                imp_ext.append(float(sym[i, j]))
                if ii == first[fi] and ij == first[fj]:
                    imp_fvc.append(float(sym[i, j]))
    return gen, imp_fvc, imp_ext


def evaluate_templates(
    items: Mapping[tuple[str, int], PreparedTemplate | None],
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
    gen, imp_fvc, imp_ext = _pair_scores(keys, sym)
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
    path: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    source: str | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Extract (or parse) every file of ``path`` and report FVC-style figures.

    Images and templates are evaluated apart (``source``: ``"image"``, ``"template"`` or
    None for whatever the folder holds). With one source the report is that source's;
    with both, ``{"folder", "sources": {"image": ..., "template": ...}}``."""
    import cv2

    cv2.setNumThreads(1)
    folder = Path(path)
    groups = list_files(folder)
    if source is not None:
        groups = {k: v for k, v in groups.items() if k == source}
    if not groups:
        raise ValueError(f"no <finger>_<impression> images or templates in {folder}")
    total = sum(len(v) for v in groups.values())
    done = 0
    reports: dict[str, dict[str, Any]] = {}
    for src, files in groups.items():
        items: dict[tuple[str, int], PreparedTemplate | None] = {}
        times: list[float] = []
        for key, p in files.items():
            prep, ms = _load(p, cache_dir)
            if src == SOURCE_IMAGE and math.isfinite(ms):  # cache hits are not timed
                times.append(ms)
            items[key] = prep
            done += 1
            if progress:
                progress(f"{done}/{total} {p.name}")
        res = evaluate_templates(items, extraction_ms=times)
        res["folder"] = str(folder)
        res["source"] = src
        reports[src] = res
    if len(reports) == 1:
        return next(iter(reports.values()))
    return {"folder": str(folder), "sources": reports}


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (strict JSON has no NaN
    or Infinity) and numpy scalars/arrays turned into plain Python values."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict_json(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any) -> str:
    """Strict JSON text (``allow_nan=False``) of ``value`` after :func:`strict_json`."""
    return json.dumps(strict_json(value), indent=2, sort_keys=True, allow_nan=False)


def _slim(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in result.items():
        if k.endswith("_scores") or k.startswith("impostor_scores"):
            continue
        out[k] = _slim(v) if isinstance(v, dict) else v
    return out


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def format_report(result: dict[str, Any], *, as_json: bool = False) -> str:
    """Human-readable (or strict JSON, without the raw score lists) report of
    :func:`evaluate_folder`."""
    if as_json:
        return dumps(_slim(result))
    if "sources" in result:
        return "\n\n".join(f"[{src}]\n" + format_report(r)
                            for src, r in result["sources"].items())
    lines = [
        f"Folder: {result.get('folder', '-')}"
        + (f" ({result['source']}s)" if result.get("source") else ""),
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
    cps = result.get("comparisons_per_second", math.nan)
    lines.append(
        "Mean extraction: " + ("n/a" if ms is None or math.isnan(ms) else f"{ms:.1f} ms/image")
        + "; comparisons/s (one core): "
        + ("n/a" if cps is None or math.isnan(cps) else f"{cps:.0f}")
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- LOSO

# The leave-one-set-out grid: one extraction parameter (how much of the local signal the
# oriented filters must explain for an area to count as ridges: the segmentation of
# smudged, dry or wet areas) and two matcher parameters, the consolidation size (n_P)
# and the distortion tolerance (0 = rigid), in coarse steps: 12 combinations. A first
# run (2026-12-01) also tried sigma_s 8 px, n_P 16 and DIST_TOL 0.1: never chosen.
EXTRACT_PREFIX = "extract."
DEFAULT_GRID: dict[str, list[float]] = {
    "extract.FIT_MIN": [0.05, 0.07, 0.10],
    "DIST_TOL": [0.0, 0.05],
    "MAX_NP": [8, 12],
}


def _set_rates(preps: dict[tuple[str, int], PreparedTemplate | None]) -> dict[str, Any]:
    r = evaluate_templates(preps)
    return {"fvc": r["fvc"], "extended": r["extended"], "failure_to_extract": r[
        "failure_to_extract"], "genuine_pairs": r["genuine_pairs"],
        "thresholds_extended": r["thresholds_extended"],
        "max_impostor": max(r["impostor_scores_extended"], default=math.nan)}


def _objective(rates: list[dict[str, Any]]) -> tuple[float, float]:
    """Tuning objective over the training sets: mean extended EER (2,880 impostor pairs
    per set, far less noisy than the 45 FVC pairs), then mean FVC EER to break ties."""
    return (float(np.mean([r["extended"]["eer"] for r in rates])),
            float(np.mean([r["fvc"]["eer"] for r in rates])))


def evaluate_loso(
    folders: Sequence[str | Path],
    *,
    grid: dict[str, list[float]] | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Leave-one-set-out evaluation: for each set, choose the parameters (from ``grid``,
    every combination; ``"extract.NAME"`` keys are extraction parameters, the others
    matcher parameters) on the *other* sets and report the held-out set with them. The
    mean of the held-out figures is the honest estimate; the figures with the parameters
    chosen on all sets and with the shipped defaults are given too."""
    import itertools

    import cv2

    from biometrics.fingerprint import extraction

    cv2.setNumThreads(1)
    grid = DEFAULT_GRID if grid is None else grid
    names = [Path(f).name or str(f) for f in folders]
    if len(folders) < 2 or len(set(names)) != len(names):
        raise ValueError("leave-one-set-out needs two or more folders with distinct names")
    files: dict[str, dict[tuple[str, int], Path]] = {}
    for name, folder in zip(names, folders, strict=True):
        groups = list_files(Path(folder))
        if SOURCE_IMAGE not in groups:
            raise ValueError(f"no <finger>_<impression> images in {folder}")
        files[name] = groups[SOURCE_IMAGE]
    ext_keys = [k for k in grid if k.startswith(EXTRACT_PREFIX)]
    m_keys = [k for k in grid if not k.startswith(EXTRACT_PREFIX)]
    unknown = ([k for k in ext_keys if k[len(EXTRACT_PREFIX):] not in extraction.TUNABLE]
               + [k for k in m_keys if k not in matcher.TUNABLE])
    if unknown or not all(grid.values()):
        raise ValueError(f"grid: unknown parameters {unknown} or an empty value list "
                         f"(tunable: {list(matcher.TUNABLE)}, extract.{list(extraction.TUNABLE)})")
    ext_combos = [dict(zip(ext_keys, v, strict=True))
                  for v in itertools.product(*(grid[k] for k in ext_keys))]
    m_combos = [dict(zip(m_keys, v, strict=True))
                for v in itertools.product(*(grid[k] for k in m_keys))]
    ext_now = extraction.current_parameters()
    m_now = matcher.current_parameters()
    ext_def = {k: ext_now[k[len(EXTRACT_PREFIX):]] for k in ext_keys}
    m_def = {k: m_now[k] for k in m_keys}
    if ext_def not in ext_combos:
        ext_combos.append(ext_def)
    if m_def not in m_combos:
        m_combos.append(m_def)
    combos: list[dict[str, float]] = []
    table: list[dict[str, dict[str, Any]]] = []
    total = len(ext_combos) * len(m_combos)
    for ec in ext_combos:
        minutiae: dict[str, dict[tuple[str, int], np.ndarray | None]] = {}
        with extraction.parameters(**{k[len(EXTRACT_PREFIX):]: v for k, v in ec.items()}):
            for name in names:
                minutiae[name] = {}
                for i, (key, p) in enumerate(files[name].items(), 1):
                    minutiae[name][key] = extract_minutiae(p, cache_dir)[0]
                    if progress and (i % 40 == 0 or i == len(files[name])):
                        progress(f"{name} {ec}: extracted {i}/{len(files[name])}")
        for mc in m_combos:
            row: dict[str, dict[str, Any]] = {}
            with matcher.parameters(**mc):
                for name in names:
                    preps = {k: (None if m is None else matcher.prepare_minutiae(m, 500.0))
                             for k, m in minutiae[name].items()}
                    row[name] = _set_rates(preps)
            combos.append({**ec, **mc})
            table.append(row)
            if progress:
                progress(f"parameters {len(table)}/{total} {combos[-1]}: mean ext. EER "
                         f"{100 * _objective(list(row.values()))[0]:.2f}%")
    defaults = {**ext_def, **m_def}
    folds = []
    for held in names:
        train = [n for n in names if n != held]
        best = min(range(len(combos)),
                   key=lambda c: _objective([table[c][n] for n in train]))
        folds.append({"held_out": held, "trained_on": train, "parameters": combos[best],
                      **table[best][held]})

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for proto in ("fvc", "extended"):
            out[proto] = {m: float(np.mean([r[proto][m] for r in rows]))
                          for m in ("eer", "fmr100", "fmr1000", "zerofmr")}
            out[proto]["worst_eer"] = float(max(r[proto]["eer"] for r in rows))
        return out

    best_all = min(range(len(combos)), key=lambda c: _objective(list(table[c].values())))
    i_def = combos.index(defaults)
    return {
        "sets": names,
        "grid": grid,
        "objective": "mean extended EER over the training sets (ties: mean FVC EER)",
        "folds": folds,
        "loso_mean": summary(folds),
        "all_sets": {"parameters": combos[best_all], "per_set": table[best_all],
                     "mean": summary(list(table[best_all].values()))},
        "defaults": {"parameters": defaults, "per_set": table[i_def],
                     "mean": summary(list(table[i_def].values()))},
    }


# --------------------------------------------------------------------------- peer


BASELINES = ("nbis",)


def evaluate_nbis(
    folders: Sequence[str | Path],
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The peer: NIST NBIS (mindtct minutiae + bozorth3 scores, through the ``nbis-py``
    binding) on the same images and protocol. It has no parameters to tune, so its
    per-set figures are already held-out figures. Needs the test extra."""
    try:
        import nbis
    except ImportError as exc:  # pragma: no cover - depends on the installed extra
        raise ValueError("the NBIS baseline needs the nbis-py package (test extra)") from exc
    from biometrics.fingerprint.extraction import image_dpi
    from biometrics.imaging import decode_image

    extractors: dict[float, Any] = {}
    per_set: dict[str, Any] = {}
    for folder in folders:
        name = Path(folder).name or str(folder)
        files = list_files(Path(folder)).get(SOURCE_IMAGE, {})
        keys = sorted(files)
        if not keys:
            raise ValueError(f"no <finger>_<impression> images in {folder}")
        temps: list[Any] = []
        t0 = time.process_time()
        for i, k in enumerate(keys, 1):
            data = files[k].read_bytes()
            img = decode_image(data, mode="L")
            dpi = image_dpi(img.width, img.height, img.dpi)
            ex = extractors.get(dpi)
            if ex is None:
                ex = nbis.new_nbis_extractor(nbis.NbisExtractorSettings(
                    min_quality=0.0, get_center=False, check_fingerprint=False,
                    compute_nfiq2=False, ppi=float(dpi)))
                extractors[dpi] = ex
            try:
                temps.append(ex.extract_minutiae(data))
            except Exception:  # any NBIS failure is a failure to extract
                temps.append(None)
            if progress and (i % 20 == 0 or i == len(keys)):
                progress(f"nbis {name}: extracted {i}/{len(keys)}")
        ext_ms = (time.process_time() - t0) * 1000 / len(keys)
        n = len(keys)
        scores = np.zeros((n, n))
        t0 = time.process_time()
        for i in range(n):
            for j in range(n):
                if i != j and temps[i] is not None and temps[j] is not None:
                    scores[i, j] = temps[i].compare(temps[j])
        elapsed = time.process_time() - t0
        sym = (scores + scores.T) / 2
        gen, imp_fvc, imp_ext = _pair_scores(keys, sym)
        g = np.array(gen)
        per_set[name] = {
            "failure_to_extract": sum(t is None for t in temps),
            "genuine_pairs": len(gen),
            "fvc": {"impostor_pairs": len(imp_fvc), **error_rates(g, np.array(imp_fvc))},
            "extended": {"impostor_pairs": len(imp_ext), **error_rates(g, np.array(imp_ext))},
            "mean_extraction_ms": ext_ms,
            "comparisons_per_second": n * (n - 1) / elapsed if elapsed > 0 else math.nan,
        }
    mean = {proto: {m: float(np.mean([r[proto][m] for r in per_set.values()]))
                    for m in ("eer", "fmr100", "fmr1000", "zerofmr")}
            for proto in ("fvc", "extended")}
    return {"matcher": "nbis (mindtct + bozorth3)", "per_set": per_set, "mean": mean}


def format_loso(result: dict[str, Any]) -> str:
    """Text report of :func:`evaluate_loso` (plus ``result["baseline"]`` if present)."""
    lines = ["Leave-one-set-out (parameters chosen on the other sets; "
             + result["objective"] + ")",
             f"{'held out':<10} {'FVC EER':>8} {'FMR100':>8} {'FMR1000':>8} "
             f"{'ext EER':>8} {'FMR100':>8} {'FMR1000':>8}  parameters"]

    def row(label: str, r: dict[str, Any], extra: str = "") -> str:
        f, e = r["fvc"], r["extended"]
        return (f"{label:<10} {_pct(f['eer']):>8} {_pct(f['fmr100']):>8} "
                f"{_pct(f['fmr1000']):>8} {_pct(e['eer']):>8} {_pct(e['fmr100']):>8} "
                f"{_pct(e['fmr1000']):>8}  {extra}")

    for f in result["folds"]:
        lines.append(row(f["held_out"], f, json.dumps(f["parameters"])))
    lines.append(row("LOSO mean", result["loso_mean"]))
    lines.append(row("all-sets", result["all_sets"]["mean"],
                     json.dumps(result["all_sets"]["parameters"]) + " (tuned on all: optimistic)"))
    lines.append(row("defaults", result["defaults"]["mean"],
                     json.dumps(result["defaults"]["parameters"])))
    base = result.get("baseline")
    if base:
        lines.append(f"Peer: {base['matcher']} (same images and protocol, no tuning)")
        for name, r in base["per_set"].items():
            lines.append(row(name, r))
        lines.append(row("peer mean", base["mean"]))
    return "\n".join(lines)
