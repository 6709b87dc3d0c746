"""Complaints from the public (notice §2 §4 §11) on the real stack."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.jobs import cluster_jobs
from registry.jobs import JobRunner
from tests.conftest import FIXTURES, Api, Clock, make_issuable_guard, random_id_number

JPEG = (FIXTURES / "people" / "Zhang_Ziyi_0001_x2.jpg").read_bytes()
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CONTACT = "王女士 13912345678"


@pytest.fixture
def public(app: Any) -> Iterator[TestClient]:
    """The public, from an address of its own (the intake is rate-limited per address)."""
    host = f"198.51.100.{secrets.randbelow(250) + 1}"
    with TestClient(app, client=(host, 40000 + secrets.randbelow(20000))) as c:
        yield c


def _file(public: TestClient, **fields: Any) -> Any:
    files = fields.pop("files", None)
    return public.post("/v1/public/complaints", data=fields, files=files)


def test_a_complaint_is_tracked_by_code_and_its_private_parts_are_sealed(
        public: TestClient, regulator: Api, runtime: Any) -> None:
    company = regulator.make_company()
    resp = _file(public, category="wage-arrears", company_id=str(company["id"]),
                 description="保安员连续三个月未发工资，公司拒绝支付加班费。",
                 contact=CONTACT, files=[("attachments", ("pay.jpg", JPEG, "image/jpeg")),
                                         ("attachments", ("note.pdf", PDF, "application/pdf"))])
    assert resp.status_code == 201, resp.text
    code = resp.json()["tracking_code"]
    assert len(code.replace("-", "")) == 20
    status = public.get(f"/v1/public/complaints/{code}").json()
    assert status["status"] == "received" and status["category"] == "wage-arrears"
    guess = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(20))
    assert public.get(f"/v1/public/complaints/{guess}").status_code == 404
    case = next(c for c in regulator.get("/v1/complaints?limit=200").json()["items"]
                if c["company_id"] == company["id"])
    full = regulator.get(f"/v1/complaints/{case['id']}").json()
    assert full["contact"] == CONTACT and len(full["attachments"]) == 2
    got = regulator.get(f"/v1/complaints/{case['id']}/attachments/"
                        f"{full['attachments'][0]['id']}")
    assert got.content == JPEG and got.headers["content-type"] == "image/jpeg"
    # At rest: the contact and the files are sealed, the code is not stored at all.
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT contact_sealed, tracking_hash FROM registry_complaint WHERE id = %s",
                    (case["id"],))
        row = cur.fetchone()
        cur.execute("SELECT sealed FROM registry_complaint_attachment WHERE complaint_id = %s",
                    (case["id"],))
        sealed = [bytes(r["sealed"]) for r in cur.fetchall()]
    assert b"13912345678" not in bytes(row["contact_sealed"])
    assert code.encode() not in bytes(row["tracking_hash"])
    assert all(JPEG[100:200] not in s and b"trailer" not in s for s in sealed)
    # Only the regulator reads complaints.
    assert public.get("/v1/complaints").status_code == 401


def test_bad_input_is_refused_with_its_reason(app: Any) -> None:
    def fresh(**fields: Any) -> Any:
        host = f"192.0.2.{secrets.randbelow(250) + 1}"
        with TestClient(app, client=(host, 40000 + secrets.randbelow(20000))) as c:
            return _file(c, **fields)

    gif = b"GIF89a" + b"\x00" * 50
    bad = fresh(category="other", description="描述足够长的一段投诉内容。",
                files=[("attachments", ("x.gif", gif, "image/gif"))])
    assert bad.status_code == 422 and bad.json()["reason"] == "attachment-type"
    four = [("attachments", (f"{i}.pdf", PDF, "application/pdf")) for i in range(4)]
    assert fresh(category="other", description="描述足够长的一段投诉内容。", files=four
                 ).status_code == 422
    assert fresh(category="nonsense", description="描述足够长的一段投诉内容。").status_code == 422
    assert fresh(category="other", description="太短").status_code == 422
    assert fresh(category="other", description="含有\u202e方向控制字符的投诉内容"
                 ).status_code == 422


def test_the_intake_is_rate_limited_per_address(app: Any) -> None:
    with TestClient(app, client=("203.0.113.77", 41000)) as c:
        codes = [_file(c, category="other", description="同一地址连续提交的投诉内容。"
                       ).status_code for _ in range(8)]
    assert codes[0] == 201 and 429 in codes


def test_an_upheld_complaint_acts_in_one_transaction_and_the_case_is_purged_later(
        public: TestClient, regulator: Api, runtime: Any) -> None:
    company = regulator.make_company()
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    code = _file(public, category="guard-misconduct", company=company["name"],
                 certificate_number=cert["number"], contact=CONTACT,
                 description="值班保安员殴打业主，公司未作处理。").json()["tracking_code"]
    case_id = next(c["id"] for c in regulator.get("/v1/complaints?status=received&limit=200"
                                                  ).json()["items"]
                   if regulator.get(f"/v1/complaints/{c['id']}").json()["certificate_number"]
                   == cert["number"])
    url = f"/v1/complaints/{case_id}"
    assert regulator.post(f"{url}/triage", json={"priority": "high",
                                                 "company_id": company["id"]}
                          ).status_code == 204
    assert regulator.post(f"{url}/assign", json={"assignee": "治安总队 李警官"}
                          ).status_code == 204
    assert regulator.post(f"{url}/notes", json={"note": "内部：监控录像已调取"}
                          ).status_code == 204
    # Consequences only for an upheld complaint; a refused close changes nothing.
    refused = regulator.post(f"{url}/close", json={"outcome": "not-upheld", "summary": "无",
                                                   "credit_points": -50})
    assert refused.status_code == 422
    banned_id = random_id_number()
    closed = regulator.post(f"{url}/close", json={
        "outcome": "upheld", "summary": "经查属实，已依法处理。", "credit_points": -200,
        "list": "black", "ban": {"id_number": banned_id, "reason": "殴打群众"},
        "suspend_guard_id": guard["id"]})
    assert closed.status_code == 200, closed.text
    kinds = sorted(a["ref_type"] for a in closed.json()["actions"])
    assert kinds == ["ban", "credit-entry", "guard", "list-entry"]
    after = regulator.get(f"/v1/companies/{company['id']}").json()
    assert after["black_list"] is True and after["credit_grade"] == "C"
    assert regulator.get(f"/v1/certificates/{cert['number']}").json()["status"] == "suspended"
    assert any(b["id_number"] == banned_id for b in regulator.get("/v1/bans").json()["items"])
    status = public.get(f"/v1/public/complaints/{code}").json()
    assert status["status"] == "closed" and status["outcome"] == "upheld"
    assert status["summary"] == "经查属实，已依法处理。"
    assert "监控" not in str(status)  # internal notes stay internal
    assert regulator.post(f"{url}/notes", json={"note": "x"}).status_code == 409
    # Past the retention period the job purges what could identify anyone (the job's
    # own clock moves; the session-wide one must not).
    clock = Clock()
    clock.advance(days=3 * 365 + 2)
    runner = JobRunner(runtime.db, [j for j in cluster_jobs(runtime)
                                    if j.name == "supervision.purge-complaints"], clock=clock)
    assert runner.run_now("supervision.purge-complaints")
    purged = regulator.get(url).json()
    assert purged["description"] is None and purged["contact"] is None
    assert purged["attachments"] == [] and purged["purged_at"] is not None
    assert purged["outcome"] == "upheld"  # the skeleton stays for the ledger's evidence
    assert public.get(f"/v1/public/complaints/{code}").json()["status"] == "closed"
