"""Foundation acceptance: roles, tenant isolation, rules, idempotency, audit, hostile input."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from registry import audit, repository
from tests.api.routes import EXPECTED, SAMPLE_BODIES, api_routes, declared_roles
from tests.conftest import Api, internal_guard_id, make_principal, random_id_number

ALL_ROLES = ("regulator", "company_operator", "checkpoint_officer", "guard")


# Path parameters that are not ids get a valid value, so only the id decides the answer.
_NON_ID = {"position": 2, "fmt": "png", "list_name": "red", "op": "suspend",
           "service_name": "ordinary-patrol", "number": "1201202600000018", "shard": 0}


def _fill(path: str, **ids: int) -> str:
    values = {**_NON_ID, **ids}
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), 999999)), path)


def _is_problem(resp: Any) -> bool:
    return bool(resp.headers.get("content-type", "").startswith("application/problem+json"))


# -- role matrix ---------------------------------------------------------------------------
def test_every_route_is_declared_and_matches_the_policy(app: Any) -> None:
    seen = set()
    for method, path, route in api_routes(app):
        key = (method, path)
        seen.add(key)
        assert key in EXPECTED, f"{method} {path} is not in tests/api/routes.py EXPECTED"
        declared = declared_roles(route) or frozenset()
        assert declared == EXPECTED[key], f"{method} {path}: {sorted(declared)}"
    assert set(EXPECTED) <= seen, f"declared but missing: {set(EXPECTED) - seen}"


@pytest.fixture(scope="module")
def principals(runtime: Any, client: TestClient, regulator: Api) -> dict[str, Api]:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    return {
        "regulator": regulator,
        "company_operator": make_principal(runtime, client, "company_operator",
                                           company_id=company["id"]),
        "checkpoint_officer": make_principal(runtime, client, "checkpoint_officer"),
        "guard": make_principal(runtime, client, "guard", guard_id=guard["id"]),
    }


def test_each_route_refuses_the_roles_it_should(app: Any, client: TestClient,
                                                principals: dict[str, Api]) -> None:
    checked = 0
    for method, path, route in api_routes(app):
        allowed = declared_roles(route)
        if allowed is None:
            continue
        url = _fill(path)
        anonymous = client.request(method, url)
        assert anonymous.status_code == 401, f"{method} {path} without key"
        assert _is_problem(anonymous)
        for role in ALL_ROLES:
            if role in allowed:
                continue
            resp = principals[role].request(method, url)
            assert resp.status_code == 403, f"{method} {path} as {role}: {resp.status_code}"
            assert _is_problem(resp)
            checked += 1
    assert checked > 20


# -- tenant isolation ---------------------------------------------------------------------------
def test_another_companys_operator_gets_404_everywhere(app: Any, runtime: Any,
                                                       client: TestClient, regulator: Api) -> None:
    company_a = regulator.make_company()
    company_b = regulator.make_company()
    guard_a = regulator.make_guard(company_a["id"])
    operator_b = make_principal(runtime, client, "company_operator", company_id=company_b["id"])
    ids = {"guard_id": guard_a["id"], "company_id": company_a["id"]}
    checked = 0
    for method, path, route in api_routes(app):
        allowed = declared_roles(route) or frozenset()
        if "company_operator" not in allowed or not ({"{guard_id}", "{company_id}"} & set(
                re.findall(r"\{\w+\}", path))):
            continue
        kwargs = SAMPLE_BODIES.get((method, path), {})
        if method in ("POST", "PATCH", "PUT") and not kwargs:
            pytest.fail(f"add a sample body for {method} {path} to tests/api/routes.py")
        resp = operator_b.request(method, _fill(path, **ids), **kwargs)
        assert resp.status_code == 404, f"{method} {path}: {resp.status_code} {resp.text[:200]}"
        assert _is_problem(resp)
        assert guard_a["name"] not in resp.text and company_a["name"] not in resp.text
        checked += 1
    assert checked >= 6
    # Lists are scoped too: asking for another company's guards is a 404, not an empty page.
    assert operator_b.get(f"/v1/guards?company_id={company_a['id']}").status_code == 404
    listed = operator_b.get("/v1/guards").json()["items"]
    assert all(g["company_id"] == company_b["id"] for g in listed)
    # Writing to another company: enrolling a guard there is refused the same way.
    resp = operator_b.post("/v1/guards", json={"name": "王五", "id_number": random_id_number(),
                                               "company_id": company_a["id"]})
    assert resp.status_code == 404


def test_operator_sees_masked_id_number_and_regulator_the_full_one(operator: Api,
                                                                   regulator: Api) -> None:
    guard = operator.make_guard(operator.principal.company_id)
    as_operator = operator.get(f"/v1/guards/{guard['id']}").json()
    as_regulator = regulator.get(f"/v1/guards/{guard['id']}").json()
    assert "id_number" not in as_operator
    assert as_operator["id_number_masked"][6:14] == "********"
    assert as_regulator["id_number"][:6] == as_operator["id_number_masked"][:6]


# -- registry rules ---------------------------------------------------------------------------
def test_ban_blocks_enrollment(regulator: Api, company: dict[str, Any]) -> None:
    id_number = random_id_number()
    resp = regulator.post("/v1/bans", json={"id_number": id_number, "reason": "fraud",
                                             "until_on": "2099-01-01"})
    assert resp.status_code == 201, resp.text
    resp = regulator.post("/v1/guards", json={"name": "赵六", "id_number": id_number,
                                              "company_id": company["id"]})
    assert resp.status_code == 422
    assert resp.json()["type"] == "/problems/not-eligible"
    assert resp.json()["reason"] == "banned"
    # Lifting the ban makes enrollment possible again.
    assert regulator.post(f"/v1/bans/{resp_ban_id(regulator, id_number)}/lift").status_code == 200
    assert regulator.post("/v1/guards", json={"name": "赵六", "id_number": id_number,
                                              "company_id": company["id"]}).status_code == 201


def resp_ban_id(api: Api, id_number: str) -> int:
    cursor = ""  # the first page; then the opaque next_cursor as given
    while True:
        page = api.get(f"/v1/bans?cursor={cursor}&limit=200").json()
        for ban in page["items"]:
            if ban["id_number"] == id_number and ban["lifted_at"] is None:
                return int(ban["id"])
        if page["next_cursor"] is None:
            raise AssertionError("ban not found")
        cursor = page["next_cursor"]


def test_under_18_is_refused(regulator: Api, company: dict[str, Any]) -> None:
    resp = regulator.post("/v1/guards", json={"name": "少年", "company_id": company["id"],
                                              "id_number": random_id_number(age=17)})
    assert resp.status_code == 422
    assert resp.json()["reason"] == "under-age"


def test_one_active_employer(regulator: Api, runtime: Any) -> None:
    a, b = regulator.make_company(), regulator.make_company()
    guard = regulator.make_guard(a["id"])
    body = {"name": guard["name"], "id_number": guard["id_number"], "company_id": b["id"]}
    resp = regulator.post("/v1/guards", json=body)
    assert resp.status_code == 409
    assert resp.json()["reason"] == "employed-elsewhere"
    # The database refuses a second active employment even if a bug tried.
    import psycopg2

    with pytest.raises(psycopg2.errors.UniqueViolation), runtime.db.transaction() as cur:
        repository.insert_employment(cur, internal_guard_id(runtime, guard["id"]), b["id"],
                                     dt.date.today())
    # After the first employment ends the other company can hire the same person.
    ended = regulator.post(f"/v1/guards/{guard['id']}/employment/end", json={"reason": "quit"})
    assert ended.status_code == 200
    rehired = regulator.post("/v1/guards", json=body)
    assert rehired.status_code == 201
    assert rehired.json()["id"] == guard["id"] and rehired.json()["rehired"] is True
    history = regulator.get(f"/v1/guards/{guard['id']}/employment").json()["items"]
    assert [h["company_id"] for h in history] == [a["id"], b["id"]]


def test_training_unit_and_entertainment_venue_rules(regulator: Api) -> None:
    resp = regulator.post("/v1/companies", json={
        "name": "夜总会", "credit_code": "91350100M000100Y43", "kind": "self_recruiting",
        "licence_number": "备2026", "district": "河西区", "entertainment_venue": True})
    assert resp.status_code == 422 and resp.json()["reason"] == "entertainment-venue"
    training = regulator.make_company(kind="training")
    resp = regulator.post("/v1/guards", json={"name": "学员", "id_number": random_id_number(),
                                              "company_id": training["id"]})
    assert resp.status_code == 422 and resp.json()["reason"] == "company-kind"


def test_company_history_records_changes(regulator: Api, company: dict[str, Any]) -> None:
    resp = regulator.patch(f"/v1/companies/{company['id']}",
                           json={"district": "河东区", "expected_version": 1})
    assert resp.status_code == 200 and resp.json()["version"] == 2
    stale = regulator.patch(f"/v1/companies/{company['id']}",
                            json={"district": "南开区", "expected_version": 1})
    assert stale.status_code == 409
    history = regulator.get(f"/v1/companies/{company['id']}/history").json()["items"]
    assert history[-1]["changes"]["district"] == {"from": "和平区", "to": "河东区"}


def test_list_filters_and_pagination(regulator: Api) -> None:
    company = regulator.make_company(district="北辰区")
    made = [regulator.make_guard(company["id"]) for _ in range(5)]
    regulator.patch(f"/v1/guards/{made[0]['id']}", json={"skill_level": 3})
    page1 = regulator.get(f"/v1/guards?company_id={company['id']}&limit=2").json()
    page2 = regulator.get(f"/v1/guards?company_id={company['id']}&limit=2"
                          f"&cursor={page1['next_cursor']}").json()
    ids = [g["id"] for g in page1["items"] + page2["items"]]
    assert ids == [g["id"] for g in made[:4]]
    level3 = regulator.get(f"/v1/guards?company_id={company['id']}&level=3").json()["items"]
    assert [g["id"] for g in level3] == [made[0]["id"]]
    by_district = regulator.get("/v1/companies?district=北辰区&limit=200").json()["items"]
    assert company["id"] in [c["id"] for c in by_district]


# -- idempotency ------------------------------------------------------------------------------
def test_idempotent_retry_returns_the_first_result(regulator: Api) -> None:
    body = {"name": "幂等公司", "credit_code": __import__("tests.conftest").conftest
            .random_credit_code(), "kind": "security_service", "licence_number": "L1",
            "district": "河北区"}
    first = regulator.post("/v1/companies", json=body, headers={"Idempotency-Key": "k-1"})
    again = regulator.post("/v1/companies", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    changed = regulator.post("/v1/companies", json={**body, "name": "别的"},
                             headers={"Idempotency-Key": "k-1"})
    assert changed.status_code == 422
    assert changed.json()["type"] == "/problems/idempotency-key-reused"


def test_idempotent_retry_while_first_runs_is_409(regulator: Api, runtime: Any) -> None:
    body = {"name": "并发公司", "credit_code": __import__("tests.conftest").conftest
            .random_credit_code(), "kind": "security_service", "licence_number": "L2",
            "district": "河北区"}
    holding = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        with runtime.db.transaction() as cur:
            assert repository.try_idempotency_lock(cur, regulator.principal.id, "k-running")
            holding.set()
            release.wait(10)

    t = threading.Thread(target=hold_lock)
    t.start()
    try:
        assert holding.wait(10)
        resp = regulator.post("/v1/companies", json=body,
                              headers={"Idempotency-Key": "k-running"})
        assert resp.status_code == 409
        assert resp.json()["type"] == "/problems/idempotency-in-progress"
    finally:
        release.set()
        t.join()
    assert regulator.post("/v1/companies", json=body,
                          headers={"Idempotency-Key": "k-running"}).status_code == 201


def test_idempotency_keys_are_scoped_to_the_caller(runtime: Any, client: TestClient,
                                                   regulator: Api) -> None:
    other = make_principal(runtime, client, "regulator")
    mk = __import__("tests.conftest").conftest.random_credit_code
    body1 = {"name": "甲", "credit_code": mk(), "kind": "training", "licence_number": "x",
             "district": "d"}
    body2 = {**body1, "credit_code": mk()}
    r1 = regulator.post("/v1/companies", json=body1, headers={"Idempotency-Key": "shared"})
    r2 = other.post("/v1/companies", json=body2, headers={"Idempotency-Key": "shared"})
    assert r1.status_code == r2.status_code == 201
    assert r1.json()["id"] != r2.json()["id"]


# -- audit -----------------------------------------------------------------------------------
def test_audit_chain_verifies_then_detects_an_edit(fresh_runtime: Any) -> None:
    app = create_app(runtime=fresh_runtime)
    with TestClient(app) as client:
        reg = make_principal(fresh_runtime, client, "regulator")
        company = reg.make_company()
        reg.make_guard(company["id"])
        report = reg.get("/v1/audit/verify").json()
        assert report["ok"] is True and report["events"] >= 2
    with fresh_runtime.db.transaction() as cur:
        cur.execute("ALTER TABLE registry_audit_event DISABLE TRIGGER USER")
        cur.execute("UPDATE registry_audit_event SET actor = 'regulator:999' WHERE seq = 2")
        cur.execute("ALTER TABLE registry_audit_event ENABLE TRIGGER USER")
    with fresh_runtime.db.transaction() as cur:
        broken = audit.verify_chain(cur)
    assert not broken.ok and broken.first_bad_seq == 2 and "altered" in (broken.problem or "")


def test_audit_detects_a_deleted_event_and_refuses_plain_updates(fresh_runtime: Any) -> None:
    import psycopg2

    with fresh_runtime.db.transaction() as cur:
        for i in range(4):
            audit.record(cur, actor=audit.SYSTEM, action="test.event", target_type="t",
                         target_id=i)
    with pytest.raises(psycopg2.Error), fresh_runtime.db.transaction() as cur:
        cur.execute("DELETE FROM registry_audit_event WHERE seq = 3")
    with fresh_runtime.db.transaction() as cur:
        cur.execute("ALTER TABLE registry_audit_event DISABLE TRIGGER USER")
        cur.execute("DELETE FROM registry_audit_event WHERE seq = 3")
        cur.execute("ALTER TABLE registry_audit_event ENABLE TRIGGER USER")
        report = audit.verify_chain(cur)
    assert not report.ok and report.first_bad_seq == 3 and "missing" in (report.problem or "")


def test_audit_cli_exit_code(fresh_runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from api.cli import main
    from registry.settings import reset_settings_cache

    with fresh_runtime.db.transaction() as cur:
        audit.record(cur, actor=audit.SYSTEM, action="x", target_type="t")
    monkeypatch.setenv("DATABASE_URL", fresh_runtime.db.dsn)
    monkeypatch.setenv("GUARDREG_MODE", "test")
    reset_settings_cache()
    try:
        ok = CliRunner().invoke(main, ["audit", "verify"])
        assert ok.exit_code == 0, ok.output
        with fresh_runtime.db.transaction() as cur:
            cur.execute("ALTER TABLE registry_audit_event DISABLE TRIGGER USER")
            cur.execute("UPDATE registry_audit_event SET action = 'y'")
            cur.execute("ALTER TABLE registry_audit_event ENABLE TRIGGER USER")
        bad = CliRunner().invoke(main, ["audit", "verify"])
        assert bad.exit_code == 1 and "BROKEN at event 1" in bad.output
    finally:
        reset_settings_cache()


def test_state_changes_are_audited_with_request_id(regulator: Api) -> None:
    company = regulator.make_company()
    resp = regulator.post("/v1/guards", json={"name": "审计", "id_number": random_id_number(),
                                              "company_id": company["id"]},
                          headers={"X-Request-ID": "req-audit-1"})
    guard_id = resp.json()["id"]
    events = regulator.get(f"/v1/audit/events?target_type=guard&target_id={guard_id}").json()
    assert [e["action"] for e in events["items"]] == ["guard.enroll"]
    assert events["items"][0]["request_id"] == "req-audit-1"
    assert events["items"][0]["actor"] == regulator.principal.label


# -- hostile input ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"name": "x", ', 400),
        (b"\xff\xfe\x00garbage", 400),
        (b'[1, 2, 3]', 422),
        (b'{"name": 5, "credit_code": [], "kind": "bank", "licence_number": null}', 422),
        (b'{"name": "a", "credit_code": "91350100M000100Y43", "kind": "training",'
         b' "licence_number": "x", "district": "d", "unknown_field": 1}', 422),
        (b'"just a string"', 422),
        (b"", 422),
    ],
)
def test_malformed_bodies_are_4xx_problems(regulator: Api, raw: bytes, status: int) -> None:
    resp = regulator.post("/v1/companies", content=raw,
                          headers={"content-type": "application/json"})
    assert resp.status_code == status, resp.text
    assert _is_problem(resp)
    assert "Traceback" not in resp.text


def test_validation_errors_list_the_fields(regulator: Api) -> None:
    resp = regulator.post("/v1/guards", json={"name": "", "id_number": 5, "phone": "abc"})
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"body.name", "body.id_number", "body.phone"} <= fields


def test_huge_bodies_are_refused_declared_and_chunked(regulator: Api, runtime: Any) -> None:
    limit = runtime.settings.max_body_bytes
    big = b"{" + b" " * (limit + 10) + b"}"
    resp = regulator.post("/v1/companies", content=big,
                          headers={"content-type": "application/json"})
    assert resp.status_code == 413 and _is_problem(resp)

    def chunks() -> Any:
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    resp = regulator.post("/v1/companies", content=chunks(),
                          headers={"content-type": "application/json"})
    assert resp.status_code == 413 and _is_problem(resp)


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    assert _is_problem(client.get("/v1/nope"))
    resp = client.delete("/healthz")
    assert resp.status_code == 405 and _is_problem(resp)


def test_readyz_and_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_api_key_lifecycle(regulator: Api, client: TestClient) -> None:
    company = regulator.make_company()
    created = regulator.post("/v1/apikeys", json={"name": "ops", "role": "company_operator",
                                                  "company_id": company["id"]})
    assert created.status_code == 201
    key = created.json()["api_key"]
    listed = regulator.get("/v1/apikeys").json()["items"]
    assert all("key_hash" not in p and key not in str(p) for p in listed)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/guards", headers=headers).status_code == 200
    assert regulator.delete(f"/v1/apikeys/{created.json()['id']}").status_code == 204
    assert client.get("/v1/guards", headers=headers).status_code == 401
    bad = regulator.post("/v1/apikeys", json={"name": "x", "role": "company_operator"})
    assert bad.status_code == 422


def test_audit_chain_survives_bulk_import_with_rejected_rows(fresh_runtime: Any) -> None:
    """Savepoint rollbacks inside one transaction must not leave gaps in the chain."""
    from tests.conftest import random_id_number as rid

    app = create_app(runtime=fresh_runtime)
    with TestClient(app) as client:
        reg = make_principal(fresh_runtime, client, "regulator")
        company = reg.make_company()
        rows = [f"甲{i},{rid()}" for i in range(30)]
        rows.insert(10, "坏,110105194912310021")
        rows.insert(20, f"少,{rid(age=15)}")
        csv = ("name,id_number\n" + "\n".join(rows) + "\n").encode()
        body = reg.post(f"/v1/guards/import?company_id={company['id']}", content=csv,
                        headers={"content-type": "text/csv"}).json()
        assert len(body["enrolled"]) == 30
        assert len(body["rejected"]) == 2
        report = reg.get("/v1/audit/verify").json()
        assert report["ok"] is True, report
        assert report["events"] >= 31


def test_guard_list_capture_summary_and_company_search(regulator: Api) -> None:
    company = regulator.make_company(name=f"搜索测试{__import__('secrets').token_hex(3)}")
    guard = regulator.make_guard(company["id"])
    page = regulator.get(f"/v1/guards?company_id={company['id']}&include=capture").json()
    assert page["items"][0]["capture"] == {"face": None, "fingers_enrolled": 0,
                                           "complete": False, "certificate": None}
    assert "capture" not in regulator.get(f"/v1/guards?company_id={company['id']}").json()[
        "items"][0]
    found = regulator.get(f"/v1/companies?q={company['name'][2:]}").json()["items"]
    assert [c["id"] for c in found] == [company["id"]]
    del guard
