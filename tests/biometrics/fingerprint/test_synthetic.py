"""Minutiae-level synthetic fingers: determinism, plausibility, and that the matcher
tells impressions of one master from impressions of others."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from biometrics.fingerprint import matcher, synthetic
from biometrics.fingerprint.templates import minutiae_array, parse_template


def test_same_seed_same_finger_and_impression() -> None:
    a, b = synthetic.master_finger(42), synthetic.master_finger(42)
    assert a.pattern == b.pattern
    np.testing.assert_array_equal(a.minutiae, b.minutiae)
    np.testing.assert_array_equal(synthetic.impression(a, 3), synthetic.impression(b, 3))
    assert synthetic.synthetic_template(42, 3) == synthetic.synthetic_template(42, 3)


def test_different_seeds_differ() -> None:
    m = synthetic.master_finger(7)
    assert not np.array_equal(m.minutiae, synthetic.master_finger(8).minutiae)
    i0, i1 = synthetic.impression(m, 0), synthetic.impression(m, 1)
    assert i0.shape != i1.shape or not np.allclose(i0, i1)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_seed_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        synthetic.master_finger(bad)  # type: ignore[arg-type]


def test_impressions_are_plausible_matcher_input() -> None:
    w, h = synthetic.WINDOW
    counts = []
    for seed in range(40):
        mins = synthetic.impression(synthetic.master_finger(seed), 0)
        counts.append(len(mins))
        assert mins.shape[1] == 5
        assert ((mins[:, 0] >= 0) & (mins[:, 0] <= w - 1)).all()
        assert ((mins[:, 1] >= 0) & (mins[:, 1] <= h - 1)).all()
        assert ((mins[:, 2] >= 0) & (mins[:, 2] < 2 * np.pi)).all()
        assert set(np.unique(mins[:, 3])) <= {1.0, 2.0}
        assert ((mins[:, 4] >= 1) & (mins[:, 4] <= 100)).all()
    # the project's extractor finds 27-50 minutiae on average on FVC2002 DB1-3
    assert 25 <= float(np.mean(counts)) <= 60
    assert min(counts) >= synthetic.MIN_MINUTIAE and max(counts) <= 120


def test_contact_controls_the_number_of_minutiae() -> None:
    m = synthetic.master_finger(11)
    small = np.mean([len(synthetic.impression(m, k, contact=0.6)) for k in range(20)])
    large = np.mean([len(synthetic.impression(m, k, contact=1.3)) for k in range(20)])
    assert small < 0.75 * large


def test_minutiae_follow_the_orientation_field() -> None:
    m = synthetic.master_finger(5)
    th = m.orientation(m.minutiae[:, 0], m.minutiae[:, 1])
    ang_img = -m.minutiae[:, 2]
    # directions are the orientation (mod pi) exactly, in one of the two senses
    assert np.allclose(np.sin(2 * (ang_img - th)), 0, atol=1e-9)


def test_pattern_classes_have_natural_frequencies() -> None:
    counts = Counter(synthetic.master_finger(s).pattern for s in range(600))
    loops = (counts["left_loop"] + counts["right_loop"]) / 600
    assert 0.58 <= loops <= 0.73  # 65.5% expected
    assert 0.22 <= counts["whorl"] / 600 <= 0.34  # 27.9% expected
    assert counts["arch"] + counts["tented_arch"] < 0.12 * 600
    singular = {"arch": (0, 0), "tented_arch": (1, 1), "left_loop": (1, 1),
                "right_loop": (1, 1), "whorl": (2, 2)}
    for s in range(60):
        m = synthetic.master_finger(s)
        assert (len(m.cores), len(m.deltas)) == singular[m.pattern]


def test_mates_score_far_above_non_mates() -> None:
    n = 24
    preps = [[matcher.prepare_minutiae(synthetic.impression(synthetic.master_finger(s), k))
              for k in range(2)] for s in range(n)]
    genuine = np.array([matcher.match(a, b) for a, b in preps])
    batch = matcher.stack([p[1] for p in preps])
    impostor = np.concatenate([
        np.delete(matcher.match_many(preps[i][0], batch), i) for i in range(n)
    ])
    assert np.median(genuine) > 4 * np.median(impostor)
    assert (genuine > matcher.THRESHOLD_FMR_01).mean() >= 0.75
    assert (impostor > matcher.THRESHOLD_FMR_01).mean() <= 0.01


def test_iso_template_round_trip() -> None:
    data = synthetic.synthetic_template(9, 2)
    rec = parse_template(data)
    arr, dpi = minutiae_array(rec)
    mins = synthetic.impression(synthetic.master_finger(9), 2)
    assert dpi == pytest.approx(500, abs=2)
    assert len(arr) == len(mins)
    np.testing.assert_allclose(arr[:, :2], np.round(mins[:, :2]), atol=0.5)
    assert matcher.prepare(data).size > 10
