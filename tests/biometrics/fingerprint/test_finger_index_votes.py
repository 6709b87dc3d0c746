"""Index scheme 2 (biometrics.fingerprint.index): per-cylinder postings and vote ranking,
on real FVC2002 impressions among synthetic fingers, without a database."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from biometrics.fingerprint import index, matcher, synthetic
from biometrics.fingerprint.extraction import extract

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "fingerprints"


def real(name: str) -> matcher.PreparedTemplate:
    img = cv2.imread(str(FIX / f"db1_{name}.png"), cv2.IMREAD_GRAYSCALE)
    assert img is not None
    return matcher.prepare(extract(img, 500.0))


def lists_of(fingers: list[matcher.PreparedTemplate]) -> dict[int, np.ndarray]:
    """The posting lists the database would hold for ``fingers`` (ids 1, 2, ...)."""
    out: dict[int, list[np.ndarray]] = {}
    for fid, prep in enumerate(fingers, start=1):
        codes, slots = index.finger_postings(prep)
        for c, e in zip(codes.tolist(), index.entries(fid, slots).tolist(), strict=True):
            out.setdefault(c, []).append(np.array([e], np.int64))
    return {c: np.concatenate(v) for c, v in out.items()}


@pytest.fixture(scope="module")
def gallery() -> list[matcher.PreparedTemplate]:
    """101_1 and 102_1 (ids 1, 2) among 150 synthetic fingers."""
    syn = [matcher.prepare_minutiae(synthetic.impression(synthetic.master_finger(500 + i), 0))
           for i in range(150)]
    return [real("101_1"), real("102_1"), *syn]


def test_postings_name_every_cylinder_in_every_table() -> None:
    prep = real("101_1")
    codes, slots = index.finger_postings(prep)
    assert codes.size == slots.size == prep.size * index.TABLES
    assert np.all(np.diff(codes.astype(np.int64)) >= 0)  # sorted by code
    per_cylinder = index.minutia_codes(prep)
    assert np.array_equal(np.sort(per_cylinder[slots, codes >> index.BITS]), np.sort(codes))
    ent = index.entries(7, slots)
    assert np.all(ent >> index.SLOT_BITS == 7)
    assert np.array_equal(ent & 63, slots)
    with pytest.raises(ValueError):
        index.entries(index.MAX_FINGER_ID + 1, slots)


def test_the_mate_of_a_real_impression_ranks_first(
        gallery: list[matcher.PreparedTemplate]) -> None:
    lists = lists_of(gallery)
    for probe, mate in (("101_2", 1), ("101_3", 1)):
        ranked = index.rank_votes(index.minutia_codes(real(probe)), lists,
                                  gallery_size=len(gallery), top=10)
        assert ranked[0][0] == mate
        assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
        assert len(ranked) == 10
    # an impression of a finger that is not enrolled: no candidate stands out as a mate
    # does (its best score is far below a mate's)
    mate_score = index.rank_votes(index.minutia_codes(real("101_2")), lists,
                                  gallery_size=len(gallery), top=1)[0][1]
    other = index.rank_votes(index.minutia_codes(real("104_1")), lists,
                             gallery_size=len(gallery), top=1)
    assert other[0][1] < 0.5 * mate_score


def test_saturated_lists_are_ignored(gallery: list[matcher.PreparedTemplate]) -> None:
    lists = lists_of(gallery)
    codes = index.minutia_codes(real("101_2"))
    full = {c: np.arange(1, index.MAX_POSTINGS + 1, dtype=np.int64) << index.SLOT_BITS
            for c in np.unique(codes).tolist()}
    assert index.rank_votes(codes, full, gallery_size=len(gallery), top=5) == []
    # one saturated list among the real ones changes nothing
    code = int(codes[0, 0])
    flooded = {**lists, code: full[code]}
    plain = {c: v for c, v in lists.items() if c != code}
    assert (index.rank_votes(codes, flooded, gallery_size=len(gallery), top=5)
            == index.rank_votes(codes, plain, gallery_size=len(gallery), top=5))
    assert index.rank_votes(np.zeros((0, index.TABLES), np.int64), lists,
                            gallery_size=len(gallery), top=5) == []


def test_cylinder_votes_count_the_shared_codes(gallery: list[matcher.PreparedTemplate]) -> None:
    """The votes behind the ranking: each (probe cylinder, enrolled cylinder) pair votes
    once per code they share (rarity-weighted), and the ranking is built from them."""
    lists = lists_of(gallery)
    probe = index.minutia_codes(real("101_2"))
    n = len(gallery)
    pair, votes, runs, unit = index.cylinder_votes(probe, lists, gallery_size=n)
    assert np.all(np.diff(pair) > 0) and votes.size == pair.size and runs[0] == 0
    finger = pair >> (index.SLOT_BITS + 6)
    i = (pair >> index.SLOT_BITS) & 63
    slot = pair & 63
    # the pair with most votes for the mate shares codes in several tables, and its vote
    # is the sum of those codes' quantised weights (each at least 1 unit)
    best = int(np.argmax(np.where(finger == 1, votes, -1)))
    shared = set(probe[i[best]].tolist()) & set(index.minutia_codes(gallery[0])[slot[best]]
                                                 .tolist())
    assert len(shared) >= 2 and len(shared) <= votes[best] <= 63 * len(shared)
    ids, scores, _ = index.vote_scores(pair, votes, runs, unit)
    ranked = index.rank_votes(probe, lists, gallery_size=n, top=n)
    assert [f for f, _ in ranked] == ids[np.lexsort((ids, -scores))].tolist()
    assert ranked[0][1] == pytest.approx(float(scores.max()) * unit ** 2)
    assert index.cylinder_votes(np.zeros((0, index.TABLES), np.int64), lists,
                                gallery_size=n)[0].size == 0


def test_the_prefilter_votes_only_the_fingers_with_the_most_collision_weight(
        gallery: list[matcher.PreparedTemplate]) -> None:
    """With more colliding fingers than ``prefilter``, only that many are voted; the mate
    (the most colliding finger) keeps its place and its score, and without the prefilter
    every colliding finger is ranked."""
    lists = lists_of(gallery)
    codes = index.minutia_codes(real("101_2"))
    everyone = index.rank_votes(codes, lists, gallery_size=len(gallery), top=len(gallery),
                                prefilter=0)
    assert len(everyone) > 20  # many fingers collide somewhere
    few = index.rank_votes(codes, lists, gallery_size=len(gallery), top=len(gallery),
                           prefilter=20)
    assert len(few) == 20
    assert few[0] == everyone[0] and few[0][0] == 1
    # the fingers kept are the ones with the largest summed weight, not the best 20 by
    # votes: the two rankings may differ below the top, but every kept finger's score is
    # what the full vote gives it
    full = dict(everyone)
    assert all(full[f] == s for f, s in few)
