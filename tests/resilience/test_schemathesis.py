"""Fuzz every operation of the OpenAPI schema (valid and invalid data) as a regulator.

Zero server errors are allowed: any 5xx other than 503 fails. The app runs on a
database of its own, since fuzzed calls revoke keys, ban people and so on. Bounded:
MAX_EXAMPLES per operation and generation mode.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.runtime import Runtime
from registry.db import Database
from registry.settings import Settings
from tests import conftest as base
from tests.conftest import Api, Clock, make_principal

MAX_EXAMPLES = 8


def _operations() -> list[tuple[str, str]]:
    app = create_app(Settings(mode="test", data_dir=Path(tempfile.mkdtemp())))
    spec = app.openapi()
    return sorted((method.upper(), path) for path, item in spec["paths"].items()
                  for method in item if method in {"get", "post", "put", "patch", "delete"})


OPERATIONS = _operations()
# Product bugs found by this test (reported to the lead); strict: remove when fixed.
KNOWN_BUGS = {
    ("POST", "/v1/guards/import"): "bug: api/routers/regulation.py _csv_body calls "
    "request.body() after FastAPI consumed a multipart body without a file part: "
    "RuntimeError('Stream consumed') -> 500",
    ("POST", "/v1/background-checks/import"): "bug: api/routers/regulation.py _csv_body "
    "(same as /v1/guards/import): multipart body without a file part -> 500",
}


def _param(method: str, path: str) -> Any:
    # The CSV imports' multipart bug (KNOWN_BUGS, fixed) also has a deterministic
    # regression test: test_csv_import_with_a_multipart_body_without_file_is_4xx.
    return pytest.param(method, path, id=f"{method} {path}")


@pytest.fixture(scope="module")
def fuzz_target(pg_server: str, template_db: str) -> Iterator[dict[str, Any]]:
    dsn = base._create_database(pg_server, f"guardreg_fuzz_{uuid.uuid4().hex[:8]}", template_db)
    settings = base.test_settings(Path(tempfile.mkdtemp(prefix="guardreg-fuzz-")), dsn)
    db = Database(dsn, max_size=6)
    rt = Runtime(settings=settings, db=db, embedded=None)
    app = create_app(runtime=rt, clock=Clock())
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        reg = make_principal(rt, client, "regulator")
        company = reg.make_company()
        guard = reg.make_guard(company["id"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        yield {"schema": schema, "key": reg.key, "company": company, "guard": guard, "rt": rt}
    finally:
        db.close()


def _is_nul_bug(exc: Exception) -> bool:
    return isinstance(exc, ValueError) and "NUL (0x00)" in str(exc)


@pytest.fixture(scope="module")
def nul_bug_present(fuzz_target: dict[str, Any]) -> bool:
    """Whether a NUL character still turns into a 500 (see test_nul_characters_are_4xx).

    While it does, the fuzzer does not report that one known cause again; once fixed,
    every 500 counts."""
    from fastapi.testclient import TestClient

    with TestClient(fuzz_target["schema"].app, raise_server_exceptions=False) as client:
        resp = client.get("/v1/public/companies", params={"q": "ab\x00cd"})
    return resp.status_code == 500


@pytest.mark.parametrize(("method", "path"), [_param(m, p) for m, p in OPERATIONS])
def test_no_server_errors(fuzz_target: dict[str, Any], nul_bug_present: bool, method: str,
                          path: str) -> None:
    schema = fuzz_target["schema"]
    operation = schema[path][method]
    key = fuzz_target["key"]
    known = {"guard_id": fuzz_target["guard"]["id"], "company_id": fuzz_target["company"]["id"]}
    failures: list[str] = []
    calls = 0
    strategy = st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE))

    @given(case=strategy, use_known=st.booleans())
    @settings(max_examples=2 * MAX_EXAMPLES, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any, use_known: bool) -> None:
        nonlocal calls
        if use_known and isinstance(case.path_parameters, dict):
            for name, value in known.items():
                if name in case.path_parameters:
                    case.path_parameters[name] = value
        if method == "DELETE" and path.startswith("/v1/apikeys/"):
            # never revoke the fuzzing key itself (ids are small integers)
            case.path_parameters["principal_id"] = 10**9
        try:
            resp = case.call(headers={"Authorization": f"Bearer {key}"})
        except Exception as exc:  # the ASGI test transport re-raises what would be a 500
            calls += 1
            if nul_bug_present and _is_nul_bug(exc):
                return  # reproduced deterministically by test_nul_characters_are_4xx
            failures.append(f"500 (unhandled {type(exc).__name__}: {exc}) for {case.method} "
                            f"{case.formatted_path} headers={case.headers!r} "
                            f"body={str(case.body)[:200]!r}")
            return
        calls += 1
        if resp.status_code >= 500 and resp.status_code != 503:
            failures.append(f"{resp.status_code} for {case.method} {case.formatted_path} "
                            f"query={case.query!r} body={str(case.body)[:200]!r}: "
                            f"{resp.text[:300]}")

    run()
    assert calls > 0
    assert not failures, "\n".join(failures[:5])


@pytest.mark.parametrize("path", sorted(p for _, p in KNOWN_BUGS))
def test_csv_import_with_a_multipart_body_without_file_is_4xx(fuzz_target: dict[str, Any],
                                                              path: str) -> None:
    from fastapi.testclient import TestClient

    app = fuzz_target["schema"].app
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.post(path, content=b"--b0undary--\r\n", headers={
            "Authorization": f"Bearer {fuzz_target['key']}",
            "Content-Type": "multipart/form-data; boundary=b0undary"})
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])


NUL_REQUESTS = [
    ("GET", "/v1/public/companies", {"params": {"q": "ab\x00cd"}}),
    ("GET", "/v1/companies", {"params": {"district": "x\x00y"}}),
    ("PATCH", "/v1/companies/{company_id}", {"json": {"name": "保安\x00公司"}}),
    ("POST", "/v1/companies/{company_id}/lists", {"json": {"list": "abnormal",
                                                          "reason": "r\x00r"}}),
]


@pytest.mark.parametrize(("method", "path", "kw"), NUL_REQUESTS,
                         ids=[f"{m} {p}" for m, p, _ in NUL_REQUESTS])
def test_nul_characters_are_4xx(fuzz_target: dict[str, Any], method: str, path: str,
                                kw: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    with TestClient(fuzz_target["schema"].app, raise_server_exceptions=False) as client:
        # a company of its own: the fuzzing before may have changed the shared one
        company = Api(client, fuzz_target["key"], None).make_company()  # type: ignore[arg-type]
        url = path.format(company_id=company["id"])
        resp = client.request(method, url, headers={
            "Authorization": f"Bearer {fuzz_target['key']}"}, **kw)
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
