"""Synthetic fingerprint *images* after the published SFinGe method (Cappelli, Maio,
Maltoni): orientation field from a singularity model, ridge pattern grown by iterative
contextual Gabor filtering from random seeds, then impressions with elastic distortion,
partial contact, dry/wet rendering, noise and background.

The master (:func:`master_image`) reuses :func:`synthetic.master_finger` of the same seed
for its pattern class, singular points, zero-pole orientation field and ridge period, so
``master_image(s)`` and ``master_finger(s)`` are the same kind of finger (the minutiae of
the image are the ones its ridges happen to form, not ``master_finger(s).minutiae``).

Ridge growth: an image holding a few random impulses is filtered again and again with
the Gabor filter matching the local ridge orientation (a bank of ``ORIENTATIONS``
filters at the finger's ridge period, each pixel taking the response of its own filter)
and clipped; the ridges spread from the seeds along the orientation field and
minutiae appear where growing fronts meet out of phase, as in SFinGe. One period per
finger is used (SFinGe's density map varies it by a few percent).

An impression (:func:`impression_image`) is a ``uint8`` grayscale image at 500 dpi:
the contact region (irregular ellipse) is cut from the master, distorted elastically
(skin rotation and translation braked inside the close-contact core, Cappelli et al.
2001), placed on the sensor with a rotation and a translation, rendered dark ridges on a
light background with a ridge thickness that varies from dry (thin, broken) to wet
(thick, merged), contrast falling towards the border of the contact, blur and noise.

Cost: a master takes about a second of CPU (filtering dominates), an impression a few
milliseconds; extraction of the image (the project's extractor) about 0.15 s. Use the
minutiae-level generator for galleries beyond a few thousand fingers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from biometrics.fingerprint.synthetic import (
    CONTACT_AXES,
    DISTORTION_ROTATION,
    DISTORTION_SHIFT,
    PLACEMENT_ROTATION,
    PLACEMENT_SHIFT,
    WINDOW,
    MasterFinger,
    master_finger,
)

ORIENTATIONS = 16  # Gabor filters in the growth bank
ITERATIONS = 12  # growth iterations
SEEDS_PER_MPX = 260.0  # random impulses per million pixels of canvas
GAIN = 8.0  # amplification before clipping at each iteration
SIGMA_ACROSS = 0.5  # Gabor envelope across / along the ridges (ridge periods)
SIGMA_ALONG = 0.75
MARGIN = 24  # canvas margin around the fingertip ellipse (px)

_TWO_PI = 2 * math.pi


@dataclass(frozen=True)
class MasterImage:
    """A grown ridge pattern: ``ridges`` is float32 in ``[-1, 1]`` (ridges positive) on a
    canvas whose centre is the master frame's origin (500 dpi)."""

    finger: MasterFinger
    ridges: np.ndarray

    @property
    def origin(self) -> tuple[float, float]:
        h, w = self.ridges.shape
        return w / 2.0, h / 2.0


def _gabor(orientation: float, period: float) -> np.ndarray:
    """Even Gabor kernel for ridges of ``orientation`` (image convention), normalised to
    unit absolute sum so the iteration gain does not depend on the period."""
    n = orientation + math.pi / 2  # the filter oscillates across the ridges
    sx, sy = SIGMA_ACROSS * period, SIGMA_ALONG * period
    r = math.ceil(2.5 * sy)
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    a = x * math.cos(n) + y * math.sin(n)
    b = -x * math.sin(n) + y * math.cos(n)
    g = np.exp(-(a * a / (sx * sx) + b * b / (sy * sy)) / 2) * np.cos(_TWO_PI * a / period)
    g -= g.mean()
    return np.asarray(g / np.abs(g).sum(), dtype=np.float32)


def _contextual_filter(img: np.ndarray, bank: list[np.ndarray], index: np.ndarray) -> np.ndarray:
    """Each pixel filtered by the kernel of its own orientation bin."""
    out = np.zeros_like(img)
    for k, kern in enumerate(bank):
        sel = index == k
        if sel.any():
            out[sel] = cv2.filter2D(img, -1, kern, borderType=cv2.BORDER_REFLECT)[sel]
    return out


def master_image(seed: int) -> MasterImage:
    """Grow the ridge pattern of master finger ``seed`` (deterministic)."""
    finger = master_finger(seed)
    rng = np.random.default_rng([finger.seed, 0x61A5E])
    w = int(2 * (finger.axes[0] + MARGIN))
    h = int(2 * (finger.axes[1] + MARGIN))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    theta = finger.orientation(xx - w / 2.0, yy - h / 2.0)
    index = (np.round(np.mod(theta, math.pi) / (math.pi / ORIENTATIONS)).astype(np.int32)
             % ORIENTATIONS)
    bank = [_gabor(math.pi * k / ORIENTATIONS, finger.period) for k in range(ORIENTATIONS)]
    img = np.zeros((h, w), np.float32)
    n = max(4, int(rng.poisson(SEEDS_PER_MPX * h * w / 1e6)))
    img[rng.integers(0, h, n), rng.integers(0, w, n)] = rng.choice([-1.0, 1.0], n)
    for _ in range(ITERATIONS):
        img = np.clip(GAIN * _contextual_filter(img, bank, index), -1.0, 1.0)
    # a last pass without clipping gives the rounded profile of real ridges
    smooth = _contextual_filter(img, bank, index)
    scale = float(np.percentile(np.abs(smooth), 90)) or 1.0
    ridges = np.tanh(1.5 * smooth / scale).astype(np.float32)
    return MasterImage(finger, ridges)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Low-frequency random field with zero mean and unit sd (blobs of about ``scale`` px)."""
    h, w = shape
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    coarse = rng.standard_normal((sh, sw)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    sd = float(field.std()) or 1.0
    return np.asarray((field - field.mean()) / sd, np.float32)


def impression_image(
    master: MasterImage,
    seed: int,
    *,
    distortion: float | None = None,
    contact: float | None = None,
    wetness: float | None = None,
    noise: float | None = None,
    window: tuple[int, int] = WINDOW,
) -> np.ndarray:
    """One capture of ``master`` as a ``uint8`` image of ``window`` (w, h) at 500 dpi.

    ``distortion`` scales the elastic distortion (1 typical), ``contact`` the contact
    region (1 typical), ``wetness`` runs from -1 (dry: thin broken ridges) to 1 (wet:
    thick merged ridges), ``noise`` scales sensor noise (1 typical). ``None`` draws each
    from its usual spread.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError("impression seed must be a non-negative integer")
    rng = np.random.default_rng([master.finger.seed, int(seed), 0x1A6E])
    if distortion is None:
        distortion = float(rng.gamma(4.0, 0.25))
    if contact is None:
        contact = float(np.clip(rng.normal(1.0, 0.15), 0.7, 1.4))
    if wetness is None:
        wetness = float(np.clip(rng.normal(0.0, 0.45), -1.0, 1.0))
    if noise is None:
        noise = float(np.exp(rng.normal(0, 0.4)))
    w, h = window
    period = master.finger.period

    cc = np.array([rng.normal(0, 20), rng.normal(5, 30)])
    ca = 1.15 * CONTACT_AXES[0] * contact * rng.normal(1, 0.06)
    cb = 1.15 * CONTACT_AXES[1] * contact * rng.normal(1, 0.06)
    harm = np.column_stack([rng.normal(0, 0.04, 3), rng.uniform(0, _TWO_PI, 3)])
    rot_d = rng.normal(0, DISTORTION_ROTATION * distortion)
    t_d = rng.normal(0, DISTORTION_SHIFT * distortion, 2)
    inner = rng.uniform(0.3, 0.6)
    psi = float(np.clip(rng.normal(0, PLACEMENT_ROTATION), -3 * PLACEMENT_ROTATION,
                        3 * PLACEMENT_ROTATION))
    target = np.array([w / 2 + rng.normal(0, PLACEMENT_SHIFT[0]),
                       h / 2 + rng.normal(0, PLACEMENT_SHIFT[1])])

    # output pixel -> distorted skin point (inverse placement) -> master point (the
    # distortion's first-order inverse: subtract the displacement found at that point)
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    c, s = math.cos(-psi), math.sin(-psi)
    sx = cc[0] + c * (u - target[0]) - s * (v - target[1])
    sy = cc[1] + s * (u - target[0]) + c * (v - target[1])
    ddx, ddy = (sx - cc[0]) / ca, (sy - cc[1]) / cb
    rr = np.hypot(ddx, ddy)
    brake = 0.5 * (1 - np.cos(math.pi * np.clip((rr - inner) / (1.0 - inner), 0, 1)))
    cr, sr = math.cos(rot_d), math.sin(rot_d)
    qx = cc[0] + cr * (sx - cc[0]) - sr * (sy - cc[1]) + t_d[0]
    qy = cc[1] + sr * (sx - cc[0]) + cr * (sy - cc[1]) + t_d[1]
    mx = sx - brake * (qx - sx)
    my = sy - brake * (qy - sy)
    ox, oy = master.origin
    ridges = cv2.remap(master.ridges, (mx + ox).astype(np.float32), (my + oy).astype(np.float32),
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)

    # contact region (on the skin) with a soft edge; pressure fades towards the border
    ex, ey = (mx - cc[0]) / ca, (my - cc[1]) / cb
    rho = np.hypot(ex, ey) / (1 + sum(a * np.cos(k * np.arctan2(ey, ex) + p)
                                      for k, (a, p) in enumerate(harm, start=2)))
    inside = (1.0 - rho) * min(ca, cb)
    contact_map = np.clip(inside / period, 0, 1).astype(np.float32)
    pressure = np.clip(0.55 + 0.45 * np.clip(inside / (6 * period), 0, 1)
                       + 0.12 * _smooth_noise(rng, (h, w), 60.0), 0.2, 1.0)

    # dry/wet: move the ridge/valley threshold, and break dry ridges with blotches
    level = 0.45 * wetness + 0.1 * _smooth_noise(rng, (h, w), 40.0)
    ink = 1.0 / (1.0 + np.exp(-4.0 * (ridges + level)))
    if wetness < 0:
        breaks = _smooth_noise(rng, (h, w), 6.0)
        ink *= np.clip(1.0 + 0.9 * wetness * (breaks > 1.2), 0.0, 1.0)
    ink = ink * contact_map * pressure

    background = 205 + 6 * _smooth_noise(rng, (h, w), 120.0)
    img = background - ink * rng.uniform(120, 170)
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 0.6 + 0.3 * noise)
    img = img + rng.normal(0, 6.0 * noise, (h, w)).astype(np.float32)
    return np.asarray(np.clip(np.round(img), 0, 255), dtype=np.uint8)
