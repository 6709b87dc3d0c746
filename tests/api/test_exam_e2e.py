"""Acceptance (issue 15) on real PostgreSQL, real images, real signatures, real QR:
apply online -> photo and two fingers at the registration point -> attendance passes for
the same person (another photo, other impressions) and fails for a different person
with the same ticket -> result imported -> background check clear -> certificate issued
with no employer -> hired -> verification shows the employer; level raised -> new
certificate with the new level; employment ended -> no re-issue, "no active employer"."""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from certificates import qr
from certificates.credential import inspect
from registry import exams
from registry import exams_repository as exam_repo
from tests.conftest import (
    FINGERS,
    PEOPLE,
    Api,
    apply_online,
    internal_guard_id,
    make_principal,
    random_id_number,
)


def _approve_holds(regulator: Api, guard_id: str) -> None:
    for review in regulator.get("/v1/biometrics/reviews?limit=200").json()["items"]:
        if review["guard_id"] == guard_id:
            regulator.post(f"/v1/biometrics/reviews/{review['id']}/decision",
                           json={"approve": True, "note": "test data reuse"})


def _ticket_text(runtime: Any, staff: Api, registration_id: int) -> str:
    """The QR of the printed ticket, read back from the PDF (pdftoppm), or made the way
    the ticket is made when the tool is missing."""
    pdf = staff.get(f"/v1/exam-registrations/{registration_id}/ticket.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    if shutil.which("pdftoppm"):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "t.pdf").write_bytes(pdf.content)
            subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile",
                            str(Path(tmp) / "t.pdf"), str(Path(tmp) / "page")], check=True)
            return qr.decode_image((Path(tmp) / "page.png").read_bytes(),
                                   max_bytes=20 * 1024 * 1024)
    from api.usecases.exams import ticket_text  # pragma: no cover

    with runtime.db.transaction(readonly=True) as cur:  # pragma: no cover
        reg = exam_repo.get_registration(cur, registration_id)
    return ticket_text(runtime, reg, dt.datetime.now(dt.UTC))  # pragma: no cover


def _attend(staff: Api, ticket: str, photo: str, finger: str) -> Any:
    resp = staff.post("/v1/exam-attendance", data={"ticket": ticket, "position": "2"}, files={
        "photo": (photo, (PEOPLE / photo).read_bytes(), "image/jpeg"),
        "finger": (finger, (FINGERS / finger).read_bytes(), "image/png")})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_from_online_application_to_a_personal_certificate(
        runtime: Any, client: Any, regulator: Api, officer: Api) -> None:
    staff = make_principal(runtime, client, "exam_staff")
    today = dt.datetime.now(exams.CHINA).date()
    session = staff.post("/v1/exam-sessions", json={
        "sits_on": today.isoformat(), "venue": "河北区保安考试中心", "district": "河北区",
        "capacity": 40}).json()
    # 1. Online application: ID number, name, phone; the code is shown once.
    id_number, name = random_id_number(age=27), "郑" + secrets.choice("明强伟")
    applied = apply_online(client, runtime, session["id"], {
        "id_number": id_number, "name": name, "phone": "13800138000"})
    assert applied.status_code == 201, applied.text
    # 2. The registration point: the ID card shown, photo and two fingers captured.
    found = staff.post("/v1/exam-registrations/lookup", json={"id_number": id_number,
                                                              "session_id": session["id"]})
    registration = found.json()["items"][0]
    rid, guard_id = registration["id"], registration["guard_id"]
    face = staff.post(f"/v1/exam-registrations/{rid}/face", files={
        "photo": ("f.jpg", (PEOPLE / "Jiang_Zemin_0001_x2.jpg").read_bytes(), "image/jpeg")})
    assert face.status_code in (201, 202), face.text
    assert "candidates" not in face.json()  # exam staff never see the other identities
    for position, image in ((2, "101_1.png"), (7, "102_1.png")):
        finger = staff.post(f"/v1/exam-registrations/{rid}/fingers/{position}", files={
            "image": (image, (FINGERS / image).read_bytes(), "image/png")})
        assert finger.status_code in (201, 202), finger.text
    _approve_holds(regulator, guard_id)
    captured = staff.get(f"/v1/exam-registrations/{rid}").json()
    assert captured["face"] == "enrolled" and captured["fingers_enrolled"] == 2
    # 3. The ticket, then attendance: the same person with another photo and other
    # impressions passes; someone else presenting the same ticket does not.
    ticket = _ticket_text(runtime, staff, rid)
    assert ticket.startswith("SGX1:")
    refused = officer.post("/v1/verifications", json={"text": ticket}).json()
    assert refused["verdict"] == "malformed"  # never a guard certificate
    same = _attend(staff, ticket, "Jiang_Zemin_0002_x2.jpg", "101_2.png")
    assert same["admitted"] is True and same["fused_llr"] >= same["threshold"], same
    proxy = _attend(staff, ticket, "Wen_Jiabao_0001_x2.jpg", "103_1.png")
    assert proxy["admitted"] is False and proxy["fused_llr"] < proxy["threshold"], proxy
    with runtime.db.transaction(readonly=True) as cur:
        attempts = exam_repo.attendance_of(cur, rid)
    assert [a["admitted"] for a in attempts] == [True, False]
    # 4. The result, imported.
    imported = staff.post(f"/v1/exam-sessions/{session['id']}/results/import",
                          content=f"id_number,result,score\n{id_number},pass,86\n".encode(),
                          headers={"Content-Type": "text/csv"})
    assert imported.status_code == 200 and imported.json()["passed"] == 1, imported.text
    assert regulator.get(f"/v1/guards/{guard_id}/exams").json()["passed"] is True
    # 5. Background check clear -> 6. a certificate with no employer.
    assert regulator.post(f"/v1/guards/{guard_id}/background-checks", json={
        "result": "clear", "checked_on": today.isoformat()}).status_code == 201
    first = regulator.post(f"/v1/guards/{guard_id}/certificate")
    assert first.status_code == 201, first.text
    cert = first.json()
    assert cert["employer_id"] is None
    _, claims = inspect(cert["text"])
    assert claims.employer_id is None and claims.employer_name is None
    online = officer.post("/v1/verifications", json={"text": cert["text"]}).json()
    assert online["verdict"] == "valid" and online["employer"] is None
    assert online["employer_note"] == "no active employer"
    # 7. Hired: the certificate follows (re-issued, audited) and names the employer.
    company = regulator.make_company()
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    # The person confirms with the code texted to the phone they applied with.
    hired = operator.enroll({"name": name, "id_number": id_number,
                             "company_id": company["id"]}, texted_to="13800138000")
    assert hired.status_code == 201, hired.text
    assert hired.json()["rehired"] is True and hired.json()["reissued"], hired.json()
    second = regulator.get(f"/v1/certificates/{hired.json()['reissued']}").json()
    assert second["employer_id"] == company["id"]
    assert regulator.get(f"/v1/certificates/{cert['number']}").json()["status"] == "revoked"
    online = officer.post("/v1/verifications", json={"text": second["text"]}).json()
    assert online["verdict"] == "valid"
    assert online["employer"]["name"] == company["name"]
    assert online["employer"]["matches_certificate"] is True
    # 8. Level raised by an assessor: a new certificate with the new level.
    assessor = make_principal(runtime, client, "skill_assessor")
    raised = assessor.post("/v1/skill-evaluations", json={
        "id_number": id_number, "name": name, "kind": "exam", "passed": True, "level": 4,
        "evidence": "四级鉴定 88", "evaluated_on": today.isoformat()})
    assert raised.status_code == 201 and raised.json()["reissued"], raised.text
    third = regulator.get(f"/v1/certificates/{raised.json()['reissued']}").json()
    assert third["skill_level"] == 4 and third["employer_id"] == company["id"]
    # 9. A name change re-issues too; losing the employer does not.
    renamed = regulator.patch(f"/v1/guards/{guard_id}", json={"name": name + "华"})
    assert renamed.status_code == 200 and renamed.json()["reissued"], renamed.text
    fourth = regulator.get(f"/v1/certificates/{renamed.json()['reissued']}").json()
    assert inspect(fourth["text"])[1].guard_name == name + "华"
    ended = operator.post(f"/v1/guards/{guard_id}/employment/end", json={"reason": "合同到期"})
    assert ended.status_code == 200, ended.text
    live = regulator.get(f"/v1/guards/{guard_id}/certificates").json()["items"]
    assert [c["number"] for c in live if c["status"] == "valid"] == [fourth["number"]]
    online = officer.post("/v1/verifications", json={"text": fourth["text"]}).json()
    assert online["verdict"] == "valid" and online["employer"] is None
    assert online["employer_note"] == "no active employer"
    # The audit trail names the system as the actor of each automatic re-issue.
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT count(*) AS n FROM registry_audit_event WHERE action ="
                    " 'certificate.issue.signed' AND actor LIKE 'system%%'"
                    " AND data->>'guard_id' = %s",
                    (str(internal_guard_id(runtime, guard_id)),))
        assert cur.fetchone()["n"] == 3
