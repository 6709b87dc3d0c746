"""Face capture through the API on real photos and a real PostgreSQL with pgvector."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from biometrics import repository as bio_repo
from biometrics.face.protection import FaceVectorKey
from biometrics.sealing import Sealer, SealError
from registry.settings import Settings
from tests.conftest import FINGERS, Api, isolated_stack, make_principal

PEOPLE = Path(__file__).parents[1] / "fixtures" / "people"
MORE_FINGERS = Path(__file__).parents[1] / "fixtures" / "dedup"


def photo(name: str) -> bytes:
    return (PEOPLE / name).read_bytes()


def finger(api: Api, guard_id: int, position: int, name: str, folder: Path = FINGERS) -> Any:
    return api.post(f"/v1/guards/{guard_id}/fingers/{position}",
                    files={"image": (name, (folder / name).read_bytes(), "image/png")})


def upload(api: Api, guard_id: int, data: bytes, *, path: str = "face",
           filename: str = "photo.jpg") -> Any:
    return api.post(f"/v1/guards/{guard_id}/{path}",
                    files={"photo": (filename, data, "application/octet-stream")})


# This module's 1:N assertions need to know exactly who is enrolled: its own database.
@pytest.fixture(scope="module")
def stack(pg_server: str, template_db: str, data_dir: Path, clock: Any) -> Any:
    with isolated_stack(pg_server, template_db, data_dir, clock) as s:
        yield s


@pytest.fixture(scope="module")
def runtime(stack: Any) -> Any:
    return stack[0]


@pytest.fixture(scope="module")
def client(stack: Any) -> Any:
    return stack[1]


@pytest.fixture(scope="module")
def regulator(runtime: Any, client: Any) -> Api:
    return make_principal(runtime, client, "regulator")


@pytest.fixture(scope="module")
def officer(runtime: Any, client: Any) -> Api:
    return make_principal(runtime, client, "checkpoint_officer")


@pytest.fixture(scope="module")
def enrolled(regulator: Api) -> dict[str, Any]:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    resp = upload(regulator, guard["id"], photo("Jiang_Zemin_0001_x2.jpg"))
    assert resp.status_code == 201, resp.text
    return {"company": company, "guard": guard, "response": resp.json()}


def test_enrollment_stores_a_quality_checked_template(enrolled: dict[str, Any]) -> None:
    body = enrolled["response"]
    assert body["status"] == "enrolled"
    assert body["model"].startswith("dlib_resnet_v1@")
    assert body["quality"]["inter_eye_px"] >= 40


def test_same_person_matches_and_another_does_not(enrolled: dict[str, Any],
                                                  regulator: Api) -> None:
    gid = enrolled["guard"]["id"]
    same = upload(regulator, gid, photo("Jiang_Zemin_0002_x2.jpg"), path="face/verify")
    assert same.status_code == 200, same.text
    assert same.json()["match"] is True
    assert same.json()["distance"] <= same.json()["threshold"]
    other = upload(regulator, gid, photo("Zhang_Ziyi_0001_x2.jpg"), path="face/verify")
    assert other.json()["match"] is False
    assert other.json()["distance"] > other.json()["threshold"]
    assert other.json()["model"] == enrolled["response"]["model"]


def test_a_duplicate_identity_is_held_for_review(regulator: Api, enrolled: dict[str, Any],
                                                 runtime: Any, client: Any) -> None:
    # At city scale a face alone does not hold another photo of the same person (the
    # fused threshold for a gallery of 500,000, docs/dedup.md): he is held when his
    # fingers arrive, with the face among the evidence.
    first = enrolled["guard"]["id"]
    for position, name in ((2, "101_1.png"), (7, "102_1.png")):
        assert finger(regulator, first, position, name).status_code == 201
    company = regulator.make_company()
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    second = operator.make_guard(company["id"])  # same face, another ID number
    resp = upload(operator, second["id"], photo("Jiang_Zemin_0002_x2.jpg"))
    assert resp.status_code == 201, resp.text
    held = finger(operator, second["id"], 2, "101_2.png")  # the same finger, again
    assert held.status_code == 202, held.text
    assert held.json()["status"] == "held"
    assert "candidates" not in held.json()  # operators do not learn who else is enrolled
    queue = regulator.get("/v1/biometrics/reviews").json()["items"]
    review = next(r for r in queue if r["guard_id"] == second["id"])
    assert review["modality"] == "finger"
    top = review["candidates"][0]
    assert top["guard_id"] == first
    assert top["metric"] == "fused_llr" and top["score"] >= top["threshold"]
    by_modality = {c["modality"]: c for c in top["comparisons"]}
    assert by_modality["face"]["score"] < 0.5
    assert by_modality["finger"]["position"] == 2
    assert review["banned_match"] is False
    status = operator.get(f"/v1/guards/{second['id']}/biometrics").json()
    assert [f["status"] for f in status["fingers"]] == ["held"]
    decided = regulator.post(f"/v1/biometrics/reviews/{review['id']}/decision",
                             json={"approve": False, "note": f"same person as guard {first}"})
    assert decided.json()["status"] == "rejected"
    again = regulator.post(f"/v1/biometrics/reviews/{review['id']}/decision",
                           json={"approve": True})
    assert again.status_code == 409
    status = operator.get(f"/v1/guards/{second['id']}/biometrics").json()
    assert [f["status"] for f in status["fingers"]] == ["rejected"]


def test_a_banned_person_is_flagged(regulator: Api) -> None:
    # A face alone does not hold at city scale, not even against a banned person
    # (docs/dedup.md): the same photo is held, and flagged, when the fingers arrive.
    company = regulator.make_company()
    banned = regulator.make_guard(company["id"])
    assert upload(regulator, banned["id"], photo("Wen_Jiabao_0001_x2.jpg")).status_code == 201
    for position, name in ((3, "107_1.png"), (4, "108_1.png")):
        assert finger(regulator, banned["id"], position, name, MORE_FINGERS).status_code == 201
    regulator.post("/v1/bans", json={"id_number": banned["id_number"], "reason": "fraud"})
    newcomer = regulator.make_guard(company["id"])
    assert upload(regulator, newcomer["id"], photo("Wen_Jiabao_0001_x2.jpg")).status_code == 201
    codes = [finger(regulator, newcomer["id"], position, name, MORE_FINGERS)
             for position, name in ((3, "107_2.png"), (4, "108_2.png"))]
    held = next(r for r in codes if r.status_code == 202)
    assert held.json()["banned_match"] is True
    assert held.json()["candidates"][0]["guard_id"] == banned["id"]


def test_re_enrollment_replaces_and_is_audited(regulator: Api) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    assert upload(regulator, guard["id"], photo("Zhang_Ziyi_0001_x2.jpg")).status_code in (201, 202)
    resp = upload(regulator, guard["id"], photo("Zhang_Ziyi_0001_x2.jpg"))
    assert resp.json()["replaced"] is True
    actions = [e["action"] for e in regulator.get(
        f"/v1/audit/events?target_type=guard&target_id={guard['id']}").json()["items"]]
    assert actions.count("biometrics.face.enroll") == 1
    assert actions.count("biometrics.face.replace") == 1


def test_photo_is_served_to_staff_without_exif(regulator: Api, enrolled: dict[str, Any]) -> None:
    resp = regulator.get(f"/v1/guards/{enrolled['guard']['id']}/face/photo")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(resp.content))
    assert img.size[0] <= 800
    assert not img.getexif()


def _no_face() -> bytes:
    out = io.BytesIO()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(90, 160, (400, 400, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


def _two_faces() -> bytes:
    a = Image.open(PEOPLE / "Jiang_Zemin_0001_x2.jpg")
    b = Image.open(PEOPLE / "Zhang_Ziyi_0001_x2.jpg")
    canvas = Image.new("RGB", (1000, 500))
    canvas.paste(a, (0, 0))
    canvas.paste(b, (500, 0))
    out = io.BytesIO()
    canvas.save(out, "JPEG")
    return out.getvalue()


def _tiny_face() -> bytes:
    face = Image.open(PEOPLE / "Hu_Jintao_0001_x2.jpg").resize((90, 90))
    canvas = Image.new("RGB", (640, 480), (200, 200, 200))
    canvas.paste(face, (275, 195))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=95)
    return out.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("make", "status", "fragment"),
    [
        (_no_face, 422, "face-count"),
        (_two_faces, 422, "face-count"),
        (_tiny_face, 422, "inter-eye-distance"),
        (lambda: b"", 422, "empty"),
        (lambda: b"%PDF-1.7 not an image", 415, "unknown-type"),
        (lambda: photo("Jiang_Zemin_0001_x2.jpg")[:4000], 422, "corrupt"),
        (lambda: _png_claiming(60000, 60000), 413, "decompression-bomb"),
        (lambda: _png_claiming(8000, 8000), 413, "too-many-pixels"),
    ],
)
def test_bad_and_hostile_photos_are_4xx_with_reason(regulator: Api, make: Any, status: int,
                                                    fragment: str) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    resp = upload(regulator, guard["id"], make())
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert fragment in (str(body.get("check")) + str(body.get("reason")))


def test_missing_file_is_a_validation_problem(regulator: Api, enrolled: dict[str, Any]) -> None:
    resp = regulator.post(f"/v1/guards/{enrolled['guard']['id']}/face")
    assert resp.status_code == 422
    assert resp.json()["type"] == "/problems/validation"


def test_templates_and_photos_are_unreadable_without_the_key(runtime: Any,
                                                             enrolled: dict[str, Any]) -> None:
    subject = None
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT biometric_subject::text AS s FROM registry_guard WHERE public_id = %s",
                    (enrolled["guard"]["id"],))
        subject = cur.fetchone()["s"]
        row = bio_repo.get_face(cur, subject)
    assert row is not None
    sealed = bytes(row["photo_sealed"])
    right = Sealer.from_settings(runtime.settings)
    plain = right.open(sealed, aad=f"face-photo:{subject}".encode())
    assert plain[:3] == b"\xff\xd8\xff"
    # No stretch of the photo appears in what is stored (a 3-byte marker can occur in random
    # ciphertext by chance, about once in 300 photos; 32 bytes cannot).
    for start in range(0, len(plain) - 32, max(1, len(plain) // 16)):
        assert plain[start:start + 32] not in sealed
    wrong = Sealer.from_settings(Settings(mode="test", biometric_secret="another-secret-" * 3))
    with pytest.raises(SealError):
        wrong.open(sealed, aad=f"face-photo:{subject}".encode())
    with pytest.raises(SealError):  # bound to its row: does not open as another subject's
        right.open(sealed, aad=b"face-photo:00000000-0000-0000-0000-000000000000")
    # The stored vector is the protected one: under the wrong key it is far from the truth.
    stored = bio_repo.parse_vector(row["embedding"])
    true_key = FaceVectorKey.from_key(runtime.settings.derive_key("biometric_secret",
                                                                  "face-transform-v1"))
    other_key = FaceVectorKey.from_key(b"x" * 32)
    raw = true_key.unprotect(stored)
    assert np.linalg.norm(other_key.unprotect(stored) - raw) > 0.5
    assert abs(np.linalg.norm(stored) - np.linalg.norm(raw)) < 1e-6
