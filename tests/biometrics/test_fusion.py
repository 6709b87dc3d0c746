"""Score calibration and fused thresholds (biometrics/fusion.py) on synthetic scores
with known distributions, and the shipped calibration file."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biometrics import finger_capture, fusion
from biometrics.face.pipeline import MODEL_ID


@pytest.fixture(scope="module")
def finger_cal() -> fusion.ModalityCalibration:
    rng = np.random.default_rng(7)
    genuine = np.clip(rng.lognormal(np.log(0.12), 0.6, 800), 0, 1)
    impostor = np.clip(rng.lognormal(np.log(0.016), 0.2, 8000), 0, 1)
    return fusion.fit_modality("finger", "test", genuine, impostor)


@pytest.fixture(scope="module")
def face_cal() -> fusion.ModalityCalibration:
    rng = np.random.default_rng(8)
    return fusion.fit_modality("face", "test", rng.normal(0.38, 0.06, 800),
                               rng.normal(0.75, 0.07, 20000))


def test_llr_is_monotone_and_clamped_beyond_the_data(finger_cal: fusion.ModalityCalibration,
                                                     face_cal: fusion.ModalityCalibration
                                                     ) -> None:
    s = np.linspace(0, 1, 400)
    llr = finger_cal.llr_of(s)
    assert np.all(np.diff(llr) >= -1e-12)
    assert llr[-1] > 5 > -2 > llr[0]
    assert finger_cal.llr_one(1.0) == finger_cal.llr_one(50.0) == finger_cal.llr_max
    d = np.linspace(0, 1.5, 400)
    face = face_cal.llr_of(d)
    assert np.all(np.diff(face) <= 1e-12)  # distance: lower is more alike
    assert face_cal.llr_one(0.0) == face_cal.llr_one(-3.0)
    assert face_cal.llr_one(0.3) > 0 > face_cal.llr_one(0.8)


def test_the_tail_is_trusted_only_two_decades_below_the_sample(
        finger_cal: fusion.ModalityCalibration) -> None:
    # The top LLR carries the impostor mass at and beyond the cap: about 1/(100 n).
    assert finger_cal.imp_mass[-1] >= 1e-2 / finger_cal.info["impostor"] * 0.5
    assert finger_cal.info["llr_cap_impostor_rate"] <= 1e-2 / 8000 * 2


def test_fmr_for_inverts_fpir_at_gallery_size() -> None:
    fmr = fusion.fmr_for(0.01, 500_000)
    assert -math.expm1(500_000 * math.log1p(-fmr)) == pytest.approx(0.01, rel=1e-9)
    assert fmr == pytest.approx(0.01 / 500_000, rel=0.01)
    with pytest.raises(ValueError):
        fusion.fmr_for(1.5, 10)


def test_convolution_is_the_distribution_of_the_sum() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(-2, 1.5, 200_000), rng.exponential(2.0, 200_000)
    fused = fusion.convolve(fusion.pmf(a), fusion.pmf(b))
    direct = fusion.pmf(a + b)
    vals = fusion.bin_values()
    assert float((fused * vals).sum()) == pytest.approx(float((a + b).mean()), abs=0.02)
    s1, s2 = fusion.survival(fused), fusion.survival(direct)
    for t in (0.0, 2.0, 5.0):
        k = int(np.searchsorted(vals, t))
        assert s1[k] == pytest.approx(s2[k], abs=0.01)
    assert fused.sum() == pytest.approx(1.0)


def test_threshold_meets_the_fmr_under_the_model(finger_cal: fusion.ModalityCalibration) -> None:
    two = fusion.convolve(fusion.model_pmf(finger_cal), fusion.model_pmf(finger_cal))
    fmr = fusion.fmr_for(0.01, 500_000)
    t = fusion.threshold_for(two, fmr)
    assert t is not None
    surv = fusion.survival(two)
    k = int(np.searchsorted(fusion.bin_values(), t - 1e-9))
    assert surv[k] <= fmr < surv[k - 1]
    # One finger cannot reach 2e-8: its LLR stops where the impostor tail is ~1e-6.
    assert fusion.threshold_for(fusion.model_pmf(finger_cal), fmr) is None


def test_decisions_banned_candidates_are_held_at_a_lower_threshold(
        finger_cal: fusion.ModalityCalibration, face_cal: fusion.ModalityCalibration) -> None:
    cal = fusion.Calibration({"f": face_cal}, {"m": finger_cal})
    fuse = fusion.Fusion(cal, fusion.Policy(), face_model="f", finger_model="m")
    comps = [fuse.face_comparison(0.40),
             fuse.finger_comparison(0.05, position=2, candidate_position=2)]
    normal, banned = fuse.decide(comps, banned=False), fuse.decide(comps, banned=True)
    assert normal.threshold is not None and banned.threshold is not None
    assert banned.threshold < normal.threshold
    assert normal.fused_llr == pytest.approx(sum(c.llr for c in comps))
    strong = [fuse.face_comparison(0.30)] + [
        fuse.finger_comparison(0.3, position=p, candidate_position=p) for p in (2, 7)]
    assert fuse.decide(strong, banned=False).hold
    weak = [fuse.face_comparison(0.30)] + [
        fuse.finger_comparison(0.012, position=p, candidate_position=p) for p in (2, 7)]
    assert not fuse.decide(weak, banned=False).hold


def test_unknown_positions_cost_evidence(finger_cal: fusion.ModalityCalibration) -> None:
    one = fusion.survival(fusion.model_pmf(finger_cal))
    best_of_ten = fusion.survival(fusion.finger_pmf_any_position(finger_cal, 10))
    k = int(np.searchsorted(fusion.bin_values(), 3.0))
    assert best_of_ten[k] == pytest.approx(1 - (1 - one[k]) ** 10, rel=1e-6)
    assert best_of_ten[k] > one[k]


def test_chance_in_words() -> None:
    face = fusion.Comparison("face", 0.3, 8.0)
    text = fusion.chance_in_words(1 / 3_456_789, [face])
    assert text == "about 1 in 3.5 million chance that two different people score this " \
                   "high on the face"
    assert "1 in 1,200 " in fusion.chance_in_words(1 / 1234.0, [face])
    assert "more often than not" in fusion.chance_in_words(0.7, [face])


def test_shipped_calibration_covers_the_current_models() -> None:
    cal = fusion.load_calibration()
    assert MODEL_ID in cal.face, "refit: guardreg eval calibrate (docs/dedup.md)"
    assert finger_capture.MODEL_ID in cal.finger, "refit: guardreg eval calibrate"
    for c in (cal.for_face(MODEL_ID), cal.for_finger(finger_capture.MODEL_ID)):
        assert math.isclose(float(c.imp_mass.sum()), 1.0, rel_tol=1e-4)
        assert np.all(np.diff(c.llr) >= -1e-9)
