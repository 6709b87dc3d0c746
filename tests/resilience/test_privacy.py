"""Privacy: a full enroll -> issue -> verify journey with every logger at DEBUG (and the
uvicorn access log of a live server) leaks no ID number, phone, photo or template; the
stored biometrics are useless without the key; each role sees only its fields."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from pydantic import SecretStr

from biometrics import repository as bio_repo
from biometrics.face.pipeline import get_analyzer
from biometrics.face.protection import FaceVectorKey
from biometrics.finger_search import finger_aad
from biometrics.imaging import decode_image
from biometrics.sealing import Sealer, SealError
from registry.settings import Settings
from tests.conftest import FIXTURES, Api, make_principal, random_id_number
from tests.resilience.helpers import approve_if_held, background_check, faces, free_port

TEMPLATE = (FIXTURES / "fingerprints" / "golden" / "iso19794p2v2005-sample.dat").read_bytes()
FINGER_IMAGE = sorted((FIXTURES / "fingerprints").glob("db1_10*_1.png"))[-1]

GUARD_REGULATOR = {"id", "name", "id_number", "birth_date", "age", "sex", "phone", "education",
                   "skill_level", "status", "intentional_crime", "administrative_detentions",
                   "company_id", "company_name", "district", "employed_since", "version",
                   "created_at", "updated_at"}
GUARD_OPERATOR = {"id", "name", "id_number_masked", "age", "sex", "phone", "education",
                  "skill_level", "status", "company_id", "company_name", "district",
                  "employed_since", "version", "created_at", "updated_at"}
GUARD_SELF = {"id", "name", "id_number", "birth_date", "age", "sex", "phone", "education",
              "skill_level", "status", "company_id", "company_name", "employed_since"}
VERIFICATION_TOP = {"verdict", "checked_at", "detail", "certificate", "live_status",
                    "status_reason", "employer", "employer_note", "skill_level",
                    "permitted_services", "photo", "photo_note"}
VERIFICATION_CERT = {"number", "guard_name", "skill_level", "employer_id", "employer_name",
                     "issued_at", "expires_at", "card"}  # card: a printed card's serial, or None
VERIFICATION_EMPLOYER = {"id", "name", "licence_status", "matches_certificate"}
PUBLIC_CERT = {"number", "valid", "status", "guard_name", "skill_level", "employer_name",
               "expires_at"}
PUBLIC_COMPANY = {"name", "credit_code", "kind", "status", "credit_grade", "red_list",
                  "black_list", "abnormal_operations", "district", "licence_number"}
CLIENT_LOGGERS = ("httpx", "httpcore", "hpack", "urllib3")


@pytest.fixture
def live(app: Any) -> Iterator[str]:
    """The suite's app on a loopback port with the uvicorn access log on (propagating)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="debug",
                                           access_log=True, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def everything_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    saved = {}
    for name in list(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        saved[name] = (logger.level, logger.propagate, logger.disabled)
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if name.startswith("uvicorn"):
            logger.propagate = True
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        for name, (level, propagate, disabled) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled


class Http(Api):
    """The Api helper over real HTTP (httpx) instead of the in-process test client."""


@pytest.fixture
def journey(live: str, runtime: Any, client: Any, regulator: Api,
            everything_at_debug: pytest.LogCaptureFixture) -> dict[str, Any]:
    http = httpx.Client(base_url=live, timeout=60)
    reg = Http(http, regulator.key, regulator.principal)  # type: ignore[arg-type]
    company = reg.make_company()
    id_number = random_id_number()
    phone = "13912345678"
    guard = reg.make_guard(company["id"], id_number=id_number, phone=phone)
    background_check(reg, guard["id"])
    photo_path = faces()[3]
    photo = photo_path.read_bytes()
    approve_if_held(reg, reg.post(f"/v1/guards/{guard['id']}/face",
                                  files={"photo": ("p.jpg", photo, "image/jpeg")}))
    approve_if_held(reg, reg.post(f"/v1/guards/{guard['id']}/fingers/1",
                                  files={"template": ("t.dat", TEMPLATE, "application/cbeff")}))
    approve_if_held(reg, reg.post(
        f"/v1/guards/{guard['id']}/fingers/2",
        files={"image": ("f.png", FINGER_IMAGE.read_bytes(), "image/png")},
        data={"dpi": "500"}))
    cert = reg.post(f"/v1/guards/{guard['id']}/certificate")
    assert cert.status_code == 201, cert.text
    officer = make_principal(runtime, client, "checkpoint_officer")
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    self_key = make_principal(runtime, client, "guard", guard_id=guard["id"])
    as_http = {name: Http(http, p.key, p.principal)  # type: ignore[arg-type]
               for name, p in (("officer", officer), ("operator", operator),
                               ("guard", self_key))}
    verification = as_http["officer"].post("/v1/verifications",
                                           json={"text": cert.json()["text"]})
    assert verification.status_code == 200 and verification.json()["verdict"] == "valid"
    views = {"regulator": reg.get(f"/v1/guards/{guard['id']}"),
             "operator": as_http["operator"].get(f"/v1/guards/{guard['id']}"),
             "guard": as_http["guard"].get(f"/v1/guards/{guard['id']}")}
    stored_photo = reg.get(f"/v1/guards/{guard['id']}/face/photo").content
    public_cert = http.get(f"/v1/public/certificates/{cert.json()['number']}")
    public_company = http.get("/v1/public/companies", params={"q": company["credit_code"]})
    http.close()
    return {"guard": guard, "company": company, "id_number": id_number, "phone": phone,
            "photo": photo, "stored_photo": stored_photo, "certificate": cert.json(),
            "verification": verification, "views": views, "public_cert": public_cert,
            "public_company": public_company, "keys": [regulator.key, officer.key,
                                                       operator.key, self_key.key],
            "records": list(everything_at_debug.records)}


def _secrets(j: dict[str, Any]) -> dict[str, str]:
    out = {"id number": j["id_number"], "phone": j["phone"],
           "id number (masked birth part)": j["id_number"][6:14]}
    for label, blob in (("photo", j["photo"]), ("stored photo", j["stored_photo"]),
                        ("template", TEMPLATE)):
        mid = len(blob) // 2
        out[f"{label} base64"] = base64.b64encode(blob[mid:mid + 60]).decode()[4:60]
        out[f"{label} base64 (start)"] = base64.b64encode(blob[:48]).decode()
        out[f"{label} hex"] = blob[mid:mid + 24].hex()
        out[f"{label} raw"] = blob[mid:mid + 24].decode("latin-1")
    for n, key in enumerate(j["keys"]):
        out[f"api key {n}"] = key
    return out


def _server_log_text(records: list[logging.LogRecord]) -> str:
    parts = []
    for r in records:
        if r.name.startswith(CLIENT_LOGGERS):
            continue
        parts.append(r.getMessage())
        parts.append(repr(r.args))
        if r.exc_text:
            parts.append(r.exc_text)
        parts.append(repr({k: v for k, v in r.__dict__.items() if k not in (
            "msg", "args", "exc_info", "exc_text", "stack_info")}))
    return "\n".join(parts)


def test_logs_carry_no_personal_or_biometric_data(journey: dict[str, Any]) -> None:
    records = journey["records"]
    text = _server_log_text(records)
    access = [r for r in records if r.name == "uvicorn.access"]
    assert len(access) >= 10, "the access log was not captured"
    # the access log shows paths, never bodies or credentials
    assert any("/v1/verifications" in r.getMessage() for r in access)
    leaks = [label for label, secret in _secrets(journey).items() if secret in text]
    assert not leaks, leaks


def test_stored_biometrics_are_useless_without_the_key(journey: dict[str, Any],
                                                       runtime: Any) -> None:
    gid = journey["guard"]["id"]
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT biometric_subject::text AS s FROM registry_guard WHERE public_id = %s",
                    (gid,))
        subject = cur.fetchone()["s"]
        face = bio_repo.get_face(cur, subject)
        cur.execute("SELECT position, template_sealed FROM biometrics_finger "
                    "WHERE subject = %s ORDER BY position", (subject,))
        fingers = [(r["position"], bytes(r["template_sealed"])) for r in cur.fetchall()]
    assert face is not None and len(fingers) == 2
    sealed_photo = bytes(face["photo_sealed"])
    for magic in (b"\xff\xd8\xff", b"JFIF", b"Exif", b"\x89PNG"):
        assert not sealed_photo.startswith(magic)
    for _, sealed in fingers:
        assert b"FMR\x00" not in sealed
        assert TEMPLATE[32:64] not in sealed
    right = Sealer.from_settings(runtime.settings)
    wrong = Sealer.from_settings(Settings(mode="test",
                                              biometric_secret=SecretStr("not-the-key-" * 4)))
    photo_aad = f"face-photo:{subject}".encode()
    clear = right.open(sealed_photo, aad=photo_aad)
    assert clear[:3] == b"\xff\xd8\xff"
    # No piece of the JPEG is stored in clear: 32-byte windows (a 3-byte magic turns up
    # by chance in tens of kilobytes of ciphertext about once in 300 runs; 32 bytes never)
    for at in range(0, len(clear) - 32, max(1, len(clear) // 16)):
        assert clear[at:at + 32] not in sealed_photo
    with pytest.raises(SealError):
        wrong.open(sealed_photo, aad=photo_aad)
    for position, sealed in fingers:
        assert right.open(sealed, aad=finger_aad(subject, position))[:4] == b"FMR\x00"
        with pytest.raises(SealError):
            wrong.open(sealed, aad=finger_aad(subject, position))
    # The stored face vector is the keyed transform of the real one: far from the raw
    # encoding of the photo, which only the key can recover.
    stored = bio_repo.parse_vector(face["embedding"])
    raw = get_analyzer().analyse(decode_image(journey["photo"]).pixels,
                                 purpose="enroll").encoding
    assert float(np.linalg.norm(stored - np.asarray(raw))) > 0.5
    key = FaceVectorKey.from_key(runtime.settings.derive_key("biometric_secret",
                                                             "face-transform-v1"))
    assert float(np.linalg.norm(key.unprotect(stored) - np.asarray(raw))) < 0.2


def test_each_role_sees_only_its_fields(journey: dict[str, Any]) -> None:
    views = {k: v.json() for k, v in journey["views"].items()}
    assert set(views["regulator"]) == GUARD_REGULATOR
    assert set(views["operator"]) == GUARD_OPERATOR
    assert set(views["guard"]) == GUARD_SELF
    idn = journey["id_number"]
    assert views["regulator"]["id_number"] == idn
    assert idn not in journey["views"]["operator"].text
    assert views["operator"]["id_number_masked"] == idn[:6] + "********" + idn[14:]
    assert idn[6:14] not in journey["views"]["operator"].text

    v = journey["verification"].json()
    assert set(v) <= VERIFICATION_TOP, set(v) - VERIFICATION_TOP
    assert set(v["certificate"]) == VERIFICATION_CERT
    assert set(v["employer"]) <= VERIFICATION_EMPLOYER
    body = journey["verification"].text
    assert idn not in body and idn[6:14] not in body and journey["phone"] not in body

    assert journey["public_cert"].status_code == 200
    assert set(journey["public_cert"].json()) == PUBLIC_CERT
    items = journey["public_company"].json()["items"]
    assert items and all(set(i) == PUBLIC_COMPANY for i in items)
    for resp in (journey["public_cert"], journey["public_company"]):
        assert idn not in resp.text and journey["phone"] not in resp.text
        assert "photo" not in resp.text
