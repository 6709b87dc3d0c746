"""Fingerprint-ness gate: does an uploaded capture look like a friction-ridge image?

The extractor finds "minutiae" in anything with edges, so a face photo used to pass
the quality gate. This gate runs first, on the decoded image alone (it does not use
the extractor), and is cheap (a few milliseconds for a sensor-sized image).

The image is resampled to 500 dpi and cut into 32 x 32 pixel windows (1.6 mm, two to
five ridges) every 16 pixels. A window with some contrast is a *ridge window* when

- little of its AC power lies at periods longer than a ridge (> 15 pixels at 500 dpi:
  shading, facial features, large shapes),
- enough of it lies in the ridge band (periods 5-15 pixels), and
- its grey-level gradients share an orientation (parallel ridges).

The image passes when all four image-level measures pass:

- ``ridge-area``: the largest connected area of ridge windows, in mm^2 at the image's
  resolution (a finger's contact area is large and continuous; a face or a document
  has at most scattered ridge-like patches);
- ``ridge-flow``: neighbouring ridge windows agree in orientation (ridges flow
  smoothly; band-pass noise, QR modules and photo textures do not);
- ``straight-lines``: the orientation is *not* the same everywhere (a finger's ridges
  curve; lines of text, screens and printed gratings are straight);
- ``colour``: the mean colour chroma is low (scanners give grey levels).

The limits were chosen on the tuning data (LFW folds 1-3, FVC2002 DB1-3_B) and are
reported on the held-out data in docs/fingerprint.md. :func:`require_fingerprint`
raises :class:`NotAFingerprint` (422, ``reason: not-a-fingerprint``) naming the first
check that failed; :func:`assess` returns every measure; :func:`evaluate_folders`
serves ``guardreg eval fingerprint-gate``.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import scipy.fft
from PIL import Image

from biometrics.errors import NotAFingerprint
from biometrics.imaging import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, decode_image
from registry.errors import GuardregError

GATE_VERSION = "fpgate@1"
TARGET_DPI = 500.0
WIN = 32  # analysis window (pixels at 500 dpi)
STEP = 16  # window stride
PERIOD_BAND = (5.0, 15.0)  # ridge period at 500 dpi, pixels
MAX_SIDE = 1024  # larger uploads are measured on a central crop (cost bound)


@dataclass(frozen=True)
class Limits:
    """Thresholds of the gate (chosen on the tuning data; see docs/fingerprint.md)."""

    flat_std: float = 6.0  # window: lower grey-level std is background
    max_low_share: float = 0.35  # window: AC power at periods longer than ridges
    min_ring_share: float = 0.25  # window: AC power at ridge periods
    min_coherence: float = 0.1  # window: gradient orientation coherence
    min_ridge_area_mm2: float = 35.0  # image: largest connected area of ridge windows
    min_flow: float = 0.8  # image: orientation agreement of neighbouring ridge windows
    max_straightness: float = 0.91  # image: orientation agreement over the whole ridge area
    max_chroma: float = 0.05  # image: mean colour chroma (scanners give grey levels)


LIMITS = Limits()


@dataclass
class GateReport:
    accepted: bool
    measures: dict[str, float]
    failed: list[str] = field(default_factory=list)
    detail: str = ""

    def margins(self, limits: Limits = LIMITS) -> dict[str, float]:
        """Distance of each measure to its limit, relative to the limit (> 0 passes)."""
        out: dict[str, float] = {}
        for name, (key, limit, higher) in _checks(limits).items():
            v = self.measures[key]
            out[name] = (v - limit) / limit if higher else (limit - v) / limit
        return out


def _checks(limits: Limits) -> dict[str, tuple[str, float, bool]]:
    # check name -> (measure, limit, higher passes); in the order they are reported
    return {
        "ridge-area": ("ridge_area_mm2", limits.min_ridge_area_mm2, True),
        "ridge-flow": ("flow", limits.min_flow, True),
        "straight-lines": ("straightness", limits.max_straightness, False),
        "colour": ("chroma", limits.max_chroma, False),
    }


_DETAILS = {
    "ridge-area": "too little of the image shows ridges at a fingerprint's ridge spacing",
    "ridge-flow": "the ridge direction does not flow smoothly as on a finger",
    "straight-lines": "the lines are straight and parallel everywhere (text, a screen or "
                      "a printed pattern), not curved ridges",
    "colour": "the image is in colour; fingerprint scanners give grey levels",
}


def _to_500dpi(gray: np.ndarray, dpi: float) -> np.ndarray:
    if abs(dpi - TARGET_DPI) > 0.02 * TARGET_DPI:
        f = TARGET_DPI / dpi
        h, w = gray.shape
        gray = cv2.resize(gray, (max(1, round(w * f)), max(1, round(h * f))),
                          interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    h, w = gray.shape
    if h > MAX_SIDE or w > MAX_SIDE:
        y0, x0 = max(0, (h - MAX_SIDE) // 2), max(0, (w - MAX_SIDE) // 2)
        gray = gray[y0:y0 + MAX_SIDE, x0:x0 + MAX_SIDE]
    return gray


def _windows(img: np.ndarray) -> np.ndarray:
    """(ny, nx, WIN, WIN) view of the overlapping windows."""
    return np.lib.stride_tricks.sliding_window_view(img, (WIN, WIN))[::STEP, ::STEP]


_RADIUS = np.sqrt(np.fft.fftfreq(WIN)[:, None] ** 2 + np.fft.rfftfreq(WIN)[None, :] ** 2)
_AC = _RADIUS > 0.0
# below the ridge band (slow shading, facial features) and the ridge band itself
_LOW_IDX = np.flatnonzero(_AC & np.less(_RADIUS, 1.0 / PERIOD_BAND[1]))
_RING_IDX = np.flatnonzero(np.greater_equal(_RADIUS, 1.0 / PERIOD_BAND[1])
                           & np.less_equal(_RADIUS, 1.0 / PERIOD_BAND[0]))
_HANN = np.outer(np.hanning(WIN), np.hanning(WIN)).astype(np.float32)
_MM2_PER_WINDOW = (STEP * 25.4 / TARGET_DPI) ** 2


def _window_sums(a: np.ndarray, ny: int, nx: int) -> np.ndarray:
    """Sum of ``a`` over each analysis window (from the integral image)."""
    ii = cv2.integral(a, sdepth=cv2.CV_64F)
    ys, xs = np.arange(ny) * STEP, np.arange(nx) * STEP
    y0, x0 = ys[:, None], xs[None, :]
    return ii[y0 + WIN, x0 + WIN] - ii[y0, x0 + WIN] - ii[y0 + WIN, x0] + ii[y0, x0]


def _chroma(rgb: np.ndarray | None) -> float:
    if rgb is None or rgb.ndim != 3 or rgb.shape[2] < 3:
        return 0.0
    c = rgb[::2, ::2, :3]
    return float((c.max(axis=2).astype(np.float32) - c.min(axis=2)).mean() / 255.0)


def measure(gray: np.ndarray, dpi: float = TARGET_DPI, rgb: np.ndarray | None = None,
            limits: Limits = LIMITS, windows: dict[str, np.ndarray] | None = None,
            ) -> dict[str, float]:
    """Every measure of the gate for a grey-level image at ``dpi`` (``rgb``: the same
    image in colour when the upload was in colour). ``windows``, when given, receives
    the per-window measures (for tuning)."""
    if not 0 < dpi < 100_000:
        raise ValueError(f"resolution {dpi!r} dpi is not usable")
    out: dict[str, float] = {"chroma": _chroma(rgb), "ridge_area_mm2": 0.0,
                             "flow": 0.0, "straightness": 0.0, "ridge_windows": 0.0,
                             "textured_windows": 0.0, "period": 0.0}
    img = _to_500dpi(np.ascontiguousarray(gray, dtype=np.uint8), dpi).astype(np.float32)
    if img.shape[0] < WIN or img.shape[1] < WIN:
        return out
    win = _windows(img)
    ny, nx = win.shape[:2]
    mean = _window_sums(img, ny, nx) / WIN ** 2
    variance = _window_sums(img * img, ny, nx) / WIN ** 2 - mean ** 2
    textured = variance >= limits.flat_std ** 2

    centred = (win - win.mean(axis=(2, 3), keepdims=True, dtype=np.float32)) * _HANN
    spectrum = scipy.fft.rfft2(centred, workers=1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).reshape(ny, nx, -1)
    ac = power.sum(axis=2) + 1e-6  # the DC bin is ~0 after centring
    low_share = power[..., _LOW_IDX].sum(axis=2) / ac
    ring_power = power[..., _RING_IDX]
    ring_share = ring_power.sum(axis=2) / ac
    period = 1.0 / _RADIUS.reshape(-1)[_RING_IDX][ring_power.argmax(axis=2)]

    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    sxx, syy, sxy = (_window_sums(a, ny, nx) for a in (gx * gx, gy * gy, gx * gy))
    energy = sxx + syy + 1e-6
    vc, vs = (sxx - syy) / energy, 2.0 * sxy / energy  # doubled-angle orientation
    coherence = np.hypot(vc, vs)

    ridge = (textured & (low_share <= limits.max_low_share)
             & (ring_share >= limits.min_ring_share) & (coherence >= limits.min_coherence))
    if windows is not None:
        windows.update(textured=textured, low=low_share, ring=ring_share, coh=coherence,
                       period=period, ridge=ridge)
    out["textured_windows"] = float(textured.sum())
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ridge.astype(np.uint8),
                                                           connectivity=8)
    if n <= 1:
        return out
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = labels == largest
    # Flow: ridge direction changes slowly across a finger, so the orientations of the
    # 3 x 3 neighbouring windows agree; text, QR codes and photo edges do not.
    m = blob.astype(np.float64)
    k = np.ones((3, 3), np.float64)
    sc = cv2.filter2D(vc * m, -1, k, borderType=cv2.BORDER_CONSTANT)
    ss = cv2.filter2D(vs * m, -1, k, borderType=cv2.BORDER_CONSTANT)
    sm = cv2.filter2D(coherence * m, -1, k, borderType=cv2.BORDER_CONSTANT)
    local = np.hypot(sc, ss) / np.maximum(sm, 1e-9)
    out.update(
        ridge_area_mm2=float(blob.sum()) * _MM2_PER_WINDOW,
        flow=float(local[blob].mean()),
        ridge_windows=float(ridge.sum()),
        period=float(np.median(period[blob])),
        straightness=float(np.hypot(vc[blob].sum(), vs[blob].sum()) / coherence[blob].sum()),
    )
    return out


def assess(gray: np.ndarray, dpi: float = TARGET_DPI, rgb: np.ndarray | None = None,
           limits: Limits = LIMITS) -> GateReport:
    """Measure and decide; never raises for a decodable image."""
    m = measure(gray, dpi, rgb, limits)
    failed = []
    for name, (key, limit, higher) in _checks(limits).items():
        v = m[key]
        if (v < limit) if higher else (v > limit):
            failed.append(name)
    detail = _DETAILS[failed[0]] if failed else ""
    return GateReport(accepted=not failed, measures=m, failed=failed, detail=detail)


def require_fingerprint(gray: np.ndarray, dpi: float = TARGET_DPI,
                        rgb: np.ndarray | None = None) -> GateReport:
    """Raise :class:`NotAFingerprint` unless the image looks like a fingerprint."""
    report = assess(gray, dpi, rgb)
    if not report.accepted:
        check = report.failed[0]
        key, limit, _ = _checks(LIMITS)[check]
        raise NotAFingerprint(
            f"this does not look like a fingerprint: {report.detail}",
            reason="not-a-fingerprint", check=check, value=round(report.measures[key], 4),
            limit=limit, failed=report.failed)
    return report


# --------------------------------------------------------------------------- uploads

GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def colour_pixels(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray | None:
    """RGB pixels of a colour upload, None for a grey-level one (the colour check).

    Call after :func:`biometrics.imaging.decode_image` accepted ``data``: only the
    header is read to learn the mode, and only a colour image is decoded again.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            mode = im.mode
    except Exception:  # decode_image has already reported anything broken
        return None
    if mode in GREY_MODES:
        return None
    return decode_image(data, mode="RGB", max_bytes=max_bytes, max_pixels=max_pixels).pixels


# --------------------------------------------------------------------------- evaluation

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
DpiFn = Callable[[int, int, "tuple[float, float] | None"], float]
ProgressFn = Callable[[int, int], None]


def image_files(folder: Path) -> list[Path]:
    """Every image file under ``folder``, recursively (following symbolic links to
    folders, each real folder once), sorted."""
    found: list[Path] = []
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        found.extend(Path(root) / f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES)
    return sorted(found)


def evaluate_folders(positives: Sequence[Path], negatives: Sequence[Path], *, dpi_for: DpiFn,
                     limits: Limits = LIMITS, progress: ProgressFn | None = None,
                     ) -> dict[str, Any]:
    """Run the gate on every image of the folders: positives must pass, negatives must not.

    ``dpi_for(width, height, declared)`` gives the resolution to assume (the capture
    path's rule). A file that cannot be decoded is rejected (a false reject when it is
    a positive). Returns a JSON-able dict: counts, per-folder breakdown, the failing
    files with their measures, the margins to each limit and the time per image.
    """
    jobs = [(p, "positive", folder) for folder in positives for p in image_files(folder)]
    jobs += [(p, "negative", folder) for folder in negatives for p in image_files(folder)]
    per_dir: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, folders, wrong in (("positive", positives, "false_rejects"),
                                 ("negative", negatives, "false_accepts")):
        for folder in folders:
            per_dir[(kind, str(folder))] = {"kind": kind, "path": str(folder), "images": 0,
                                            wrong: 0, "unreadable": 0}
    false_accepts: list[dict[str, Any]] = []
    false_rejects: list[dict[str, Any]] = []
    margins: dict[str, list[dict[str, float]]] = {"positive": [], "negative": []}
    measures: dict[str, list[dict[str, float]]] = {"positive": [], "negative": []}
    closest_negative: dict[str, Any] | None = None
    gate_ms: list[float] = []
    for i, (path, kind, folder) in enumerate(jobs):
        entry = per_dir[(kind, str(folder))]
        entry["images"] += 1
        name = str(path.relative_to(folder))
        try:
            data = path.read_bytes()
            img = decode_image(data, mode="L")
            rgb = colour_pixels(data)
        except (GuardregError, OSError) as exc:
            entry["unreadable"] += 1
            if kind == "positive":
                entry["false_rejects"] += 1
                false_rejects.append({"dir": str(folder), "file": name,
                                      "failed": ["unreadable"], "detail": str(exc)})
            if progress is not None:
                progress(i + 1, len(jobs))
            continue
        t0 = time.perf_counter()
        report = assess(img.pixels, dpi_for(img.width, img.height, img.dpi), rgb, limits)
        gate_ms.append(1000.0 * (time.perf_counter() - t0))
        m = report.margins(limits)
        margins[kind].append(m)
        measures[kind].append(report.measures)
        row = {"dir": str(folder), "file": name, "failed": report.failed,
               "measures": {k: round(v, 4) for k, v in report.measures.items()}}
        if kind == "positive" and not report.accepted:
            entry["false_rejects"] += 1
            false_rejects.append(row)
        elif kind == "negative":
            if report.accepted:
                entry["false_accepts"] += 1
                false_accepts.append(row)
            else:
                # how far the least-rejected negative is from passing: the largest
                # excess over a limit among its failing checks
                beyond = max(-m[c] for c in report.failed)
                if closest_negative is None or beyond < closest_negative["beyond"]:
                    closest_negative = {"file": name, "dir": str(folder),
                                        "beyond": round(beyond, 4), "failed": report.failed}
        if progress is not None:
            progress(i + 1, len(jobs))

    def extreme(rows: list[dict[str, float]], fn: Callable[..., float]) -> dict[str, float]:
        keys = sorted({k for r in rows for k in r})
        return {k: round(fn(r[k] for r in rows if k in r), 4) for k in keys}

    n_pos = sum(d["images"] for d in per_dir.values() if d["kind"] == "positive")
    n_neg = sum(d["images"] for d in per_dir.values() if d["kind"] == "negative")
    ms = np.array(gate_ms) if gate_ms else np.zeros(1)
    return {
        "false_accepts": len(false_accepts),
        "false_rejects": len(false_rejects),
        "positives": n_pos,
        "negatives": n_neg,
        "gate": GATE_VERSION,
        "limits": asdict(limits),
        "directories": list(per_dir.values()),
        "false_accept_files": false_accepts,
        "false_reject_files": false_rejects,
        # relative distance to each limit (> 0: on the passing side)
        "margins": {
            "positives_worst": extreme(margins["positive"], min) if margins["positive"] else {},
            "negatives_best": extreme(margins["negative"], max) if margins["negative"] else {},
            "negative_closest_to_passing": closest_negative,
        },
        "measures": {kind: {"min": extreme(rows, min), "max": extreme(rows, max)}
                     for kind, rows in measures.items() if rows},
        "gate_ms_per_image": {"mean": round(float(ms.mean()), 3),
                              "p50": round(float(np.percentile(ms, 50)), 3),
                              "p95": round(float(np.percentile(ms, 95)), 3),
                              "max": round(float(ms.max()), 3), "images": len(gate_ms)},
    }
