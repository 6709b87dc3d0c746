"""Face pipeline: detect, landmark, quality gate, encode (dlib ResNet, 128-d).

Public API (stable; the database/HTTP layers build on it):

- :data:`MODEL_ID`: identifier of the encoder, stored with every template.
- :data:`THRESHOLDS`: per-model decision threshold on Euclidean distance
  (``distance <= threshold`` means "same person"), calibrated on LFW with an
  East-Asian check (see ``docs/face.md``).
- :func:`distance`, :func:`compare`: 1:1 comparison of two encodings.
- :class:`FaceAnalyzer`: ``analyse(image, purpose=...) -> FaceResult``.
- :func:`get_analyzer`: the process-wide default analyzer.
- :class:`QualityLimits`, :data:`ENROLL_LIMITS`, :data:`VERIFY_LIMITS`.

Models are loaded lazily, once per process, under a lock, from the
``face_recognition_models`` package. Detection runs on a downscaled copy of the
image (longest side at most ``detect_max_side``); boxes are mapped back to the
original image, and landmarks, quality metrics and the encoding are computed on a
full-resolution crop around the face, so the cost barely depends on photo size.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from biometrics.errors import QualityRejected

__all__ = [
    "DEFAULT_THRESHOLD",
    "ENROLL_LIMITS",
    "MODEL_ID",
    "THRESHOLDS",
    "VERIFY_LIMITS",
    "Box",
    "FaceAnalyzer",
    "FaceResult",
    "Purpose",
    "QualityLimits",
    "compare",
    "distance",
    "get_analyzer",
    "model_id_for",
]

Purpose = Literal["enroll", "verify", "evaluate"]

_MODEL_BASE = "dlib_resnet_v1@face_recognition_models-0.3.0"


def model_id_for(chip_landmarks: int, flip_average: bool) -> str:
    """Model id of an encoder configuration (the encodings of two ids are not comparable)."""
    return f"{_MODEL_BASE}+{chip_landmarks}pt" + ("-flip" if flip_average else "")


MODEL_ID = model_id_for(68, True)
"""Default encoder: dlib's ``dlib_face_recognition_resnet_model_v1`` (face_recognition_models
0.3.0) on 150x150 chips aligned with 68 landmarks, encoding = mean of the chip's and its
mirror image's encodings. Stored with every template."""

THRESHOLDS: dict[str, float] = {
    # Calibrated on lfw-dev (5 folds) + the East-Asian same-ethnicity set: the
    # East-Asian equal-error point, where no cross-ethnic LFW impostor matched.
    # See docs/face.md for the figures and the trade-off.
    MODEL_ID: 0.47,
    model_id_for(68, False): 0.50,
    model_id_for(5, False): 0.50,
}
"""Decision threshold per model id: ``distance <= THRESHOLDS[model_id]`` is a match."""

DEFAULT_THRESHOLD = THRESHOLDS[MODEL_ID]

EMBEDDING_DIM = 128


# --------------------------------------------------------------------------- compare


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two 128-d encodings (the metric the model was trained on)."""
    va = np.asarray(a, dtype=np.float64).reshape(-1)
    vb = np.asarray(b, dtype=np.float64).reshape(-1)
    if va.shape != (EMBEDDING_DIM,) or vb.shape != (EMBEDDING_DIM,):
        raise ValueError(f"encodings must have {EMBEDDING_DIM} values, got {va.shape}, {vb.shape}")
    return float(np.linalg.norm(va - vb))


def compare(
    a: np.ndarray, b: np.ndarray, threshold: float | None = None
) -> tuple[float, bool]:
    """Return ``(distance, match)``; ``match`` is ``distance <= threshold``.

    ``threshold`` defaults to ``THRESHOLDS[MODEL_ID]``. Both encodings must come from
    the same model (callers compare the stored model id first).
    """
    thr = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    d = distance(a, b)
    return d, d <= thr


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Box:
    """Face rectangle in original-image pixel coordinates (right/bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    def as_tuple(self) -> tuple[int, int, int, int]:
        """``(top, right, bottom, left)`` like face_recognition."""
        return (self.top, self.right, self.bottom, self.left)


@dataclass(frozen=True)
class FaceResult:
    """Outcome of :meth:`FaceAnalyzer.analyse`.

    ``encoding``: float64 array of shape (128,), L2 norm close to 1 (dlib's encoder
    is not explicitly normalised). ``quality``: measured metrics (``inter_eye_px``,
    ``roll_deg``, ``yaw_deg``, ``sharpness``, ``exposure_mean``, ``exposure_dark``,
    ``exposure_bright``, ``face_count``). ``detector``: which detector found the face
    (``hog``, ``hog-upsampled`` or ``cnn``). ``landmarks``: 68x2 float array in
    original-image coordinates.
    """

    encoding: np.ndarray
    box: Box
    quality: dict[str, float]
    model_id: str
    detector: str
    landmarks: np.ndarray = field(repr=False)


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


# --------------------------------------------------------------------------- models


class _Models:
    """dlib models, loaded once per process on first use."""

    def __init__(self) -> None:
        import dlib

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # face_recognition_models imports pkg_resources
            import face_recognition_models as frm

        self.hog = dlib.get_frontal_face_detector()
        self.shape68 = dlib.shape_predictor(frm.pose_predictor_model_location())
        self.shape5 = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self._cnn_path: str = frm.cnn_face_detector_model_location()
        self._cnn: Any = None
        self.cnn_lock = threading.Lock()
        # dlib's DNN keeps per-call state inside the network object: serialise use.
        self.encoder_lock = threading.Lock()

    @property
    def cnn(self) -> Any:
        with self.cnn_lock:
            if self._cnn is None:
                import dlib

                self._cnn = dlib.cnn_face_detection_model_v1(self._cnn_path)
            return self._cnn


_models: _Models | None = None
_models_lock = threading.Lock()


def _get_models() -> _Models:
    global _models
    if _models is None:
        with _models_lock:
            if _models is None:
                _models = _Models()
    return _models


# --------------------------------------------------------------------------- geometry

# 68-point indices (iBUG 300-W): jaw 0-16, nose tip 30, eyes 36-41 (subject's right,
# image left) and 42-47.
_R_EYE = slice(36, 42)
_L_EYE = slice(42, 48)
_NOSE_TIP = 30
_JAW_R = 0
_JAW_L = 16


def _landmark_geometry(pts: np.ndarray) -> dict[str, float]:
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


def _chip_quality(chip: np.ndarray) -> dict[str, float]:
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


# --------------------------------------------------------------------------- analyzer


class FaceAnalyzer:
    """Detect, check and encode one face per image.

    Parameters
    ----------
    detect_max_side:
        The detector sees a copy whose longest side is at most this many pixels.
    num_jitters:
        dlib jitters per encoding (1 = none). More jitters cost proportionally more
        encoder time for a small accuracy gain (measured in docs/face.md).
    cnn_fallback:
        Try dlib's CNN (MMOD) detector when HOG finds no face even after one upsample.
    chip_landmarks:
        Landmark model used to align the 150x150 chip fed to the encoder: 68 points
        (iBUG) or dlib's 5-point model. The 68 points are always computed for the
        quality metrics. Changing this changes the encodings (a different model id).
    enroll_limits, verify_limits:
        Quality limits applied for ``purpose="enroll"`` and ``"verify"``.

    Thread-safe: models are shared; the encoder call is serialised.
    """

    def __init__(
        self,
        *,
        detect_max_side: int = 640,
        num_jitters: int = 1,
        cnn_fallback: bool = True,
        chip_landmarks: Literal[68, 5] = 68,
        flip_average: bool = True,
        enroll_limits: QualityLimits = ENROLL_LIMITS,
        verify_limits: QualityLimits = VERIFY_LIMITS,
    ) -> None:
        if detect_max_side < 64:
            raise ValueError("detect_max_side must be at least 64")
        if num_jitters < 1:
            raise ValueError("num_jitters must be >= 1")
        self.detect_max_side = detect_max_side
        self.num_jitters = num_jitters
        self.cnn_fallback = cnn_fallback
        if chip_landmarks not in (68, 5):
            raise ValueError("chip_landmarks must be 68 or 5")
        self.chip_landmarks = chip_landmarks
        self.flip_average = flip_average
        self.enroll_limits = enroll_limits
        self.verify_limits = verify_limits
        self.model_id = model_id_for(chip_landmarks, flip_average)

    # ---------------------------------------------------------------- detection

    def detect(self, image: np.ndarray) -> tuple[list[Box], str]:
        """All faces in ``image`` (HxWx3 uint8 RGB), in original coordinates.

        Returns ``(boxes, detector_name)``; ``boxes`` is empty when nothing was found.
        """
        img = _check_image(image)
        h, w = img.shape[:2]
        scale = min(1.0, self.detect_max_side / float(max(h, w)))
        if scale < 1.0:
            small = cv2.resize(
                img, (max(1, round(w * scale)), max(1, round(h * scale))),
                interpolation=cv2.INTER_AREA,
            )
        else:
            small = img
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        m = _get_models()
        rects = list(m.hog(gray, 0))
        name = "hog"
        if not rects:
            rects = list(m.hog(gray, 1))
            name = "hog-upsampled"
        if not rects and self.cnn_fallback:
            dets = m.cnn(small, 1 if max(small.shape[:2]) <= 400 else 0)
            rects = [d.rect for d in dets]
            name = "cnn"
        boxes = []
        for r in rects:
            left = round(max(0, r.left()) / scale)
            top = round(max(0, r.top()) / scale)
            right = round(min(small.shape[1], r.right() + 1) / scale)
            bottom = round(min(small.shape[0], r.bottom() + 1) / scale)
            if right - left >= 4 and bottom - top >= 4:
                boxes.append(Box(left, top, min(w, right), min(h, bottom)))
        return boxes, name

    # ---------------------------------------------------------------- analysis

    def analyse(self, image: np.ndarray, *, purpose: Purpose) -> FaceResult:
        """Detect, check and encode the face in ``image`` (HxWx3 uint8 RGB).

        ``purpose``:

        - ``"enroll"``: exactly one face, full quality gate (:data:`ENROLL_LIMITS`);
        - ``"verify"``: at least one face, the largest is used, looser gate
          (:data:`VERIFY_LIMITS`);
        - ``"evaluate"``: the face nearest the image centre, no gate (metrics still
          reported); for benchmarks such as LFW.

        Raises :class:`biometrics.errors.QualityRejected` with ``check`` one of
        ``face-count``, ``inter-eye-distance``, ``roll``, ``yaw``, ``sharpness``,
        ``exposure`` (and ``value``/``limit``), or ``ValueError`` for a malformed array.
        """
        if purpose not in ("enroll", "verify", "evaluate"):
            raise ValueError(f"unknown purpose {purpose!r}")
        img = _check_image(image)
        boxes, detector = self.detect(img)
        if not boxes:
            raise QualityRejected(
                "no face found in the image (face count 0; exactly 1 is required)",
                check="face-count", value=0, limit=1,
            )
        if purpose == "enroll" and len(boxes) > 1:
            raise QualityRejected(
                f"{len(boxes)} faces found in the image; exactly 1 is required",
                check="face-count", value=len(boxes), limit=1,
            )
        if purpose == "evaluate":
            cx, cy = img.shape[1] / 2.0, img.shape[0] / 2.0
            box = min(boxes, key=lambda b: (b.centre[0] - cx) ** 2 + (b.centre[1] - cy) ** 2)
        else:
            box = max(boxes, key=lambda b: b.width * b.height)

        landmarks, chip = self._align(img, box)
        quality: dict[str, float] = {"face_count": float(len(boxes))}
        quality.update(_landmark_geometry(landmarks))
        quality.update(_chip_quality(chip))
        if purpose == "enroll":
            _gate(quality, self.enroll_limits)
        elif purpose == "verify":
            _gate(quality, self.verify_limits)

        m = _get_models()
        with m.encoder_lock:
            if self.flip_average:
                mirrored = np.ascontiguousarray(chip[:, ::-1])
                descs = m.encoder.compute_face_descriptor([chip, mirrored], self.num_jitters)
                enc = np.mean([np.asarray(d, dtype=np.float64) for d in descs], axis=0)
            else:
                desc = m.encoder.compute_face_descriptor(chip, self.num_jitters)
                enc = np.asarray(desc, dtype=np.float64).reshape(EMBEDDING_DIM)
        return FaceResult(
            encoding=enc, box=box, quality=quality, model_id=self.model_id,
            detector=detector, landmarks=landmarks,
        )

    def _align(self, img: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
        """68 landmarks (original coordinates) and the 150x150 aligned chip.

        Works on a full-resolution crop around the face (box plus one box size of
        margin) so large photos do not cost more than small ones.
        """
        import dlib

        h, w = img.shape[:2]
        mx, my = box.width, box.height
        x0, y0 = max(0, box.left - mx), max(0, box.top - my)
        x1, y1 = min(w, box.right + mx), min(h, box.bottom + my)
        crop = np.ascontiguousarray(img[y0:y1, x0:x1])
        # Keep the crop modest: the chip is 150 px, a face larger than ~450 px adds nothing.
        s = min(1.0, 450.0 / max(box.width, box.height))
        if s < 1.0:
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * s)),
                                     max(1, round(crop.shape[0] * s))),
                              interpolation=cv2.INTER_AREA)
        rect = dlib.rectangle(
            round((box.left - x0) * s), round((box.top - y0) * s),
            round((box.right - x0) * s) - 1, round((box.bottom - y0) * s) - 1,
        )
        m = _get_models()
        shape = m.shape68(crop, rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        chip_shape = shape if self.chip_landmarks == 68 else m.shape5(crop, rect)
        chip = np.asarray(dlib.get_face_chip(crop, chip_shape, size=150, padding=0.25))
        landmarks = pts / s + np.array([x0, y0], dtype=np.float64)
        return landmarks, chip


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise ValueError("image must be a numpy array")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be HxWx3 RGB, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.shape[0] < 16 or image.shape[1] < 16:
        raise ValueError("image is smaller than 16x16")
    return np.ascontiguousarray(image)


def _gate(q: dict[str, float], lim: QualityLimits) -> None:
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


_default: FaceAnalyzer | None = None
_default_lock = threading.Lock()


def get_analyzer() -> FaceAnalyzer:
    """The process-wide default :class:`FaceAnalyzer` (created on first call)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = FaceAnalyzer()
    return _default
