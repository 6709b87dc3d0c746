"""Face pipeline, quality gate, protection and evaluation on real LFW photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from biometrics.errors import QualityRejected
from biometrics.face import evaluation
from biometrics.face.pipeline import (
    DEFAULT_THRESHOLD,
    MODEL_ID,
    THRESHOLDS,
    FaceAnalyzer,
    FaceResult,
    compare,
    distance,
    get_analyzer,
)
from biometrics.face.protection import FaceVectorKey, protect, rekey, rekey_matrix, unprotect
from biometrics.imaging import decode_image

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "faces"


def load(name: str) -> np.ndarray:
    return decode_image((FIX / f"{name}.jpg").read_bytes()).pixels


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return get_analyzer()


@pytest.fixture(scope="module")
def enc(analyzer: FaceAnalyzer) -> dict[str, FaceResult]:
    names = ["Jiang_Zemin_0001", "Jiang_Zemin_0003", "Hu_Jintao_0001", "Hu_Jintao_0002",
             "Zhang_Ziyi_0001"]
    return {n: analyzer.analyse(load(n), purpose="enroll") for n in names}


# ------------------------------------------------------------------ pipeline


def test_enroll_result_shape(enc: dict[str, FaceResult]) -> None:
    r = enc["Jiang_Zemin_0001"]
    assert r.encoding.shape == (128,)
    assert r.encoding.dtype == np.float64
    assert 1.0 < float(np.linalg.norm(r.encoding)) < 1.8  # dlib's are not unit-norm
    assert r.model_id == MODEL_ID
    assert r.landmarks.shape == (68, 2)
    # LFW deep-funneled photos are 250x250 with the face in the middle.
    assert 40 < r.box.left < 125 < r.box.right < 210
    assert 40 < r.box.top < 125 < r.box.bottom < 220
    for key in ("inter_eye_px", "roll_deg", "yaw_deg", "sharpness", "exposure_mean"):
        assert key in r.quality
    assert r.quality["face_count"] == 1


def test_same_person_matches(enc: dict[str, FaceResult]) -> None:
    for a, b in [("Jiang_Zemin_0001", "Jiang_Zemin_0003"), ("Hu_Jintao_0001", "Hu_Jintao_0002")]:
        d, match = compare(enc[a].encoding, enc[b].encoding)
        assert match, (a, b, d)
        assert d < DEFAULT_THRESHOLD


def test_different_people_do_not_match(enc: dict[str, FaceResult]) -> None:
    pairs = [("Jiang_Zemin_0001", "Zhang_Ziyi_0001"), ("Jiang_Zemin_0003", "Hu_Jintao_0001"),
             ("Hu_Jintao_0002", "Zhang_Ziyi_0001")]
    for a, b in pairs:
        d, match = compare(enc[a].encoding, enc[b].encoding)
        assert not match, (a, b, d)
        assert d == pytest.approx(distance(enc[b].encoding, enc[a].encoding))


def test_threshold_table() -> None:
    assert THRESHOLDS[MODEL_ID] == DEFAULT_THRESHOLD
    assert 0.3 < DEFAULT_THRESHOLD < 0.6
    v = np.zeros(128)
    assert compare(v, v + 0.01, threshold=0.2) == (pytest.approx(0.01 * np.sqrt(128)), True)
    assert compare(v, v + 0.1, threshold=0.2)[1] is False
    with pytest.raises(ValueError):
        distance(np.zeros(127), np.zeros(128))


def test_large_photo_same_encoding(analyzer: FaceAnalyzer, enc: dict[str, FaceResult]) -> None:
    """A 1920x1080 photo (face upscaled) is detected on a downscaled copy and still
    encodes to (nearly) the same vector; the box is in original coordinates."""
    img = load("Jiang_Zemin_0001")
    big = cv2.resize(img, (1000, 1000), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((1080, 1920, 3), 90, np.uint8)
    canvas[40:1040, 460:1460] = big
    r = analyzer.analyse(canvas, purpose="enroll")
    assert 460 + 4 * 40 < r.box.left < r.box.right < 1460 - 4 * 40
    assert r.quality["inter_eye_px"] > 100
    assert distance(r.encoding, enc["Jiang_Zemin_0001"].encoding) < 0.2


def test_evaluate_picks_face_nearest_centre(analyzer: FaceAnalyzer,
                                            enc: dict[str, FaceResult]) -> None:
    left, right = load("Hu_Jintao_0001"), load("Zhang_Ziyi_0001")
    canvas = np.full((250, 900, 3), 128, np.uint8)
    canvas[:, 0:250] = left
    canvas[:, 380:630] = right  # nearer the centre (450)
    r = analyzer.analyse(canvas, purpose="evaluate")
    assert r.quality["face_count"] == 2
    assert distance(r.encoding, enc["Zhang_Ziyi_0001"].encoding) < 0.15


# ------------------------------------------------------------------ quality gate


def rejected(analyzer: FaceAnalyzer, img: np.ndarray) -> QualityRejected:
    with pytest.raises(QualityRejected) as info:
        analyzer.analyse(img, purpose="enroll")
    exc = info.value
    assert exc.code == "quality-rejected"
    assert exc.status == 422
    return exc


def test_no_face_rejected(analyzer: FaceAnalyzer) -> None:
    img = load("Jiang_Zemin_0001")
    # the top-left background corner of a real photo, enlarged: no face in it
    corner = cv2.resize(img[:60, :60], (250, 250), interpolation=cv2.INTER_CUBIC)
    exc = rejected(analyzer, corner)
    assert exc.extra["check"] == "face-count"
    assert exc.extra["value"] == 0
    assert "face" in exc.detail


def test_two_faces_rejected(analyzer: FaceAnalyzer) -> None:
    two = np.hstack([load("Jiang_Zemin_0001"), load("Zhang_Ziyi_0001")])
    exc = rejected(analyzer, two)
    assert exc.extra["check"] == "face-count"
    assert exc.extra["value"] == 2
    assert "2 faces" in exc.detail
    # verify tolerates it (uses the largest face)
    assert analyzer.analyse(two, purpose="verify").quality["face_count"] == 2


def test_tiny_face_rejected(analyzer: FaceAnalyzer) -> None:
    small = cv2.resize(load("Hu_Jintao_0001"), (140, 140), interpolation=cv2.INTER_AREA)
    img = cv2.copyMakeBorder(small, 80, 80, 80, 80, cv2.BORDER_REPLICATE)
    exc = rejected(analyzer, img)
    assert exc.extra["check"] == "inter-eye-distance"
    assert exc.extra["value"] < exc.extra["limit"]
    assert "inter-eye distance" in exc.detail


def test_blurred_rejected(analyzer: FaceAnalyzer) -> None:
    img = cv2.GaussianBlur(load("Jiang_Zemin_0001"), (0, 0), 3)
    exc = rejected(analyzer, img)
    assert exc.extra["check"] == "sharpness"
    assert exc.extra["value"] < exc.extra["limit"]


def test_dark_rejected(analyzer: FaceAnalyzer) -> None:
    img = (load("Jiang_Zemin_0003").astype(np.float32) * 0.2).astype(np.uint8)
    exc = rejected(analyzer, img)
    assert exc.extra["check"] == "exposure"
    assert exc.extra["value"] < exc.extra["limit"]
    assert "dark" in exc.detail


def test_overexposed_rejected(analyzer: FaceAnalyzer) -> None:
    img = np.clip(load("Jiang_Zemin_0001").astype(np.int32) * 3 + 60, 0, 255).astype(np.uint8)
    exc = rejected(analyzer, img)
    assert exc.extra["check"] == "exposure"


def test_roll_rejected(analyzer: FaceAnalyzer) -> None:
    img = load("Hu_Jintao_0001")
    rot = cv2.getRotationMatrix2D((125, 125), 35, 1.0)
    img = cv2.warpAffine(img, rot, (250, 250), borderMode=cv2.BORDER_REPLICATE)
    exc = rejected(analyzer, img)
    assert exc.extra["check"] == "roll"
    assert abs(exc.extra["value"]) > 20


def test_yaw_rejected(analyzer: FaceAnalyzer) -> None:
    exc = rejected(analyzer, load("Lucy_Liu_0002"))  # head turned well to one side
    assert exc.extra["check"] == "yaw"
    # the same photo is fine for a live check (looser limits)
    assert analyzer.analyse(load("Lucy_Liu_0002"), purpose="verify").encoding.shape == (128,)


def test_bad_arrays(analyzer: FaceAnalyzer) -> None:
    with pytest.raises(ValueError):
        analyzer.analyse(np.zeros((100, 100), np.uint8), purpose="enroll")
    with pytest.raises(ValueError):
        analyzer.analyse(np.zeros((100, 100, 3), np.float32), purpose="enroll")
    with pytest.raises(ValueError):
        analyzer.analyse(load("Jiang_Zemin_0001"), purpose="bogus")  # type: ignore[arg-type]


# ------------------------------------------------------------------ protection

KEY_A = b"A" * 32
KEY_B = bytes(range(32))


def test_protection_preserves_distances(enc: dict[str, FaceResult]) -> None:
    vecs = np.array([r.encoding for r in enc.values()])
    k = FaceVectorKey.from_key(KEY_A)
    p = k.protect(vecs)
    for i in range(len(vecs)):
        for j in range(len(vecs)):
            assert abs(np.linalg.norm(p[i] - p[j]) - np.linalg.norm(vecs[i] - vecs[j])) < 1e-6
        assert abs(np.linalg.norm(p[i]) - np.linalg.norm(vecs[i])) < 1e-6
    # same match decisions
    a, b = enc["Jiang_Zemin_0001"].encoding, enc["Jiang_Zemin_0003"].encoding
    assert compare(k.protect(a), k.protect(b)) == (pytest.approx(compare(a, b)[0]), True)


def test_protected_differs_from_raw_and_other_key(enc: dict[str, FaceResult]) -> None:
    v = enc["Hu_Jintao_0001"].encoding
    pa, pb = protect(v, KEY_A), protect(v, KEY_B)
    assert np.linalg.norm(pa - v) > 0.5
    assert np.linalg.norm(pa - pb) > 0.5
    # a raw encoding of the same person is no longer close to the protected one
    assert distance(pa, enc["Hu_Jintao_0002"].encoding) > DEFAULT_THRESHOLD
    assert np.allclose(unprotect(pa, KEY_A), v, atol=1e-12)
    assert np.allclose(rekey(pa, KEY_A, KEY_B), pb, atol=1e-12)
    m = rekey_matrix(KEY_A, KEY_B)
    assert np.allclose(m @ m.T, np.eye(128), atol=1e-10)


def test_key_derivation_deterministic() -> None:
    q1 = FaceVectorKey.from_key(KEY_A).matrix
    assert np.allclose(q1 @ q1.T, np.eye(128), atol=1e-12)
    from biometrics.face import protection

    q2 = protection._derive_matrix(KEY_A, 128)  # fresh derivation, not the cache
    assert np.array_equal(q1, q2)
    assert FaceVectorKey.from_key(KEY_A).key_id != FaceVectorKey.from_key(KEY_B).key_id
    with pytest.raises(ValueError):
        FaceVectorKey.from_key(b"short")
    with pytest.raises(ValueError):
        FaceVectorKey.from_key(KEY_A).protect(np.zeros(64))


# ------------------------------------------------------------------ evaluation


def test_evaluate_lfw_small(tmp_path: Path) -> None:
    """The protocol on a two-fold mini pairs file built from the fixtures."""
    images = tmp_path / "images"
    for f in FIX.glob("*.jpg"):
        person = f.stem.rsplit("_", 1)[0]
        (images / person).mkdir(parents=True, exist_ok=True)
        (images / person / f.name).write_bytes(f.read_bytes())
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "2\t1\n"
        "Jiang_Zemin\t1\t3\n"
        "Jiang_Zemin\t1\tZhang_Ziyi\t1\n"
        "Hu_Jintao\t1\t2\n"
        "Hu_Jintao\t2\tLucy_Liu\t2\n"
    )
    seen: list[int] = []
    result = evaluation.evaluate_lfw(
        pairs, images, subset_names={"Jiang_Zemin", "Hu_Jintao", "Zhang_Ziyi"},
        progress=lambda done, total: seen.append(done),
    )
    assert result["mean_accuracy"] == 1.0
    assert [f["accuracy"] for f in result["folds"]] == [1.0, 1.0]
    assert result["fte"]["failed"] == 0
    assert result["overall"]["genuine"] == 2
    assert result["same_ethnicity"]["genuine"] == 2  # one pair per two-image identity
    assert result["same_ethnicity"]["impostor"] == 2 * 2 + 2 + 2  # J-H, J-Z, H-Z
    assert seen[-1] == 6
    text = evaluation.format_report(result)
    assert "Mean accuracy: 100.00%" in text
    assert "Same-ethnicity set" in text


def test_read_pairs_rejects_bad_file(tmp_path: Path) -> None:
    p = tmp_path / "pairs.txt"
    p.write_text("1\t2\nA\t1\t2\n")
    with pytest.raises(ValueError):
        evaluation.read_pairs(p)


def test_model_files_are_checked_against_their_pinned_sha256(tmp_path: Path) -> None:
    """The model id stored with templates names exact weights: another file must not load."""
    import face_recognition_models as frm

    from biometrics.face.resnet import ModelIntegrityError, _ResNetEncoder, check_model_file

    real = Path(frm.face_recognition_model_location())
    check_model_file(str(real))  # the installed weights pass
    tampered = tmp_path / real.name
    data = bytearray(real.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight
    tampered.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        _ResNetEncoder(str(tampered))
    unknown = tmp_path / "some_other_model.dat"
    unknown.write_bytes(b"x")
    with pytest.raises(ModelIntegrityError, match="no pinned checksum"):
        check_model_file(str(unknown))
