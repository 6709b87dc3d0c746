"""Synthetic fingers at the minutiae level: distinct fingers for large 1:N galleries.

A *master finger* is the whole fingertip as the skin holds it: a pattern class drawn with
the published class frequencies (arch 3.7%, tented arch 2.9%, left loop 33.8%, right loop
31.7%, whorl 27.9%), its singular points, an orientation field from the zero-pole model
of Sherlock and Monro (half the sum of the arguments to the cores minus those to the
deltas, plus a low-frequency random perturbation; arches use an analytic bump), a ridge
period map (about 9 px at 500 dpi, slightly denser near the cores) and a set of minutiae
spread over the fingertip with a minimum spacing of about one ridge period, denser near
the singular points, their directions along the orientation field. The sense of each
minutia (which way along the ridge it points) leans away from the nearest core, since
ridges fan out away from it and new ridges start there; the lean is tuned so that
neighbouring minutiae agree in sense as often as the project's extractor finds on
FVC2002 DB1-3.

An *impression* is one capture of a master, in the form the matcher takes (``n x 5``:
``x, y, theta, kind, quality``; pixels at 500 dpi in a sensor window, ``theta`` in
radians counter-clockwise with y pointing down, ``kind`` 1 ending / 2 bifurcation,
quality 1-100), made with:

* partial contact: an irregular ellipse (random size and place on the fingertip) cut by
  the sensor window, minutiae within ~1.6 ridge periods of its border dropped as an
  extractor does,
* elastic skin distortion after Cappelli, Maio and Maltoni (2001): no distortion in the
  close-contact core of the region, a rotation and a translation of the skin applied
  progressively (a cosine brake) outside it,
* a rigid placement (rotation, translation) on the sensor,
* missing minutiae (more of them near the border), spurious ones (directions from the
  orientation field), position and angle noise, sense and type flips.

Everything is a pure function of its seeds (``numpy`` ``default_rng`` from seed
sequences), so a gallery is reproducible from ``(seed, impression)`` alone and can be
rebuilt or extended anywhere. A master takes well under a millisecond, an impression a
few tenths of a millisecond.

API (stable)::

    master = master_finger(seed)                   # MasterFinger
    mins = impression(master, k)                   # (n, 5) float64, matcher input
    mins = impression(master, k, contact=0.8, distortion=1.5, dropout=0.3)
    data = synthetic_template(seed, k)             # ISO/IEC 19794-2:2005 record bytes

``matcher.prepare_minutiae(mins)`` (500 dpi) or ``matcher.prepare(data)`` then match.
Statistics were tuned against the extractor's output on FVC2002 DB1_B-DB3_B only; see
``bench/bench_synthetic_realism.py`` and docs/fingerprint.md ("Synthetic fingers").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KIND_ENDING = 1
KIND_BIFURCATION = 2

PATTERNS = ("arch", "tented_arch", "left_loop", "right_loop", "whorl")
# Natural class frequencies (Wilson, Candela, Watson 1994), the ones SFinGe uses.
PATTERN_FREQUENCIES = (0.037, 0.029, 0.338, 0.317, 0.279)

# --- master finger (pixels at 500 dpi; master frame: origin at the fingertip centre, y down)
FINGER_AXES = (165.0, 215.0)  # mean semi-axes of the fingertip ellipse (x, y)
MEAN_PERIOD = 9.2  # mean ridge period
MINUTIAE_DENSITY = 0.55  # master minutiae per 1000 px^2 away from singular points
SINGULAR_BOOST = 0.9  # extra relative density at a singular point
SINGULAR_SIGMA = 55.0  # reach of that extra density (px)
MIN_SPACING = 0.8  # minimum distance between master minutiae (ridge periods)
ENDING_SHARE = 0.62  # share of ridge endings among minutiae
SENSE_LEAN = 0.68  # probability that a minutia points away from its nearest core

# --- impressions
WINDOW = (320, 416)  # default sensor window (w, h) at 500 dpi
CONTACT_AXES = (128.0, 165.0)  # mean semi-axes of the contact region at contact=1
BORDER_MARGIN = 1.6  # minutiae closer than this to the region border are lost (periods)
DROPOUT = 0.14  # default share of minutiae missed inside the region
DROPOUT_SPREAD = 0.10  # its spread over impressions (sd)
CONTACT_SPREAD = 0.18  # spread of the contact size over impressions (sd)
NOISE_SPREAD = 0.5  # log-sd over impressions of a factor on position and angle noise
SPURIOUS = 0.06  # default spurious minutiae per genuine visible minutia
POSITION_NOISE = 0.9  # px
ANGLE_NOISE = math.radians(4.0)
SENSE_FLIP = 0.04
TYPE_FLIP = 0.12
MIN_MINUTIAE = 12  # drawn impressions with fewer minutiae are captured again
RECAPTURES = 4  # at most this many times
PLACEMENT_ROTATION = math.radians(10.0)  # sd of the rotation on the sensor
PLACEMENT_SHIFT = (14.0, 18.0)  # sd of the contact centre's offset in the window (px)
DISTORTION_ROTATION = math.radians(3.0)  # sd of the skin rotation at distortion=1
DISTORTION_SHIFT = 3.0  # sd of the skin translation at distortion=1 (px)

_TWO_PI = 2 * math.pi


@dataclass(frozen=True)
class MasterFinger:
    """A synthetic fingertip in its own frame (origin at its centre, y down, 500 dpi).

    ``minutiae`` is ``n x 4``: ``x, y, theta, kind`` with ``theta`` in the ISO convention
    (radians, counter-clockwise, y down). ``cores`` and ``deltas`` are ``k x 2``.
    """

    seed: int
    pattern: str
    cores: np.ndarray
    deltas: np.ndarray
    axes: tuple[float, float]
    period: float
    rotation: float  # global rotation of the pattern (radians)
    perturbation: np.ndarray  # (k, 4): amplitude, wave x, wave y, phase of the field noise
    arch: tuple[float, float, float]  # arch bump: height, width, vertical centre
    minutiae: np.ndarray

    def orientation(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ridge orientation (image convention: radians clockwise from +x with y down,
        defined modulo pi) at master coordinates ``x, y``."""
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        if self.pattern == "arch":
            h, w, yc = self.arch
            g = np.exp(-((y - yc) / (2.2 * w)) ** 2) * (1.0 / (1.0 + np.exp((y - yc) / 60.0)))
            th = np.arctan(h * x / (w * w) * np.exp(-(x * x) / (2 * w * w)) * (0.35 + g))
        else:
            th = np.zeros(np.broadcast(x, y).shape)
            for cx, cy in self.cores:
                th += 0.5 * np.arctan2(y - cy, x - cx)
            for dx, dy in self.deltas:
                th -= 0.5 * np.arctan2(y - dy, x - dx)
        for amp, kx, ky, ph in self.perturbation:
            th += amp * np.sin(kx * x + ky * y + ph)
        return np.asarray(th + self.rotation)

    def ridge_period(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ridge period (px at 500 dpi) at master coordinates: ridges are a little denser
        near the cores and sparser towards the finger's lower part."""
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        p = np.full(np.broadcast(x, y).shape, self.period)
        for cx, cy in self.cores:
            p -= 0.08 * self.period * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 60.0**2))
        return np.asarray(p * (1.0 + 0.05 * np.tanh(y / self.axes[1])))


def _check_seed(seed: int, what: str) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"{what} must be a non-negative integer")
    return int(seed)


def _pattern(rng: np.random.Generator) -> str:
    return str(PATTERNS[int(rng.choice(len(PATTERNS), p=PATTERN_FREQUENCIES))])


def _singularities(pattern: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Cores and deltas (master frame), placed as they are on real fingertips: the
    (upper) core a little above the centre, deltas below and to the side."""
    c = np.array([rng.normal(0, 18), rng.normal(-25, 25)])
    if pattern == "arch":
        return np.zeros((0, 2)), np.zeros((0, 2))
    if pattern == "tented_arch":
        d = c + np.array([rng.normal(0, 10), rng.uniform(70, 120)])
        return c[None], d[None]
    if pattern in ("left_loop", "right_loop"):
        side = 1.0 if pattern == "left_loop" else -1.0
        d = c + np.array([side * rng.uniform(70, 150), rng.uniform(90, 170)])
        return c[None], d[None]
    # whorl: two cores a short distance apart, two deltas low on either side
    gap = rng.uniform(15, 55)
    tilt = rng.normal(0, 0.5)
    off = np.array([math.sin(tilt), math.cos(tilt)]) * gap / 2
    cores = np.stack([c - off, c + off])
    dl = c + np.array([-rng.uniform(90, 150), rng.uniform(90, 160)])
    dr = c + np.array([rng.uniform(90, 150), rng.uniform(90, 160)])
    return cores, np.stack([dl, dr])


def _spread(
    rng: np.random.Generator, axes: tuple[float, float], centres: np.ndarray, period: float
) -> np.ndarray:
    """Minutiae positions: an inhomogeneous Poisson process over the fingertip ellipse
    (denser near the singular points) thinned to a minimum spacing."""
    a, b = axes
    area = math.pi * a * b
    peak = 1.0 + SINGULAR_BOOST
    n = int(rng.poisson(MINUTIAE_DENSITY / 1000.0 * area * peak * 1.15))
    r = np.sqrt(rng.random(n))
    phi = rng.random(n) * _TWO_PI
    xy = np.column_stack([a * r * np.cos(phi), b * r * np.sin(phi)])
    dens = np.ones(n)
    if len(centres):
        d2 = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        dens += SINGULAR_BOOST * np.exp(-d2 / (2 * SINGULAR_SIGMA**2)).max(axis=1)
    xy = xy[rng.random(n) * peak < dens]
    if len(xy) < 2:
        return xy
    # keep a point when no *earlier* point lies within the minimum spacing
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    close = np.tril(d < MIN_SPACING * period, k=-1)
    return xy[~close.any(axis=1)]


def master_finger(seed: int) -> MasterFinger:
    """The master finger of ``seed`` (deterministic; distinct seeds give distinct fingers)."""
    seed = _check_seed(seed, "seed")
    rng = np.random.default_rng([seed, 0x5F1A6E])
    pattern = _pattern(rng)
    cores, deltas = _singularities(pattern, rng)
    axes = (float(FINGER_AXES[0] * rng.normal(1, 0.07)),
            float(FINGER_AXES[1] * rng.normal(1, 0.07)))
    period = float(np.clip(rng.normal(MEAN_PERIOD, 0.6), 7.8, 11.0))
    k = 3
    pert = np.column_stack([
        rng.normal(0, 0.07, k),
        rng.normal(0, 1 / 120, k),
        rng.normal(0, 1 / 120, k),
        rng.uniform(0, _TWO_PI, k),
    ])
    arch = (float(rng.uniform(40, 90)), float(rng.uniform(70, 110)), float(rng.normal(0, 25)))
    rotation = float(rng.normal(0, math.radians(6)))
    # master minutiae
    sing = np.concatenate([cores, deltas]) if len(cores) else np.zeros((0, 2))
    finger = MasterFinger(seed, pattern, cores, deltas, axes, period, rotation, pert, arch,
                          np.zeros((0, 4)))
    xy = _spread(rng, axes, sing, period)
    n = len(xy)
    th = finger.orientation(xy[:, 0], xy[:, 1])
    # sense: lean away from the nearest core (from the centre of an arch)
    ref = cores if len(cores) else np.array([[0.0, arch[2] - 40.0]])
    near = ((xy[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    away = xy - ref[near]
    along = np.cos(th) * away[:, 0] + np.sin(th) * away[:, 1]
    lean = np.where(rng.random(n) < SENSE_LEAN, 1.0, -1.0)
    ang_img = np.where(along * lean >= 0, th, th + math.pi)
    kinds = np.where(rng.random(n) < ENDING_SHARE, KIND_ENDING, KIND_BIFURCATION)
    mins = np.column_stack([xy, np.mod(-ang_img, _TWO_PI), kinds]).astype(np.float64)
    return MasterFinger(seed, pattern, cores, deltas, axes, period, rotation, pert, arch, mins)


def _ellipse_radius(phi: np.ndarray, harm: np.ndarray) -> np.ndarray:
    """Relative radius of an irregular ellipse boundary at polar angle ``phi``."""
    r = np.ones_like(phi)
    for k, (amp, ph) in enumerate(harm, start=2):
        r += amp * np.cos(k * phi + ph)
    return r


def impression(
    master: MasterFinger,
    seed: int,
    *,
    distortion: float | None = None,
    contact: float | None = None,
    dropout: float | None = None,
    spurious: float | None = None,
    window: tuple[int, int] = WINDOW,
) -> np.ndarray:
    """One capture of ``master`` as an ``(n, 5)`` minutiae array (see the module doc).

    ``distortion`` scales the elastic skin distortion (1 = typical, 0 = none), ``contact``
    the size of the contact region (1 = typical; smaller = more partial), ``dropout`` is
    the share of minutiae missed inside the region, ``spurious`` the number of false
    minutiae per visible genuine one. ``None`` draws each from its usual spread, so the
    impressions of a gallery vary as captures do; when ``contact`` and ``dropout`` are
    both drawn, a capture with fewer than ``MIN_MINUTIAE`` minutiae is taken again (up to
    ``RECAPTURES`` times), as an enrolment quality gate would ask.
    """
    seed = _check_seed(seed, "impression seed")
    drawn = contact is None and dropout is None
    out = np.zeros((0, 5))
    for attempt in range(RECAPTURES + 1):
        # a capture with too few minutiae is refused at enrolment and taken again: so are
        # drawn impressions (the real sets hold no capture with fewer than 11)
        out = _impression(master, [master.seed, seed, 0x1A9E55, attempt][: 3 + (attempt > 0)],
                          distortion, contact, dropout, spurious, window)
        if not drawn or len(out) >= MIN_MINUTIAE:
            break
    return out


def _impression(
    master: MasterFinger,
    entropy: list[int],
    distortion: float | None,
    contact: float | None,
    dropout: float | None,
    spurious: float | None,
    window: tuple[int, int],
) -> np.ndarray:
    rng = np.random.default_rng(entropy)
    w, h = window
    if distortion is None:
        distortion = float(rng.gamma(4.0, 0.25))
    if contact is None:
        contact = float(np.clip(rng.normal(1.0, CONTACT_SPREAD), 0.7, 1.4))
    if dropout is None:
        dropout = float(np.clip(rng.normal(DROPOUT, DROPOUT_SPREAD), 0.02, 0.4))
    if spurious is None:
        spurious = float(np.clip(rng.normal(SPURIOUS, 0.05), 0.0, 0.5))
    period = master.period
    noise = float(np.exp(rng.normal(0, NOISE_SPREAD)))

    # contact region on the skin: an irregular ellipse somewhere on the fingertip
    cc = np.array([rng.normal(0, 20), rng.normal(5, 30)])
    ca = CONTACT_AXES[0] * contact * rng.normal(1, 0.06)
    cb = CONTACT_AXES[1] * contact * rng.normal(1, 0.06)
    harm = np.column_stack([rng.normal(0, 0.04, 3), rng.uniform(0, _TWO_PI, 3)])

    m = master.minutiae
    # spurious minutiae: placed on the skin so their directions follow the ridges
    n_sp = int(rng.poisson(spurious * max(len(m), 1) * 0.55))
    if n_sp:
        r = np.sqrt(rng.random(n_sp))
        phi = rng.random(n_sp) * _TWO_PI
        sx = cc[0] + ca * r * np.cos(phi)
        sy = cc[1] + cb * r * np.sin(phi)
        sth = master.orientation(sx, sy) + np.where(rng.random(n_sp) < 0.5, 0.0, math.pi)
        sth += rng.normal(0, 2 * ANGLE_NOISE, n_sp)
        sk = np.where(rng.random(n_sp) < 0.5, KIND_ENDING, KIND_BIFURCATION)
        sp = np.column_stack([sx, sy, np.mod(-sth, _TWO_PI), sk])
    else:
        sp = np.zeros((0, 4))
    genuine = np.concatenate([np.ones(len(m), bool), np.zeros(len(sp), bool)])
    allm = np.concatenate([m, sp])
    x, y = allm[:, 0], allm[:, 1]
    ang_img = -allm[:, 2]  # image convention (clockwise, y down)

    # inside the contact region? and how far from its border (px)
    dx, dy = (x - cc[0]) / ca, (y - cc[1]) / cb
    rho = np.hypot(dx, dy) / _ellipse_radius(np.arctan2(dy, dx), harm)
    border_c = (1.0 - rho) * min(ca, cb)

    # elastic distortion: skin rotation + translation, braked inside the close contact
    rot_d = rng.normal(0, DISTORTION_ROTATION * distortion)
    t_d = rng.normal(0, DISTORTION_SHIFT * distortion, 2)
    inner = rng.uniform(0.3, 0.6)

    def warp(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ddx, ddy = (px - cc[0]) / ca, (py - cc[1]) / cb
        rr = np.hypot(ddx, ddy)
        brake = 0.5 * (1 - np.cos(math.pi * np.clip((rr - inner) / (1.0 - inner), 0, 1)))
        c, s = math.cos(rot_d), math.sin(rot_d)
        qx = cc[0] + c * (px - cc[0]) - s * (py - cc[1]) + t_d[0]
        qy = cc[1] + s * (px - cc[0]) + c * (py - cc[1]) + t_d[1]
        return px + brake * (qx - px), py + brake * (qy - py)

    wx, wy = warp(x, y)
    # direction after distortion: push a point a little along the minutia direction
    ex, ey = warp(x + 3 * np.cos(ang_img), y + 3 * np.sin(ang_img))
    ang_img = np.arctan2(ey - wy, ex - wx)

    # rigid placement on the sensor: rotate about the contact centre, centre it in the window
    psi = float(np.clip(rng.normal(0, PLACEMENT_ROTATION), -3 * PLACEMENT_ROTATION,
                        3 * PLACEMENT_ROTATION))
    c, s = math.cos(psi), math.sin(psi)
    target = np.array([w / 2 + rng.normal(0, PLACEMENT_SHIFT[0]),
                       h / 2 + rng.normal(0, PLACEMENT_SHIFT[1])])
    ux = target[0] + c * (wx - cc[0]) - s * (wy - cc[1])
    uy = target[1] + s * (wx - cc[0]) + c * (wy - cc[1])
    ang_img = ang_img + psi

    border_w = np.minimum.reduce([ux, uy, w - 1 - ux, h - 1 - uy])
    border = np.minimum(border_c, border_w)
    margin = BORDER_MARGIN * period
    keep = border > margin * rng.uniform(0.8, 1.2, len(border))
    # missed minutiae: the dropout rate inside, rising towards the border
    edge = np.clip(1.0 - (border - margin) / (3 * period), 0, 1)
    p_miss = np.where(genuine, dropout + (1 - dropout) * 0.45 * edge, 0.0)
    keep &= rng.random(len(border)) >= p_miss
    n = int(keep.sum())
    ux, uy, ang_img, kinds = ux[keep], uy[keep], ang_img[keep], allm[keep, 3].copy()
    border = border[keep]

    # measurement noise
    ux = ux + rng.normal(0, POSITION_NOISE * noise, n)
    uy = uy + rng.normal(0, POSITION_NOISE * noise, n)
    ang_img = ang_img + rng.normal(0, ANGLE_NOISE * noise, n)
    ang_img = ang_img + np.where(rng.random(n) < SENSE_FLIP, math.pi, 0.0)
    flip = rng.random(n) < TYPE_FLIP
    kinds = np.where(flip, 3 - kinds, kinds)
    ux = np.clip(ux, 0, w - 1)
    uy = np.clip(uy, 0, h - 1)

    # quality as the extractor reports it: local clarity times distance to the border
    qc = np.clip(rng.beta(5.0, 1.6, n), 0, 1)
    qb = np.clip(border / (3 * period), 0, 1)
    quality = np.clip(np.round(100 * np.sqrt(qc * qb)), 1, 100)
    out = np.column_stack([ux, uy, np.mod(-ang_img, _TWO_PI), kinds, quality])
    order = np.lexsort((out[:, 0], out[:, 1]))
    return np.ascontiguousarray(out[order])


def synthetic_template(
    seed: int, impression_index: int, *, window: tuple[int, int] = WINDOW
) -> bytes:
    """Impression ``impression_index`` of master ``seed`` as an ISO/IEC 19794-2:2005
    record (500 dpi, finger position 0 = unknown)."""
    from biometrics.fingerprint.templates import build_record, encode_template

    mins = impression(master_finger(seed), impression_index, window=window)
    w, h = window
    rec = build_record(mins, width=w, height=h, dpi=500.0)
    return encode_template(rec)
