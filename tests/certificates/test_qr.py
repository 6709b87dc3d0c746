from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from certfixtures import Pki, make_claims
from PIL import Image

from certificates import qr
from certificates.credential import seal
from certificates.errors import QrError

TYPICAL = {
    "guard_name": "欧阳明华",
    "employer_name": "天津市保安服务总公司河西分公司",
    "certificate_number": "120120260000123X",
}


def test_png_roundtrip_and_version(pki: Pki) -> None:
    text = seal(make_claims(**TYPICAL), pki.ring.signer("certificate"))
    version = qr.qr_version(text)
    assert version <= 18
    png = qr.render_png(text)
    assert png.startswith(b"\x89PNG")
    assert qr.decode_image(png) == text
    with Image.open(io.BytesIO(png)) as im:
        assert im.width == (version * 4 + 17 + 8) * 4


def test_svg(pki: Pki) -> None:
    text = seal(make_claims(), pki.ring.signer("certificate"))
    svg = qr.render_svg(text)
    assert "<svg" in svg
    assert "path" in svg
    png = cv2.imencode(".png", _rasterize_svg_free(text))[1].tobytes()
    assert qr.decode_image(png) == text


def _rasterize_svg_free(text: str) -> np.ndarray:
    with Image.open(io.BytesIO(qr.render_png(text, box_size=6))) as im:
        return np.asarray(im.convert("L"))


def test_alphanumeric_mode_is_used() -> None:
    # 400 alphanumeric chars at EC level Q fit in version 15; in byte mode they need 19
    assert qr.qr_version("SG1:" + "A" * 396) <= 15


def test_camera_like_photo(pki: Pki) -> None:
    text = seal(make_claims(**TYPICAL), pki.ring.signer("certificate"))
    img = _rasterize_svg_free(text)
    h, w = img.shape
    canvas = np.full((h + 200, w + 200), 255, np.uint8)
    canvas[100 : 100 + h, 100 : 100 + w] = img
    m = cv2.getRotationMatrix2D((canvas.shape[1] / 2, canvas.shape[0] / 2), 17, 0.8)
    rot = cv2.warpAffine(canvas, m, canvas.shape[::-1], borderValue=255)
    src = np.float32([[0, 0], [rot.shape[1], 0], [rot.shape[1], rot.shape[0]], [0, rot.shape[0]]])
    dst = src + np.float32([[30, 10], [-20, 25], [-5, -30], [15, -5]])
    warped = cv2.warpPerspective(rot, cv2.getPerspectiveTransform(src, dst), rot.shape[::-1],
                                 borderValue=255)
    blurred = cv2.GaussianBlur(warped, (5, 5), 1.2)
    rng = np.random.default_rng(1)
    noisy = np.clip(blurred + rng.normal(0, 12, blurred.shape), 0, 255).astype(np.uint8)
    jpeg = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes()
    assert qr.decode_image(jpeg) == text


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50])
def test_unreadable_inputs_raise_qr_error(data: bytes) -> None:
    with pytest.raises(QrError):
        qr.decode_image(data)


def test_blank_image_raises_qr_error() -> None:
    buf = io.BytesIO()
    Image.new("L", (200, 200), 255).save(buf, "PNG")
    with pytest.raises(QrError):
        qr.decode_image(buf.getvalue())
