"""The fingerprint-ness gate on the finger capture path (API, real PostgreSQL)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from tests.conftest import FINGERS, PEOPLE, Api, make_principal


def _png(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "PNG")
    return out.getvalue()


def _fingers(api: Api, guard_id: int) -> list[dict[str, Any]]:
    resp = api.get(f"/v1/guards/{guard_id}/biometrics")
    assert resp.status_code == 200, resp.text
    fingers: list[dict[str, Any]] = resp.json()["fingers"]
    return fingers


def test_a_face_photo_sent_as_a_finger_is_not_a_fingerprint(regulator: Api, runtime: Any,
                                                             client: Any) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    photo = sorted(PEOPLE.glob("*.jpg"))[0]
    resp = regulator.post(f"/v1/guards/{guard['id']}/fingers/2",
                          files={"image": (photo.name, photo.read_bytes(), "image/jpeg")})
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["type"] == "/problems/not-a-fingerprint"
    assert body["reason"] == "not-a-fingerprint"
    assert body["check"] in body["failed"]
    assert "fingerprint" in body["detail"]
    assert _fingers(regulator, guard["id"]) == []  # nothing stored, capture not complete

    # the same guard with a real finger image: accepted through the same path
    real = regulator.post(f"/v1/guards/{guard['id']}/fingers/2",
                          files={"image": ("f.png", (FINGERS / "103_1.png").read_bytes(),
                                           "image/png")})
    assert real.status_code in (201, 202), real.text
    assert [f["position"] for f in _fingers(regulator, guard["id"])] == [2]

    staff = make_principal(runtime, client, "regulator")
    verify = staff.post(f"/v1/guards/{guard['id']}/fingers/verify",
                          files={"image": (photo.name, photo.read_bytes(), "image/jpeg")})
    assert verify.status_code == 422, verify.text
    assert verify.json()["type"] == "/problems/not-a-fingerprint"


def test_the_quality_gate_still_judges_real_but_poor_prints(regulator: Api) -> None:
    """A faint fingertip touching a small part of the sensor has ridges (the gate lets it
    through) but too little area, contrast and minutiae to enrol."""
    src = np.asarray(Image.open(FINGERS / "101_1.png").convert("L")).astype(np.float64)
    faint = np.clip(128 + (src - src.mean()) * 0.08, 0, 255)
    canvas = np.full_like(faint, 128.0)
    h, w = src.shape
    y0, x0 = h // 2 - 65, w // 2 - 65
    canvas[y0:y0 + 130, x0:x0 + 130] = faint[y0:y0 + 130, x0:x0 + 130]
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    resp = regulator.post(f"/v1/guards/{guard['id']}/fingers/3",
                          files={"image": ("f.png", _png(canvas.astype(np.uint8)),
                                           "image/png")})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["type"] == "/problems/quality-rejected"
    assert body["check"] == "quality"
    assert body["value"] < body["limit"]
    assert body["reasons"]


def test_scanner_templates_do_not_go_through_the_image_gate(regulator: Api) -> None:
    template = sorted((FINGERS.parent / "fingerprints" / "secugen").glob("*.iso"))[0]
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    resp = regulator.post(f"/v1/guards/{guard['id']}/fingers/4",
                          files={"template": ("t.iso", template.read_bytes(),
                                              "application/octet-stream")})
    assert resp.status_code in (201, 202), resp.text
    assert resp.json()["source"].startswith("ISO")
