"""dlib's face recognition ResNet evaluated with numpy, and the pinned model files.

Split out of :mod:`biometrics.face.pipeline` (issue 19): the evaluator and the
checksums of the weights it loads. The pipeline's model registry
(:mod:`biometrics.face.models`) builds on it.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

EMBEDDING_DIM = 128
"""Length of an encoding (the network's last layer)."""

__all__ = ["EMBEDDING_DIM", "MODEL_FILES_SHA256", "ModelIntegrityError", "check_model_file"]

# dlib's face recognition ResNet, evaluated with numpy.
#
# dlib 20 as shipped in the dlib-bin wheel is built without BLAS: its CPU convolutions
# take ~75 ms per 150x150 chip on one core. The same network evaluated here as
# im2col + numpy (OpenBLAS) matrix products takes ~15-20 ms per chip and gives the
# same encodings (max abs difference ~3e-7, checked against dlib when the weights are
# loaded), so templates made by either engine are interchangeable.

_TENSOR_MAGIC = re.compile(rb"(con_4|affine_|fc_2|relu_110|max_pool_2|avg_pool_2|add_prev_111)")
_INPUT_MEAN = np.array([122.782, 117.001, 104.298], dtype=np.float32)  # input_rgb_image_sized


class _DlibFormatError(RuntimeError):
    pass


class _ResNetEncoder:
    """``dlib_face_recognition_resnet_model_v1`` (ResNet-29, 150x150 RGB -> 128-d).

    The weights are read from dlib's serialised network file. Layers are stored from
    the input up (dlib serialises the sub-network first); tensors are raw little-endian
    float32 preceded by dlib's packed integers (version 2, then n, k, nr, nc). Topology
    (dlib's dnn_face_recognition_ex.cpp): 7x7/2 convolution, affine (frozen batch
    norm), ReLU, 3x3/2 max pool; 14 residual blocks ``conv3x3(stride) -> affine ->
    ReLU -> conv3x3 -> affine``, added to the block input (2x2/2 average-pooled in
    the down-sampling blocks; dlib adds tensors of different shapes by zero-padding),
    then ReLU; global average pool; 256x128 fully connected layer without bias.
    """

    def __init__(self, path: str) -> None:
        with open(path, "rb") as fh:
            self._buf = fh.read()
        check_model_file(path, self._buf)  # the layer walk below trusts the file's layout
        layers = self._layers()
        self._stem, self._blocks, self._fc = self._program(layers)
        del self._buf

    # -- parsing
    def _int(self, pos: int) -> tuple[int, int]:
        b = self._buf
        head = b[pos]
        n = head & 0x0F
        if n > 8 or pos + 1 + n > len(b):
            raise _DlibFormatError(f"bad packed integer at byte {pos}")
        v = int.from_bytes(b[pos + 1 : pos + 1 + n], "little")
        return (-v if head & 0x80 else v), pos + 1 + n

    def _tensor(self, pos: int, window: int) -> tuple[np.ndarray, int]:
        """First non-empty tensor (version 2, shape (n, k, 1, 1)) within ``window`` bytes,
        and the position after it."""
        b = self._buf
        start = pos
        while True:
            pos = b.find(b"\x01\x02", pos, start + window)
            if pos < 0:
                raise _DlibFormatError(f"no parameter tensor after byte {start}")
            p = pos + 2
            n, p = self._int(p)
            k, p = self._int(p)
            r, p = self._int(p)
            c, p = self._int(p)
            if n > 0 and k > 0 and r == 1 and c == 1 and p + 4 * n * k <= len(b):
                data = np.frombuffer(b, dtype="<f4", count=n * k, offset=p)
                return data.astype(np.float32), p + 4 * n * k
            pos += 1

    def _layers(self) -> list[tuple[str, Any, list[int]]]:
        out: list[tuple[str, Any, list[int]]] = []
        for m in _TENSOR_MAGIC.finditer(self._buf):
            name, pos = m.group().decode(), m.end()
            if name == "con_4":
                data, p = self._tensor(pos, 64)
                ints = []
                for _ in range(7):  # filters, nr, nc, stride y, x, padding y, x
                    v, p = self._int(p)
                    ints.append(v)
                out.append(("con", data, ints))
            elif name == "affine_":
                out.append(("affine", self._tensor(pos, 64)[0], []))
            elif name == "fc_2":
                out.append(("fc", self._tensor(pos, 600)[0], []))
            elif name in ("max_pool_2", "avg_pool_2"):
                p, ints = pos, []
                for _ in range(6):  # nr, nc, stride y, x, padding y, x
                    v, p = self._int(p)
                    ints.append(v)
                out.append((name[:3], None, ints))
            else:
                out.append((name.split("_")[0], None, []))
        return out

    @staticmethod
    def _conv(data: np.ndarray, ints: list[int], cin: int) -> tuple[Any, ...]:
        f, kh, kw, sy, sx, py, px = ints
        if sy != sx or py != px or kh != kw:
            raise _DlibFormatError(f"unsupported convolution {ints}")
        nw = f * cin * kh * kw
        if data.size != nw + f:
            raise _DlibFormatError(f"convolution {ints} on {cin} channels: {data.size} values")
        w = data[:nw].reshape(f, cin, kh, kw).transpose(2, 3, 1, 0).reshape(kh * kw * cin, f)
        return (np.ascontiguousarray(w), data[nw:].copy(), kh, sy, py)

    @staticmethod
    def _affine(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = data.size // 2
        return data[:k].copy(), data[k:].copy()

    def _program(self, lay: list[tuple[str, Any, list[int]]]) -> tuple[Any, Any, np.ndarray]:
        kinds = [x[0] for x in lay]
        try:
            if kinds[:4] != ["con", "affine", "relu", "max"] or lay[3][2] != [3, 3, 2, 2, 0, 0]:
                raise _DlibFormatError(f"unexpected stem {kinds[:4]}")
            stem = (self._conv(lay[0][1], lay[0][2], 3), self._affine(lay[1][1]))
            cin = lay[0][2][0]
            blocks = []
            i = 4
            while kinds[i] == "con":
                if kinds[i + 1 : i + 5] != ["affine", "relu", "con", "affine"]:
                    raise _DlibFormatError(f"unexpected block at layer {i}")
                f = lay[i][2][0]
                c1, a1 = self._conv(lay[i][1], lay[i][2], cin), self._affine(lay[i + 1][1])
                c2, a2 = self._conv(lay[i + 3][1], lay[i + 3][2], f), self._affine(lay[i + 4][1])
                j = i + 5
                down = kinds[j] == "avg"
                if down:
                    if lay[j][2] != [2, 2, 2, 2, 0, 0]:
                        raise _DlibFormatError(f"unexpected pooling {lay[j][2]}")
                    j += 1
                if kinds[j : j + 2] != ["add", "relu"]:
                    raise _DlibFormatError(f"unexpected block end at layer {j}")
                blocks.append((c1, a1, c2, a2, down))
                cin, i = f, j + 2
            if kinds[i:] != ["avg", "fc"] or lay[i][2][:2] != [0, 0]:
                raise _DlibFormatError(f"unexpected head {kinds[i:]}")
            fc = lay[i + 1][1].reshape(cin, EMBEDDING_DIM)
        except IndexError as exc:
            raise _DlibFormatError("truncated network") from exc
        return stem, blocks, np.ascontiguousarray(fc)

    # -- inference
    @staticmethod
    def _apply_conv(x: np.ndarray, conv: tuple[Any, ...]) -> np.ndarray:
        w, bias, k, s, p = conv
        if p:
            x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        n, _, _, c = x.shape
        win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]
        ho, wo = win.shape[1], win.shape[2]
        cols = win.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, k * k * c)
        y = cols @ w
        y += bias
        return np.asarray(y.reshape(n, ho, wo, -1))

    @staticmethod
    def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.shape == b.shape:
            a += b
            return a
        out = np.zeros(tuple(max(x, y) for x, y in zip(a.shape, b.shape, strict=True)),
                       dtype=np.float32)
        out[:, : a.shape[1], : a.shape[2], : a.shape[3]] += a
        out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
        return out

    def encode(self, chips: np.ndarray) -> np.ndarray:
        """Encodings (N x 128, float64) of ``chips`` (N x 150 x 150 x 3 uint8 RGB)."""
        x = (np.asarray(chips, dtype=np.float32) - _INPUT_MEAN) * np.float32(1.0 / 256.0)
        (conv, (g, b)) = self._stem
        x = self._apply_conv(x, conv)
        x *= g
        x += b
        np.maximum(x, 0.0, out=x)
        ho, wo = (x.shape[1] - 3) // 2 + 1, (x.shape[2] - 3) // 2 + 1
        x = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))[
            :, : 2 * ho - 1 : 2, : 2 * wo - 1 : 2].max(axis=(4, 5))
        for c1, (g1, b1), c2, (g2, b2), down in self._blocks:
            y = self._apply_conv(x, c1)
            y *= g1
            y += b1
            np.maximum(y, 0.0, out=y)
            y = self._apply_conv(y, c2)
            y *= g2
            y += b2
            if down:
                hh, ww = (x.shape[1] - 2) // 2 + 1, (x.shape[2] - 2) // 2 + 1
                x = 0.25 * (x[:, 0 : 2 * hh : 2, 0 : 2 * ww : 2]
                            + x[:, 1 : 2 * hh : 2, 0 : 2 * ww : 2]
                            + x[:, 0 : 2 * hh : 2, 1 : 2 * ww : 2]
                            + x[:, 1 : 2 * hh : 2, 1 : 2 * ww : 2])
            x = self._add(y, x)
            np.maximum(x, 0.0, out=x)
        return np.asarray(x.mean(axis=(1, 2)) @ self._fc, dtype=np.float64)


def _check_encoder(enc: _ResNetEncoder, dlib_model_path: str) -> None:
    """Compare with dlib's own implementation on a fixed pseudo-random chip."""
    import dlib

    chip = np.random.default_rng(150).integers(0, 256, (150, 150, 3), dtype=np.uint8)
    ref = np.asarray(dlib.face_recognition_model_v1(dlib_model_path)
                     .compute_face_descriptor(chip, 1), dtype=np.float64)
    got = enc.encode(chip[None])[0]
    err = float(np.abs(ref - got).max())
    if not err < 1e-4:
        raise RuntimeError(f"numpy face encoder differs from dlib's by {err:.2e}")


# SHA-256 of every model file the pipeline loads (face_recognition_models 0.3.0). The
# model id stored with each template names these weights, so a different file must not
# load silently: templates made from it would be compared with ours as if they matched.
MODEL_FILES_SHA256 = {
    "dlib_face_recognition_resnet_model_v1.dat":
        "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    "mmod_human_face_detector.dat":
        "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6",
    "shape_predictor_5_face_landmarks.dat":
        "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    "shape_predictor_68_face_landmarks.dat":
        "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
}


class ModelIntegrityError(RuntimeError):
    """A model file is not the one the stored templates were made with."""


def check_model_file(path: str, data: bytes | None = None) -> None:
    """Raise :class:`ModelIntegrityError` unless ``path`` holds the pinned weights."""
    import hashlib
    import os

    name = os.path.basename(path)
    expected = MODEL_FILES_SHA256.get(name)
    if expected is None:
        raise ModelIntegrityError(f"no pinned checksum for model file {name}")
    if data is None:
        with open(path, "rb") as fh:
            data = fh.read()
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise ModelIntegrityError(
            f"model file {name} has SHA-256 {got}, expected {expected}: reinstall "
            "face_recognition_models==0.3.0 (templates are tied to these exact weights)")
