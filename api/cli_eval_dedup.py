"""``guardreg eval calibrate`` and ``guardreg eval dedup``: fused face + finger scores.

``calibrate`` fits the per-modality score calibration (``biometrics/fusion.py``) on
development data and writes the JSON file the enrollment decision loads;
``dedup`` is the chimeric 1:N benchmark of issue 13. Face encodings and finger
templates are cached (``--cache``, default ``~/.cache/guardreg/fusion``) by model id and
file, so a rerun after a matcher change re-extracts nothing it does not have to.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from api.cli_config import user_cache_dir


def default_cache() -> Path:
    """Face encodings and finger templates of the evaluation sets; safe to delete."""
    return user_cache_dir() / "fusion"
IMAGE_EXT = {".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg"}
_FINGER_NAME = re.compile(r"^(?P<finger>[^_]+)_(?P<imp>\d+)$")

Progress = Callable[[str], None]


def _say(msg: str) -> None:
    click.echo(msg, err=True)


def _tag(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# -- faces ------------------------------------------------------------------------------
def face_images(root: Path) -> dict[str, list[Path]]:
    """LFW-style ``<Person>/<Person>_NNNN.<ext>``: images per identity, sorted."""
    out: dict[str, list[Path]] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        imgs = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_EXT)
        if imgs:
            out[d.name] = imgs
    if not out:
        raise click.BadParameter(f"no <Person>/<image> folders in {root}", param_hint="--faces")
    return out


def face_encodings(root: Path, cache_dir: Path, progress: Progress = _say,
                   ) -> tuple[str, dict[str, list[np.ndarray | None]], list[float]]:
    """Encode every image once (``purpose="evaluate"``); cached per model and folder.

    Returns the model id, encodings per identity (``None`` where no face was found)
    and the seconds spent per newly encoded image."""
    from biometrics.errors import QualityRejected
    from biometrics.face.pipeline import get_analyzer
    from biometrics.imaging import decode_image

    analyzer = get_analyzer()
    people = face_images(root)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"faces-{_tag(analyzer.model_id)}.npz"  # keyed by resolved path
    known: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            known = dict(zip([str(x) for x in z["keys"]], z["enc"], strict=True))
    key = {p: str(p.resolve()) for imgs in people.values() for p in imgs}
    todo = [(n, p) for n, imgs in people.items() for p in imgs if key[p] not in known]
    times: list[float] = []

    def save() -> None:
        keys = sorted(known)
        np.savez(path, keys=np.array(keys), enc=np.stack([known[k] for k in keys]))

    for i, (_name, p) in enumerate(todo):
        t0 = time.perf_counter()
        try:
            res = analyzer.analyse(decode_image(p.read_bytes()).pixels, purpose="evaluate")
            enc = np.asarray(res.encoding, dtype=np.float64)
        except QualityRejected:
            enc = np.full(128, np.nan)
        times.append(time.perf_counter() - t0)
        known[key[p]] = enc
        if (i + 1) % 100 == 0 or i + 1 == len(todo):
            progress(f"  faces: encoded {i + 1}/{len(todo)} new images")
            save()
    out: dict[str, list[np.ndarray | None]] = {}
    for name, imgs in people.items():
        encs = [known[key[p]] for p in imgs]
        out[name] = [None if np.isnan(e).any() else e for e in encs]
    return analyzer.model_id, out, times


# -- fingers ----------------------------------------------------------------------------
def finger_files(root: Path) -> dict[str, list[Path]]:
    """FVC-style ``<finger>_<impression>.<ext>``: impressions per finger, sorted."""
    out: dict[str, list[tuple[int, Path]]] = {}
    for p in sorted(root.iterdir()):
        m = _FINGER_NAME.match(p.stem)
        if m and p.suffix.lower() in IMAGE_EXT:
            out.setdefault(m["finger"], []).append((int(m["imp"]), p))
    if not out:
        raise click.BadParameter(f"no <finger>_<impression> images in {root}",
                                 param_hint="--fingers")
    return {f: [p for _, p in sorted(v)] for f, v in out.items()}


def finger_templates(root: Path, cache_dir: Path, progress: Progress = _say,
                     ) -> tuple[dict[str, list[Any]], list[float]]:
    """Extract every image once into an ISO record (cached per extractor code and file),
    prepared for the current matcher. ``None`` where extraction failed (FTE)."""
    from biometrics import finger_capture
    from biometrics.fingerprint import extraction, matcher
    from biometrics.fingerprint.templates import FORMAT_ISO_2005, build_record, encode_template
    from registry.errors import GuardregError

    code = Path(extraction.__file__).read_bytes()
    tag = _tag(finger_capture.MODEL_ID + hashlib.sha256(code).hexdigest() + str(root.resolve()))
    cdir = cache_dir / f"fingers-{tag}"
    cdir.mkdir(parents=True, exist_ok=True)
    files = finger_files(root)
    out: dict[str, list[Any]] = {}
    times: list[float] = []
    done = 0
    total = sum(len(v) for v in files.values())
    for finger, paths in files.items():
        preps: list[Any] = []
        for p in paths:
            cached = cdir / (p.stem + ".iso")
            failed = cdir / (p.stem + ".fte")
            if not cached.exists() and not failed.exists():
                t0 = time.perf_counter()
                try:
                    res = extraction.extract_from_bytes(p.read_bytes())
                    rec = build_record(res.minutiae, width=res.width, height=res.height,
                                       dpi=500.0, quality=0, fmt=FORMAT_ISO_2005, position=0)
                    cached.write_bytes(encode_template(rec))
                except (GuardregError, ValueError, OSError):
                    failed.write_bytes(b"")
                times.append(time.perf_counter() - t0)
            prep = matcher.prepare(cached.read_bytes()) if cached.exists() else None
            preps.append(prep if prep is not None and prep.size >= 2 else None)
            done += 1
            if done % 40 == 0 or done == total:
                progress(f"  fingers {root.name}: {done}/{total}")
        out[finger] = preps
    return out, times


def finger_score_matrix(templates: dict[str, list[Any]],
                        ) -> tuple[list[tuple[str, int]], np.ndarray]:
    """Every impression against every other (one symmetric score per pair; 0 where a
    template is missing). Keys are ``(finger, impression index)``."""
    from biometrics.fingerprint import matcher

    keys = [(f, k) for f, preps in templates.items() for k in range(len(preps))]
    preps = [templates[f][k] for f, k in keys]
    empty = matcher.prepare_minutiae(np.zeros((0, 3)))
    batch = matcher.stack([p or empty for p in preps])
    n = len(keys)
    scores = np.zeros((n, n))
    for a in range(n):
        if preps[a] is not None:
            scores[a] = matcher.match_many(preps[a], batch)
    sym = (scores + scores.T) / 2
    return keys, sym


def split_pairs(keys: list[tuple[str, int]], scores: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray]:
    """FVC protocol: genuine = impression pairs of one finger, impostor = every
    cross-finger pair."""
    fingers = np.array([f for f, _ in keys])
    iu, ju = np.triu_indices(len(keys), k=1)
    same = fingers[iu] == fingers[ju]
    return scores[iu, ju][same], scores[iu, ju][~same]


# -- score sets -------------------------------------------------------------------------
EAST_ASIAN = ("Jiang_Zemin", "Hu_Jintao", "Wen_Jiabao", "Lucy_Liu", "Chen_Shui-bian",
              "Zhang_Ziyi", "Kim_Jong-Il", "Megawati_Sukarnoputri", "Mahathir_Mohamad")
MAX_IMAGES_PER_PERSON = 10  # genuine pairs per identity stay comparable (<= 45)
IMPOSTOR_SAMPLE = 2_000_000


def _usable(encs: dict[str, list[np.ndarray | None]], names: list[str],
            ) -> dict[str, list[np.ndarray]]:
    return {n: [e for e in encs[n] if e is not None] for n in names if n in encs}


def face_genuine(encs: dict[str, list[np.ndarray]]) -> np.ndarray:
    """Every pair of images of one person (the first MAX_IMAGES_PER_PERSON usable)."""
    out: list[float] = []
    for v in encs.values():
        m = np.stack(v[:MAX_IMAGES_PER_PERSON]) if len(v) >= 2 else None
        if m is not None:
            iu, ju = np.triu_indices(len(m), k=1)
            out.extend(np.linalg.norm(m[iu] - m[ju], axis=1))
    return np.array(out)


def face_impostor(encs: dict[str, list[np.ndarray]], *, sample: int | None = IMPOSTOR_SAMPLE,
                  seed: int = 13) -> np.ndarray:
    """Pairs of images of different people: all of them, or a deterministic random
    sample of ``sample`` pairs when there are more."""
    names = [n for n in encs if encs[n]]
    if len(names) < 2:
        return np.zeros(0)
    mats = [np.stack(encs[n]) for n in names]
    owner = np.concatenate([np.full(len(encs[n]), k) for k, n in enumerate(names)])
    allm = np.concatenate(mats)
    n = len(allm)
    total = n * (n - 1) // 2
    if sample is None or total <= sample * 1.5:
        iu, ju = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        iu = rng.integers(0, n, size=int(sample * 1.2))
        ju = rng.integers(0, n, size=int(sample * 1.2))
    keep = owner[iu] != owner[ju]
    iu, ju = iu[keep][: sample or None], ju[keep][: sample or None]
    out = np.empty(len(iu))
    for s in range(0, len(iu), 500_000):
        out[s:s + 500_000] = np.linalg.norm(allm[iu[s:s + 500_000]] - allm[ju[s:s + 500_000]],
                                            axis=1)
    return out


def east_asian_transfer(all_imp: np.ndarray, ea_imp: np.ndarray) -> np.ndarray:
    """All-LFW impostor distances moved to the East-Asian impostors' mean and spread
    (location-scale): the shape (and the tail sample size) of the large set, where the
    small East-Asian set says impostors sit."""
    return float(ea_imp.mean()) + (all_imp - float(all_imp.mean())) * (
        float(ea_imp.std()) / float(all_imp.std()))


def fold_identities(pairs: Path) -> list[set[str]]:
    from biometrics.face.evaluation import read_pairs

    return [{p.name1 for p in f} | {p.name2 for p in f} for f in read_pairs(pairs)]


def _rate_below(x: np.ndarray, t: float) -> float:
    return float(np.mean(x <= t)) if len(x) else math.nan


def face_summary(gen: np.ndarray, imp: np.ndarray, ea: np.ndarray, model: Any,
                 ) -> dict[str, Any]:
    """How the impostor sets compare (FMR at fixed distances) and how the fitted
    model predicts them."""
    out: dict[str, Any] = {"genuine_pairs": len(gen), "impostor_pairs_all": len(imp),
                           "impostor_pairs_east_asian": len(ea), "at_distance": {}}
    for d in (0.35, 0.40, 0.45, 0.47, 0.50):
        x = np.asarray(model.grid)
        surv = np.cumsum(model.imp_mass[::-1])[::-1]  # P(x >= grid_k), x = -distance
        k = int(np.searchsorted(x, -d))
        out["at_distance"][f"{d:.2f}"] = {
            "fmr_all_lfw": _rate_below(imp, d), "fmr_east_asian": _rate_below(ea, d),
            "fmr_model": float(surv[min(k, len(surv) - 1)]),
            "fnmr": float(np.mean(gen > d)), "llr": float(model.llr_one(d))}
    return out


def finger_sets(dirs: list[Path], cache: Path, progress: Progress,
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for d in dirs:
        t, _ = finger_templates(d, cache, progress)
        keys, sc = finger_score_matrix(t)
        out[d.name] = split_pairs(keys, sc)
    return out


def fit_finger(sets: dict[str, tuple[np.ndarray, np.ndarray]], model: str,
               names: list[str]) -> Any:
    """One sensor-independent calibration from several sets: every set weighs the same
    (genuine and impostor scores weighted by 1/size of their set) and the impostor tail
    is the envelope of the sets' tails (the worst sensor's, beyond its 99th percentile)."""
    from biometrics.fusion import fit_modality

    g = np.concatenate([sets[n][0] for n in names])
    i = np.concatenate([sets[n][1] for n in names])
    wg = np.concatenate([np.full(len(sets[n][0]), 1 / len(sets[n][0])) for n in names])
    wi = np.concatenate([np.full(len(sets[n][1]), 1 / len(sets[n][1])) for n in names])
    groups = np.concatenate([np.full(len(sets[n][1]), k) for k, n in enumerate(names)])
    return fit_modality("finger", model, g, i, genuine_weights=wg * len(g),
                        impostor_weights=wi * len(i), impostor_groups=groups,
                        info={"sets": names, "impostor_tail": "envelope of the sets' tails"})


def fit_face(gen: np.ndarray, imp_all: np.ndarray, imp_ea: np.ndarray, model: str,
             info: dict[str, Any]) -> Any:
    from biometrics.fusion import fit_modality

    if len(imp_ea) < 100:  # too few East-Asian pairs to place the impostors
        return fit_modality("face", model, gen, imp_all, info={
            "impostors": "all-LFW impostor distances (too few East-Asian pairs)", **info})
    # Half the impostor weight on the all-LFW sample moved to the East-Asian impostors'
    # mean and spread, half on the East-Asian pairs themselves; the tail is the envelope
    # of the two (the East-Asian pairs' lower tail is heavier than a moved Western one).
    transferred = east_asian_transfer(imp_all, imp_ea)
    imp = np.concatenate([transferred, imp_ea])
    weights = np.concatenate([np.full(len(transferred), 0.5 / len(transferred)),
                              np.full(len(imp_ea), 0.5 / len(imp_ea))]) * len(imp)
    groups = np.concatenate([np.zeros(len(transferred), np.int64),
                             np.ones(len(imp_ea), np.int64)])
    return fit_modality("face", model, gen, imp, impostor_weights=weights,
                        impostor_groups=groups, info={
        "impostors": "mixture, half and half: all-LFW impostor distances moved to the "
                     "East-Asian impostors' mean and standard deviation, and the East-Asian "
                     "impostor pairs; tail = envelope of the two",
        "east_asian_impostor_pairs": len(imp_ea), **info})


def _check_single(cal: Any, gen: np.ndarray, imp: np.ndarray) -> dict[str, Any]:
    """Held-out check of one modality: at LLR thresholds the model says give FMR 1e-2,
    1e-3, 1e-4, the measured FMR and FNMR on data the fit did not see."""
    from biometrics.fusion import model_pmf, threshold_for

    out: dict[str, Any] = {}
    lg, li = cal.llr_of(gen), cal.llr_of(imp)
    for fmr in (1e-2, 1e-3, 1e-4):
        t = threshold_for(model_pmf(cal), fmr)
        if t is None:
            out[f"{fmr:g}"] = None
            continue
        out[f"{fmr:g}"] = {"llr_threshold": t, "fmr_measured": float(np.mean(li >= t)),
                           "fnmr_measured": float(np.mean(lg < t))}
    return {"genuine": len(gen), "impostor": len(imp), "at_predicted_fmr": out}


# -- guardreg eval calibrate ------------------------------------------------------------
@click.command("calibrate")
@click.option("--faces", "faces", required=True, type=click.Path(exists=True, file_okay=False),
              help="LFW-style images folder (<Person>/<Person>_NNNN.jpg)")
@click.option("--pairs", "pairs", type=click.Path(exists=True, dir_okay=False),
              help="LFW pairs.txt: its folds give the face cross-validation split")
@click.option("--fingers", "fingers", required=True, multiple=True,
              type=click.Path(exists=True, file_okay=False),
              help="FVC-style folder (<finger>_<impression>.png), one per sensor; repeat")
@click.option("--out", "out", type=click.Path(dir_okay=False),
              help="where to write the calibration (default: the shipped file)")
@click.option("--cache", "cache", type=click.Path(file_okay=False), default=None,
              help="default: ~/.cache/guardreg/fusion")
@click.option("--json", "as_json", is_flag=True)
def calibrate(faces: str, pairs: str | None, fingers: tuple[str, ...], out: str | None,
              cache: str | None, as_json: bool) -> None:
    """Fit the face and finger score calibration of the fused duplicate check.

    Cross-validated figures (fit on part, measured on the rest: face by pairs.txt fold,
    fingers leave-one-set-out) are printed; the calibration written is fitted on all
    of the data."""
    from biometrics import finger_capture
    from biometrics.fusion import CALIBRATION_FILE, Calibration

    try:
        result = run_calibration(Path(faces), Path(pairs) if pairs else None,
                                 [Path(f) for f in fingers], Path(cache or default_cache()))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    cal: Calibration = result.pop("calibration")
    target = Path(out) if out else CALIBRATION_FILE
    cal.save(target)
    result["written_to"] = str(target)
    result["finger_model"] = finger_capture.MODEL_ID
    click.echo(json.dumps(result, indent=2, allow_nan=False) if as_json
               else _calibration_text(result))


def run_calibration(faces: Path, pairs: Path | None, fingers: list[Path], cache: Path,
                    progress: Progress = _say) -> dict[str, Any]:
    import datetime as dt

    from biometrics import finger_capture
    from biometrics.fusion import Calibration

    model, encs_raw, _ = face_encodings(faces, cache, progress)
    encs = _usable(encs_raw, list(encs_raw))
    ea_names = [n for n in EAST_ASIAN if n in encs]
    progress("  faces: scoring pairs")
    gen = face_genuine(encs)
    imp = face_impostor(encs)
    ea = face_impostor({n: encs[n] for n in ea_names}, sample=None)
    sets = finger_sets(fingers, cache, progress)
    fmodel = finger_capture.MODEL_ID
    cv: dict[str, list[dict[str, Any]]] = {"face": [], "finger": []}

    folds = fold_identities(pairs) if pairs else []
    for k, held in enumerate(folds):
        progress(f"  cross-validation: face fold {k + 1}/{len(folds)}")
        train = {n: v for n, v in encs.items() if n not in held}
        test = {n: v for n, v in encs.items() if n in held}
        tr_ea = {n: train[n] for n in ea_names if n in train}
        c = fit_face(face_genuine(train), face_impostor(train), face_impostor(tr_ea, sample=None),
                     model, {})
        cv["face"].append({"held_out_fold": k + 1,
                           **_check_single(c, face_genuine(test), face_impostor(test))})
    for name in sets:
        progress(f"  cross-validation: fingers without {name}")
        c = fit_finger(sets, fmodel, [n for n in sets if n != name])
        cv["finger"].append({"held_out_set": name, **_check_single(c, *sets[name])})

    face_cal = fit_face(gen, imp, ea, model, {"east_asian_identities": ea_names})
    finger_cal = fit_finger(sets, fmodel, list(sets))
    cal = Calibration({model: face_cal}, {fmodel: finger_cal}, {
        "fitted_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "faces": str(faces), "fingers": [str(f) for f in fingers],
        "command": "guardreg eval calibrate"})
    return {
        "face_model": model, "calibration": cal,
        "thresholds": threshold_table(face_cal, finger_cal),
        "face": {**face_summary(gen, imp, ea, face_cal), "fit": face_cal.info},
        "finger": {"sets": {n: {"genuine": len(g), "impostor": len(i)}
                            for n, (g, i) in sets.items()}, "fit": finger_cal.info},
        "cross_validation": cv,
        "note": "cross_validation: fitted without the held-out fold/set and measured on it; "
                "the calibration written is fitted on all the data",
    }


def threshold_table(face: Any, finger: Any) -> dict[str, Any]:
    """Fused LLR thresholds of the shipped rule per set of modalities and target (None:
    that set cannot reach the target), and the face distance a face alone needs."""
    from biometrics.fusion import convolve, fmr_for, model_pmf, threshold_for

    f, g = model_pmf(face), model_pmf(finger)
    sets = {"face": [f], "1 finger": [g], "2 fingers": [g, g], "face + 1 finger": [f, g],
            "face + 2 fingers": [f, g, g], "face + 4 fingers": [f, g, g, g, g]}
    targets = {"FPIR 1% at 150k": (0.01, 150_000), "FPIR 1% at 500k": (0.01, 500_000),
               "FPIR 1% at 1M": (0.01, 1_000_000), "banned: FPIR 10% at 500k": (0.1, 500_000)}
    out: dict[str, Any] = {}
    for name, parts in sets.items():
        pmf = convolve(*parts)
        out[name] = {t: threshold_for(pmf, fmr_for(*v)) for t, v in targets.items()}
    grid = np.linspace(0.0, 1.0, 1001)
    llr = face.llr_of(grid)
    out["face distance needed for a face-only hold"] = {
        t: (float(grid[llr >= v].max()) if v is not None and (llr >= v).any() else None)
        for t, v in out["face"].items()}
    out["llr_max"] = {"face": face.llr_max, "finger": finger.llr_max}
    return out


def _calibration_text(r: dict[str, Any]) -> str:
    lines = [f"face model {r['face_model']}, finger model {r['finger_model']}",
             f"written to {r['written_to']}",
             "thresholds: " + json.dumps(r["thresholds"]),
             "face: FMR at distance (all LFW / East-Asian / fitted model), FNMR, LLR:"]
    for d, v in r["face"]["at_distance"].items():
        lines.append(f"  {d}: {v['fmr_all_lfw']:.2e} / {v['fmr_east_asian']:.2e} / "
                     f"{v['fmr_model']:.2e}  fnmr {v['fnmr']:.3f}  llr {v['llr']:+.2f}")
    for kind in ("face", "finger"):
        for row in r["cross_validation"][kind]:
            which = row.get("held_out_fold", row.get("held_out_set"))
            parts = []
            for fmr, v in row["at_predicted_fmr"].items():
                parts.append(f"{fmr}: " + ("unreachable" if v is None else
                                          f"FMR {v['fmr_measured']:.2e} "
                                          f"FNMR {v['fnmr_measured']:.3f}"))
            lines.append(f"CV {kind} held out {which}: " + "; ".join(parts))
    return "\n".join(lines)


# -- guardreg eval dedup ----------------------------------------------------------------
TARGETS = (("150k", 150_000), ("1m", 1_000_000))
FPIRS = (0.01, 0.001)


def _order(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def chimeric_identities(face_people: dict[str, list[Path]],
                        finger_sets_files: dict[str, dict[str, list[Path]]],
                        ) -> list[dict[str, Any]]:
    """Deterministic pairing: per sensor, fingers in name order taken two by two
    (never shared); face identities with 2+ images in the order of the SHA-256 of their
    name, one per finger pair."""
    people = sorted((n for n, imgs in face_people.items() if len(imgs) >= 2), key=_order)
    out: list[dict[str, Any]] = []
    for sensor, files in finger_sets_files.items():
        names = sorted(files)
        for a, b in zip(names[0::2], names[1::2], strict=False):
            if len(out) >= len(people):
                return out
            out.append({"face": people[len(out)], "sensor": sensor, "fingers": [a, b]})
    return out


def _pair_scores(preps: list[Any]) -> np.ndarray:
    from biometrics.fingerprint import matcher

    out = []
    for a in range(len(preps)):
        for b in range(a + 1, len(preps)):
            if preps[a] is not None and preps[b] is not None:
                out.append((matcher.match(preps[a], preps[b]) + matcher.match(preps[b],
                                                                            preps[a])) / 2)
            else:
                out.append(0.0)  # a failed impression never matches
    return np.array(out)


def _fnir(gen_pmf: np.ndarray, t: float | None) -> float:
    from biometrics.fusion import bin_values

    if t is None:
        return 1.0
    return float(gen_pmf[bin_values() < t - 1e-9].sum())


@click.command("dedup")
@click.option("--faces", "faces", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--fingers", "fingers", required=True, multiple=True,
              type=click.Path(exists=True, file_okay=False))
@click.option("--calibration", "calibration", type=click.Path(exists=True, dir_okay=False),
              help="calibration JSON (default: the shipped one)")
@click.option("--bootstrap", "bootstrap", type=click.IntRange(0, 2000), default=200,
              help="bootstrap replicates for the confidence intervals")
@click.option("--cv", "cv", is_flag=True,
              help="judge each sensor with a calibration fitted without it (and without "
                   "the benchmark's faces) instead of --calibration")
@click.option("--cache", "cache", type=click.Path(file_okay=False), default=None,
              help="default: ~/.cache/guardreg/fusion")
@click.option("--json", "as_json", is_flag=True)
def dedup(faces: str, fingers: tuple[str, ...], calibration: str | None, bootstrap: int,
          cv: bool, cache: str | None, as_json: bool) -> None:
    """Chimeric face + two-finger 1:N benchmark (issue 13): FNIR at FPIR 1% and 0.1%
    extrapolated to 150,000 and 1,000,000 identities, fused, face alone, fingers alone."""
    from biometrics.fusion import load_calibration

    cal = load_calibration(Path(calibration) if calibration else None)
    try:
        result = run_dedup(Path(faces), [Path(f) for f in fingers], cal,
                           Path(cache or default_cache()),
                           bootstrap, cv=cv)
    except ValueError as exc:  # e.g. too few scores to fit a cross-validated calibration
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result, indent=2, allow_nan=False) if as_json
               else _dedup_text(result))


def run_dedup(faces: Path, fingers: list[Path], cal: Any, cache: Path, bootstrap: int,
              progress: Progress = _say, cv: bool = False) -> dict[str, Any]:
    """The chimeric benchmark. Thresholds come from the calibration's impostor model
    (what enrollment uses: ``biometrics.fusion``); FNIR from the measured genuine
    scores; the measured FMR at each threshold from the measured impostor scores of the
    identity's own sensor. With ``cv``, each sensor's identities are judged by a
    calibration fitted without that sensor's fingers and without the benchmark's face
    identities (cross-validated); otherwise by ``cal`` (the shipped one, fitted on all
    the development data)."""
    from biometrics import finger_capture

    model, encs_raw, face_times = face_encodings(faces, cache, progress)
    files = {f.name: finger_files(f) for f in fingers}
    idents = chimeric_identities(face_images(faces), files)
    templates = {f.name: finger_templates(f, cache, progress)[0] for f in fingers}
    encs = _usable(encs_raw, list(encs_raw))
    fmodel = finger_capture.MODEL_ID

    # Failure to enrol: the identity's first face image or either finger's first
    # impression gives no template.
    fte = [i for i in idents if encs_raw[i["face"]][0] is None
           or any(templates[i["sensor"]][f][0] is None for f in i["fingers"])]
    progress("  scoring face and finger pairs")
    raw_face_imp = face_impostor(encs)
    raw_gen_face = {i["face"]: face_genuine({i["face"]: encs[i["face"]]}) for i in idents}
    raw_gen_fing = {i["face"]: [_pair_scores(templates[i["sensor"]][f]) for f in i["fingers"]]
                    for i in idents}
    raw_fing: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for f in fingers:
        raw_fing[f.name] = split_pairs(*finger_score_matrix(templates[f.name]))

    sensors = sorted({i["sensor"] for i in idents})
    if cv:
        chimeric_faces = {i["face"] for i in idents}
        train = {n: v for n, v in encs.items() if n not in chimeric_faces}
        tr_ea = {n: train[n] for n in EAST_ASIAN if n in train}
        progress("  cross-validation: fitting the face calibration without the "
                 "benchmark's face identities")
        face_cal = fit_face(face_genuine(train), face_impostor(train),
                            face_impostor(tr_ea, sample=None), model, {})
        cals = {}
        for s in sensors:
            progress(f"  cross-validation: fitting the finger calibration without {s}")
            fc = fit_finger(raw_fing, fmodel, [n for n in raw_fing if n != s])
            cals[s] = (face_cal, fc)
    else:
        cals = {s: (cal.for_face(model), cal.for_finger(fmodel)) for s in sensors}

    from biometrics.fusion import convolve, fmr_for, model_pmf, pmf, survival, threshold_for

    rng = np.random.default_rng(2026)
    figures: dict[str, Any] = {k: {} for k in ("fused", "face", "fingers")}
    per_sensor: dict[str, Any] = {}
    for s in sensors:
        fcal, gcal = cals[s]
        mine = [i for i in idents if i["sensor"] == s]
        gen: dict[str, list[np.ndarray]] = {"fused": [], "face": [], "fingers": []}
        for i in mine:
            fg = fcal.llr_of(raw_gen_face[i["face"]])
            a, b = (pmf(gcal.llr_of(x)) for x in raw_gen_fing[i["face"]])
            two = convolve(a, b, exact=False)
            gen["fingers"].append(two)
            if len(fg):
                gen["face"].append(pmf(fg))
                gen["fused"].append(convolve(pmf(fg), two, exact=False))
        face_imp = pmf(fcal.llr_of(raw_face_imp))
        one_imp = pmf(gcal.llr_of(raw_fing[s][1]))
        imp = {"face": face_imp, "fingers": convolve(one_imp, one_imp)}
        imp["fused"] = convolve(face_imp, imp["fingers"])
        mf, mg = model_pmf(fcal), model_pmf(gcal)
        model_imp = {"face": mf, "fingers": convolve(mg, mg)}
        model_imp["fused"] = convolve(mf, model_imp["fingers"])
        per_sensor[s] = {"gen": gen, "imp": imp, "model_imp": model_imp, "n": len(mine),
                         "counts": {"face": len(raw_face_imp), "finger": len(raw_fing[s][1])},
                         "one_imp": one_imp}

    def fnir_of(pmfs: list[np.ndarray], t: float | None) -> float:
        return float(np.mean([_fnir(p, t) for p in pmfs])) if pmfs else 1.0

    def measured_threshold(imp_pmf: np.ndarray, fmr: float) -> tuple[float, bool]:
        """From the measured impostor distribution; when the target is below what it
        resolves, just above the highest impostor score (resolved = False: the FNIR is
        then a lower bound)."""
        t = threshold_for(imp_pmf, fmr)
        if t is not None:
            return t, True
        return float(_bins()[int(np.nonzero(imp_pmf > 0)[0][-1]) + 1]), False

    def resampled_imp(d: dict[str, Any]) -> dict[str, np.ndarray]:
        """Impostor pmfs from a bootstrap resample of the measured impostor scores."""
        face = rng.multinomial(d["counts"]["face"], d["imp"]["face"]) / d["counts"]["face"]
        one = rng.multinomial(d["counts"]["finger"], d["one_imp"]) / d["counts"]["finger"]
        two = convolve(one, one)
        return {"face": face, "fingers": two, "fused": convolve(face, two)}

    boot_imp = [{s: resampled_imp(d) for s, d in per_sensor.items()} for _ in range(bootstrap)]
    boot_gen = [{s: rng.integers(0, max(1, d["n"]), d["n"]) for s, d in per_sensor.items()}
                for _ in range(bootstrap)]

    def mean_over_sensors(values: dict[str, float], kind: str) -> float:
        w = {s: len(per_sensor[s]["gen"][kind]) for s in values}
        return float(np.average(list(values.values()), weights=list(w.values()))) \
            if sum(w.values()) else 1.0

    for kind in figures:
        for label, n in TARGETS:
            for fpir in FPIRS:
                fmr = fmr_for(fpir, n)
                rows: dict[str, Any] = {}
                for s, d in per_sensor.items():
                    t_emp, resolved = measured_threshold(d["imp"][kind], fmr)
                    t = threshold_for(d["model_imp"][kind], fmr)
                    surv = survival(d["imp"][kind])
                    rows[s] = {
                        "threshold_llr": t_emp, "resolved": resolved,
                        "fnir": fnir_of(d["gen"][kind], t_emp),
                        "deployed_threshold_llr": t,
                        "deployed_fnir": fnir_of(d["gen"][kind], t),
                        "deployed_fmr_measured": (float(surv[int(np.searchsorted(
                            _bins(), t - 1e-9))]) if t is not None else 0.0),
                        "identities": len(d["gen"][kind])}
                reps, reps_dep = [], []
                for bi, bg in zip(boot_imp, boot_gen, strict=True):
                    vals, vals_dep = {}, {}
                    for s, d in per_sensor.items():
                        g = [d["gen"][kind][k] for k in bg[s] if k < len(d["gen"][kind])]
                        vals[s] = fnir_of(g, measured_threshold(bi[s][kind], fmr)[0])
                        vals_dep[s] = fnir_of(g, rows[s]["deployed_threshold_llr"])
                    reps.append(mean_over_sensors(vals, kind))
                    reps_dep.append(mean_over_sensors(vals_dep, kind))

                def ci(r: list[float]) -> list[float] | None:
                    return ([float(np.percentile(r, 2.5)), float(np.percentile(r, 97.5))]
                            if r else None)

                figures[kind][f"fpir_{fpir:g}_{label}"] = {
                    "fnir": mean_over_sensors({s: r["fnir"] for s, r in rows.items()}, kind),
                    "ci95": ci(reps),
                    "resolved": all(r["resolved"] for r in rows.values()),
                    "fmr_per_comparison": fmr,
                    "deployed_rule": {
                        "fnir": mean_over_sensors({s: r["deployed_fnir"]
                                                   for s, r in rows.items()}, kind),
                        "ci95": ci(reps_dep),
                        "fmr_measured_max": max(r["deployed_fmr_measured"]
                                                for r in rows.values())},
                    "per_sensor": rows,
                }

    n_fing_imp = {s: len(raw_fing[s][1]) ** 2 for s in sensors}
    samples: dict[str, Any] = {
        "face": {"genuine": sum(len(v) for v in raw_gen_face.values()),
                 "impostor": len(raw_face_imp)},
        "fingers": {"genuine": sum(len(a) * len(b) for a, b in raw_gen_fing.values()),
                    "impostor_per_sensor": n_fing_imp},
        "fused": {"genuine": sum(len(raw_gen_face[i["face"]]) * len(raw_gen_fing[i["face"]][0])
                                 * len(raw_gen_fing[i["face"]][1]) for i in idents),
                  "impostor_per_sensor": {s: len(raw_face_imp) * n
                                          for s, n in n_fing_imp.items()}},
    }
    timing = _time_scoring(idents, fte, encs, templates, cals)
    fused = figures["fused"]
    return {
        "fnir_150k": fused["fpir_0.01_150k"]["fnir"],
        "fnir_1m": fused["fpir_0.01_1m"]["fnir"],
        "face_only_fnir_150k": figures["face"]["fpir_0.01_150k"]["fnir"],
        "fingers_only_fnir_150k": figures["fingers"]["fpir_0.01_150k"]["fnir"],
        "deployed_rule": {
            "fnir_150k": fused["fpir_0.01_150k"]["deployed_rule"]["fnir"],
            "fnir_1m": fused["fpir_0.01_1m"]["deployed_rule"]["fnir"],
            "face_only_fnir_150k": figures["face"]["fpir_0.01_150k"]["deployed_rule"]["fnir"],
            "fingers_only_fnir_150k":
                figures["fingers"]["fpir_0.01_150k"]["deployed_rule"]["fnir"]},
        "fte": len(fte) / len(idents) if idents else 0.0,
        "identities": len(idents),
        "cross_validated": cv,
        "figures": figures,
        "samples": samples,
        "fte_detail": {"identities_failed": [i["face"] for i in fte],
                       "face_images_failed": sum(e is None for v in encs_raw.values()
                                                 for e in v),
                       "face_images": sum(len(v) for v in encs_raw.values()),
                       "finger_images_failed": sum(p is None for t in templates.values()
                                                   for v in t.values() for p in v),
                       "finger_images": sum(len(v) for t in templates.values()
                                            for v in t.values())},
        "time_per_search_ms": {**timing,
                               "face_encoding_per_image_mean": 1000 * float(np.mean(face_times))
                               if face_times else None},
        "calibration": {"face_model": model, "finger_model": fmodel,
                        "fitted_at": None if cv else cal.info.get("fitted_at"),
                        "which": "cross-validated (fitted without the sensor's fingers and "
                                 "the benchmark's faces)" if cv else "as given (default: "
                                 "the shipped one, fitted on all development data)"},
        "identity_list": idents,
        "bootstrap": bootstrap,
        "method": "chimeric identities; fused genuine = every face genuine pair of an "
                  "identity with every genuine pair of each of its two fingers; impostor "
                  "= every face impostor pair with every cross-finger pair of the "
                  "identity's sensor (once per finger), never pooled across sensors; "
                  "LLRs from the calibration, summed. fnir: threshold from the measured "
                  "fused impostor distribution at FMR = 1-(1-FPIR)^(1/N) (resolved = "
                  "impostor samples reach that FMR; if not, the threshold is just above "
                  "every impostor score and the FNIR a lower bound). deployed_rule: the "
                  "threshold enrollment uses, from the calibration's conservative impostor "
                  "model (East-Asian-weighted faces, envelope of the sensors' finger "
                  "tails), and the measured impostor rate at it. FNIR = identity-weighted "
                  "mean over sensors; CI = bootstrap percentiles (identities within each "
                  "sensor, impostor scores).",
    }


def _bins() -> np.ndarray:
    from biometrics.fusion import bin_values

    return bin_values()


def _time_scoring(idents: list[dict[str, Any]], fte: list[dict[str, Any]],
                  encs: dict[str, list[np.ndarray]], templates: dict[str, dict[str, list[Any]]],
                  cals: dict[str, Any]) -> dict[str, Any]:
    """Scoring side of one search in this process: one identity (face + 2 fingers)
    against up to 30 others (face distance, 2 finger comparisons batched per finger as
    enrollment does, fused decision)."""
    from biometrics.fingerprint import matcher
    from biometrics.fusion import Calibration, Fusion, Policy

    ok = [i for i in idents if i not in fte]
    fusers = {}
    for s, (fcal, gcal) in cals.items():  # once per process in enrollment (cached)
        fusers[s] = Fusion(Calibration({fcal.model: fcal}, {gcal.model: gcal}), Policy(),
                           face_model=fcal.model, finger_model=gcal.model)
        fusers[s].decide([fusers[s].face_comparison(1.0)] + [
            fusers[s].finger_comparison(0.0, position=1, candidate_position=1)] * 2,
            banned=False)
    times = []
    for i in ok:
        fuse = fusers[i["sensor"]]
        others = [j for j in ok if j is not i][:30]
        t0 = time.perf_counter()
        scores = [matcher.match_many(templates[i["sensor"]][f][0],
                                     [templates[j["sensor"]][j["fingers"][k]][0]
                                      for j in others])
                  for k, f in enumerate(i["fingers"])]
        for n, j in enumerate(others):
            comps = [fuse.face_comparison(float(np.linalg.norm(encs[i["face"]][0]
                                                               - encs[j["face"]][0])))]
            comps += [fuse.finger_comparison(float(scores[k][n]), position=1,
                                             candidate_position=1) for k in range(2)]
            fuse.decide(comps, banned=False)
        times.append((time.perf_counter() - t0) * 1000)
    return {"scoring_mean": float(np.mean(times)) if times else None,
            "candidates": min(30, max(0, len(ok) - 1)),
            "note": "scoring only (face distance, 2 finger comparisons and the fused "
                    "decision per candidate); the index searches are measured in bench/"}


def _dedup_text(r: dict[str, Any]) -> str:
    lines = [f"{r['identities']} chimeric identities, FTE {r['fte']:.3f}, "
             f"cross-validated: {r['cross_validated']}",
             "kind     target             FNIR (measured-impostor threshold) [95% CI]  |"
             "  deployed rule FNIR [95% CI], measured FMR at it"]
    for kind, rows in r["figures"].items():
        for key, v in rows.items():
            ci, dep = v["ci95"], v["deployed_rule"]
            dci = dep["ci95"]
            lines.append(f"{kind:8s} {key:18s} {v['fnir']:.4f}"
                         + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")
                         + ("" if v["resolved"] else " (not resolved: lower bound)")
                         + f"  |  {dep['fnir']:.4f}"
                         + (f" [{dci[0]:.4f}, {dci[1]:.4f}]" if dci else "")
                         + f", {dep['fmr_measured_max']:.1e}")
    return "\n".join(lines)


def register(group: click.Group) -> None:
    """``eval_group`` gets ``calibrate`` and ``dedup``."""
    group.add_command(calibrate)
    group.add_command(dedup)
