"""The dlib models the face pipeline uses, loaded once per process (issue 19 split).

Each model file's SHA-256 is checked against the pinned list
(:data:`biometrics.face.resnet.MODEL_FILES_SHA256`) before it is loaded.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from biometrics.face.resnet import _check_encoder, _ResNetEncoder, check_model_file


class _Models:
    """dlib models, loaded once per process on first use; each file's SHA-256 is
    checked against :data:`MODEL_FILES_SHA256` first."""

    def __init__(self) -> None:
        import dlib

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # face_recognition_models imports pkg_resources
            import face_recognition_models as frm

        for path in (frm.pose_predictor_model_location(),
                     frm.pose_predictor_five_point_model_location(),
                     frm.cnn_face_detector_model_location()):
            check_model_file(path)
        self.hog = dlib.get_frontal_face_detector()
        self.shape68 = dlib.shape_predictor(frm.pose_predictor_model_location())
        self.shape5 = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.encoder = _ResNetEncoder(frm.face_recognition_model_location())
        _check_encoder(self.encoder, frm.face_recognition_model_location())
        self._dlib_encoder_path: str = frm.face_recognition_model_location()
        self._dlib_encoder: Any = None
        self.dlib_encoder_lock = threading.Lock()  # held while calling it
        self._dlib_encoder_load_lock = threading.Lock()
        self._cnn_path: str = frm.cnn_face_detector_model_location()
        self._cnn: Any = None
        self.cnn_lock = threading.Lock()

    @property
    def dlib_encoder(self) -> Any:
        """dlib's own implementation of the encoder (only for ``num_jitters > 1``)."""
        with self._dlib_encoder_load_lock:
            if self._dlib_encoder is None:
                import dlib

                self._dlib_encoder = dlib.face_recognition_model_v1(self._dlib_encoder_path)
            return self._dlib_encoder

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
