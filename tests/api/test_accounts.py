"""Accounts for people on the real stack: password + TOTP, sessions, CSRF, lock-out,
sessions listed and ended, company clerks, guard activation codes."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from api.sessions import account_keys
from registry import accounts
from registry.accounts import totp_at, totp_step
from registry.audit import Actor
from registry.auth import Role
from registry.settings import reset_settings_cache
from tests.conftest import Api, Clock, make_principal

PASSWORD = "correct horse battery 9"


@pytest.fixture
def own_clock() -> Clock:
    """A clock of this test's own: these tests move time (lock-out, idle sessions), and the
    session-wide clock must not move under other tests."""
    return Clock()


@pytest.fixture
def own_app(runtime: Any, own_clock: Clock) -> Any:
    return create_app(runtime=runtime, clock=own_clock)


@pytest.fixture
def browser(own_app: Any) -> Iterator[TestClient]:
    """A client of its own (its cookie jar is a browser's), over HTTPS."""
    with TestClient(own_app, base_url="https://testserver") as c:
        yield c


def _create(runtime: Any, own_clock: Clock, role: Role, **kw: Any) -> accounts.Credentials:
    with runtime.db.transaction() as cur:
        return accounts.create_account(
            cur, actor=Actor("test"), now=own_clock(), keys=account_keys(runtime.settings),
            username=f"u{dt.datetime.now().strftime('%H%M%S%f')}", role=role, **kw)


def _totp(uri: str | None, now: dt.datetime, offset: int = 0) -> str:
    assert uri is not None
    secret = uri.split("secret=")[1].split("&")[0]
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return totp_at(raw, totp_step(now) + offset)


def _sign_in(c: TestClient, username: str, password: str, code: str | None = None) -> Any:
    return c.post("/v1/session", json={"username": username, "password": password,
                                       **({"code": code} if code else {})})


def _csrf(c: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": c.cookies.get("guardreg_csrf") or ""}


def _ready_regulator(runtime: Any, own_clock: Clock, c: TestClient) -> accounts.Credentials:
    made = _create(runtime, own_clock, Role.REGULATOR)
    resp = _sign_in(c, made.account.username, made.password, _totp(made.totp_uri, own_clock()))
    assert resp.status_code == 200, resp.text
    changed = c.post("/v1/session/password", headers=_csrf(c),
                     json={"current_password": made.password, "new_password": PASSWORD})
    assert changed.status_code == 204, changed.text
    return made


def test_regulator_signs_in_with_password_and_totp_and_must_change_the_password(
        runtime: Any, own_clock: Clock, browser: TestClient) -> None:
    made = _create(runtime, own_clock, Role.REGULATOR)
    assert made.totp_uri and made.totp_uri.startswith("otpauth://totp/")
    assert len(made.recovery_codes) == 10
    # Without the second factor: refused like any other failure.
    assert _sign_in(browser, made.account.username, made.password).status_code == 401
    resp = _sign_in(browser, made.account.username, made.password,
                    _totp(made.totp_uri, own_clock()))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["must_change_password"] is True and body["principal"]["role"] == "regulator"
    cookie = resp.headers["set-cookie"]
    assert "guardreg_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert "Secure" in cookie  # served over https here
    # Nothing but the password change until the one-time password is replaced.
    blocked = browser.get("/v1/companies")
    assert blocked.status_code == 403 and blocked.json()["reason"] == "password-change-required"
    weak = browser.post("/v1/session/password", headers=_csrf(browser),
                        json={"current_password": made.password, "new_password": "aaaaaaaaaaa"})
    assert weak.status_code == 422
    changed = browser.post("/v1/session/password", headers=_csrf(browser),
                           json={"current_password": made.password, "new_password": PASSWORD})
    assert changed.status_code == 204, changed.text
    assert browser.get("/v1/companies").status_code == 200
    assert browser.get("/v1/session").json()["principal"]["name"] == made.account.username


def test_state_changes_by_cookie_need_the_csrf_token(runtime: Any, own_clock: Clock,
                                                     browser: TestClient) -> None:
    _ready_regulator(runtime, own_clock, browser)
    company = {"name": "天津市某保安服务有限公司", "kind": "security_service",
               "licence_number": "津公保00000001", "district": "和平区"}
    from tests.conftest import random_credit_code

    company["credit_code"] = random_credit_code()
    forged = browser.post("/v1/companies", json=company)
    assert forged.status_code == 403 and forged.json()["reason"] == "csrf"
    wrong = browser.post("/v1/companies", json=company, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    ok = browser.post("/v1/companies", json=company, headers=_csrf(browser))
    assert ok.status_code == 201, ok.text


def test_failures_answer_alike_and_lock_the_account(runtime: Any, own_clock: Clock,
                                                    browser: TestClient) -> None:
    made = _ready_regulator(runtime, own_clock, browser)
    name = made.account.username
    unknown = _sign_in(browser, "nobody-here", PASSWORD, "123456").json()
    wrong_pw = _sign_in(browser, name, "not the password", _totp(made.totp_uri, own_clock())).json()
    wrong_code = _sign_in(browser, name, PASSWORD, "000000").json()
    assert unknown["detail"] == wrong_pw["detail"] == wrong_code["detail"]
    assert unknown["type"] == wrong_pw["type"] == wrong_code["type"]
    for _ in range(runtime.settings.signin_max_failures - 2):
        assert _sign_in(browser, name, "still wrong", "000000").status_code == 401
    # Locked now: even the right password and code are refused, with the same answer.
    locked = _sign_in(browser, name, PASSWORD, _totp(made.totp_uri, own_clock(), 1))
    assert locked.status_code == 401 and locked.json()["detail"] == unknown["detail"]
    own_clock.advance(minutes=runtime.settings.signin_lock_minutes + 1)
    again = _sign_in(browser, name, PASSWORD, _totp(made.totp_uri, own_clock()))
    assert again.status_code == 200, again.text


def test_a_totp_code_and_a_recovery_code_work_once(runtime: Any, own_clock: Clock,
                                                   browser: TestClient, own_app: Any) -> None:
    made = _ready_regulator(runtime, own_clock, browser)
    own_clock.advance(seconds=90)
    code = _totp(made.totp_uri, own_clock())
    with TestClient(own_app, base_url="https://testserver") as other:
        assert _sign_in(other, made.account.username, PASSWORD, code).status_code == 200
        assert _sign_in(other, made.account.username, PASSWORD, code).status_code == 401
        recovery = made.recovery_codes[3]
        assert _sign_in(other, made.account.username, PASSWORD, recovery.lower()
                        ).status_code == 200
        assert _sign_in(other, made.account.username, PASSWORD, recovery).status_code == 401


def test_sessions_are_listed_and_ended(runtime: Any, own_clock: Clock, browser: TestClient,
                                       own_app: Any) -> None:
    made = _ready_regulator(runtime, own_clock, browser)
    with TestClient(own_app, base_url="https://testserver") as laptop:
        own_clock.advance(seconds=60)
        assert _sign_in(laptop, made.account.username, PASSWORD,
                        _totp(made.totp_uri, own_clock())).status_code == 200
        listed = browser.get("/v1/sessions").json()["items"]
        assert len(listed) == 2 and sum(s["current"] for s in listed) == 1
        other = next(s for s in listed if not s["current"])
        ended = browser.delete(f"/v1/sessions/{other['public_id']}", headers=_csrf(browser))
        assert ended.status_code == 204
        assert laptop.get("/v1/companies").status_code == 401
        # Sign-out ends the session server-side, not only in the browser.
        token = browser.cookies.get("guardreg_session")
        assert browser.delete("/v1/session", headers=_csrf(browser)).status_code == 204
        laptop.cookies.set("guardreg_session", token or "", domain="testserver")
        assert laptop.get("/v1/companies").status_code == 401
    # Session endpoints take the cookie only: an API key has no session.
    key = make_principal(runtime, TestClient(own_app), "regulator")
    with TestClient(own_app) as plain:
        assert plain.get("/v1/session", headers=key.headers).status_code == 401


def test_idle_sessions_expire(runtime: Any, own_clock: Clock, browser: TestClient) -> None:
    _ready_regulator(runtime, own_clock, browser)
    assert browser.get("/v1/companies").status_code == 200
    own_clock.advance(minutes=runtime.settings.session_idle_minutes + 1)
    assert browser.get("/v1/companies").status_code == 401


def test_a_company_manages_its_own_clerks_only(runtime: Any, client: TestClient,
                                               regulator: Api, own_clock: Clock,
                                               browser: TestClient) -> None:
    company_a, company_b = regulator.make_company(), regulator.make_company()
    op_a = make_principal(runtime, client, "company_operator", company_id=company_a["id"])
    op_b = make_principal(runtime, client, "company_operator", company_id=company_b["id"])
    made = op_a.post("/v1/accounts", json={"username": f"clerk{company_a['id']}x",
                                           "role": "company_operator"})
    assert made.status_code == 201, made.text
    clerk = made.json()
    assert clerk["account"]["company_id"] == company_a["id"] and clerk["totp_uri"] is None
    assert op_a.post("/v1/accounts", json={"username": f"boss{company_a['id']}",
                                           "role": "regulator"}).status_code == 403
    # Another company cannot see, reset or disable it.
    assert all(a["company_id"] == company_b["id"]
               for a in op_b.get("/v1/accounts").json()["items"])
    account_id = clerk["account"]["id"]
    assert op_b.post(f"/v1/accounts/{account_id}/reset").status_code == 404
    assert op_b.post(f"/v1/accounts/{account_id}/disable").status_code == 404
    # The clerk signs in (no second factor needed), changes the password, sees its company.
    resp = _sign_in(browser, clerk["account"]["username"], clerk["one_time_password"])
    assert resp.status_code == 200, resp.text
    browser.post("/v1/session/password", headers=_csrf(browser),
                 json={"current_password": clerk["one_time_password"], "new_password": PASSWORD})
    assert browser.get(f"/v1/companies/{company_a['id']}").status_code == 200
    assert browser.get(f"/v1/companies/{company_b['id']}").status_code == 404
    # Disabled: the open session ends at once.
    assert op_a.post(f"/v1/accounts/{account_id}/disable").json()["disabled"] is True
    assert browser.get(f"/v1/companies/{company_a['id']}").status_code == 401


def test_a_guard_activates_their_page_with_a_one_time_code(
        runtime: Any, client: TestClient, regulator: Api, own_clock: Clock,
        browser: TestClient) -> None:
    company, other = regulator.make_company(), regulator.make_company()
    guard = regulator.make_guard(company["id"])
    op = make_principal(runtime, client, "company_operator", company_id=company["id"])
    op_other = make_principal(runtime, client, "company_operator", company_id=other["id"])
    assert op_other.post(f"/v1/guards/{guard['id']}/activation-codes").status_code == 404
    issued = op.post(f"/v1/guards/{guard['id']}/activation-codes")
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    username = f"guard{guard['id'][:8]}"
    bad = client.post("/v1/accounts/activate",
                      json={"code": "ABCD-EFGH-JKLM-NPQR", "username": username,
                            "password": PASSWORD})
    assert bad.status_code == 401
    made = client.post("/v1/accounts/activate",
                       json={"code": code, "username": username, "password": PASSWORD})
    assert made.status_code == 201, made.text
    assert made.json()["guard_id"] == guard["id"] and made.json()["must_change_password"] is False
    reused = client.post("/v1/accounts/activate",
                         json={"code": code, "username": username + "b", "password": PASSWORD})
    assert reused.status_code == 401
    resp = _sign_in(browser, username, PASSWORD)
    assert resp.status_code == 200 and resp.json()["principal"]["guard_id"] == guard["id"]
    assert browser.get(f"/v1/guards/{guard['id']}").status_code == 200
    # The employer cannot take the account over with a new code; the regulator can.
    refused = op.post(f"/v1/guards/{guard['id']}/activation-codes")
    assert refused.status_code == 409
    replacing = regulator.post(f"/v1/guards/{guard['id']}/activation-codes").json()["code"]
    assert client.post("/v1/accounts/activate", json={
        "code": replacing, "username": username + "new", "password": PASSWORD}
    ).status_code == 201
    assert browser.get(f"/v1/guards/{guard['id']}").status_code == 401  # old account ended


def test_cli_creates_a_regulator_account_and_resets_it(runtime: Any, own_clock: Clock,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        browser: TestClient) -> None:
    monkeypatch.setenv("DATABASE_URL", runtime.db.dsn)
    monkeypatch.setenv("GUARDREG_MODE", "test")
    monkeypatch.setenv("GUARDREG_DATA_DIR", str(runtime.settings.data_dir))
    reset_settings_cache()
    try:
        name = f"chief{dt.datetime.now().strftime('%H%M%S%f')}"
        out = CliRunner().invoke(main, ["account", "create", "--username", name,
                                        "--role", "regulator", "--qr"])
        assert out.exit_code == 0, out.output
        password = out.output.split("first sign-in): ")[1].split()[0]
        uri = out.output.split("(TOTP): ")[1].split()[0]
        assert "█" in out.output or "▀" in out.output  # the QR for the authenticator app
        assert _sign_in(browser, name, password, _totp(uri, own_clock())).status_code == 200
        listed = CliRunner().invoke(main, ["account", "list"]).output
        assert name in listed and "must change password" in listed
        reset = CliRunner().invoke(main, ["account", "reset", name])
        assert reset.exit_code == 0, reset.output
        assert browser.get("/v1/session").status_code == 401  # sessions ended by the reset
        assert "recovery codes" in reset.output
    finally:
        reset_settings_cache()


def test_the_notices_other_actors_have_roles(runtime: Any, client: TestClient,
                                             regulator: Api) -> None:
    from registry import auth
    from registry.errors import InvalidInput

    training = regulator.make_company(kind="training")
    pepper = runtime.settings.derive_key("apikey_pepper", "apikey-hmac")
    for role in ("skill_assessor", "exam_staff", "association", "market_regulation",
                 "human_resources", "tax"):
        who = make_principal(runtime, client, role)
        assert who.principal.role.value == role
        assert who.get("/v1/guards").status_code == 403  # nothing of others' yet
    unit = make_principal(runtime, client, "training_unit", company_id=training["id"])
    assert unit.principal.company_id == training["id"]
    with runtime.db.transaction() as cur, pytest.raises(InvalidInput):
        auth.create_api_key(cur, pepper=pepper, name="x", role=Role.TRAINING_UNIT)
