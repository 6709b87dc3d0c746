"""Request limits: body caps (declared and chunked), page-size caps, the verification
rate limit (429 problem with Retry-After). Statement timeouts: see test_db_faults.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from certificates import repository as cert_repo
from registry.settings import Settings
from tests.api.live_server import serve
from tests.conftest import FIXTURES, Api, Clock, internal_guard_id, make_principal
from tests.resilience.helpers import eligible_guard, issue

TEMPLATE = (FIXTURES / "fingerprints" / "golden" / "iso19794p2v2005-sample.dat").read_bytes()
BODY_CAP = 4096
PAGE_CAP = 3
VERIFY_PER_MIN = 12  # burst of 2, then one token every 5 s


def _limited_runtime(runtime: Runtime) -> Runtime:
    settings = Settings(mode="test", database_url=runtime.settings.database_url,
                        data_dir=runtime.settings.data_dir, max_body_bytes=BODY_CAP,
                        max_page_size=PAGE_CAP, rate_limit_verify_per_min=VERIFY_PER_MIN)
    return Runtime(settings=settings, db=runtime.db, embedded=None, certs=runtime.certs)


@pytest.fixture(scope="module")
def limited(runtime: Runtime) -> Iterator[tuple[Any, TestClient, Api]]:
    rt = _limited_runtime(runtime)
    app = create_app(runtime=rt, clock=Clock())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client, make_principal(rt, client, "regulator")


def _is_problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    return body


# -- body size ------------------------------------------------------------------------
def test_declared_oversized_body_is_413(limited: Any) -> None:
    _, _, reg = limited
    resp = reg.post("/v1/companies", content=b"{" + b" " * BODY_CAP + b"}",
                    headers={"content-type": "application/json"})
    _is_problem(resp, 413)


def test_chunked_oversized_body_is_413(limited: Any) -> None:
    _, _, reg = limited

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 1024
        yield b'"}'

    resp = reg.post("/v1/companies", content=chunks(),
                    headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in resp.request.headers}
    assert resp.request.headers.get("transfer-encoding") == "chunked"
    _is_problem(resp, 413)


def test_chunked_multipart_upload_over_the_cap_is_413(limited: Any) -> None:
    _, _, reg = limited
    company = reg.make_company()
    guard = reg.make_guard(company["id"])
    boundary = b"xyzzy"

    def body() -> Iterator[bytes]:
        yield (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="photo"; '
               b'filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff')
        for _ in range(64):
            yield b"\x00" * 1024
        yield b"\r\n--" + boundary + b"--\r\n"

    resp = reg.post(f"/v1/guards/{guard['id']}/face", content=body(),
                    headers={"content-type": "multipart/form-data; boundary=xyzzy"})
    _is_problem(resp, 413)


def _raw_chunked(base_url: str, key: str, path: str, total: int) -> tuple[int, bytes]:
    """A real HTTP/1.1 chunked request over a socket to a live uvicorn (no client help)."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=20) as s:
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                   ).encode())
        sent = 0
        try:
            while sent < total:
                piece = b"a" * 1000
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before we finish: that is the point
        data = b""
        while b"\r\n\r\n" not in data:
            part = s.recv(65536)
            if not part:
                break
            data += part
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1") else 0
    return status, data


def test_chunked_body_over_the_cap_on_a_live_server_is_413(limited: Any) -> None:
    app, _, reg = limited
    with serve(app) as base:
        status, raw = _raw_chunked(base, reg.key, "/v1/companies", BODY_CAP * 8)
        assert status == 413, raw[:500]
        assert b"application/problem+json" in raw
        small, raw = _raw_chunked(base, reg.key, "/v1/companies", 1000)
        assert small == 400, raw[:500]  # under the cap: reaches the JSON parser
        assert b"malformed-json" in raw


# -- page size ------------------------------------------------------------------------
LISTS = ["/v1/companies", "/v1/guards", "/v1/bans", "/v1/audit/events"]


@pytest.mark.parametrize("path", LISTS)
def test_page_size_is_capped_by_settings(limited: Any, path: str) -> None:
    _, _, reg = limited
    for _ in range(PAGE_CAP + 1):
        company = reg.make_company()
        g = reg.make_guard(company["id"])
        assert reg.post("/v1/bans", json={"id_number": g["id_number"], "reason": "test"}
                        ).status_code == 201
    resp = reg.get(path, params={"limit": 1000})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["items"]) == PAGE_CAP
    assert body["next_cursor"] is not None
    assert reg.get(path, params={"limit": 100000}).status_code == 422
    assert reg.get(path, params={"limit": 0}).status_code == 422


@pytest.mark.parametrize("path", ["/v1/certificate-requests", "/v1/biometrics/reviews"])
def test_every_list_honours_the_page_size_setting(limited: Any, runtime: Runtime,
                                                  path: str) -> None:
    _, _, reg = limited
    company = reg.make_company()
    for _ in range(PAGE_CAP + 2):
        g = reg.make_guard(company["id"])
        if path == "/v1/certificate-requests":
            # Pending requests as rows: the endpoint refuses ineligible guards (no capture
            # here), and the list's paging is what this test is about.
            with runtime.db.transaction() as cur:
                cert_repo.insert_request(cur, guard_id=internal_guard_id(runtime, g["id"]),
                                         company_id=company["id"], requested_by="test",
                                         note="x")
        else:  # the same two finger templates for every guard: all but the first are
            # held (one finger alone does not meet the fused target, docs/dedup.md)
            for position in (1, 2):
                r = reg.post(f"/v1/guards/{g['id']}/fingers/{position}",
                             files={"template": ("t.dat", TEMPLATE,
                                                 "application/octet-stream")})
                assert r.status_code in (201, 202), r.text
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT count(*) AS n FROM biometrics_review WHERE status = 'pending'")
        assert cur.fetchone()["n"] > PAGE_CAP or path != "/v1/biometrics/reviews"
    body = reg.get(path, params={"limit": 200}).json()
    assert len(body["items"]) <= PAGE_CAP, f"{path} returned {len(body['items'])} items"


# -- rate limit -----------------------------------------------------------------------
def test_verification_rate_limit_per_principal_is_429_with_retry_after(
        runtime: Runtime, client: TestClient, regulator: Api, officer: Api) -> None:
    company = regulator.make_company()
    guard = eligible_guard(regulator, company["id"])
    text = issue(regulator, guard["id"])["text"]
    # The suite's own app verifies first (default limit) ...
    assert officer.post("/v1/verifications", json={"text": text}).status_code == 200
    # ... then an app whose settings allow VERIFY_PER_MIN per minute and principal.
    rt = _limited_runtime(runtime)
    app = create_app(runtime=rt, clock=Clock())
    with TestClient(app, raise_server_exceptions=False) as c:
        one = make_principal(rt, c, "checkpoint_officer")
        two = make_principal(rt, c, "checkpoint_officer")
        statuses = [one.post("/v1/verifications", json={"text": text}).status_code
                    for _ in range(VERIFY_PER_MIN)]
        assert statuses[0] == 200
        assert 429 in statuses, statuses
        limited_resp = one.post("/v1/verifications", json={"text": text})
        body = _is_problem(limited_resp, 429)
        assert body["type"].endswith("rate-limited")
        assert int(limited_resp.headers["retry-after"]) >= 1
        # another principal has its own bucket
        assert two.post("/v1/verifications", json={"text": text}).status_code == 200
