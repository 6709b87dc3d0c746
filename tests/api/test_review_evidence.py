"""The evidence of a held duplicate, for the regulator (issues 13 and 17): both face
crops, minutiae of both templates with the mated pairs, the odds in words, and the
other identity named. Real photos, real fingerprint images, real PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.api.test_dedup_api import FACES, enrol, review_of
from tests.conftest import (
    FINGERS,
    PEOPLE,
    Api,
    internal_guard_id,
    isolated_stack,
    make_principal,
)


@pytest.fixture
def stack(pg_server: str, template_db: str, data_dir: Path, clock: Any) -> Any:
    with isolated_stack(pg_server, template_db, data_dir, clock) as s:
        yield s


@pytest.fixture
def regulator(stack: Any) -> Api:
    return make_principal(stack[0], stack[1], "regulator")


def test_the_evidence_shows_both_faces_the_mated_minutiae_the_odds_and_who(
        regulator: Api, stack: Any) -> None:
    company = regulator.make_company(name="津门安保服务有限公司")
    hu = regulator.make_guard(company["id"])
    assert enrol(regulator, hu["id"], PEOPLE / "Hu_Jintao_0001_x2.jpg",
                 {2: FINGERS / "101_1.png", 7: FINGERS / "102_1.png"}) == [201, 201, 201]
    assert regulator.post("/v1/bans", json={"id_number": hu["id_number"],
                                             "reason": "违规"}).status_code == 201
    bystander = regulator.make_guard(company["id"])
    again = regulator.make_guard(company["id"])
    codes = enrol(regulator, again["id"], FACES / "Hu_Jintao_0002.jpg",
                  {2: FINGERS / "101_2.png", 7: FINGERS / "102_2.png"})
    assert 202 in codes, codes
    review = review_of(regulator, again["id"])
    assert review is not None

    resp = regulator.get(f"/v1/biometrics/reviews/{review['id']}/evidence")
    assert resp.status_code == 200, resp.text
    ev = resp.json()
    assert ev["held"]["guard_id"] == again["id"] and ev["held"]["name"] == again["name"]
    assert ev["images_kept"] == {"face": True, "finger": False}
    top = ev["candidates"][0]
    who = top["identity"]
    assert who["guard_id"] == hu["id"] and who["name"] == hu["name"]
    # the ban cleared him out of his job; the newcomer is employed
    assert who["employer"] is None and ev["held"]["employer"] == "津门安保服务有限公司"
    assert who["id_number_masked"] != hu["id_number"]
    assert who["id_number_masked"][:6] == hu["id_number"][:6]
    assert who["id_number_masked"][-4:] == hu["id_number"][-4:]
    assert who["banned_now"] is True and who["bans"][0]["reason"] == "违规"
    # The odds: a number a person can read, and the same in words.
    assert top["chance"] is not None and 0 < top["chance"] < 1e-3
    assert top["one_in"] is not None and top["one_in"] >= 1000
    assert top["words"].startswith("about 1 in") or top["words"].startswith("fewer than")
    assert "face" in top["modalities"] and "finger" in top["modalities"]
    # Faces: both crops, as JPEG, of the right people.
    face = top["face"]
    assert face["distance"] is not None
    for url, guard in ((face["held_portrait"], again), (face["candidate_portrait"], hu)):
        assert url.endswith(f"/portraits/{guard['id']}")
        img = regulator.get(url)
        assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
        assert img.headers["cache-control"] == "no-store"
        assert Image.open(io.BytesIO(img.content)).size == (240, 300)
    # Someone who is not part of the review: no photo through this door.
    nope = regulator.get(f"/v1/biometrics/reviews/{review['id']}/portraits/{bystander['id']}")
    assert nope.status_code == 404
    assert regulator.get("/v1/biometrics/reviews/999999/evidence").status_code == 404
    # Fingers: minutiae of both templates and the mated pairs, indices in range.
    fingers = {f["position"]: f for f in top["fingers"]}
    assert set(fingers) >= {2, 7}
    for f in fingers.values():
        assert f["candidate_position"] == f["position"]
        assert len(f["held_minutiae"]) >= 10 and len(f["candidate_minutiae"]) >= 10
        assert len(f["pairs"]) >= 4
        for i, j, sim in f["pairs"]:
            assert 0 <= i < len(f["held_minutiae"]) and 0 <= j < len(f["candidate_minutiae"])
            assert 0 < sim <= 1
        # the hold scored the fresh extraction; now both sides come from the stored ISO
        # records (coordinates rounded to whole pixels): close, not identical
        assert f["score_now"] == pytest.approx(f["score_at_hold"], abs=0.02)
        assert all(0 <= a < 360 for _, _, a in f["held_minutiae"])
    # Nothing sealed leaks: no template or ID number in clear.
    assert hu["id_number"] not in resp.text and again["id_number"] not in resp.text
    assert "template" not in resp.text


def test_a_hold_from_before_fused_decisions_gets_its_odds_from_the_calibration(
        regulator: Api, stack: Any) -> None:
    """Reviews opened before fused decisions kept one face distance: the evidence reads
    the same calibration for it, so the regulator still gets odds in words."""
    from biometrics import repository as bio_repo
    from registry import repository as registry_repo

    runtime = stack[0]
    company = regulator.make_company()
    a, b = regulator.make_guard(company["id"]), regulator.make_guard(company["id"])
    for guard, photo in ((a, PEOPLE / "Zhang_Ziyi_0001_x2.jpg"),
                         (b, PEOPLE / "Wen_Jiabao_0001_x2.jpg")):
        resp = regulator.post(f"/v1/guards/{guard['id']}/face", files={
            "photo": (photo.name, photo.read_bytes(), "image/jpeg")})
        assert resp.status_code == 201, resp.text
    ia, ib = internal_guard_id(runtime, a["id"]), internal_guard_id(runtime, b["id"])
    with runtime.db.transaction() as cur:
        ga, gb = registry_repo.get_guard(cur, ia), registry_repo.get_guard(cur, ib)
        assert ga is not None and gb is not None
        sa, sb = str(ga["biometric_subject"]), str(gb["biometric_subject"])
        close = bio_repo.open_review(cur, subject=sb, modality="face", banned_match=False,
                                     candidates=[{"subject": sa, "guard_id": ia,
                                                  "score": 0.30, "banned": False}])
    with runtime.db.transaction() as cur:  # a far one, under another subject's review
        bio_repo.decide_review(cur, close, status="approved", decided_by="test", note=None)
        far = bio_repo.open_review(cur, subject=sb, modality="face", banned_match=False,
                                   candidates=[{"subject": sa, "guard_id": ia,
                                                "score": 0.58, "banned": False}])
    near_ev = regulator.get(f"/v1/biometrics/reviews/{close}/evidence").json()
    far_ev = regulator.get(f"/v1/biometrics/reviews/{far}/evidence").json()
    near, far_c = near_ev["candidates"][0], far_ev["candidates"][0]
    for c in (near, far_c):
        assert c["identity"]["name"] == a["name"]
        assert c["modalities"] == ["face"] and c["fingers"] == []
        assert c["face"]["held_portrait"].endswith(f"/portraits/{b['id']}")
        assert c["words"] and "the face" in c["words"]
    # closer faces are rarer between different people: smaller chance, larger N
    assert near["chance"] < far_c["chance"]
    assert near["one_in"] is not None
    assert far_c["one_in"] is None or far_c["one_in"] < near["one_in"]
