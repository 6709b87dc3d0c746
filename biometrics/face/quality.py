"""The face quality gate: limits, landmark geometry, chip sharpness and exposure
(issue 19 split of :mod:`biometrics.face.pipeline`).

See docs/face.md for how the limits were chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from biometrics.errors import QualityRejected

__all__ = ["ENROLL_LIMITS", "VERIFY_LIMITS", "QualityLimits", "check_quality",
           "chip_quality", "landmark_geometry"]


@dataclass(frozen=True)
class QualityLimits:
    """Limits of the quality gate (see docs/face.md for how they were chosen)."""

    min_inter_eye_px: float = 30.0
    max_roll_deg: float = 20.0
    max_yaw_deg: float = 35.0
    min_sharpness: float = 100.0
    min_exposure_mean: float = 50.0
    max_exposure_mean: float = 215.0
    max_clipped_fraction: float = 0.30


ENROLL_LIMITS = QualityLimits()
"""Gate for enrollment photos (the template and certificate photo)."""

VERIFY_LIMITS = QualityLimits(
    min_inter_eye_px=20.0,
    max_roll_deg=30.0,
    max_yaw_deg=45.0,
    min_sharpness=50.0,
    min_exposure_mean=35.0,
    max_exposure_mean=230.0,
    max_clipped_fraction=0.45,
)
"""Looser gate for live checkpoint captures (a rejection there costs a retake)."""


# 68-point indices (iBUG 300-W): jaw 0-16, nose tip 30, eyes 36-41 (subject's right,
# image left) and 42-47.
_R_EYE = slice(36, 42)
_L_EYE = slice(42, 48)
_NOSE_TIP = 30
_JAW_R = 0
_JAW_L = 16


def landmark_geometry(pts: np.ndarray) -> dict[str, float]:
    eye_a = pts[_R_EYE].mean(axis=0)
    eye_b = pts[_L_EYE].mean(axis=0)
    dx, dy = float(eye_b[0] - eye_a[0]), float(eye_b[1] - eye_a[1])
    inter_eye = math.hypot(dx, dy)
    roll = math.degrees(math.atan2(dy, dx))
    # Yaw: position of the nose tip between the two jaw extremities, measured along
    # the eye line. Frontal: in the middle. Cylinder model: offset/half-width = sin(yaw).
    ux, uy = (dx / inter_eye, dy / inter_eye) if inter_eye > 0 else (1.0, 0.0)
    jr, jl, nose = pts[_JAW_R], pts[_JAW_L], pts[_NOSE_TIP]
    pr = (jr[0] - nose[0]) * ux + (jr[1] - nose[1]) * uy
    pl = (jl[0] - nose[0]) * ux + (jl[1] - nose[1]) * uy
    half = (pl - pr) / 2.0
    ratio = 0.0 if half <= 0 else float(((pl + pr) / 2.0) / half)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, ratio))))
    return {"inter_eye_px": inter_eye, "roll_deg": roll, "yaw_deg": yaw}


def chip_quality(chip: np.ndarray) -> dict[str, float]:
    """Sharpness and exposure on the aligned 150x150 chip (scale-independent)."""
    gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    # Inner face region (skip the padding/background around the chip).
    inner = gray[int(h * 0.2) : int(h * 0.85), int(w * 0.2) : int(w * 0.8)]
    lap = cv2.Laplacian(inner, cv2.CV_64F, ksize=3)
    return {
        "sharpness": float(lap.var()),
        "exposure_mean": float(inner.mean()),
        "exposure_dark": float((inner <= 10).mean()),
        "exposure_bright": float((inner >= 245).mean()),
    }


def check_quality(q: dict[str, float], lim: QualityLimits) -> None:
    """Raise :class:`QualityRejected` (with the failed check) unless ``q`` passes ``lim``."""
    eye = q["inter_eye_px"]
    if eye < lim.min_inter_eye_px:
        raise QualityRejected(
            f"face too small: inter-eye distance {eye:.1f} px, at least "
            f"{lim.min_inter_eye_px:.0f} px required",
            check="inter-eye-distance", value=round(eye, 1), limit=lim.min_inter_eye_px,
        )
    roll = q["roll_deg"]
    if abs(roll) > lim.max_roll_deg:
        raise QualityRejected(
            f"head tilted: roll {roll:.1f} degrees, at most {lim.max_roll_deg:.0f} allowed",
            check="roll", value=round(roll, 1), limit=lim.max_roll_deg,
        )
    yaw = q["yaw_deg"]
    if abs(yaw) > lim.max_yaw_deg:
        raise QualityRejected(
            f"head turned: yaw about {yaw:.1f} degrees, at most {lim.max_yaw_deg:.0f} allowed",
            check="yaw", value=round(yaw, 1), limit=lim.max_yaw_deg,
        )
    mean = q["exposure_mean"]
    if mean < lim.min_exposure_mean:
        raise QualityRejected(
            f"face too dark: mean brightness {mean:.0f}/255, at least "
            f"{lim.min_exposure_mean:.0f} required",
            check="exposure", value=round(mean, 1), limit=lim.min_exposure_mean,
        )
    if mean > lim.max_exposure_mean:
        raise QualityRejected(
            f"face overexposed: mean brightness {mean:.0f}/255, at most "
            f"{lim.max_exposure_mean:.0f} allowed",
            check="exposure", value=round(mean, 1), limit=lim.max_exposure_mean,
        )
    clipped = q["exposure_dark"] + q["exposure_bright"]
    if clipped > lim.max_clipped_fraction:
        raise QualityRejected(
            f"face exposure clipped: {clipped:.0%} of face pixels are black or white, at most "
            f"{lim.max_clipped_fraction:.0%} allowed",
            check="exposure", value=round(clipped, 3), limit=lim.max_clipped_fraction,
        )
    sharp = q["sharpness"]
    if sharp < lim.min_sharpness:
        raise QualityRejected(
            f"image too blurred: sharpness (variance of Laplacian) {sharp:.1f}, at least "
            f"{lim.min_sharpness:.0f} required",
            check="sharpness", value=round(sharp, 1), limit=lim.min_sharpness,
        )
