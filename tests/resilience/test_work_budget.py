"""Bounded work per request (issue 14): limits before decoding, image work under a CPU
budget, the rate limit before decoding, capped validation errors.

Every test asserts the refusal and its reason (and, where it matters, that no image
work was started), never a duration."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.app import create_app
from api.runtime import Runtime
from certificates import qr
from registry.settings import Settings
from tests.conftest import FIXTURES, Api, Clock, make_principal
from tests.resilience.exhaustion import finder_pattern_mosaic, finger_mosaic, unknown_keys_body

BUDGET_S = 0.5
FACE = (FIXTURES / "people" / "Jiang_Zemin_0001_x2.jpg").read_bytes()


@pytest.fixture(scope="module")
def bounded(runtime: Runtime) -> Iterator[dict[str, Any]]:
    settings = Settings(mode="test", database_url=runtime.settings.database_url,
                        data_dir=runtime.settings.data_dir, image_cpu_budget_s=BUDGET_S,
                        image_workers=1, rate_limit_verify_image_per_min=600)
    rt = Runtime(settings=settings, db=runtime.db, embedded=None, certs=runtime.certs)
    with TestClient(create_app(runtime=rt, clock=Clock()),
                    raise_server_exceptions=False) as client:
        reg = make_principal(rt, client, "regulator")
        company = reg.make_company()
        guard = reg.make_guard(company["id"])
        yield {"rt": rt, "reg": reg, "officer": make_principal(rt, client, "checkpoint_officer"),
               "guard": guard, "client": client}
    if rt.work is not None:
        rt.work.close()  # the database is the session's: only the pool is ours


def _problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["type"] == "/problems/" + code, body
    return body


def _submitted(rt: Runtime) -> int:
    return rt.work.submitted if rt.work is not None else 0


def _image(fmt: str, size: tuple[int, int] = (64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, fmt)
    return out.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``, with almost no data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


# -- QR photos --------------------------------------------------------------------------
def test_qr_finder_pattern_mosaic_is_stopped_at_the_cpu_budget(bounded: dict[str, Any]) -> None:
    rt, officer = bounded["rt"], bounded["officer"]
    resp = officer.post("/v1/verifications/image",
                        files={"image": ("qr.png", finder_pattern_mosaic(), "image/png")})
    body = _problem(resp, 422, "work-budget-exceeded")
    assert body["reason"] == "cpu-time" and body["limit"] == BUDGET_S
    assert rt.work is not None and rt.work.killed >= 1
    # the pool serves the next photo: a real QR still verifies
    png = qr.render_png("SG1:NOT-A-CERTIFICATE")
    again = officer.post("/v1/verifications/image", files={"image": ("q.png", png, "image/png")})
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_qr_photo_formats_outside_png_and_jpeg_are_refused_before_decoding(
        bounded: dict[str, Any], fmt: str) -> None:
    before = _submitted(bounded["rt"])
    resp = bounded["officer"].post("/v1/verifications/image",
                                   files={"image": ("x", _image(fmt), "image/png")})
    body = _problem(resp, 415, "image-type-unsupported")
    assert body["reason"] == "format-not-allowed"
    assert _submitted(bounded["rt"]) == before


def test_qr_photo_with_huge_declared_dimensions_is_refused_from_its_header(
        bounded: dict[str, Any]) -> None:
    before = _submitted(bounded["rt"])
    resp = bounded["officer"].post("/v1/verifications/image",
                                   files={"image": ("x.png", _png_header(30000, 30000),
                                                    "image/png")})
    assert _problem(resp, 413, "image-too-large")["reason"] == "too-many-pixels"
    assert _submitted(bounded["rt"]) == before


def test_the_qr_photo_rate_limit_applies_before_decoding(runtime: Runtime) -> None:
    settings = Settings(mode="test", database_url=runtime.settings.database_url,
                        data_dir=runtime.settings.data_dir, image_cpu_budget_s=BUDGET_S,
                        # One a minute: the second is refused even when the first
                        # request's decoding takes seconds on a loaded machine.
                        image_workers=1, rate_limit_verify_image_per_min=1)
    rt = Runtime(settings=settings, db=runtime.db, embedded=None, certs=runtime.certs)
    try:
        with TestClient(create_app(runtime=rt, clock=Clock()),
                        raise_server_exceptions=False) as client:
            officer = make_principal(rt, client, "checkpoint_officer")
            files = {"image": ("qr.png", finder_pattern_mosaic(), "image/png")}
            first = officer.post("/v1/verifications/image", files=files)
            assert first.status_code == 422, first.text
            spent = _submitted(rt)
            second = officer.post("/v1/verifications/image", files=files)
            _problem(second, 429, "rate-limited")
            assert _submitted(rt) == spent  # refused without any image work
    finally:
        if rt.work is not None:
            rt.work.close()


# -- fingerprints -----------------------------------------------------------------------
def test_a_4000x4000_finger_mosaic_is_refused_from_its_header(bounded: dict[str, Any]) -> None:
    before = _submitted(bounded["rt"])
    guard = bounded["guard"]
    resp = bounded["reg"].post(f"/v1/guards/{guard['id']}/fingers/verify",
                                   files={"image": ("m.png", finger_mosaic(4000), "image/png")})
    body = _problem(resp, 413, "image-too-large")
    assert body["reason"] == "too-many-pixels"
    assert body["limit"] == bounded["rt"].settings.max_finger_image_pixels
    assert _submitted(bounded["rt"]) == before


def test_a_finger_image_within_the_pixel_limit_is_stopped_at_the_cpu_budget(
        bounded: dict[str, Any]) -> None:
    guard = bounded["guard"]
    resp = bounded["reg"].post(f"/v1/guards/{guard['id']}/fingers/verify",
                                   files={"image": ("m.png", finger_mosaic(1400), "image/png")},
                                   data={"dpi": "500"})
    assert _problem(resp, 422, "work-budget-exceeded")["reason"] == "cpu-time"


def test_finger_images_in_webp_are_refused(bounded: dict[str, Any]) -> None:
    guard = bounded["guard"]
    resp = bounded["reg"].post(f"/v1/guards/{guard['id']}/fingers/3",
                               files={"image": ("f.webp", _image("WEBP"), "image/webp")})
    assert _problem(resp, 415, "image-type-unsupported")["reason"] == "format-not-allowed"


# -- faces ------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "TIFF", "GIF"])
def test_face_photos_must_be_jpeg_or_png(bounded: dict[str, Any], fmt: str) -> None:
    before = _submitted(bounded["rt"])
    guard = bounded["guard"]
    resp = bounded["reg"].post(f"/v1/guards/{guard['id']}/face",
                               files={"photo": ("p", _image(fmt), "image/jpeg")})
    body = _problem(resp, 415, "image-type-unsupported")
    assert body["allowed"] == ["JPEG", "PNG"]
    assert _submitted(bounded["rt"]) == before


def test_a_face_photo_is_analysed_in_the_pool(runtime: Runtime, regulator: Api) -> None:
    """Under the default budget (a real photo costs well under it)."""
    guard = regulator.make_guard(regulator.make_company()["id"])
    before = _submitted(runtime)
    resp = regulator.post(f"/v1/guards/{guard['id']}/face",
                          files={"photo": ("p.jpg", FACE, "image/jpeg")})
    assert resp.status_code in (201, 202), resp.text
    assert _submitted(runtime) == before + 1


# -- JSON bodies and validation errors -------------------------------------------------
def test_a_9_mib_json_body_of_unknown_keys_is_413(bounded: dict[str, Any]) -> None:
    resp = bounded["reg"].post("/v1/companies", content=unknown_keys_body(9 * 1024 * 1024),
                               headers={"content-type": "application/json"})
    body = _problem(resp, 413, "payload-too-large")
    assert str(bounded["rt"].settings.max_json_body_bytes) in body["detail"]


def test_unknown_keys_under_the_cap_give_one_short_error(bounded: dict[str, Any]) -> None:
    raw = unknown_keys_body(900 * 1024)
    resp = bounded["reg"].post("/v1/companies", content=raw,
                               headers={"content-type": "application/json"})
    body = _problem(resp, 422, "validation")
    assert len(body["errors"]) == 1
    assert body["errors"][0]["type"] == "extra_forbidden"
    assert "more" in body["errors"][0]["message"]
    assert len(resp.content) < 2048 < len(raw)


def test_validation_errors_are_capped_and_clipped(bounded: dict[str, Any]) -> None:
    from api.problems import MAX_ERROR_TEXT, MAX_VALIDATION_ERRORS

    rows = [{"service": "X" * 5000, "lowest_level": 9, "min_age": 1} for _ in range(100)]
    resp = bounded["reg"].put("/v1/service-policy", json={"services": rows})
    body = _problem(resp, 422, "validation")
    assert body["errors_total"] > MAX_VALIDATION_ERRORS
    assert len(body["errors"]) == MAX_VALIDATION_ERRORS
    assert all(len(e["message"]) <= MAX_ERROR_TEXT for e in body["errors"])
    assert "X" * 50 not in json.dumps(body)  # the offending input is never echoed
