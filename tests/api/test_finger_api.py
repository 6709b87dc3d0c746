"""Fingerprint capture through the API: images and scanner templates, 1:N, 1:1."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from biometrics import repository as bio_repo
from tests.conftest import FINGERS, Api, isolated_stack, make_principal

TEMPLATES = Path(__file__).parents[1] / "fixtures" / "fingerprints"


@pytest.fixture(scope="module")
def stack(pg_server: str, template_db: str, data_dir: Path, clock: Any) -> Any:
    with isolated_stack(pg_server, template_db, data_dir, clock) as s:
        yield s


@pytest.fixture(scope="module")
def regulator(stack: Any) -> Api:
    return make_principal(stack[0], stack[1], "regulator")


def image(api: Api, guard_id: int, position: int, name: str) -> Any:
    return api.post(f"/v1/guards/{guard_id}/fingers/{position}",
                    files={"image": (name, (FINGERS / name).read_bytes(), "image/png")})


def test_the_same_fingers_under_another_id_number_are_held(regulator: Api, stack: Any) -> None:
    company = regulator.make_company()
    first = regulator.make_guard(company["id"])
    assert image(regulator, first["id"], 2, "101_1.png").status_code == 201
    assert image(regulator, first["id"], 7, "102_1.png").status_code == 201
    operator = make_principal(stack[0], stack[1], "company_operator", company_id=company["id"])
    second = operator.make_guard(company["id"])
    # One finger alone cannot meet FPIR 1% against 500,000 identities (docs/dedup.md):
    # the first matching impression is stored, the second finger brings the hold.
    one = image(operator, second["id"], 2, "101_2.png")  # another impression, same finger
    assert one.status_code == 201, one.text
    held = image(operator, second["id"], 7, "102_2.png")
    assert held.status_code == 202, held.text
    assert "candidates" not in held.json()
    assert held.json()["image_kept"] is False
    review = next(r for r in regulator.get("/v1/biometrics/reviews").json()["items"]
                  if r["guard_id"] == second["id"])
    assert review["modality"] == "finger"
    top = review["candidates"][0]
    assert top["guard_id"] == first["id"]
    assert top["metric"] == "fused_llr"
    assert top["score"] >= top["threshold"]
    assert sorted(c["position"] for c in top["comparisons"]) == [2, 7]
    assert all(c["metric"] == "similarity" for c in top["comparisons"])
    third = operator.make_guard(company["id"])  # other fingers: not held
    assert image(operator, third["id"], 2, "103_1.png").status_code == 201
    assert image(operator, third["id"], 7, "104_1.png").status_code == 201


def test_one_to_one_verification(regulator: Api, stack: Any) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    assert image(regulator, guard["id"], 3, "102_1.png").status_code in (201, 202)
    # Staff by guard id; officers only by certificate number (tests/api/test_enumeration.py).
    staff = make_principal(stack[0], stack[1], "regulator")
    same = staff.post(f"/v1/guards/{guard['id']}/fingers/verify",
                        files={"image": ("p.png", (FINGERS / "102_2.png").read_bytes(),
                                         "image/png")})
    assert same.status_code == 200, same.text
    assert same.json()["match"] is True
    assert same.json()["best_position"] == 3
    other = staff.post(f"/v1/guards/{guard['id']}/fingers/verify",
                         files={"image": ("p.png", (FINGERS / "105_1.png").read_bytes(),
                                          "image/png")})
    assert other.json()["match"] is False
    assert other.json()["score"] < other.json()["threshold"]


def test_scanner_templates_are_accepted_and_bad_ones_refused(regulator: Api) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    iso = sorted((TEMPLATES / "secugen").glob("*.iso"))[0].read_bytes()
    ok = regulator.post(f"/v1/guards/{guard['id']}/fingers/4",
                        files={"template": ("t.iso", iso, "application/octet-stream")})
    assert ok.status_code in (201, 202), ok.text
    assert ok.json()["source"].startswith("ISO")
    for bad in sorted((TEMPLATES / "invalid").glob("*"))[:3]:
        resp = regulator.post(f"/v1/guards/{guard['id']}/fingers/5",
                              files={"template": ("t.iso", bad.read_bytes(),
                                                  "application/octet-stream")})
        assert resp.status_code == 422, resp.text
        assert resp.json()["type"] == "/problems/template-rejected"
    both = regulator.post(f"/v1/guards/{guard['id']}/fingers/5", files={
        "template": ("t.iso", iso, "application/octet-stream"),
        "image": ("i.png", (FINGERS / "101_1.png").read_bytes(), "image/png")})
    assert both.status_code == 422


def _png(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("make", [
    lambda: np.full((388, 374), 255, np.uint8),
    lambda: np.random.default_rng(3).integers(0, 256, (388, 374), dtype=np.uint8),
])
def test_blank_and_noise_images_are_not_fingerprints(regulator: Api, make: Any) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    resp = regulator.post(f"/v1/guards/{guard['id']}/fingers/2",
                          files={"image": ("x.png", _png(make()), "image/png")})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["type"] == "/problems/not-a-fingerprint"
    assert body["reason"] == "not-a-fingerprint"
    assert body["check"] == "ridge-area"
    assert body["value"] < body["limit"]


def test_position_out_of_range_and_templates_sealed(regulator: Api, stack: Any) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    assert image(regulator, guard["id"], 11, "101_1.png").status_code == 422
    image(regulator, guard["id"], 1, "106_1.png")
    with stack[0].db.transaction(readonly=True) as cur:
        cur.execute("SELECT biometric_subject::text AS s FROM registry_guard WHERE public_id = %s",
                    (guard["id"],))
        rows = bio_repo.get_fingers(cur, cur.fetchone()["s"])
    sealed = bytes(rows[0]["template_sealed"])
    assert b"FMR\x00" not in sealed
    assert len(sealed) > 40
