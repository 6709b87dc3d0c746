"""The image tasks that run in the work pool (api/workpool.py), one per upload kind.

Each takes the uploaded bytes and the limits, decodes inside the worker (decoding is
image work too) and returns a small picklable result. They are module-level functions
so that a worker process can import them by name.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np


@dataclass(frozen=True)
class FaceWork:
    result: Any  # biometrics.face.pipeline.FaceResult
    pixels: np.ndarray | None  # the decoded RGB image, when the caller stores a photo


def warm() -> None:
    """Load the face models once per worker, outside any task's budget. OpenCV runs
    single-threaded here: the pool is the parallelism, and the budget counts the CPU
    time of every thread."""
    import cv2

    cv2.setNumThreads(1)
    from api.biometric_context import face_analyzer
    from biometrics.errors import QualityRejected

    # No face in a blank image: the models are loaded, which is the point.
    with contextlib.suppress(QualityRejected):
        face_analyzer().analyse(np.zeros((64, 64, 3), dtype=np.uint8), purpose="evaluate")
    import zxingcpp  # noqa: F401  # the QR decoder's shared library


def analyse_face(data: bytes, *, purpose: Literal["enroll", "verify"], max_bytes: int,
                 max_pixels: int, keep_pixels: bool) -> FaceWork:
    from api.biometric_context import face_analyzer
    from biometrics.imaging import decode_image

    image = decode_image(data, mode="RGB", max_bytes=max_bytes, max_pixels=max_pixels)
    result = face_analyzer().analyse(image.pixels, purpose=purpose)
    return FaceWork(result=result, pixels=image.pixels if keep_pixels else None)


def capture_finger(data: bytes, *, dpi: float | None, purpose: str, position: int,
                   max_bytes: int, max_pixels: int) -> Any:
    from biometrics import finger_capture

    return finger_capture.from_image(data, dpi=dpi, purpose=purpose, position=position,
                                     max_bytes=max_bytes, max_pixels=max_pixels)


def read_qr(data: bytes, *, max_bytes: int, max_pixels: int) -> str:
    from certificates import qr

    return qr.decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
