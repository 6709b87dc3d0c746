"""The SMS side channel (issue 14) closed by the phone-ownership check, on real PostgreSQL.

A code texted to a phone the registry did not have on record for the person (the phone a
company or an applicant typed) goes out only once the telecom real-name check, a peer
outside the system (a real HTTP server on a loopback port here), says the phone belongs
to the holder of that ID number and name; the SMS outbox job asks it (api/sms.py), never
the request. The public exam application and a company's exam registration answer the
same bytes whatever the person, and create nothing, take no seat and refuse nothing until
the person confirms with the texted code. The SMS gateway is played by the job's ``post``
(it receives what the gateway would).
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.runtime import Runtime, open_runtime
from api.sms import deliver_due
from registry import enroll_consent_repository as outbox
from registry.settings import Settings, SettingsError
from tests.conftest import (
    Api,
    Clock,
    isolated_stack,
    make_principal,
    random_id_number,
    serve_http,
    when_admitted,
)

RID = "phone-owner-probe"  # one request id for every compared request: the answers carry it
REAL = "Zq8-vN3kW1rT6yHb0pLs4Xc9Ue2Gm7Jd5Af"  # a secret that passes the production rule


class _Peer(http.server.BaseHTTPRequestHandler):
    """The telecom real-name check: ``{"match": true}`` for the (ID number, name, phone)
    triples it holds, else false; ``answer`` other than 200 plays an outage."""

    owners: ClassVar[set[tuple[str, str, str]]] = set()
    asked: ClassVar[list[dict[str, Any]]] = []
    answer: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        cls.asked.append({**body, "authorization": self.headers.get("Authorization")})
        match = (body["id_number"], body["name"], body["phone"]) in cls.owners
        out = json.dumps({"match": match}).encode()
        self.send_response(cls.answer)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def peer() -> Iterator[tuple[str, type[_Peer]]]:
    handler = type("Peer", (_Peer,), {"owners": set(), "asked": [], "answer": 200})
    with serve_http(handler, "/check") as url:
        yield url, handler


@pytest.fixture(scope="module")
def stack(pg_server: str, template_db: str, data_dir: Path,
          clock: Clock) -> Iterator[tuple[Runtime, TestClient]]:
    """A database of its own: the job below delivers every pending message in it."""
    _clock[:] = [clock]
    with isolated_stack(pg_server, template_db, data_dir, clock) as pair:
        yield pair


class Gateway:
    """The SMS gateway as the job's ``post``: keeps what it is handed."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.received.append(json.loads(body))
        return 202

    def to(self, phone: str) -> list[str]:
        return [m["text"] for m in self.received if m["to"] == phone]

    def code_to(self, phone: str) -> str:
        texts = self.to(phone)
        assert texts, "no text message reached this phone"
        found = re.search(r"确认码 (\d{6})", texts[-1])
        assert found, "no code in the message"
        return found.group(1)


_clock: list[Clock] = []


def _now() -> dt.datetime:
    """After every message queued: the service's clock may have been moved ahead."""
    return max(dt.datetime.now(dt.UTC), _clock[0].now) + dt.timedelta(seconds=1)


def _run_job(rt: Runtime, peer_url: str, gateway: Gateway) -> dict[str, Any]:
    settings = rt.settings.model_copy(update={
        "sms_gateway_url": "http://127.0.0.1:9/send", "phone_owner_check_url": peer_url,
        "phone_owner_check_token": SecretStr(REAL)})
    return dict(deliver_due(rt.db, _now(), settings, limit=1000, post=gateway))


def _phone() -> str:
    return f"136{secrets.randbelow(10 ** 8):08d}"


def _guard_rows(rt: Runtime, id_number: str) -> int:
    with rt.db.transaction(readonly=True) as cur:
        cur.execute("SELECT count(*) AS n FROM registry_guard WHERE id_number_bidx = %s",
                    (cur.pii.blind_index(id_number),))
        return int(cur.fetchone()["n"])


@pytest.fixture(scope="module")
def people(stack: tuple[Runtime, TestClient]) -> dict[str, Any]:
    rt, client = stack
    regulator = make_principal(rt, client, "regulator")
    company = regulator.make_company()
    known = regulator.make_guard(company["id"], phone=_phone())
    banned = regulator.make_guard(company["id"], phone=_phone())
    assert regulator.post(f"/v1/guards/{banned['id']}/employment/end",
                          json={"reason": "quit"}).status_code == 200
    assert regulator.post("/v1/bans", json={"id_number": banned["id_number"],
                                            "reason": "违法从业",
                                            "until_on": "2099-01-01"}).status_code == 201
    staff = make_principal(rt, client, "exam_staff")
    session = staff.post("/v1/exam-sessions", json={
        "sits_on": (dt.date.today() + dt.timedelta(days=40)).isoformat(),
        "venue": "和平区保安考点", "district": "和平区", "capacity": 5}).json()
    return {"regulator": regulator, "company": company, "known": known, "banned": banned,
            "session": session}


def _operator(rt: Runtime, client: TestClient, people: dict[str, Any]) -> Api:
    """An operator of a new company."""
    company = people["regulator"].make_company()
    return make_principal(rt, client, "company_operator", company_id=company["id"])


def _apply(client: TestClient, url: str, body: dict[str, Any]) -> Any:
    return when_admitted(lambda: client.post(url, json=body))


def _same_bytes(first: Any, other: Any) -> None:
    assert other.status_code == first.status_code
    skip = {"date"}
    assert [(k, v) for k, v in other.headers.items() if k not in skip] == \
        [(k, v) for k, v in first.headers.items() if k not in skip]
    assert other.content == first.content


def test_a_company_typing_its_own_phone_for_an_unknown_id_number_gets_nothing(
        stack: tuple[Runtime, TestClient], peer: tuple[str, type[_Peer]],
        people: dict[str, Any]) -> None:
    rt, client = stack
    url, owners = peer
    operator = _operator(rt, client, people)
    own_phone = _phone()
    stranger = {"name": "陌生人", "id_number": random_id_number(), "phone": own_phone}
    assert operator.post("/v1/guards", json=stranger).status_code == 202
    gateway = Gateway()
    counts = _run_job(rt, url, gateway)
    assert counts["unconfirmed"] >= 1, counts
    assert gateway.to(own_phone) == []
    asked = [a for a in owners.asked if a["phone"] == own_phone]
    assert [(a["id_number"], a["name"]) for a in asked] == [(stranger["id_number"], "陌生人")]
    assert asked[0]["authorization"] == f"Bearer {REAL}"
    with rt.db.transaction(readonly=True) as cur:
        mine = outbox.list_sms(cur, status=None, phone=own_phone)
    assert [m["status"] for m in mine] == ["unconfirmed"] and mine[0]["owner"] is None
    assert operator.get("/v1/guards").json()["items"] == []
    assert _guard_rows(rt, stranger["id_number"]) == 0
    # A guessed code does not make it either.
    guessed = operator.post("/v1/guards", json={**stranger, "consent_code": "123456"})
    assert guessed.status_code == 202 and _guard_rows(rt, stranger["id_number"]) == 0
    # With the person's own phone (the check says yes) the code arrives and the
    # enrollment completes; the record gets that phone.
    person = {"name": "新人", "id_number": random_id_number(), "phone": _phone()}
    owners.owners.add((person["id_number"], person["name"], person["phone"]))
    assert operator.post("/v1/guards", json=person).status_code == 202
    _run_job(rt, url, gateway)
    code = gateway.code_to(person["phone"])
    # The code is bound to the name the check confirmed: not good for another name.
    renamed = operator.post("/v1/guards", json={**person, "name": "别名",
                                                "consent_code": code})
    assert renamed.status_code == 202
    hired = operator.post("/v1/guards", json={**person, "consent_code": code})
    assert hired.status_code == 201, hired.text
    assert (hired.json()["name"], hired.json()["phone"]) == (person["name"], person["phone"])


def test_a_phone_on_record_is_texted_without_asking_the_peer(
        stack: tuple[Runtime, TestClient], peer: tuple[str, type[_Peer]],
        people: dict[str, Any]) -> None:
    rt, client = stack
    url, owners = peer
    operator = _operator(rt, client, people)
    known = people["known"]
    assert operator.post("/v1/guards", json={"name": known["name"],
                                             "id_number": known["id_number"]}
                         ).status_code == 202
    gateway = Gateway()
    _run_job(rt, url, gateway)
    assert len(gateway.to(known["phone"])) == 1
    assert all(a["phone"] != known["phone"] for a in owners.asked)


def test_errors_of_the_peer_count_as_not_confirmed(
        stack: tuple[Runtime, TestClient], peer: tuple[str, type[_Peer]],
        people: dict[str, Any]) -> None:
    rt, client = stack
    url, owners = peer
    operator = _operator(rt, client, people)
    person = {"name": "故障", "id_number": random_id_number(), "phone": _phone()}
    owners.owners.add((person["id_number"], person["name"], person["phone"]))
    assert operator.post("/v1/guards", json=person).status_code == 202
    owners.answer = 503
    try:
        gateway = Gateway()
        _run_job(rt, url, gateway)
    finally:
        owners.answer = 200
    assert gateway.to(person["phone"]) == []
    with rt.db.transaction(readonly=True) as cur:
        mine = outbox.list_sms(cur, status=None, phone=person["phone"])
    assert [(m["status"], m["last_error"]) for m in mine] == [("unconfirmed", "HTTP 503")]
    # Nobody listening: the same.
    other = {"name": "断线", "id_number": random_id_number(), "phone": _phone()}
    assert operator.post("/v1/guards", json=other).status_code == 202
    gateway = Gateway()
    _run_job(rt, "http://127.0.0.1:9/check", gateway)
    assert gateway.to(other["phone"]) == []


def test_the_self_application_answers_the_same_bytes_whatever_the_person(
        stack: tuple[Runtime, TestClient], people: dict[str, Any]) -> None:
    rt, client = stack
    session, known, banned = people["session"], people["known"], people["banned"]
    url = f"/v1/exam-sessions/{session['id']}/applications"
    phone = _phone()  # the applicant's own phone, whoever they claim to be
    cases = {
        "unknown": {"id_number": random_id_number(), "name": "路人", "phone": phone},
        "known, matching name": {"id_number": known["id_number"], "name": known["name"],
                                 "phone": phone},
        "known, another name": {"id_number": known["id_number"], "name": "冒名",
                                "phone": phone},
        "banned": {"id_number": banned["id_number"], "name": banned["name"], "phone": phone},
        "under age": {"id_number": random_id_number(age=16), "name": "少年", "phone": phone},
        "wrong code": {"id_number": known["id_number"], "name": known["name"],
                       "phone": phone, "confirmation_code": "000000"},
    }
    answers = {kind: when_admitted(lambda body=body: client.post(
        url, json=body, headers={"X-Request-ID": RID})) for kind, body in cases.items()}
    first = answers["unknown"]
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "application-received"
    for kind, resp in answers.items():
        assert resp.status_code == 202, f"{kind}: {resp.text}"
        _same_bytes(first, resp)
    for secret in (known["name"], banned["name"], "ban", "2099", "eligible"):
        assert secret not in first.text
    # Nothing registered, refused or created, and no seat taken.
    listed = client.get(f"/v1/exam-sessions?year={session['sits_on'][:4]}").json()["items"]
    assert [s["seats_left"] for s in listed if s["id"] == session["id"]] == [5]
    with rt.db.transaction(readonly=True) as cur:
        cur.execute("SELECT count(*) AS n FROM registry_exam_refusal WHERE session_id = %s",
                    (session["id"],))
        assert cur.fetchone()["n"] == 0
    assert _guard_rows(rt, cases["unknown"]["id_number"]) == 0
    # The codes went to the phones on record for the known people, not to the typed one
    # (which waits for the check, for the unknown ID numbers only).
    with rt.db.transaction(readonly=True) as cur:
        typed = outbox.list_sms(cur, status=None, phone=phone)
        on_record = [m for m in outbox.list_sms(cur, status=None, phone=known["phone"])
                     if "考试" in m["text"]]
    assert len(typed) == 2 and all(m["owner"] is not None for m in typed)
    assert len(on_record) == 2 and all(m["owner"] is None for m in on_record)


def test_no_record_from_a_typed_phone_that_fails_the_check(
        stack: tuple[Runtime, TestClient], peer: tuple[str, type[_Peer]],
        people: dict[str, Any]) -> None:
    rt, client = stack
    url, owners = peer
    session = people["session"]
    apply = f"/v1/exam-sessions/{session['id']}/applications"
    squatter = {"id_number": random_id_number(), "name": "占号", "phone": _phone()}
    assert _apply(client, apply, squatter).status_code == 202
    gateway = Gateway()
    _run_job(rt, url, gateway)
    assert gateway.to(squatter["phone"]) == []
    for guess in ("000000", "123456"):
        assert _apply(client, apply, {**squatter, "confirmation_code": guess}
                      ).status_code == 202
    assert _guard_rows(rt, squatter["id_number"]) == 0
    # The real holder of a new ID number: checked, texted, registered, recorded.
    person = {"id_number": random_id_number(), "name": "考生", "phone": _phone()}
    owners.owners.add((person["id_number"], person["name"], person["phone"]))
    assert _apply(client, apply, person).status_code == 202
    _run_job(rt, url, gateway)
    code = gateway.code_to(person["phone"])
    done = _apply(client, apply, {**person, "confirmation_code": code})
    assert done.status_code == 201, done.text
    assert len(done.json()["registration_code"]) == 11
    assert _guard_rows(rt, person["id_number"]) == 1
    # The person on record confirms with the code texted to the phone on record; a wrong
    # name is said only then.
    known = people["known"]
    claim = {"id_number": known["id_number"], "name": "冒名", "phone": known["phone"]}
    assert _apply(client, apply, claim).status_code == 202
    _run_job(rt, url, gateway)
    refused = _apply(client, apply, {**claim,
                                     "confirmation_code": gateway.code_to(known["phone"])})
    assert refused.status_code == 422 and refused.json()["reason"] == "not-eligible"


def test_a_company_exam_registration_answers_the_same_bytes_whatever_the_person(
        stack: tuple[Runtime, TestClient], peer: tuple[str, type[_Peer]],
        people: dict[str, Any]) -> None:
    rt, client = stack
    url_peer, _ = peer
    operator = _operator(rt, client, people)
    session, known, banned = people["session"], people["known"], people["banned"]
    url = f"/v1/exam-sessions/{session['id']}/registrations"
    own = _phone()
    cases = [{"id_number": random_id_number(), "name": "路人", "phone": own},
             {"id_number": known["id_number"], "name": known["name"]},
             {"id_number": known["id_number"], "name": "冒名", "phone": own},
             {"id_number": banned["id_number"], "name": banned["name"]}]
    answers = [operator.post(url, json=body, headers={"X-Request-ID": RID}) for body in cases]
    assert answers[0].status_code == 202, answers[0].text
    for resp in answers[1:]:
        _same_bytes(answers[0], resp)
    gateway = Gateway()
    _run_job(rt, url_peer, gateway)
    assert gateway.to(own) == []  # the company's phone: not the stranger's
    assert _guard_rows(rt, cases[0]["id_number"]) == 0
    # The known person confirms: registered, a seat taken.
    code = gateway.code_to(known["phone"])
    done = operator.post(url, json={**cases[1], "confirmation_code": code})
    assert done.status_code == 201, done.text


def test_production_refuses_to_start_without_the_phone_owner_check(tmp_path: Path) -> None:
    settings = Settings(mode="production", database_url="postgresql://guardreg@db.internal/g",
                        data_dir=tmp_path, biometric_secret=REAL, key_passphrase=REAL,
                        apikey_pepper=REAL, pii_secret=REAL)
    settings.check_secrets()  # every other production check passes
    with pytest.raises(SettingsError, match="GUARDREG_PHONE_OWNER_CHECK_URL"):
        create_app(settings)
    with pytest.raises(SettingsError, match="GUARDREG_PHONE_OWNER_CHECK_URL"):
        open_runtime(settings)
    assert not (tmp_path / "pgdata").exists()
    configured = settings.model_copy(update={"phone_owner_check_url": "https://check.test/"})
    assert configured.check_peers() is None
    warning = Settings(mode="development").check_peers()
    assert warning is not None and "GUARDREG_PHONE_OWNER_CHECK_URL" in warning
    assert "\n" not in warning


def test_development_without_the_check_trusts_typed_phones(
        stack: tuple[Runtime, TestClient], people: dict[str, Any]) -> None:
    rt, client = stack
    operator: Api = _operator(rt, client, people)
    person = {"name": "开发", "id_number": random_id_number(), "phone": _phone()}
    assert operator.post("/v1/guards", json=person).status_code == 202
    gateway = Gateway()
    settings = rt.settings.model_copy(update={"sms_gateway_url": "http://127.0.0.1:9/send"})
    deliver_due(rt.db, _now(), settings, limit=1000, post=gateway)
    assert len(gateway.to(person["phone"])) == 1
    # Production never sends to an unchecked typed phone, even if it were started without
    # the check (it refuses to start).
    other = {"name": "生产", "id_number": random_id_number(), "phone": _phone()}
    assert operator.post("/v1/guards", json=other).status_code == 202
    production = settings.model_copy(update={"mode": "production"})
    deliver_due(rt.db, _now(), production, limit=1000, post=gateway)
    assert gateway.to(other["phone"]) == []
