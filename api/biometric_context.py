"""Biometric keys and pipelines built from settings, once per process."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import UploadFile

from biometrics.errors import ImageRejected, ImageTooLarge
from biometrics.face.pipeline import FaceAnalyzer
from biometrics.face.protection import FaceVectorKey
from biometrics.sealing import Sealer
from registry.settings import Settings


@functools.lru_cache(maxsize=1)
def face_analyzer() -> FaceAnalyzer:
    """The request-path analyser: HOG only. dlib's CNN detector (used by the LFW
    evaluation to lower failure-to-enroll) costs about 350 MB and 0.4 s per image; an
    enrollment photo in which HOG finds no face is refused as a capture problem."""
    return FaceAnalyzer(cnn_fallback=False)


@functools.lru_cache(maxsize=4)
def biometric_keys(secret: str, cipher: str) -> tuple[Sealer, FaceVectorKey]:
    """The at-rest cipher and the face-vector transform of one biometric secret."""
    settings = Settings(biometric_secret=secret, biometric_cipher=cipher)  # type: ignore[arg-type]
    return (Sealer.from_settings(settings),
            FaceVectorKey.from_key(settings.derive_key("biometric_secret", "face-transform-v1")))


def _of(settings: Settings) -> tuple[Sealer, FaceVectorKey]:
    return biometric_keys(settings.biometric_secret.get_secret_value(), settings.biometric_cipher)


def sealer(settings: Settings) -> Sealer:
    """The at-rest cipher for this secret, derived once per process (not per request)."""
    return _of(settings)[0]


def vector_key(settings: Settings) -> FaceVectorKey:
    """The secret orthogonal transform for face vectors, derived once per process."""
    return _of(settings)[1]


def read_upload(upload: UploadFile | Any, *, max_bytes: int, field: str) -> bytes:
    """Read an uploaded file with a hard cap (the body cap guards the request as a whole)."""
    if upload is None or not hasattr(upload, "file"):
        raise ImageRejected(f"the {field} file is missing", reason="missing", field=field)
    data: bytes = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLarge(f"the {field} file is over {max_bytes} bytes", reason="too-many-bytes",
                            field=field)
    return data
