"""Score calibration and fused face + finger decisions (design: docs/dedup.md).

Each modality's raw comparison score (face: Euclidean distance, lower = more alike;
finger: matcher similarity in [0, 1]) is turned into a log-likelihood ratio
``LLR = ln p(score | same person) - ln p(score | different people)`` by a
calibration fitted on development data (``guardreg eval calibrate``). Comparisons of
independent modalities (face; each finger against the same finger) add up: the fused
score is the sum of the LLRs.

A hold is decided against the *impostor distribution of the fused score*: the
per-modality impostor LLR distributions (stored with the calibration) are convolved
for the modalities a comparison has, and the threshold is the smallest fused LLR whose
false match rate (FMR) is at most ``1 - (1 - FPIR) ** (1 / N)`` for the target false
positive identification rate FPIR against a gallery of N identities.

Fitting (:func:`fit_modality`), on a transformed score ``x`` oriented so that larger
is more alike (face ``-distance``, finger ``ln(score + 0.002)``):

- genuine density: Gaussian kernel density (Silverman bandwidth) mixed with a uniform
  density of weight ``1 / (n + 1)``, so no score is impossible for a genuine pair;
- impostor density: kernel density below the impostor 99th percentile ``u``; above it
  an exponential tail whose mean excess is the upper 95% confidence bound of the
  observed one (a heavier tail than the data shows: conservative); with several sensors,
  the envelope of the sensors' tails (largest ``u``, largest mean excess);
- LLR on a grid spanning the data; made monotone by isotonic regression (pool adjacent
  violators, weighted by the mass of both densities); beyond the data the LLR is
  clamped to its end values: it never grows without bound.

Calibrations load lazily from ``calibration.json`` next to this module; each names the
model id it was fitted for.
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
FORMAT_VERSION = 1
FINGER_OFFSET = 0.002  # finger transform: x = ln(score + FINGER_OFFSET)
GRID_POINTS = 600
TAIL_QUANTILE = 0.99
EXTRAPOLATION_DECADES = 2.0  # how far below 1/n the impostor tail model is trusted
BIN = 0.05  # width of the LLR bins the fused distributions are computed on
LLR_SPAN = 80.0  # fused LLRs are tracked on [-LLR_SPAN, LLR_SPAN]


# -- transforms ------------------------------------------------------------------------
def to_x(modality: str, score: np.ndarray | float) -> np.ndarray:
    """Raw score to the fitted axis (larger = more alike)."""
    s = np.asarray(score, dtype=np.float64)
    if modality == "face":
        return -s
    if modality == "finger":
        return np.log(np.clip(s, 0.0, None) + FINGER_OFFSET)
    raise ValueError(f"unknown modality {modality!r}")


def from_x(modality: str, x: np.ndarray | float) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64)
    return -v if modality == "face" else np.exp(v) - FINGER_OFFSET


# -- one modality ----------------------------------------------------------------------
@dataclass(frozen=True)
class ModalityCalibration:
    """LLR as a piecewise-linear, non-decreasing function of ``x`` on ``grid``, clamped
    outside it; ``imp_mass``/``gen_mass`` are the fitted probabilities of each LLR value
    ``llr`` (the mass of the cell around each grid point, the tails folded into the end
    points) under the impostor and genuine models."""

    modality: str
    model: str
    grid: np.ndarray
    llr: np.ndarray
    imp_mass: np.ndarray
    gen_mass: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def llr_of(self, score: float | np.ndarray) -> np.ndarray:
        return np.asarray(np.interp(to_x(self.modality, score), self.grid, self.llr))

    def llr_one(self, score: float) -> float:
        return float(self.llr_of(score))

    @property
    def llr_max(self) -> float:
        return float(self.llr[-1])

    def as_json(self) -> dict[str, Any]:
        return {"modality": self.modality, "model": self.model,
                "grid": _round(self.grid, 6), "llr": _round(self.llr, 5),
                "imp_mass": [float(f"{v:.6g}") for v in self.imp_mass],
                "gen_mass": [float(f"{v:.6g}") for v in self.gen_mass],
                "info": self.info}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ModalityCalibration:
        return cls(d["modality"], d["model"], np.array(d["grid"], dtype=np.float64),
                   np.array(d["llr"], dtype=np.float64),
                   np.array(d["imp_mass"], dtype=np.float64),
                   np.array(d["gen_mass"], dtype=np.float64), dict(d.get("info", {})))


def _round(a: np.ndarray, digits: int) -> list[float]:
    return [round(float(v), digits) for v in a]


def _silverman(x: np.ndarray) -> float:
    sd = float(np.std(x))
    iqr = float(np.subtract(*np.percentile(x, [75, 25])))
    spread = min(sd, iqr / 1.349) if iqr > 0 else sd
    return max(0.9 * spread * float(len(x) ** -0.2), 1e-3)


def _kde_cdf(samples: np.ndarray, weights: np.ndarray | None, edges: np.ndarray,
             bw: float) -> np.ndarray:
    """CDF of a Gaussian kernel density at ``edges`` (binned: exact to well under the
    bandwidth, and linear in the number of samples)."""
    from scipy.special import ndtr

    fine = np.linspace(edges[0] - 6 * bw, edges[-1] + 6 * bw, 8192)
    w = np.ones_like(samples) if weights is None else weights
    hist, _ = np.histogram(samples, bins=np.append(fine, fine[-1] + fine[1] - fine[0]),
                           weights=w)
    hist = hist / hist.sum()
    centres = fine + (fine[1] - fine[0]) / 2
    keep = hist > 0
    out = np.zeros(len(edges))
    for c, m in zip(centres[keep], hist[keep], strict=True):
        out += m * ndtr((edges - c) / bw)
    return out


def _pav(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Non-decreasing least-squares fit (pool adjacent violators)."""
    vals: list[float] = []
    wts: list[float] = []
    lens: list[int] = []
    for yi, wi in zip(y, w, strict=True):
        vals.append(float(yi))
        wts.append(float(wi))
        lens.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            tw = wts[-2] + wts[-1]
            v = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / tw if tw > 0 else (
                (vals[-2] + vals[-1]) / 2)
            n = lens[-2] + lens[-1]
            vals[-2:], wts[-2:], lens[-2:] = [v], [tw], [n]
    return np.repeat(vals, lens)


def _exp_tail(x: np.ndarray, w: np.ndarray, step: float) -> tuple[float, float, int]:
    """Exponential tail above the weighted TAIL_QUANTILE ``u``: (u, upper 95% bound of
    the mean excess, exceedances)."""
    from scipy.stats import chi2

    order = np.argsort(x)
    cw = np.cumsum(w[order]) / w.sum()
    u = float(x[order][min(len(x) - 1, int(np.searchsorted(cw, TAIL_QUANTILE)))])
    over = x > u
    k = int(over.sum())
    if not k:
        return u, step, 0
    excess = float(np.average(x[over] - u, weights=w[over]))
    return u, max(excess * 2 * k / float(chi2.ppf(0.025, 2 * k)), step), k


def fit_modality(modality: str, model: str, genuine: np.ndarray, impostor: np.ndarray, *,
                 genuine_weights: np.ndarray | None = None,
                 impostor_weights: np.ndarray | None = None,
                 impostor_groups: np.ndarray | None = None,
                 info: dict[str, Any] | None = None) -> ModalityCalibration:
    """Fit the LLR of one modality from raw genuine and impostor scores (see the
    module docstring). Weights (e.g. per identity or per sensor) are optional;
    ``impostor_groups`` (e.g. the sensor of each impostor score) makes the impostor
    tail the envelope of the groups' tails."""

    g = to_x(modality, np.asarray(genuine, dtype=np.float64))
    i = to_x(modality, np.asarray(impostor, dtype=np.float64))
    if len(g) < 10 or len(i) < 100:
        raise ValueError("too few scores to fit a calibration (need 10 genuine, 100 impostor)")
    wg = np.ones_like(g) if genuine_weights is None else np.asarray(genuine_weights, float)
    wi = np.ones_like(i) if impostor_weights is None else np.asarray(impostor_weights, float)
    lo, hi = float(min(g.min(), i.min())), float(max(g.max(), i.max()))
    grid = np.linspace(lo, hi, GRID_POINTS)
    step = grid[1] - grid[0]
    edges = np.concatenate([[-np.inf], (grid[:-1] + grid[1:]) / 2, [np.inf]])
    finite = edges[1:-1]

    # Genuine: KDE + uniform floor of weight 1/(n+1) over the data range.
    eps_g = 1.0 / (len(g) + 1)
    cdf_g = _kde_cdf(g, wg, finite, _silverman(g))
    gen_mass = np.diff(np.concatenate([[0.0], np.maximum.accumulate(cdf_g), [1.0]]))
    gen_mass = (1 - eps_g) * gen_mass + eps_g / GRID_POINTS

    # Impostor: KDE body below u; exponential tail above u with a conservative mean
    # excess. Kept as a survival function (P(X >= x)) so that tiny tails do not cancel.
    groups = (np.zeros(len(i), dtype=np.int64) if impostor_groups is None
              else np.unique(np.asarray(impostor_groups), return_inverse=True)[1])
    tails = [_exp_tail(i[groups == gk], wi[groups == gk], step)
             for gk in range(int(groups.max()) + 1)]
    # Several groups (sensors): the envelope of their tails, u and beta the largest of
    # theirs, so that no group's tail is above the model's beyond u.
    u = max(t[0] for t in tails)
    beta = max(t[1] for t in tails)
    k = sum(t[2] for t in tails)
    over = i > u
    p_tail = 1.0 - TAIL_QUANTILE
    body = ~over
    bw_i = _silverman(i[body])
    cdf_body = _kde_cdf(i[body], wi[body], np.append(finite, u), bw_i)
    cdf_body_u = max(float(cdf_body[-1]), 1e-300)
    surv_body = 1.0 - np.minimum(cdf_body[:-1], cdf_body_u) / cdf_body_u * (1 - p_tail)
    surv_tail = p_tail * np.exp(-np.clip(finite - u, 0.0, None) / beta)
    surv_i = np.minimum.accumulate(np.where(finite <= u, surv_body, surv_tail))
    surv_i = np.concatenate([[1.0], surv_i, [0.0]])  # at every cell edge

    # Trust the tail model at most EXTRAPOLATION_DECADES below what the sample resolves:
    # the grid (and the LLR) stops where P_imp(X >= x) reaches that floor.
    n_eff = float(wi.sum() ** 2 / (wi ** 2).sum())
    floor = 10.0 ** -EXTRAPOLATION_DECADES / n_eff
    top = int(min(GRID_POINTS - 1, np.searchsorted(-surv_i[1:-1], -floor)))
    grid = grid[:top + 1]
    imp_mass = np.clip(surv_i[:top + 1] - surv_i[1:top + 2], 0.0, None)
    imp_mass[-1] = surv_i[top]
    gen_mass = np.append(gen_mass[:top], gen_mass[top:].sum())
    floor_i = 1e-3 / n_eff / GRID_POINTS  # no cell is impossible for an impostor
    imp_mass = (imp_mass + floor_i) / (imp_mass + floor_i).sum()
    gen_mass = gen_mass / gen_mass.sum()

    raw = np.log(gen_mass) - np.log(imp_mass)
    llr = _pav(raw, gen_mass + imp_mass)
    meta = {"genuine": len(g), "impostor": len(i), "tail_start": float(from_x(modality, u)),
            "tail_scale": beta, "tail_samples": k,
            "llr_cap_score": float(from_x(modality, grid[-1])),
            "llr_cap_impostor_rate": float(surv_i[top]), **(info or {})}
    return ModalityCalibration(modality, model, grid, llr, imp_mass, gen_mass, meta)


# -- the calibration file ---------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    face: dict[str, ModalityCalibration]  # by face model id
    finger: dict[str, ModalityCalibration]  # by finger model id
    info: dict[str, Any] = field(default_factory=dict)

    def for_face(self, model: str) -> ModalityCalibration:
        return _pick(self.face, model, "face")

    def for_finger(self, model: str) -> ModalityCalibration:
        return _pick(self.finger, model, "finger")

    def as_json(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, "info": self.info,
                "face": [c.as_json() for c in self.face.values()],
                "finger": [c.as_json() for c in self.finger.values()]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Calibration:
        if d.get("format") != FORMAT_VERSION:
            raise ValueError(f"calibration format {d.get('format')!r} is not {FORMAT_VERSION}")
        face = [ModalityCalibration.from_json(x) for x in d["face"]]
        finger = [ModalityCalibration.from_json(x) for x in d["finger"]]
        return cls({c.model: c for c in face}, {c.model: c for c in finger},
                   dict(d.get("info", {})))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=1, allow_nan=False) + "\n")


def _pick(table: dict[str, ModalityCalibration], model: str, what: str) -> ModalityCalibration:
    """The calibration of ``model``; templates of an earlier model (e.g. a finger
    extractor version) are scored with the newest calibration of the modality, and the
    evidence says so (``ModalityCalibration.model`` differs from the template's)."""
    if model in table:
        return table[model]
    if not table:
        raise LookupError(f"no {what} calibration")
    return list(table.values())[-1]


_lock = threading.Lock()
_loaded: dict[str, Calibration] = {}


def load_calibration(path: Path | None = None) -> Calibration:
    """The shipped calibration (or ``path``), read once per process."""
    key = str(path or CALIBRATION_FILE)
    with _lock:
        cal = _loaded.get(key)
        if cal is None:
            cal = _loaded[key] = Calibration.from_json(json.loads(Path(key).read_text()))
        return cal


# -- fused distributions and thresholds --------------------------------------------------
_NB = round(2 * LLR_SPAN / BIN) + 1


def _bin(v: np.ndarray | float) -> np.ndarray:
    return np.clip(np.rint((np.asarray(v) + LLR_SPAN) / BIN).astype(np.int64), 0, _NB - 1)


def pmf(llrs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Probability mass of LLR values on the fixed bins."""
    w = np.ones(len(llrs)) if weights is None else np.asarray(weights, dtype=np.float64)
    out = np.bincount(_bin(np.asarray(llrs, dtype=np.float64)), weights=w, minlength=_NB)
    return np.asarray(out / out.sum())


def convolve(*pmfs: np.ndarray, exact: bool = True) -> np.ndarray:
    """Distribution of the sum of independent LLRs (each on the fixed bins; the sum is
    re-centred on the same bins, sums beyond the span are clamped to its ends).
    ``exact=False`` uses an FFT: fast, but its rounding (~1e-16 of the peak) swamps
    tails below that; use it for genuine distributions only."""
    from scipy.signal import fftconvolve

    out = pmfs[0]
    for p in pmfs[1:]:
        # index i + j ~ value 2*(-span) + (i + j) * BIN
        full = np.convolve(out, p) if exact else np.clip(fftconvolve(out, p), 0.0, None)
        shift = _NB // 2  # value of index 0 of ``full`` is -2*span = -span - shift*BIN
        lo = full[:shift + 1].sum()
        hi = full[shift + _NB - 1:].sum()
        mid = full[shift:shift + _NB].copy()
        mid[0] = lo
        mid[-1] = hi
        out = mid
    return out


def bin_values() -> np.ndarray:
    return -LLR_SPAN + BIN * np.arange(_NB)


def survival(p: np.ndarray) -> np.ndarray:
    """P(LLR >= value of bin k), for each k."""
    return np.cumsum(p[::-1])[::-1]


def fmr_for(fpir: float, gallery: int) -> float:
    """Per-comparison false match rate giving ``fpir`` against ``gallery`` identities:
    FPIR(N) = 1 - (1 - FMR)^N solved for FMR."""
    if not 0.0 < fpir < 1.0 or gallery < 1:
        raise ValueError("fpir must be in (0, 1) and the gallery at least 1")
    return -math.expm1(math.log1p(-fpir) / gallery)


def threshold_for(imp_pmf: np.ndarray, fmr: float) -> float | None:
    """Smallest bin value t with P_imp(LLR >= t) <= fmr; None when even the top bin is
    more likely than that for impostors (this set of modalities cannot decide)."""
    s = survival(imp_pmf)
    ok = np.nonzero(s <= fmr)[0]
    reachable = np.nonzero(imp_pmf > 0)[0]
    if len(ok) == 0 or ok[0] > reachable[-1]:
        return None
    return float(bin_values()[ok[0]])


def model_pmf(cal: ModalityCalibration, *, genuine: bool = False) -> np.ndarray:
    return pmf(cal.llr, cal.gen_mass if genuine else cal.imp_mass)


def finger_pmf_any_position(cal: ModalityCalibration, positions: int) -> np.ndarray:
    """Impostor LLR pmf of the best of ``positions`` comparisons (fingers of unknown
    position): P(max >= t) = 1 - (1 - P(one >= t))^m."""
    s = survival(model_pmf(cal))
    s_max = -np.expm1(positions * np.log1p(-np.clip(s, 0.0, 1.0 - 1e-16)))
    s_max[0] = 1.0
    return np.asarray(np.clip(np.append(-np.diff(s_max), s_max[-1]), 0.0, None))


@dataclass(frozen=True)
class Policy:
    """Targets: FPIR for ordinary and for banned candidates, gallery size N."""

    fpir: float = 0.01
    fpir_banned: float = 0.1
    gallery: int = 500_000

    def fmr(self, banned: bool) -> float:
        return fmr_for(self.fpir_banned if banned else self.fpir, self.gallery)


@dataclass(frozen=True)
class Comparison:
    """One modality of one candidate: the raw score and its LLR."""

    modality: str  # "face" or "finger"
    score: float
    llr: float
    position: int | None = None  # the probe finger's position
    candidate_position: int | None = None
    positions_compared: int = 1  # > 1: best over fingers of unknown position
    calibration_model: str = ""
    template_model: str = ""

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"modality": self.modality, "score": round(self.score, 4),
                             "metric": "distance" if self.modality == "face" else "similarity",
                             "llr": round(self.llr, 3)}
        if self.modality == "finger":
            d.update(position=self.position, candidate_position=self.candidate_position,
                     positions_compared=self.positions_compared)
        if self.template_model and self.template_model != self.calibration_model:
            d["calibrated_for"] = self.calibration_model
            d["template_model"] = self.template_model
        return d


@dataclass(frozen=True)
class Verdict:
    fused_llr: float
    threshold: float | None  # None: these modalities alone cannot reach the target
    hold: bool
    chance: float  # P(an impostor comparison with these modalities scores >= fused_llr)
    comparisons: tuple[Comparison, ...]
    banned: bool

    @property
    def words(self) -> str:
        return chance_in_words(self.chance, self.comparisons)


class Fusion:
    """Fused decisions for one calibration and policy; fused impostor distributions are
    computed once per set of modalities and cached."""

    def __init__(self, calibration: Calibration, policy: Policy, *, face_model: str,
                 finger_model: str) -> None:
        self.cal = calibration
        self.policy = policy
        self.face = calibration.for_face(face_model)
        self.finger = calibration.for_finger(finger_model)
        self._cache: dict[tuple[bool, tuple[int, ...]], np.ndarray] = {}
        self._lock = threading.Lock()

    def face_comparison(self, distance: float, *, template_model: str = "") -> Comparison:
        return Comparison("face", distance, self.face.llr_one(distance),
                          calibration_model=self.face.model, template_model=template_model)

    def finger_comparison(self, score: float, *, position: int | None,
                          candidate_position: int | None, positions_compared: int = 1,
                          template_model: str = "") -> Comparison:
        return Comparison("finger", score, self.finger.llr_one(score), position,
                          candidate_position, max(1, positions_compared),
                          calibration_model=self.finger.model, template_model=template_model)

    def impostor_pmf(self, comparisons: Sequence[Comparison]) -> np.ndarray:
        key = (any(c.modality == "face" for c in comparisons),
               tuple(sorted(c.positions_compared for c in comparisons
                            if c.modality == "finger")))
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        parts = [model_pmf(self.face)] if key[0] else []
        parts += [model_pmf(self.finger) if m == 1 else finger_pmf_any_position(self.finger, m)
                  for m in key[1]]
        out = convolve(*parts) if parts else np.eye(1, _NB, _NB // 2)[0]
        with self._lock:
            self._cache[key] = out
        return out

    def decide(self, comparisons: Sequence[Comparison], *, banned: bool) -> Verdict:
        comps = tuple(comparisons)
        fused = float(sum(c.llr for c in comps))
        imp = self.impostor_pmf(comps)
        threshold = threshold_for(imp, self.policy.fmr(banned)) if comps else None
        chance = float(survival(imp)[int(_bin(fused))]) if comps else 1.0
        hold = threshold is not None and fused >= threshold
        return Verdict(fused, threshold, hold, chance, comps, banned)


def chance_in_words(chance: float, comparisons: Iterable[Comparison] = ()) -> str:
    """"about 1 in N chance that two different people score this high" (N rounded to
    two significant figures), for a regulator."""
    what = _modalities_in_words(list(comparisons))
    if chance >= 0.5:
        return f"two different people score this high on {what} more often than not"
    n = 1.0 / max(chance, 1e-300)
    if n > 1e15:
        return (f"fewer than 1 in a million billion chance that two different people score "
                f"this high on {what} (beyond what the development data can resolve)")
    return f"about 1 in {_round_words(n)} chance that two different people score this high " \
           f"on {what}"


def _modalities_in_words(comps: list[Comparison]) -> str:
    fingers = sum(1 for c in comps if c.modality == "finger")
    parts = ["the face"] if any(c.modality == "face" for c in comps) else []
    if fingers:
        parts.append("1 finger" if fingers == 1 else f"{fingers} fingers")
    return " and ".join(parts) if parts else "nothing"


def _round_words(n: float) -> str:
    digits = max(0, math.floor(math.log10(n)) - 1)
    v = round(n / 10 ** digits) * 10 ** digits
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if v >= size:
            return f"{v / size:.3g} {word}"
    return f"{int(v):,}"


@functools.lru_cache(maxsize=8)
def _default_fusion(fpir: float, fpir_banned: float, gallery: int, face_model: str,
                    finger_model: str) -> Fusion:
    return Fusion(load_calibration(), Policy(fpir, fpir_banned, gallery),
                  face_model=face_model, finger_model=finger_model)


def fusion_for(policy: Policy, *, face_model: str, finger_model: str) -> Fusion:
    """The process's :class:`Fusion` for the shipped calibration (cached)."""
    return _default_fusion(policy.fpir, policy.fpir_banned, policy.gallery, face_model,
                           finger_model)
