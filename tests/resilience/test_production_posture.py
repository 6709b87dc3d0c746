"""Production posture (issue 14): idempotency records expire and are purged; the raw
page templates are never served as static files, whatever the spelling of the path.

(Secret entropy and the embedded-database refusal: tests/registry/test_settings.py;
key files: tests/certificates/test_keyfile.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from tests.conftest import Api, Clock, make_principal, random_credit_code

DAY_S = 24 * 3600


@pytest.fixture(scope="module")
def timed(runtime: Runtime) -> Iterator[tuple[TestClient, Clock, Api]]:
    clock = Clock()
    with TestClient(create_app(runtime=runtime, clock=clock),
                    raise_server_exceptions=False) as client:
        yield client, clock, make_principal(runtime, client, "regulator")


def _company(name: str) -> dict[str, Any]:
    return {"name": name, "credit_code": random_credit_code(), "kind": "security_service",
            "licence_number": "L-idem", "district": "河西区"}


def _stored(runtime: Runtime, principal_id: int, key: str) -> int:
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT count(*) AS n FROM registry_idempotency WHERE principal_id = %s"
                    " AND key = %s", (principal_id, key))
        row = cur.fetchone()
    return int(row["n"]) if row else 0


def test_a_record_replays_within_its_ttl_and_expires_after(
        runtime: Runtime, timed: tuple[TestClient, Clock, Api]) -> None:
    _, clock, reg = timed
    assert runtime.settings.idempotency_ttl_s == DAY_S  # the documented default
    body = _company("过期测试甲")
    first = reg.post("/v1/companies", json=body, headers={"Idempotency-Key": "exp-1"})
    assert first.status_code == 201, first.text
    clock.advance(seconds=DAY_S - 60)
    again = reg.post("/v1/companies", json=body, headers={"Idempotency-Key": "exp-1"})
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    clock.advance(seconds=120)  # past the TTL: the key is free again
    other = _company("过期测试乙")
    fresh = reg.post("/v1/companies", json=other, headers={"Idempotency-Key": "exp-1"})
    assert fresh.status_code == 201, fresh.text  # not 422 idempotency-key-reused
    assert "idempotent-replayed" not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"]
    replay = reg.post("/v1/companies", json=other, headers={"Idempotency-Key": "exp-1"})
    assert replay.json()["id"] == fresh.json()["id"]


def test_expired_records_are_purged(runtime: Runtime,
                                    timed: tuple[TestClient, Clock, Api]) -> None:
    client, clock, _ = timed
    old = make_principal(runtime, client, "regulator")
    assert old.post("/v1/companies", json=_company("清理测试"),
                    headers={"Idempotency-Key": "purge-me"}).status_code == 201
    assert _stored(runtime, old.principal.id, "purge-me") == 1
    clock.advance(seconds=DAY_S + 1)
    newer = make_principal(runtime, client, "regulator")
    assert newer.post("/v1/companies", json=_company("清理测试二"),
                      headers={"Idempotency-Key": "k"}).status_code == 201
    assert _stored(runtime, old.principal.id, "purge-me") == 0
    assert _stored(runtime, newer.principal.id, "k") == 1


@pytest.mark.parametrize("path", [
    "/static/scan.html", "/static/scan.html/", "/static/scan.html//", "/static/./scan.html",
    "/static/scan.html/.", "/static/vendor/../scan.html", "/static/%73can.html/",
    "/static/guard.html/", "/static/index.html/",
])
def test_page_templates_are_never_served_as_static_files(client: TestClient,
                                                         path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 404, (path, resp.status_code)
    assert b"{{TRUST_ANCHORS}}" not in resp.content


def test_the_scanner_page_is_served_filled_in(client: TestClient) -> None:
    resp = client.get("/scan")
    assert resp.status_code == 200
    assert b"{{TRUST_ANCHORS}}" not in resp.content
    assert b"guardreg-trust-anchors" in resp.content
