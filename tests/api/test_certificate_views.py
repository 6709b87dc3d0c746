"""The certificate routes' response models (issue 19) describe the answers without
changing them: what a model-checked route writes equals what the same view wrote
before (times as ``isoformat()`` writes them, fields beyond the model passed through)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.schemas_certificates import CertificateOut, VerificationOut
from certificates import qr
from tests.conftest import (
    Api,
    capture_biometrics,
    make_issuable_guard,
    make_principal,
    record_exam_pass,
)


def test_a_certificate_read_back_equals_the_issuance_answer(regulator: Api) -> None:
    guard = make_issuable_guard(regulator, regulator.make_company()["id"])
    issued = regulator.post(f"/v1/guards/{guard['id']}/certificate")
    assert issued.status_code == 201
    cert = issued.json()  # written by the encoder, not by the model
    assert regulator.get(f"/v1/certificates/{cert['number']}").json() == cert
    listed = regulator.get(f"/v1/guards/{guard['id']}/certificates").json()["items"]
    assert listed[-1] == cert
    assert cert["issued_at"].endswith("+00:00")
    assert set(CertificateOut.model_fields) <= set(cert)


def test_the_photo_answer_equals_the_text_answer(regulator: Api, officer: Api) -> None:
    # /verifications writes its bytes itself (the hot path); /verifications/image goes
    # through the model: the two answers for the same certificate are the same.
    guard = make_issuable_guard(regulator, regulator.make_company()["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    by_text = officer.post("/v1/verifications", json={"text": cert["text"]})
    png = qr.render_png(cert["text"])
    by_photo = officer.post("/v1/verifications/image",
                            files={"image": ("qr.png", png, "image/png")})
    assert by_text.status_code == by_photo.status_code == 200, by_photo.text
    assert by_photo.json() == by_text.json()
    assert by_text.json()["verdict"] == "valid"
    VerificationOut.model_validate(by_text.json())  # the document describes the answer


def test_request_times_keep_their_form(regulator: Api, runtime: Any, client: Any) -> None:
    company = regulator.make_company()
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    guard = operator.make_guard(company["id"])
    capture_biometrics(operator, regulator, guard["id"])
    regulator.post(f"/v1/guards/{guard['id']}/background-checks",
                   json={"result": "clear", "checked_on": dt.date.today().isoformat()})
    record_exam_pass(regulator, guard["id"])
    req = operator.post(f"/v1/guards/{guard['id']}/certificate-requests",
                        json={"note": "new"}).json()
    regulator.post(f"/v1/certificate-requests/{req['id']}/decision",
                   json={"approve": False}).raise_for_status()
    done = [r for r in operator.get("/v1/certificate-requests",
                                    params={"status": "rejected", "limit": 200}).json()["items"]
            if r["id"] == req["id"]]
    assert len(done) == 1
    row = done[0]
    assert row["created_at"] == req["created_at"]
    assert row["decided_at"] is not None and not row["decided_at"].endswith("Z")
    dt.datetime.fromisoformat(row["decided_at"])
