"""Takeover by re-hire (issue 14), on a running service (uvicorn on a loopback port).

A company that knows a guard's ID number used to be able to enroll them, overwrite their
name and phone, and read their photo, history, certificates and card. Now re-hiring a
person who works or has worked for another company needs the person's one-time hire code
(read on their guard page) or the regulator; identity fields are never overwritten; and
the refusal is the same bytes whatever the person's situation, for ``POST /v1/guards``
and for the CSV import behind ``guardreg enroll-batch``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.runtime import Runtime
from tests.api.live_server import serve
from tests.conftest import Api, make_issuable_guard, make_principal, random_id_number

RID = "takeover-probe"  # one request id for every compared request: the bodies carry it


@pytest.fixture(scope="module")
def live(app: Any) -> Iterator[str]:
    with serve(app) as base:
        yield base


class Http:
    """One principal against the live server."""

    def __init__(self, base: str, api: Api) -> None:
        self.base, self.headers = base, api.headers

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return httpx.request(method, self.base + path, headers=headers, timeout=120, **kw)


def _enroll(http: Http, body: dict[str, Any]) -> httpx.Response:
    return http.call("POST", "/v1/guards", json=body, headers={"X-Request-ID": RID})


def _import(http: Http, row: str) -> httpx.Response:
    csv = "name,id_number,phone,consent_code\n" + row + "\n"
    return http.call("POST", "/v1/guards/import", content=csv.encode(),
                     headers={"content-type": "text/csv", "X-Request-ID": RID})


def _same_answer(a: httpx.Response, b: httpx.Response) -> None:
    """Byte-identical bodies, the same status and the same headers (but ``date``, the
    server's clock)."""
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert [(k, v) for k, v in a.headers.items() if k != "date"] == \
        [(k, v) for k, v in b.headers.items() if k != "date"]


@pytest.fixture(scope="module")
def world(runtime: Runtime, client: Any, regulator: Api, live: str) -> dict[str, Any]:
    """Company A employs ``employed`` (with a certificate) and employed ``former`` (now
    between jobs); company B wants to hire them."""
    a, b = regulator.make_company(), regulator.make_company()
    employed = make_issuable_guard(regulator, a["id"], phone="13900000001")
    cert = regulator.post(f"/v1/guards/{employed['id']}/certificate")
    assert cert.status_code == 201, cert.text
    former = regulator.make_guard(a["id"], phone="13900000002")
    ended = regulator.post(f"/v1/guards/{former['id']}/employment/end", json={"reason": "quit"})
    assert ended.status_code == 200, ended.text
    return {
        "a": a, "b": b, "employed": employed, "former": former, "cert": cert.json(),
        "op_a": Http(live, make_principal(runtime, client, "company_operator",
                                          company_id=a["id"])),
        "op_b": Http(live, make_principal(runtime, client, "company_operator",
                                          company_id=b["id"])),
        "reg": Http(live, regulator),
        "guard": Http(live, make_principal(runtime, client, "guard",
                                           guard_id=employed["id"])),
    }


def _body(guard: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": guard["name"], "id_number": guard["id_number"],
            "phone": guard["phone"], **extra}


def test_without_consent_the_answer_is_the_same_whatever_the_person(
        world: dict[str, Any]) -> None:
    op_b = world["op_b"]
    employed, former = world["employed"], world["former"]
    refused = _enroll(op_b, _body(employed))
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["reason"] == "consent-required"
    assert "hire code" in problem["detail"]
    # Employed elsewhere, or between jobs with a history elsewhere: the same bytes.
    _same_answer(refused, _enroll(op_b, _body(former)))
    # Another name, another phone, a wrong or malformed code: still the same bytes, so the
    # answer confirms neither the name nor the phone on file.
    _same_answer(refused, _enroll(op_b, _body(employed, name="冒名者")))
    _same_answer(refused, _enroll(op_b, _body(employed, phone="13000000000")))
    _same_answer(refused, _enroll(op_b, _body(employed, consent_code="ABCD-EFGH")))
    _same_answer(refused, _enroll(op_b, _body(former, consent_code="x")))
    # Nothing in it names the other company, the guard or the employment.
    for secret in (world["a"]["name"], employed["id"], employed["name"], employed["phone"],
                   "employed", "elsewhere"):
        assert secret not in refused.text
    # The CSV import behind `guardreg enroll-batch`: the same, row by row.
    one = _import(op_b, f"{employed['name']},{employed['id_number']},{employed['phone']},")
    two = _import(op_b, f"{former['name']},{former['id_number']},{former['phone']},WRONG-CODE")
    assert one.status_code == 200, one.text
    assert one.json()["rejected"] and one.json()["enrolled"] == []
    _same_answer(one, two)
    assert "elsewhere" not in one.text and world["a"]["name"] not in one.text


def test_before_the_hire_the_new_company_reaches_nothing(world: dict[str, Any]) -> None:
    op_b, employed, number = world["op_b"], world["employed"], world["cert"]["number"]
    gid = employed["id"]
    for method, path, kw in (
            ("GET", f"/v1/guards/{gid}", {}),
            ("GET", f"/v1/guards/{gid}/face/photo", {}),
            ("GET", f"/v1/guards/{gid}/employment", {}),
            ("GET", f"/v1/guards/{gid}/certificates", {}),
            ("GET", f"/v1/guards/{gid}/card.pdf", {}),
            ("GET", f"/v1/certificates/{number}", {}),
            ("POST", f"/v1/certificates/{number}/revoke", {"json": {"reason": "misconduct"}}),
            ("POST", f"/v1/certificates/{number}/suspend", {"json": {"reason": "misconduct"}})):
        resp = op_b.call(method, path, **kw)
        assert resp.status_code == 404, f"{method} {path}: {resp.status_code} {resp.text}"
        assert employed["name"] not in resp.text
    # The record is as company A left it, and the certificate still valid.
    record = world["reg"].call("GET", f"/v1/guards/{gid}").json()
    assert (record["name"], record["phone"], record["company_id"]) == (
        employed["name"], employed["phone"], world["a"]["id"])
    assert world["reg"].call("GET", f"/v1/certificates/{number}").json()["status"] == "valid"


def test_the_hire_code_lets_the_new_company_hire_without_changing_the_record(
        world: dict[str, Any]) -> None:
    op_b, guard, employed = world["op_b"], world["guard"], world["employed"]
    code_resp = guard.call("POST", "/v1/me/hire-code")
    assert code_resp.status_code == 200, code_resp.text
    code = code_resp.json()["code"]
    assert len(code.replace("-", "")) == 8 and code_resp.json()["expires_at"]
    # With consent, a mismatch may be said: a clear 409, naming no stored value; the
    # record is unchanged and the code still usable (the refusal rolled back).
    for wrong in (_body(employed, name="别人", consent_code=code),
                  _body(employed, phone="13000000000", consent_code=code)):
        resp = _enroll(op_b, wrong)
        assert resp.status_code == 409, resp.text
        assert resp.json()["reason"] == "identity-mismatch"
        assert employed["name"] not in resp.text and employed["phone"] not in resp.text
    hired = _enroll(op_b, _body(employed, consent_code=code.lower()))  # typed in lower case
    assert hired.status_code == 201, hired.text
    view = hired.json()
    assert view["id"] == employed["id"] and view["rehired"] is True
    assert view["company_id"] == world["b"]["id"]
    assert (view["name"], view["phone"]) == (employed["name"], employed["phone"])
    # The move is one history: A's employment ended, B's begun.
    history = op_b.call("GET", f"/v1/guards/{employed['id']}/employment").json()["items"]
    assert [h["company_id"] for h in history] == [world["a"]["id"], world["b"]["id"]]
    assert history[0]["ended_on"] is not None
    # The credential follows the person (issue 15): re-issued under B, a new number. The
    # certificate issued under A stays out of B's reach: not read, printed or revoked.
    number, reissued = world["cert"]["number"], view["reissued"]
    assert reissued and reissued != number, view
    assert op_b.call("GET", f"/v1/certificates/{number}").status_code == 404
    assert op_b.call("POST", f"/v1/certificates/{number}/revoke",
                     json={"reason": "misconduct"}).status_code == 404
    listed = op_b.call("GET", f"/v1/guards/{employed['id']}/certificates").json()["items"]
    assert [c["number"] for c in listed] == [reissued]
    assert op_b.call("GET", f"/v1/certificates/{reissued}").json()["employer_id"] == \
        world["b"]["id"]
    # B prints the card of the certificate issued under B, and no card of A's.
    assert op_b.call("GET", f"/v1/guards/{employed['id']}/card.pdf").status_code == 200
    cards = op_b.call("GET", f"/v1/guards/{employed['id']}/cards").json()["items"]
    assert cards and all(c["certificate_number"] == reissued for c in cards)
    # A no longer reaches the person at all.
    assert world["op_a"].call("GET", f"/v1/guards/{employed['id']}").status_code == 404
    # The regulator, who sees every company, is told where the person works.
    c = world["reg"].call("POST", "/v1/companies", json={
        "name": "第三保安公司", "credit_code": _credit_code(), "kind": "security_service",
        "licence_number": "津公保99", "district": "和平区"}).json()
    resp = world["reg"].call("POST", "/v1/guards", json={**_body(employed), "company_id": c["id"]})
    assert resp.json()["reason"] == "employed-elsewhere"
    audit = world["reg"].call("GET", f"/v1/audit/events?target_type=guard"
                                     f"&target_id={employed['id']}").json()["items"]
    rehire = [e for e in audit if e["action"] == "guard.rehire"]
    assert rehire and rehire[-1]["data"]["consent"] == "hire-code"
    assert any(e["action"] == "guard.hire_code" for e in audit)


def test_a_code_is_one_time_and_the_regulator_needs_none(runtime: Runtime, client: Any,
                                                         world: dict[str, Any]) -> None:
    former, reg = world["former"], world["reg"]
    me = Http(reg.base, make_principal(runtime, client, "guard", guard_id=former["id"]))
    first = me.call("POST", "/v1/me/hire-code").json()["code"]
    second = me.call("POST", "/v1/me/hire-code").json()["code"]
    # A new code replaces the previous one.
    refused = _enroll(world["op_b"], _body(former, consent_code=first))
    assert refused.json()["reason"] == "consent-required"
    # The regulator enrolls without a code (its approval), still never overwriting.
    c = reg.call("POST", "/v1/companies", json={
        "name": "第四保安公司", "credit_code": _credit_code(), "kind": "security_service",
        "licence_number": "津公保98", "district": "和平区"}).json()
    mismatch = reg.call("POST", "/v1/guards", json={**_body(former, name="改名"),
                                                     "company_id": c["id"]})
    assert mismatch.status_code == 409 and mismatch.json()["reason"] == "identity-mismatch"
    ok = reg.call("POST", "/v1/guards", json={**_body(former), "company_id": c["id"]})
    assert ok.status_code == 201, ok.text
    assert ok.json()["id"] == former["id"] and ok.json()["name"] == former["name"]
    # The second code works once: B hires the person from C with it; C's operator cannot
    # take them back with the same code.
    moved = _enroll(world["op_b"], _body(former, consent_code=second))
    assert moved.status_code == 201, moved.text
    op_c = Http(reg.base, make_principal(runtime, client, "company_operator",
                                         company_id=c["id"]))
    again = _enroll(op_c, _body(former, consent_code=second))
    assert again.status_code == 409 and again.json()["reason"] == "consent-required"


def test_own_former_guard_is_rehired_without_a_code_but_never_renamed(
        runtime: Runtime, client: Any, regulator: Api, live: str) -> None:
    company = regulator.make_company()
    op = Http(live, make_principal(runtime, client, "company_operator",
                                   company_id=company["id"]))
    body = {"name": "周八", "id_number": random_id_number(), "phone": "13900000003"}
    first = op.call("POST", "/v1/guards", json=body)
    assert first.status_code == 201, first.text
    gid = first.json()["id"]
    assert op.call("POST", f"/v1/guards/{gid}/employment/end",
                   json={"reason": "season"}).status_code == 200
    renamed = op.call("POST", "/v1/guards", json={**body, "name": "周九"})
    assert renamed.status_code == 409 and renamed.json()["reason"] == "identity-mismatch"
    rephoned = op.call("POST", "/v1/guards", json={**body, "phone": "13900000004"})
    assert rephoned.status_code == 409 and rephoned.json()["reason"] == "identity-mismatch"
    again = op.call("POST", "/v1/guards", json=body)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == gid and again.json()["rehired"] is True
    assert (again.json()["name"], again.json()["phone"]) == ("周八", "13900000003")


def _credit_code() -> str:
    from tests.conftest import random_credit_code

    return random_credit_code()
