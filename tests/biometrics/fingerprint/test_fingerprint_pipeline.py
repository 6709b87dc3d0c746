"""Extraction, quality, matching and 1:N search on real FVC2002 images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from biometrics.errors import QualityRejected, TemplateRejected
from biometrics.fingerprint import matcher, templates
from biometrics.fingerprint.evaluation import (
    error_rates,
    evaluate_folder,
    evaluate_templates,
    format_report,
)
from biometrics.fingerprint.extraction import ExtractionResult, extract, extract_from_bytes, thin
from biometrics.fingerprint.index import FingerprintIndex
from biometrics.fingerprint.quality import assess, assess_image, check_quality

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "fingerprints"
NAMES = ["101_1", "101_2", "101_3", "102_1", "103_1", "104_1"]


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return {n: cv2.imread(str(FIX / f"db1_{n}.png"), cv2.IMREAD_GRAYSCALE) for n in NAMES}


@pytest.fixture(scope="module")
def extracted(images: dict[str, np.ndarray]) -> dict[str, ExtractionResult]:
    return {n: extract(img, 500.0) for n, img in images.items()}


@pytest.fixture(scope="module")
def prepared(extracted: dict[str, ExtractionResult]) -> dict[str, matcher.PreparedTemplate]:
    return {n: matcher.prepare(r) for n, r in extracted.items()}


def test_extraction_finds_plausible_minutiae(extracted: dict[str, ExtractionResult]) -> None:
    for name, r in extracted.items():
        m = r.minutiae
        assert 15 <= len(m) <= 120, name
        assert set(np.unique(m[:, 3])) <= {1.0, 2.0}
        assert (m[:, 0] >= 0).all() and (m[:, 0] < r.width).all()
        assert (m[:, 1] >= 0).all() and (m[:, 1] < r.height).all()
        assert ((m[:, 2] >= 0) & (m[:, 2] < 2 * np.pi)).all()
        assert ((m[:, 4] >= 1) & (m[:, 4] <= 100)).all()
        # every minutia lies inside the foreground
        assert r.mask[m[:, 1].astype(int), m[:, 0].astype(int)].all()
        assert 6 <= r.ridge_period <= 13


def test_extract_from_bytes_and_resampling(images: dict[str, np.ndarray]) -> None:
    data = (FIX / "db1_101_1.png").read_bytes()
    r = extract_from_bytes(data)
    assert r.scale == 1.0 and len(r.minutiae) > 15
    # the same finger scanned at 569 dpi (larger image) is resampled back to 500 dpi
    big = cv2.resize(images["101_1"], None, fx=569 / 500, fy=569 / 500,
                     interpolation=cv2.INTER_CUBIC)
    r2 = extract(big, 569.0)
    assert abs(r2.width - r.width) <= 2 and abs(r2.height - r.height) <= 2
    a, b = matcher.prepare(r), matcher.prepare(r2)
    assert matcher.match(a, b) >= matcher.THRESHOLD_FMR_001


def test_thinning_gives_one_pixel_lines() -> None:
    img = np.zeros((40, 60), np.uint8)
    img[15:22, 5:55] = 1  # a 7-pixel thick bar
    sk = thin(img)
    assert sk.sum() > 30
    assert sk[:, 10:50].sum(axis=0).max() == 1  # one pixel thick
    assert sk[15:22].sum() == sk.sum()


def test_same_finger_matches(prepared: dict[str, matcher.PreparedTemplate]) -> None:
    for other in ("101_2", "101_3"):
        assert matcher.match(prepared["101_1"], prepared[other]) >= matcher.THRESHOLD_FMR_01


def test_different_fingers_do_not_match(prepared: dict[str, matcher.PreparedTemplate]) -> None:
    firsts = ["101_1", "102_1", "103_1", "104_1"]
    for i, a in enumerate(firsts):
        for b in firsts[i + 1 :]:
            assert matcher.match(prepared[a], prepared[b]) < matcher.THRESHOLD_FMR_01, (a, b)


def test_self_match_and_symmetry(prepared: dict[str, matcher.PreparedTemplate]) -> None:
    p = prepared["101_1"]
    assert matcher.match(p, p) > 0.9
    ab = matcher.match(prepared["101_1"], prepared["101_2"])
    ba = matcher.match(prepared["101_2"], prepared["101_1"])
    assert abs(ab - ba) < 0.1


def test_rotated_and_translated_image_still_matches(
    images: dict[str, np.ndarray], prepared: dict[str, matcher.PreparedTemplate]
) -> None:
    img = images["101_2"]
    h, w = img.shape
    pad = cv2.copyMakeBorder(img, 60, 60, 60, 60, cv2.BORDER_CONSTANT, value=255)
    rot = cv2.getRotationMatrix2D((w / 2 + 60, h / 2 + 60), 30, 1.0)
    rot[:, 2] += (25, -15)
    moved = cv2.warpAffine(pad, rot, (w + 120, h + 120), flags=cv2.INTER_LINEAR,
                           borderValue=255)
    probe = matcher.prepare(extract(moved, 500.0))
    assert matcher.match(probe, prepared["101_1"]) >= matcher.THRESHOLD_FMR_01
    assert matcher.match(probe, prepared["102_1"]) < matcher.THRESHOLD_FMR_01


def test_match_many_agrees_with_match(prepared: dict[str, matcher.PreparedTemplate]) -> None:
    probe = prepared["101_1"]
    cands = [prepared[n] for n in NAMES]
    many = matcher.match_many(probe, cands)
    single = np.array([matcher.match(probe, c) for c in cands])
    np.testing.assert_allclose(many, single, atol=1e-3)
    assert int(np.argmax(many[1:])) + 1 in (1, 2)  # best non-self is another 101


@pytest.mark.parametrize(
    "image",
    [
        np.full((374, 388), 255, np.uint8),
        np.full((300, 300), 120, np.uint8),
        np.random.default_rng(7).integers(0, 256, (374, 388)).astype(np.uint8),
        cv2.GaussianBlur(
            np.random.default_rng(8).integers(0, 256, (374, 388)).astype(np.uint8), (0, 0), 2
        ),
    ],
    ids=["white", "grey", "noise", "blurred-noise"],
)
def test_blank_and_noise_rejected_for_quality(image: np.ndarray) -> None:
    report, _ = assess_image(image)
    with pytest.raises(QualityRejected) as exc:
        check_quality(report)
    assert exc.value.extra["check"] == "quality"
    assert exc.value.extra["value"] < exc.value.extra["limit"]
    assert exc.value.extra["reasons"]


def test_real_fingerprints_pass_quality(extracted: dict[str, ExtractionResult]) -> None:
    for r in extracted.values():
        report = assess(r)
        check_quality(report)
        assert report.score >= 60


def test_prepared_template_serialisation_roundtrip(
    prepared: dict[str, matcher.PreparedTemplate],
) -> None:
    p = prepared["101_1"]
    blob = matcher.serialize(p)
    assert len(blob) <= 6 + 7 * matcher.MAX_MINUTIAE
    q = matcher.deserialize(blob)
    assert q.size == p.size
    np.testing.assert_allclose(q.all_minutiae[:, :2], p.all_minutiae[:, :2], atol=0.06)
    assert matcher.match(p, q) > 0.9
    assert matcher.prepare(blob).size == p.size
    for bad in (blob[:-1], b"GRMC\x09" + blob[5:], b"nope"):
        with pytest.raises(TemplateRejected):
            matcher.deserialize(bad)


def test_iso_template_roundtrip_and_match(
    extracted: dict[str, ExtractionResult], prepared: dict[str, matcher.PreparedTemplate]
) -> None:
    r = extracted["101_1"]
    rec = templates.build_record(r.minutiae, width=r.width, height=r.height, dpi=500)
    data = templates.encode_template(rec)
    back = templates.parse_template(data)
    assert templates.encode_template(back) == data
    assert len(back.views[0].minutiae) == len(r.minutiae)
    iso = matcher.prepare(data)
    assert matcher.match(iso, prepared["101_2"]) >= matcher.THRESHOLD_FMR_01
    assert matcher.match(iso, prepared["102_1"]) < matcher.THRESHOLD_FMR_01


def test_secugen_scanner_templates_match() -> None:
    t = {p.stem: matcher.prepare(p.read_bytes()) for p in (FIX / "secugen").glob("*.iso")}
    genuine = matcher.match(t["101_1"], t["101_2"])
    impostor = matcher.match(t["101_1"], t["102_1"])
    assert genuine >= matcher.THRESHOLD_FMR_01 > impostor


def _synthetic(m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    m = m.copy()
    a = rng.uniform(-0.5, 0.5)
    c, s = np.cos(a), np.sin(a)
    x, y = m[:, 0] - 190, m[:, 1] - 190
    m[:, 0] = c * x - s * y + 190 + rng.uniform(-30, 30)
    m[:, 1] = s * x + c * y + 190 + rng.uniform(-30, 30)
    m[:, 2] = np.mod(m[:, 2] - a, 2 * np.pi)
    return m[rng.random(len(m)) > 0.25]


def test_index_finds_reenrolled_finger(extracted: dict[str, ExtractionResult]) -> None:
    rng = np.random.default_rng(3)
    idx = FingerprintIndex(shortlist=50)
    others = [extracted[n].minutiae for n in ("102_1", "103_1", "104_1")]
    for i in range(600):
        idx.add(("other", i), _synthetic(others[i % 3], rng))
    idx.add("guard-101", extracted["101_1"].minutiae)
    assert len(idx) == 601 and "guard-101" in idx
    res = idx.search(matcher.prepare(extracted["101_2"]), top_k=5)
    assert res[0][0] == "guard-101"
    assert res[0][1] >= matcher.THRESHOLD_FMR_01
    # candidate subset (face shortlist) without full search
    res = idx.search(extracted["101_3"].minutiae, top_k=3,
                     candidates=["guard-101", ("other", 1)], full_search=False)
    assert next(k for k, _ in res) == "guard-101" and len(res) == 2
    idx.remove("guard-101")
    assert "guard-101" not in idx and len(idx) == 600
    res = idx.search(matcher.prepare(extracted["101_2"]), top_k=1)
    assert res[0][1] < matcher.THRESHOLD_FMR_01


def test_error_rates_and_report() -> None:
    g = np.array([0.9, 0.8, 0.7, 0.2])
    i = np.array([0.1, 0.15, 0.3, 0.05])
    r = error_rates(g, i)
    assert r["eer"] == pytest.approx(0.25)
    assert r["zerofmr"] == pytest.approx(0.25)
    perfect = error_rates(np.array([0.9, 0.8]), np.array([0.1, 0.2]))
    assert perfect["eer"] == 0.0 and perfect["fmr1000"] == 0.0


def test_evaluate_templates_protocol(prepared: dict[str, matcher.PreparedTemplate]) -> None:
    items = {("101", 1): prepared["101_1"], ("101", 2): prepared["101_2"],
             ("101", 3): prepared["101_3"], ("102", 1): prepared["102_1"],
             ("103", 1): prepared["103_1"]}
    r = evaluate_templates(items)
    assert r["genuine_pairs"] == 3
    assert r["fvc"]["impostor_pairs"] == 3  # first impressions of 3 fingers
    assert r["extended"]["impostor_pairs"] == 3 * 2 + 1  # 101_x with 102/103, 102 with 103
    assert r["fvc"]["eer"] == 0.0
    text = format_report(r)
    assert "FVC protocol" in text and "Extended impostors" in text
    assert '"genuine_scores"' not in format_report(r, as_json=True)


def test_evaluate_folder_of_iso_templates(tmp_path: Path) -> None:
    for p in (FIX / "secugen").glob("*.iso"):
        (tmp_path / p.name).write_bytes(p.read_bytes())
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "103_1.iso").write_bytes(b"FMR\x00 20\x00broken")  # fails to extract
    r = evaluate_folder(tmp_path)
    assert r["images"] == 5 and r["fingers"] == 3
    assert r["failure_to_extract"] == 1
    assert r["genuine_pairs"] == 2
    assert r["fvc"]["impostor_pairs"] == 3
    assert r["comparisons_per_second"] > 0
    assert "failures to extract: 1" in format_report(r)
