"""Issue 18, the live face check at the checkpoint: a photo of the person presenting,
compared 1:1 with the enrolled template at the East-Asian 0.1%-false-match threshold;
match / no match / poor photo in plain words; no liveness claimed; rate-limited per
officer; logged without biometric data; the photo discarded."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFilter

from api import reporting_repository
from biometrics.face.pipeline import MODEL_ID, checkpoint_threshold
from tests.conftest import (
    Api,
    capture_biometrics,
    internal_guard_id,
    make_principal,
    record_exam_pass,
)

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"


@pytest.fixture(scope="module")
def presented(runtime: Any, client: Any, regulator: Api) -> dict[str, Any]:
    """A guard enrolled with one photo of Hu Jintao, holding a valid certificate."""
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    record_exam_pass(regulator, guard["id"])
    capture_biometrics(regulator, regulator, guard["id"], face="Hu_Jintao_0001_x2.jpg")
    resp = regulator.post(f"/v1/guards/{guard['id']}/background-checks",
                          json={"result": "clear", "checked_on": dt.date.today().isoformat()})
    assert resp.status_code == 201, resp.text
    resp = regulator.post(f"/v1/guards/{guard['id']}/certificate")
    assert resp.status_code == 201, resp.text
    cert = resp.json()
    return {"guard": guard, "cert": cert}


def _check(officer: Api, number: str, data: bytes, name: str = "p.jpg") -> Any:
    return officer.post("/v1/verifications/face-check", data={"number": number},
                        files={"photo": (name, data, "image/jpeg")})


def _jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_a_second_photo_of_the_enrolled_person_matches(
        presented: dict[str, Any], runtime: Any, client: Any) -> None:
    officer = make_principal(runtime, client, "checkpoint_officer")
    resp = _check(officer, presented["cert"]["number"],
                  (FACES / "Hu_Jintao_0002.jpg").read_bytes())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["result"] == "match"
    assert body["strength"] in ("strong", "moderate")
    assert body["threshold"] == checkpoint_threshold(MODEL_ID)
    assert body["liveness_checked"] is False and "no liveness" in body["note"]
    assert body["photo_kept"] is False
    assert "distance" not in body  # a plain-language strength, not a raw score


def test_a_photo_of_another_person_is_no_match(
        presented: dict[str, Any], runtime: Any, client: Any) -> None:
    officer = make_principal(runtime, client, "checkpoint_officer")
    # Wen Jiabao: the hardest impostor of the fixtures for Hu Jintao (distance ~0.43-0.47,
    # a match at the 1:1 enrollment threshold 0.47, not at the checkpoint threshold).
    resp = _check(officer, presented["cert"]["number"],
                  (FACES / "Wen_Jiabao_0001.jpg").read_bytes())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["result"] == "no-match"
    assert body["strength"] in ("weak", "none")
    resp = _check(officer, presented["cert"]["number"],
                  (FACES / "Zhang_Ziyi_0001.jpg").read_bytes())
    assert resp.json()["result"] == "no-match" and resp.json()["strength"] == "none"


def test_a_poor_photo_is_poor_photo(presented: dict[str, Any], runtime: Any,
                                    client: Any) -> None:
    officer = make_principal(runtime, client, "checkpoint_officer")
    blurred = Image.open(FACES / "Hu_Jintao_0002.jpg").filter(ImageFilter.GaussianBlur(8))
    for data in (_jpeg(blurred), _jpeg(Image.new("RGB", (320, 240), (120, 120, 120)))):
        resp = _check(officer, presented["cert"]["number"], data)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["result"] == "poor-photo" and body["strength"] is None
        assert body["retake"]


def test_the_check_is_logged_without_biometric_data_and_keeps_no_photo(
        presented: dict[str, Any], runtime: Any, client: Any) -> None:
    from biometrics import repository as bio_repo
    from registry import repository as registry_repo

    officer = make_principal(runtime, client, "checkpoint_officer")
    with runtime.db.transaction(readonly=True) as cur:
        guard = registry_repo.get_guard(cur, internal_guard_id(runtime, presented["guard"]["id"]))
        subject = str(guard["biometric_subject"])
        before = bio_repo.get_face(cur, subject)
    number = presented["cert"]["number"]
    resp = _check(officer, number, (FACES / "Hu_Jintao_0002.jpg").read_bytes())
    assert resp.json()["result"] == "match"
    runtime.verification_log.flush()
    with runtime.db.transaction(readonly=True) as cur:
        rows = [r for r in reporting_repository.recent_verifications(cur, limit=50)
                if r["channel"] == "face-check" and r["certificate_number"] == number]
        after = bio_repo.get_face(cur, subject)
    assert rows and rows[0]["verdict"] == "face-match"
    assert set(rows[0]) == {"checked_at", "certificate_number", "verdict", "location",
                            "channel"}
    # The enrolled face is untouched: the live photo replaced nothing and was not stored.
    assert bytes(after["photo_sealed"]) == bytes(before["photo_sealed"])
    assert after["embedding"] == before["embedding"]


def test_the_face_check_is_rate_limited_per_officer(presented: dict[str, Any], runtime: Any,
                                                    client: Any) -> None:
    noisy = make_principal(runtime, client, "checkpoint_officer")
    grey = _jpeg(Image.new("RGB", (64, 64), (90, 90, 90)))
    codes = [_check(noisy, presented["cert"]["number"], grey).status_code for _ in range(8)]
    assert 429 in codes, codes
    # Another officer is not held back by the first one's limit.
    other = make_principal(runtime, client, "checkpoint_officer")
    assert _check(other, presented["cert"]["number"], grey).status_code == 200


def test_unknown_numbers_and_guards_without_a_face_are_problems(
        presented: dict[str, Any], runtime: Any, client: Any) -> None:
    officer = make_principal(runtime, client, "checkpoint_officer")
    resp = _check(officer, "1201209999999990", (FACES / "Hu_Jintao_0002.jpg").read_bytes())
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    resp = officer.post("/v1/verifications/face-check",
                        data={"number": presented["cert"]["number"]},
                        files={"photo": ("x.jpg", b"not an image", "image/jpeg")})
    assert 400 <= resp.status_code < 500
