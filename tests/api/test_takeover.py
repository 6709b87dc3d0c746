"""Takeover by re-hire and enumeration by enrollment (issue 14), on a running service
(uvicorn on a loopback port).

A company that knows an ID number used to learn from the enrollment answer whether the
person was a guard here or elsewhere, was on record under another name, or was banned,
and could take over a guard's record. Now a company operator's enrollment without a
valid code always gets the same 202 ``awaiting-confirmation`` (the same bytes but for the
request's own fields), for ``POST /v1/guards`` and for each row of the CSV import behind
``guardreg enroll-batch``; a one-time code goes by text message to the phone on the
person's record (to the phone given only for a person new to the registry), and the hire
goes on with it, or with the hire code of the person's guard page. Codes are read here
from the SMS outbox through the repository, the gateway's side.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.runtime import Runtime
from registry import enroll_consent_repository
from tests.api.live_server import serve
from tests.conftest import (
    Api,
    apply_online,
    make_issuable_guard,
    make_principal,
    random_credit_code,
    random_id_number,
    texted_code,
)

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


def _phone() -> str:
    return f"137{secrets.randbelow(10 ** 8):08d}"


def _enroll(http: Http, body: dict[str, Any]) -> httpx.Response:
    return http.call("POST", "/v1/guards", json=body, headers={"X-Request-ID": RID})


def _import(http: Http, row: str) -> httpx.Response:
    csv = "name,id_number,phone,consent_code\n" + row + "\n"
    return http.call("POST", "/v1/guards/import", content=csv.encode(),
                     headers={"content-type": "text/csv", "X-Request-ID": RID})


def _messages_to(runtime: Runtime, phone: str) -> list[dict[str, Any]]:
    with runtime.db.transaction(readonly=True) as cur:
        return enroll_consent_repository.list_sms(cur, status=None, phone=phone, limit=500)


def _same_answer(a: httpx.Response, b: httpx.Response,
                 echoed: tuple[dict[str, Any], dict[str, Any]] | None = None) -> None:
    """The same status, the same headers (but ``date``, the server's clock, and the
    length of the echoed fields) and the same body bytes once the request's own echoed
    fields (name, ID number) are blanked out."""
    assert a.status_code == b.status_code
    skip = {"date", "content-length"}
    assert [(k, v) for k, v in a.headers.items() if k not in skip] == \
        [(k, v) for k, v in b.headers.items() if k not in skip]
    body_a, body_b = a.content, b.content
    assert int(a.headers["content-length"]) == len(body_a)
    assert int(b.headers["content-length"]) == len(body_b)
    if echoed is not None:
        for body, sent in ((0, echoed[0]), (1, echoed[1])):
            blob = body_a if body == 0 else body_b
            for key in ("name", "id_number"):
                blob = blob.replace(str(sent[key]).encode(), b"<" + key.encode() + b">")
            if body == 0:
                body_a = blob
            else:
                body_b = blob
    assert body_a == body_b


@pytest.fixture(scope="module")
def world(runtime: Runtime, client: Any, regulator: Api, live: str) -> dict[str, Any]:
    """Company A employs ``employed`` (with a certificate) and employed ``former`` (now
    between jobs) and ``banned`` (left, then banned); ``applicant`` applied for the exam
    and never worked; company B wants to hire them."""
    a, b = regulator.make_company(), regulator.make_company()
    employed = make_issuable_guard(regulator, a["id"], phone=_phone())
    cert = regulator.post(f"/v1/guards/{employed['id']}/certificate")
    assert cert.status_code == 201, cert.text
    former = regulator.make_guard(a["id"], phone=_phone())
    ended = regulator.post(f"/v1/guards/{former['id']}/employment/end", json={"reason": "quit"})
    assert ended.status_code == 200, ended.text
    banned = regulator.make_guard(a["id"], phone=_phone())
    assert regulator.post(f"/v1/guards/{banned['id']}/employment/end",
                          json={"reason": "quit"}).status_code == 200
    ban = regulator.post("/v1/bans", json={"id_number": banned["id_number"],
                                           "reason": "违法从业", "until_on": "2099-01-01"})
    assert ban.status_code == 201, ban.text
    staff = make_principal(runtime, client, "exam_staff")
    session = staff.post("/v1/exam-sessions", json={
        "sits_on": "2099-06-01", "venue": "河北区保安考试中心", "district": "河北区",
        "capacity": 40}).json()
    applicant = {"name": "郑" + secrets.choice("明强伟"), "id_number": random_id_number(),
                 "phone": _phone()}
    applied = apply_online(client, runtime, session["id"], applicant)
    assert applied.status_code == 201, applied.text
    return {
        "a": a, "b": b, "employed": employed, "former": former, "banned": banned,
        "applicant": applicant, "cert": cert.json(),
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


def _new_company(reg: Http, live: str, runtime: Runtime, client: Any) -> tuple[dict[str, Any],
                                                                            Http]:
    c = reg.call("POST", "/v1/companies", json={
        "name": f"保安公司{secrets.token_hex(3)}", "credit_code": random_credit_code(),
        "kind": "security_service", "licence_number": f"津公保{secrets.randbelow(10**6)}",
        "district": "和平区"}).json()
    return c, Http(live, make_principal(runtime, client, "company_operator",
                                        company_id=c["id"]))


def test_without_a_code_the_answer_is_the_same_whatever_the_person(
        runtime: Runtime, client: Any, live: str, world: dict[str, Any]) -> None:
    _, op = _new_company(world["reg"], live, runtime, client)
    unknown = {"name": "陌生人", "id_number": random_id_number(), "phone": _phone()}
    cases = {
        "unknown": unknown,
        "known, never employed": _body(world["applicant"]),
        "employed elsewhere": _body(world["employed"]),
        "employed elsewhere before": _body(world["former"]),
        "another name on record": _body(world["employed"], name="冒名者"),
        "another phone than on record": _body(world["former"], phone=_phone()),
        "banned": _body(world["banned"]),
        "wrong code": _body(world["employed"], consent_code="123456"),
        "wrong hire code": _body(world["former"], consent_code="ABCD-EFGH"),
    }
    answers = {k: _enroll(op, body) for k, body in cases.items()}
    first = answers["unknown"]
    assert first.status_code == 202, first.text
    view = first.json()
    assert view["status"] == "awaiting-confirmation"
    assert "confirmation code" in view["detail"]
    assert (view["name"], view["id_number"]) == (unknown["name"], unknown["id_number"])
    for kind, resp in answers.items():
        assert resp.status_code == 202, f"{kind}: {resp.text}"
        _same_answer(first, resp, (unknown, cases[kind]))
    # Nothing in it names another company, the guard, the record or the ban.
    for kind, resp in answers.items():
        for secret in (world["a"]["name"], world["employed"]["id"], world["employed"]["phone"],
                       world["former"]["phone"], "elsewhere", "ban", "2099"):
            assert secret not in resp.text, (kind, secret)
    # Nothing was created or changed for the company to see.
    assert op.call("GET", "/v1/guards").json()["items"] == []
    record = world["reg"].call("GET", f"/v1/guards/{world['employed']['id']}").json()
    assert record["company_id"] == world["a"]["id"]
    # The CSV import behind `guardreg enroll-batch`: the same, row by row.
    rows = [f"{unknown['name']},{random_id_number()},{_phone()},",
            f"{world['employed']['name']},{world['employed']['id_number']},,",
            f"{world['applicant']['name']},{world['applicant']['id_number']},,",
            f"别人,{world['former']['id_number']},{_phone()},",
            f"{world['banned']['name']},{world['banned']['id_number']},,",
            f"{world['former']['name']},{world['former']['id_number']},,WRONG-CODE"]
    imports = [_import(op, row) for row in rows]
    assert imports[0].status_code == 200, imports[0].text
    summary = imports[0].json()
    assert summary["enrolled"] == [] and summary["rejected"] == []
    assert summary["awaiting_confirmation"] == [{"line": 2}]
    for resp in imports[1:]:
        _same_answer(imports[0], resp)


def test_the_code_goes_to_the_phone_on_record_never_to_the_companys(
        runtime: Runtime, client: Any, live: str, world: dict[str, Any]) -> None:
    _, op = _new_company(world["reg"], live, runtime, client)
    former, typed = world["former"], _phone()
    before = len(_messages_to(runtime, former["phone"]))
    assert _enroll(op, _body(former, phone=typed)).status_code == 202
    assert _messages_to(runtime, typed) == []
    sent = _messages_to(runtime, former["phone"])
    assert len(sent) == before + 1
    # A person on record without a phone gets nothing; the company's phone neither.
    no_phone = world["reg"].call("POST", "/v1/guards", json={
        "name": "无电话", "id_number": random_id_number(), "company_id": world["a"]["id"]})
    assert no_phone.status_code == 201, no_phone.text
    person = no_phone.json()
    listed = world["reg"].call("GET", f"/v1/guards/{person['id']}").json()
    resp = _enroll(op, {"name": "无电话", "id_number": listed["id_number"], "phone": typed})
    assert resp.status_code == 202
    assert _messages_to(runtime, typed) == []
    # A person new to the registry: the phone given, which the record then gets.
    new = {"name": "新人", "id_number": random_id_number(), "phone": _phone()}
    assert _enroll(op, new).status_code == 202
    code = texted_code(runtime, new["phone"])
    # The code is bound to the phone it went to: not good for another phone.
    assert _enroll(op, {**new, "phone": _phone(), "consent_code": code}).status_code == 202
    hired = _enroll(op, {**new, "consent_code": code})
    assert hired.status_code == 201, hired.text
    assert hired.json()["rehired"] is False and hired.json()["phone"] == new["phone"]


def test_wrong_and_reused_codes_fail(runtime: Runtime, client: Any, live: str,
                                     world: dict[str, Any]) -> None:
    _, op = _new_company(world["reg"], live, runtime, client)
    person = {"name": "试码", "id_number": random_id_number(), "phone": _phone()}
    assert _enroll(op, person).status_code == 202
    code = texted_code(runtime, person["phone"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    # Wrong guesses wear the code out: after five, even the right one is refused.
    for _ in range(5):
        assert _enroll(op, {**person, "consent_code": wrong}).status_code == 202
    assert _enroll(op, {**person, "consent_code": code}).status_code == 202
    # (Expiry, with the service's clock moved: tests/registry/test_enroll_consent.py.)
    # A fresh one works once.
    assert _enroll(op, person).status_code == 202
    code = texted_code(runtime, person["phone"])
    hired = _enroll(op, {**person, "consent_code": code})
    assert hired.status_code == 201, hired.text
    gid = hired.json()["id"]
    assert op.call("POST", f"/v1/guards/{gid}/employment/end",
                   json={"reason": "season"}).status_code == 200
    again = _enroll(op, {**person, "consent_code": code})
    assert again.status_code == 202, again.text


def test_a_code_works_only_for_the_company_it_was_sent_for(
        runtime: Runtime, client: Any, live: str, world: dict[str, Any]) -> None:
    _, op_c = _new_company(world["reg"], live, runtime, client)
    _, op_d = _new_company(world["reg"], live, runtime, client)
    person = {"name": "两家", "id_number": random_id_number(), "phone": _phone()}
    assert _enroll(op_c, person).status_code == 202
    code = texted_code(runtime, person["phone"])
    assert _enroll(op_d, {**person, "consent_code": code}).status_code == 202
    hired = _enroll(op_c, {**person, "consent_code": code})
    assert hired.status_code == 201, hired.text


def test_with_the_texted_code_the_new_company_takes_the_person_over(
        runtime: Runtime, client: Any, live: str, regulator: Api,
        world: dict[str, Any]) -> None:
    a = regulator.make_company()
    person = regulator.make_guard(a["id"], phone=_phone())
    c, op_c = _new_company(world["reg"], live, runtime, client)
    body = {"name": person["name"], "id_number": person["id_number"]}  # no phone typed
    assert _enroll(op_c, body).status_code == 202
    code = texted_code(runtime, person["phone"])
    hired = _enroll(op_c, {**body, "consent_code": code})
    assert hired.status_code == 201, hired.text
    assert hired.json()["id"] == person["id"] and hired.json()["rehired"] is True
    history = op_c.call("GET", f"/v1/guards/{person['id']}/employment").json()["items"]
    assert [h["company_id"] for h in history] == [a["id"], c["id"]]
    assert history[0]["ended_on"] is not None
    audit = world["reg"].call("GET", f"/v1/audit/events?target_type=guard"
                                     f"&target_id={person['id']}").json()["items"]
    assert [e for e in audit if e["action"] == "guard.rehire"][-1]["data"]["consent"] == \
        "phone-code"


def test_with_consent_a_banned_person_is_not_eligible_and_the_reason_stays_hidden(
        runtime: Runtime, client: Any, live: str, world: dict[str, Any]) -> None:
    _, op = _new_company(world["reg"], live, runtime, client)
    banned = world["banned"]
    assert _enroll(op, _body(banned)).status_code == 202
    code = texted_code(runtime, banned["phone"])
    refused = _enroll(op, _body(banned, consent_code=code))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["reason"] == "not-eligible"
    assert "public security bureau" in problem["detail"]
    for secret in ("ban", "2099", "违法"):
        assert secret not in refused.text
    # A banned ID number new to the registry: the same.
    number, phone = random_id_number(), _phone()
    assert world["reg"].call("POST", "/v1/bans", json={
        "id_number": number, "reason": "违法从业"}).status_code == 201
    assert _enroll(op, {"name": "禁业", "id_number": number, "phone": phone}).status_code == 202
    again = _enroll(op, {"name": "禁业", "id_number": number, "phone": phone,
                         "consent_code": texted_code(runtime, phone)})
    assert again.status_code == 422 and again.json()["reason"] == "not-eligible"
    assert "ban" not in again.text
    # The regulator is still told.
    c = world["reg"].call("POST", "/v1/companies", json={
        "name": f"保安公司{secrets.token_hex(3)}", "credit_code": random_credit_code(),
        "kind": "security_service", "licence_number": "津公保97", "district": "和平区"}).json()
    told = world["reg"].call("POST", "/v1/guards", json={**_body(banned), "company_id": c["id"]})
    assert told.status_code == 422 and told.json()["reason"] == "banned"


def test_codes_are_rate_limited_per_id_number_and_company_and_phones_not_flooded(
        runtime: Runtime, client: Any, live: str, world: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, op = _new_company(world["reg"], live, runtime, client)
    known, unknown = _body(world["applicant"]), {"name": "陌生", "phone": _phone(),
                                                  "id_number": random_id_number()}
    limit = runtime.settings.enroll_code_per_id_number_per_hour
    for _ in range(limit):
        assert _enroll(op, known).status_code == 202
        assert _enroll(op, unknown).status_code == 202
    refused = _enroll(op, known)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) > 0
    _same_answer(refused, _enroll(op, unknown))
    # Other companies may still ask, but the person's phone gets no more than its limit.
    cap = runtime.settings.enroll_code_sms_per_id_number_per_hour
    before = len(_messages_to(runtime, known["phone"]))
    for _ in range(cap):
        _, other = _new_company(world["reg"], live, runtime, client)
        assert _enroll(other, known).status_code == 202
    sent = len(_messages_to(runtime, known["phone"])) - before
    assert sent < cap, sent
    # Per company: past its hourly limit, every number is refused.
    _, busy = _new_company(world["reg"], live, runtime, client)
    monkeypatch.setattr(runtime.settings, "enroll_code_per_company_per_hour", 2)
    for _ in range(2):
        assert _enroll(busy, {"name": "甲", "id_number": random_id_number(),
                              "phone": _phone()}).status_code == 202
    assert _enroll(busy, {"name": "乙", "id_number": random_id_number(),
                          "phone": _phone()}).status_code == 429


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
        "name": "第三保安公司", "credit_code": random_credit_code(), "kind": "security_service",
        "licence_number": "津公保99", "district": "和平区"}).json()
    resp = world["reg"].call("POST", "/v1/guards", json={**_body(employed), "company_id": c["id"]})
    assert resp.json()["reason"] == "employed-elsewhere"
    audit = world["reg"].call("GET", f"/v1/audit/events?target_type=guard"
                                     f"&target_id={employed['id']}").json()["items"]
    rehire = [e for e in audit if e["action"] == "guard.rehire"]
    assert rehire and rehire[-1]["data"]["consent"] == "hire-code"
    assert any(e["action"] == "guard.hire_code" for e in audit)


def test_a_hire_code_is_one_time_and_the_regulator_needs_none(
        runtime: Runtime, client: Any, world: dict[str, Any]) -> None:
    former, reg = world["former"], world["reg"]
    me = Http(reg.base, make_principal(runtime, client, "guard", guard_id=former["id"]))
    first = me.call("POST", "/v1/me/hire-code").json()["code"]
    second = me.call("POST", "/v1/me/hire-code").json()["code"]
    # A new code replaces the previous one.
    refused = _enroll(world["op_b"], _body(former, consent_code=first))
    assert refused.json()["status"] == "awaiting-confirmation"
    # The regulator enrolls without a code (its approval), still never overwriting.
    c = reg.call("POST", "/v1/companies", json={
        "name": "第四保安公司", "credit_code": random_credit_code(), "kind": "security_service",
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
    assert again.status_code == 202 and again.json()["status"] == "awaiting-confirmation"


def test_own_former_guard_is_rehired_with_a_code_but_never_renamed(
        runtime: Runtime, client: Any, regulator: Api, live: str) -> None:
    company = regulator.make_company()
    op = Http(live, make_principal(runtime, client, "company_operator",
                                   company_id=company["id"]))
    body = {"name": "周八", "id_number": random_id_number(), "phone": _phone()}
    assert op.call("POST", "/v1/guards", json=body).status_code == 202
    first = op.call("POST", "/v1/guards", json={
        **body, "consent_code": texted_code(runtime, body["phone"])})
    assert first.status_code == 201, first.text
    gid = first.json()["id"]
    # The company's own current staff: answered as before, no code needed.
    same = op.call("POST", "/v1/guards", json=body)
    assert same.status_code == 409 and same.json()["reason"] == "already-enrolled"
    assert op.call("POST", f"/v1/guards/{gid}/employment/end",
                   json={"reason": "season"}).status_code == 200
    # Gone from the company, the person confirms again; then a mismatch may be said.
    assert op.call("POST", "/v1/guards", json=body).status_code == 202
    code = texted_code(runtime, body["phone"])
    renamed = op.call("POST", "/v1/guards", json={**body, "name": "周九", "consent_code": code})
    assert renamed.status_code == 409 and renamed.json()["reason"] == "identity-mismatch"
    again = op.call("POST", "/v1/guards", json={**body, "consent_code": code})
    assert again.status_code == 201, again.text
    assert again.json()["id"] == gid and again.json()["rehired"] is True
    assert (again.json()["name"], again.json()["phone"]) == ("周八", body["phone"])
