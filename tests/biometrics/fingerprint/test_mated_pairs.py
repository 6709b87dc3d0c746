"""The mated minutiae a reviewer sees are the ones that make the score."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from biometrics.fingerprint import matcher
from biometrics.fingerprint.extraction import extract
from tests.conftest import FINGERS


@pytest.fixture(scope="module")
def prepared() -> dict[str, matcher.PreparedTemplate]:
    out = {}
    for name in ("101_1", "101_2", "102_1"):
        img = cv2.imread(str(FINGERS / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        assert img is not None
        out[name] = matcher.prepare(extract(img))
    return out


def test_mated_pairs_make_the_score_of_a_genuine_pair(
        prepared: dict[str, matcher.PreparedTemplate]) -> None:
    a, b = prepared["101_1"], prepared["101_2"]
    pairs = matcher.mated_pairs(a, b)
    score = matcher.match(a, b)
    assert score > matcher.THRESHOLD_FMR_01
    assert len(pairs) >= matcher.MIN_NP
    # one-to-one, in range, most similar first, and their mean is the score
    assert len({p.probe for p in pairs}) == len(pairs) == len({p.candidate for p in pairs})
    assert all(0 <= p.probe < a.size and 0 <= p.candidate < b.size for p in pairs)
    sims = [p.similarity for p in pairs]
    assert sims == sorted(sims, reverse=True)
    assert math.isclose(float(np.mean(sims)), score, rel_tol=1e-4, abs_tol=1e-6)
    # the same finger: the mated minutiae lie where one rigid motion puts them
    pa = np.array([a.minutiae[p.probe, :2] for p in pairs])
    pb = np.array([b.minutiae[p.candidate, :2] for p in pairs])
    m, _ = cv2.estimateAffinePartial2D(pa.astype(np.float32), pb.astype(np.float32))
    assert m is not None
    moved = pa @ m[:, :2].T + m[:, 2]
    assert float(np.median(np.hypot(*(moved - pb).T))) < 15.0


def test_an_impostor_pair_has_weak_mates(prepared: dict[str, matcher.PreparedTemplate]) -> None:
    a, c = prepared["101_1"], prepared["102_1"]
    pairs = matcher.mated_pairs(a, c)
    genuine = matcher.mated_pairs(a, prepared["101_2"])
    assert math.isclose(float(np.mean([p.similarity for p in pairs])) if pairs else 0.0,
                        matcher.match(a, c), abs_tol=1e-6)
    assert (np.mean([p.similarity for p in pairs]) if pairs else 0.0) < \
        0.5 * np.mean([p.similarity for p in genuine])


def test_no_pairs_for_a_template_too_small() -> None:
    tiny = matcher.prepare_minutiae(np.array([[10.0, 10.0, 0.0]]))
    other = matcher.prepare_minutiae(np.array([[10.0, 10.0, 0.0], [50.0, 40.0, 1.0]]))
    assert matcher.mated_pairs(tiny, other) == []
