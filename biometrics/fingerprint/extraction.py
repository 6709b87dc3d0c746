"""Minutiae extraction from a grayscale fingerprint image.

Pipeline (everything at 500 dpi; other resolutions are resampled first):

1. block-wise normalisation and foreground segmentation (local contrast),
2. orientation field from smoothed gradient structure tensors, with coherence,
3. ridge period from the spectrum of image blocks (median over the foreground),
4. enhancement with a bank of oriented Gabor filters (16 orientations, one period),
   each pixel taking the response of the filter matching its local orientation; done
   twice, the second time along the orientation field of the first enhanced image,
5. binarisation (sign of the enhanced image) and vectorised Zhang-Suen thinning,
6. minutiae from the crossing number (endings: 1, bifurcations: 3),
7. removal of spurious minutiae: near the foreground border, short ridges, spurs,
   bridges, noise clusters and broken ridges (two endings facing each other),
8. direction from the local ridge orientation, oriented using the skeleton pixels
   around the minutia, and a 0-100 quality from the local orientation coherence.

No Python loop runs over pixels: loops are over filters, thinning passes, or minutiae.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import cv2
import numpy as np

from biometrics.fingerprint import tuning

TARGET_DPI = 500.0
BLOCK = 16
KIND_OTHER = 0
KIND_ENDING = 1
KIND_BIFURCATION = 2

# Tuning (in ridge periods unless stated); chosen on FVC2002 DB1_B..DB4_B.
BORDER_MARGIN = 1.6  # minutiae closer than this to the foreground border are dropped
CLUSTER_DISTANCE = 0.75  # minutiae closer than this to another one are both dropped
SPUR_LENGTH = 1.2  # an ending on a segment shorter than this is a spur
SHORT_RIDGE = 2.2  # a segment with two endings shorter than this is noise
GABOR_SX = 0.45  # Gabor envelope across / along the ridges (in periods)
GABOR_SY = 0.4
ORIENT_SIGMA = 7.0  # gradient tensor smoothing (pixels)
ORIENT_SMOOTH = 2.0  # extra smoothing of the doubled-angle field (pixels)
BROKEN_GAP = 2.0  # two endings facing each other closer than this: a broken ridge
BROKEN_COS = 0.8  # cosine tolerance of 'facing' (about 37 degrees)
FIT_MIN = 0.05  # share of the local energy the oriented filters must explain (mask)
# (0.05 chosen by leave-one-set-out on 2026-12-01: 3 of 4 folds and all four sets)

# parameters that evaluation/tuning may override temporarily (see :func:`parameters`)
TUNABLE = ("BORDER_MARGIN", "CLUSTER_DISTANCE", "SPUR_LENGTH", "SHORT_RIDGE", "GABOR_SX",
           "GABOR_SY", "ORIENT_SIGMA", "ORIENT_SMOOTH", "BROKEN_GAP", "FIT_MIN")


def current_parameters() -> dict[str, float]:
    """The tunable extraction parameters in force (name -> value)."""
    return tuning.current(globals(), TUNABLE)


@contextmanager
def parameters(**overrides: float) -> Iterator[dict[str, float]]:
    """Temporarily override tunable extraction parameters (evaluation and tuning only:
    process-wide, not thread-safe)."""
    with tuning.override(globals(), TUNABLE, overrides) as now:
        yield now


@dataclass
class ExtractionResult:
    """Minutiae (``n x 5``: x, y, theta[rad, counter-clockwise, y down], kind, quality)
    in the coordinates of the 500 dpi working image, plus the maps quality needs."""

    minutiae: np.ndarray
    width: int
    height: int
    mask: np.ndarray
    coherence: np.ndarray
    orientation: np.ndarray
    ridge_period: float
    scale: float  # working pixels per input pixel
    stats: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _resample(img: np.ndarray, dpi: float) -> tuple[np.ndarray, float]:
    if abs(dpi - TARGET_DPI) < 5:
        return img, 1.0
    s = TARGET_DPI / dpi
    h, w = img.shape
    out = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                     interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    return out, s


def _segment(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Foreground mask from local standard deviation; also the locally normalised image."""
    f = img.astype(np.float32)
    mean = cv2.blur(f, (BLOCK, BLOCK))
    sq = cv2.blur(f * f, (BLOCK, BLOCK))
    std = np.sqrt(np.maximum(sq - mean * mean, 0))
    # normalised image (zero mean, unit local contrast) for later stages
    norm = (f - cv2.GaussianBlur(f, (0, 0), 8)) / (cv2.GaussianBlur(std, (0, 0), 8) + 8.0)
    # foreground: local contrast above 10% of the strongest, and above an absolute floor
    # of 6 grey levels, except on low-contrast sensors (strong contrast < 20 grey
    # levels) where the floor follows the image: 30% of the strong contrast, but at least
    # 1.2 x the background noise (5th percentile)
    p5, p95 = (float(v) for v in np.percentile(std, [5, 95]))
    thr = max(0.1 * p95, min(6.0, max(0.3 * p95, 1.2 * p5)))
    # local variance alone lets smooth smudges through; gradient energy helps too
    mask = (cv2.GaussianBlur(std, (0, 0), 6) > thr).astype(np.uint8)
    return _clean_mask(mask, 15), norm


def _clean_mask(mask: np.ndarray, ksize: int) -> np.ndarray:
    """Close/open, keep the largest component and fill its holes."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (ksize, ksize))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, k)
    n, lab, st, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n > 1:
        big = 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))
        mask = (lab == big).astype(np.uint8)
    # fill holes: background components that do not touch the image border
    inv = np.pad(1 - mask, 1, constant_values=1).astype(np.uint8)
    n, lab = cv2.connectedComponents(inv, connectivity=4)
    outside = lab[1:-1, 1:-1] == lab[0, 0]
    return np.where(outside, 0, 1).astype(np.uint8)


def _filter_fit(norm: np.ndarray, enh: np.ndarray) -> np.ndarray:
    """Share of the local signal energy that the oriented filters explain."""
    num = cv2.GaussianBlur(enh * enh, (0, 0), 8)
    return np.asarray(num / (cv2.GaussianBlur(norm * norm, (0, 0), 8) + 1e-3), np.float32)


def _refine_mask(mask: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Keep the area where the oriented filters explain a good part of the signal."""
    refined = (mask > 0) & (ratio > FIT_MIN)
    out = _clean_mask(refined.astype(np.uint8), 21)
    return out if out.sum() > 0.2 * max(int(mask.sum()), 1) else mask


def _orientation(norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge orientation (radians in [0, pi), image coordinates) and coherence in [0, 1]."""
    gx = cv2.Sobel(norm, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(norm, cv2.CV_32F, 0, 1, ksize=3)
    sigma = ORIENT_SIGMA
    gxx = cv2.GaussianBlur(gx * gx, (0, 0), sigma)
    gyy = cv2.GaussianBlur(gy * gy, (0, 0), sigma)
    gxy = cv2.GaussianBlur(gx * gy, (0, 0), sigma)
    a = gxx - gyy
    b = 2 * gxy
    coh = np.sqrt(a * a + b * b) / (gxx + gyy + 1e-6)
    # gradient direction doubled; smooth the doubled-angle vector field further
    c = cv2.GaussianBlur(a, (0, 0), ORIENT_SMOOTH)
    s = cv2.GaussianBlur(b, (0, 0), ORIENT_SMOOTH)
    theta = 0.5 * np.arctan2(s, c) + np.pi / 2  # ridge direction is normal to gradient
    theta = np.mod(theta, np.pi)
    return theta.astype(np.float32), np.clip(coh, 0, 1).astype(np.float32)


def _ridge_period(norm: np.ndarray, mask: np.ndarray) -> float:
    """Median ridge period (pixels) from the spectra of 32x32 foreground blocks."""
    bs = 32
    h, w = norm.shape
    hb, wb = h // bs, w // bs
    if hb == 0 or wb == 0:
        return 9.0
    blocks = norm[: hb * bs, : wb * bs].reshape(hb, bs, wb, bs).swapaxes(1, 2)
    mblk = mask[: hb * bs, : wb * bs].reshape(hb, bs, wb, bs).swapaxes(1, 2).mean(axis=(2, 3))
    sel = blocks[mblk > 0.9]
    if len(sel) == 0:
        return 9.0
    win = np.outer(np.hanning(bs), np.hanning(bs)).astype(np.float32)
    spec = np.abs(np.fft.fft2(sel * win))
    fy = np.fft.fftfreq(bs)[:, None]
    fx = np.fft.fftfreq(bs)[None, :]
    rad = np.sqrt(fx * fx + fy * fy)
    band = (rad >= 1 / 16) & (rad <= 1 / 4.5)
    spec = np.where(band[None], spec, 0)
    idx = spec.reshape(len(sel), -1).argmax(axis=1)
    periods = 1.0 / rad.reshape(-1)[idx]
    return float(np.clip(np.median(periods), 6.0, 13.0))


_GABOR_CACHE: dict[tuple[int, int, float, float], list[np.ndarray]] = {}


def _gabor_bank(period: float, n_orient: int = 16) -> list[np.ndarray]:
    key = (round(period * 4), n_orient, GABOR_SX, GABOR_SY)
    bank = _GABOR_CACHE.get(key)
    if bank is not None:
        return bank
    p = key[0] / 4.0
    sx = GABOR_SX * p  # across ridges
    sy = GABOR_SY * p  # along ridges
    half = math.ceil(3 * max(sx, sy))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    bank = []
    for i in range(n_orient):
        t = i * np.pi / n_orient  # ridge direction
        # coordinate across the ridge (along the gradient)
        u = -xx * math.sin(t) + yy * math.cos(t)
        v = xx * math.cos(t) + yy * math.sin(t)
        g = np.exp(-0.5 * (u * u / (sx * sx) + v * v / (sy * sy))) * np.cos(2 * np.pi * u / p)
        g -= g.mean()
        g /= np.abs(g).sum()
        bank.append(g.astype(np.float32))
    _GABOR_CACHE[key] = bank
    return bank


def _enhance(norm: np.ndarray, theta: np.ndarray, period: float) -> np.ndarray:
    bank = _gabor_bank(period)
    n = len(bank)
    pos = theta * (n / np.pi)
    i0 = np.floor(pos).astype(np.int32) % n
    frac = (pos - np.floor(pos)).astype(np.float32)
    i1 = (i0 + 1) % n
    out = np.zeros_like(norm)
    for i, k in enumerate(bank):
        r = cv2.filter2D(norm, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT)
        w = np.where(i0 == i, 1 - frac, 0) + np.where(i1 == i, frac, 0)
        out += r * w
    return out


# Zhang-Suen thinning via neighbourhood codes and lookup tables.
# Neighbour bit order: P2 (N)=1, P3 (NE)=2, P4 (E)=4, P5 (SE)=8, P6 (S)=16, P7 (SW)=32,
# P8 (W)=64, P9 (NW)=128.
_NB_KERNEL = np.array([[128, 1, 2], [64, 0, 4], [32, 16, 8]], dtype=np.float32)


def _build_luts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = np.arange(256)
    bits = (codes[:, None] >> np.arange(8)[None, :]) & 1  # P2..P9
    b = bits.sum(axis=1)
    nxt = np.roll(bits, -1, axis=1)
    a = ((bits == 0) & (nxt == 1)).sum(axis=1)
    p2, p4, p6, p8 = bits[:, 0], bits[:, 2], bits[:, 4], bits[:, 6]
    base = (b >= 2) & (b <= 6) & (a == 1)
    lut1 = base & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    lut2 = base & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    # crossing number: half the number of 0/1 transitions around the ring
    cn = (np.abs(bits - nxt).sum(axis=1) // 2).astype(np.uint8)
    return lut1.astype(np.uint8), lut2.astype(np.uint8), cn


_LUT1, _LUT2, _CN = _build_luts()


def _neighbour_code(img: np.ndarray) -> np.ndarray:
    return cv2.filter2D(img, cv2.CV_32F, _NB_KERNEL, borderType=cv2.BORDER_CONSTANT).astype(
        np.uint8
    )


def thin(binary: np.ndarray, max_iter: int = 40) -> np.ndarray:
    """Zhang-Suen thinning of a 0/1 uint8 image (vectorised; loops over passes only)."""
    img = (binary > 0).astype(np.uint8)
    for _ in range(max_iter):
        changed = False
        for lut in (_LUT1, _LUT2):
            code = _neighbour_code(img)
            rm = (img == 1) & (lut[code] == 1)
            if rm.any():
                img[rm] = 0
                changed = True
        if not changed:
            break
    # remove staircase corners so that crossing numbers are clean
    code = _neighbour_code(img)
    bits = (code[..., None] >> np.arange(8, dtype=np.uint8)) & 1
    n, e, s, w = bits[..., 0], bits[..., 2], bits[..., 4], bits[..., 6]
    ne, se, sw, nw = bits[..., 1], bits[..., 3], bits[..., 5], bits[..., 7]
    corner = ((n & e & (1 - sw)) | (e & s & (1 - nw)) | (s & w & (1 - ne)) | (w & n & (1 - se)))
    stair = (img == 1) & (corner == 1) & (_CN[code] == 1)
    # only drop when removal keeps connectivity (crossing number 1 means a simple point)
    img[stair & (bits.sum(axis=-1) == 2)] = 0
    return img


# --------------------------------------------------------------------------- minutiae


def _detect(skel: np.ndarray, mask_dist: np.ndarray, period: float) -> tuple[np.ndarray, ...]:
    code = _neighbour_code(skel)
    cn = _CN[code]
    nb = np.unpackbits(code[..., None], axis=-1).sum(axis=-1)
    on = skel == 1
    end = on & (cn == 1) & (nb <= 2)
    bif = on & (cn >= 3)
    # one pixel per bifurcation: drop a candidate whose earlier raster neighbour is one too
    prev = np.array([[1, 1, 1], [1, 0, 0], [0, 0, 0]], np.float32)
    earlier = cv2.filter2D(bif.astype(np.float32), -1, prev, borderType=cv2.BORDER_CONSTANT)
    bif &= earlier < 0.5
    margin = max(BORDER_MARGIN * period, 8.0)
    end &= mask_dist > margin
    bif &= mask_dist > margin
    ey, ex = np.nonzero(end)
    by, bx = np.nonzero(bif)
    return ex, ey, bx, by


def _segments(skel: np.ndarray, bx: np.ndarray, by: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label skeleton segments (skeleton with bifurcation 3x3 neighbourhoods removed)."""
    cut = skel.copy()
    h, w = cut.shape
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            yy = np.clip(by + dy, 0, h - 1)
            xx = np.clip(bx + dx, 0, w - 1)
            cut[yy, xx] = 0
    n, lab = cv2.connectedComponents(cut, connectivity=8)
    size = np.bincount(lab.ravel(), minlength=n)
    size[0] = 0
    return lab, size


def extract(
    image: np.ndarray, dpi: float = TARGET_DPI, *, max_minutiae: int = 120
) -> ExtractionResult:
    """Extract minutiae from a grayscale uint8 image captured at ``dpi``."""
    if image.ndim != 2:
        raise ValueError("extract() needs a 2-D grayscale image")
    img = image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)
    img, scale = _resample(img, float(dpi))
    h, w = img.shape
    mask, norm = _segment(img)
    theta, coh = _orientation(norm)
    period = _ridge_period(norm, mask)
    enh = _enhance(norm, theta, period)
    # second pass: the orientation of the enhanced image is cleaner where the ridges are
    # noisy, broken or smudged; enhance the normalised image again along it
    theta, _coh2 = _orientation(enh)
    enh = _enhance(norm, theta, period)
    fit = _filter_fit(norm, enh)
    mask = _refine_mask(mask, fit)
    # ridges are dark: the Gabor response is negative on ridges
    ridges = ((enh < 0) & (mask > 0)).astype(np.uint8)
    binary = cv2.morphologyEx(ridges, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    skel = thin(binary)
    mask_dist = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    ex, ey, bx, by = _detect(skel, mask_dist, period)
    lab, seg_size = _segments(skel, bx, by)

    # --- short ridges and spurs: an ending on a short segment
    short = SPUR_LENGTH * period
    e_seg = lab[ey, ex]
    e_len = seg_size[e_seg]
    # segment end counts: how many endings per segment
    ends_per_seg = np.bincount(e_seg, minlength=len(seg_size))
    keep_e = ~((e_len < short) | ((ends_per_seg[e_seg] == 2) & (e_len < SHORT_RIDGE * period)))
    # bifurcations touching a spur: their neighbourhoods include a short ending segment
    spur_segs = np.zeros(len(seg_size), bool)
    spur_segs[e_seg[(e_len < short) & (ends_per_seg[e_seg] == 1)]] = True
    spur_segs[0] = False
    keep_b = np.ones(len(bx), bool)
    if len(bx):
        ring = np.zeros((len(bx), 5, 5), np.int32)
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                yy_ = np.clip(by + dy, 0, h - 1)
                ring[:, dy + 2, dx + 2] = lab[yy_, np.clip(bx + dx, 0, w - 1)]
        keep_b = np.asarray(~spur_segs[ring.reshape(len(bx), -1)].any(axis=1), dtype=bool)

    xs = np.concatenate([ex[keep_e], bx[keep_b]]).astype(np.float64)
    ys = np.concatenate([ey[keep_e], by[keep_b]]).astype(np.float64)
    kinds = np.concatenate(
        [np.full(int(keep_e.sum()), KIND_ENDING), np.full(int(keep_b.sum()), KIND_BIFURCATION)]
    )

    # --- clusters: minutiae too close to each other are broken ridges / bridges / noise
    if len(xs) > 1:
        d = np.hypot(xs[:, None] - xs[None, :], ys[:, None] - ys[None, :])
        np.fill_diagonal(d, np.inf)
        close = d < CLUSTER_DISTANCE * period
        keep = np.asarray(~close.any(axis=1), dtype=bool)
        xs, ys, kinds = xs[keep], ys[keep], kinds[keep]

    # --- directions
    xi = xs.astype(np.int32)
    yi = ys.astype(np.int32)
    t = theta[yi, xi].astype(np.float64)  # ridge direction mod pi (image coords, y down)
    _comp_n, comp = cv2.connectedComponents(skel, connectivity=8)
    r = round(1.1 * period)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = (xx * xx + yy * yy) <= r * r
    oy = yy[disk]
    ox = xx[disk]
    py = np.clip(yi[:, None] + oy[None, :], 0, h - 1)
    px = np.clip(xi[:, None] + ox[None, :], 0, w - 1)
    same = comp[py, px] == comp[yi, xi][:, None]
    cx = (same * ox[None, :]).sum(axis=1) / np.maximum(same.sum(axis=1), 1)
    cy = (same * oy[None, :]).sum(axis=1) / np.maximum(same.sum(axis=1), 1)
    dxv = np.cos(t)
    dyv = np.sin(t)
    dot = dxv * cx + dyv * cy
    # ISO 19794-2 convention (agrees with a commercial extractor on FVC2002): an ending
    # points back along its ridge, a bifurcation points into its fork (the valley
    # ending there), so a minutia keeps its direction when ending/bifurcation flips.
    flip = dot < 0
    ang_img = np.where(flip, t + np.pi, t)
    # ISO convention: counter-clockwise with y pointing down
    angle = np.mod(-ang_img, 2 * np.pi)

    # --- broken ridges: two endings facing each other across a short gap
    if BROKEN_GAP > 0 and len(xs) > 1:
        ends = kinds == KIND_ENDING
        gx = xs[None, :] - xs[:, None]
        gy = ys[None, :] - ys[:, None]
        gd = np.hypot(gx, gy) + 1e-9
        ux, uy = np.cos(ang_img), np.sin(ang_img)
        # an ending points back along its ridge: away from the other end of the gap
        away = (ux[:, None] * gx + uy[:, None] * gy) / gd  # (i, j): i's direction . i->j
        facing = (away < -BROKEN_COS) & (away.T < -BROKEN_COS)
        pair = facing & (gd < BROKEN_GAP * period) & ends[:, None] & ends[None, :]
        np.fill_diagonal(pair, False)
        keep = ~pair.any(axis=1)
        xs, ys, kinds, yi, xi = xs[keep], ys[keep], kinds[keep], yi[keep], xi[keep]
        angle, ang_img = angle[keep], ang_img[keep]

    # --- quality from local coherence and distance to the mask border
    qc = np.clip((coh[yi, xi] - 0.2) / 0.6, 0, 1)
    qb = np.clip(mask_dist[yi, xi] / (3 * period), 0, 1)
    quality = np.round(100 * np.sqrt(qc * qb)).clip(1, 100)

    m = np.stack([xs, ys, angle, kinds.astype(np.float64), quality], axis=1).reshape(-1, 5)
    if len(m) > max_minutiae:
        m = m[np.argsort(-m[:, 4], kind="stable")[:max_minutiae]]
    stats = {
        "foreground": float(mask.mean()),
        "coherence": float(coh[mask > 0].mean()) if mask.any() else 0.0,
        "contrast": float(np.std(img[mask > 0])) if mask.any() else 0.0,
        "period": period,
        "filter_fit": float(fit[mask > 0].mean()) if mask.any() else 0.0,
        "minutiae": float(len(m)),
    }
    return ExtractionResult(
        minutiae=m, width=w, height=h, mask=mask, coherence=coh, orientation=theta,
        ridge_period=period, scale=scale, stats=stats,
    )


# Capture geometries whose resolution is known but not declared in the files
# (FVC2002 DB2: Biometrika FX2000, 569 dpi).
KNOWN_SENSOR_DPI: dict[tuple[int, int], float] = {(296, 560): 569.0}


def image_dpi(width: int, height: int, declared: tuple[float, float] | None) -> float:
    """Resolution to assume: the declared one, a known sensor geometry, else 500 dpi."""
    if declared and declared[0] and declared[0] > 50:
        return float(declared[0])
    return KNOWN_SENSOR_DPI.get((width, height), TARGET_DPI)


def extract_from_bytes(data: bytes, dpi: float | None = None) -> ExtractionResult:
    """Decode an uploaded image (any format ``biometrics.imaging`` accepts) and extract."""
    from biometrics.imaging import decode_image

    img = decode_image(data, mode="L")
    use = dpi if dpi else image_dpi(img.width, img.height, img.dpi)
    return extract(img.pixels, use)
