"""The SMS outbox (issue 14): confirmation codes wait sealed at rest, the job hands them to
the gateway (a real HTTP peer on a loopback port here), and in development, with no
gateway, ``guardreg outbox list`` shows them to the operator."""

from __future__ import annotations

import datetime as dt
import http.server
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from api.cli import main
from api.runtime import Runtime
from api.sms import deliver_due
from registry import enroll_consent_repository as repo
from registry.settings import reset_settings_cache
from tests.conftest import Api, make_principal, random_id_number, serve_http

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class _Gateway(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    answer = 202

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"body": json.loads(body), "headers": dict(self.headers)})
        self.send_response(type(self).answer)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[_Gateway]]]:
    handler = type("Gateway", (_Gateway,), {"received": [], "answer": 202})
    with serve_http(handler, "/send") as url:
        yield url, handler


def _raw(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT phone_sealed, text_sealed, status, attempts, last_error"
                    " FROM registry_sms_outbox ORDER BY id")
        return [dict(r) for r in cur.fetchall()]


def test_messages_are_sealed_at_rest_and_delivered_to_the_gateway(
        fresh_runtime: Runtime, gateway: tuple[str, type[_Gateway]]) -> None:
    url, handler = gateway
    with fresh_runtime.db.transaction() as cur:
        ref = repo.queue_sms(cur, phone="13912340000", text="确认码 654321", now=NOW)
    stored = _raw(fresh_runtime)
    assert len(stored) == 1
    for column in ("phone_sealed", "text_sealed"):
        blob = bytes(stored[0][column])
        assert b"13912340000" not in blob and b"654321" not in blob
    # No gateway configured: the job leaves the message for `guardreg outbox list`.
    idle = deliver_due(fresh_runtime.db, NOW, fresh_runtime.settings)
    assert "skipped" in idle and _raw(fresh_runtime)[0]["status"] == "pending"
    settings = fresh_runtime.settings.model_copy(update={"sms_gateway_url": url})
    # The gateway fails: retried later, and the stored error holds no phone or text.
    handler.answer = 503
    counts = deliver_due(fresh_runtime.db, NOW, settings)
    assert counts["retrying"] == 1, counts
    row = _raw(fresh_runtime)[0]
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "HTTP 503")
    assert deliver_due(fresh_runtime.db, NOW, settings)["sent"] == 0  # not due yet
    handler.answer = 202
    counts = deliver_due(fresh_runtime.db, NOW + dt.timedelta(minutes=2), settings)
    assert counts["sent"] == 1, counts
    assert _raw(fresh_runtime)[0]["status"] == "sent"
    last = handler.received[-1]
    assert last["body"] == {"ref": ref, "to": "13912340000", "text": "确认码 654321"}
    assert last["headers"]["Idempotency-Key"] == ref
    assert len(handler.received) == 2
    # A day on, the message is gone.
    deliver_due(fresh_runtime.db, NOW + dt.timedelta(days=1, minutes=3), settings)
    assert _raw(fresh_runtime) == []


def test_a_message_whose_code_would_be_dead_is_given_up(
        fresh_runtime: Runtime, gateway: tuple[str, type[_Gateway]]) -> None:
    url, handler = gateway
    handler.answer = 500
    settings = fresh_runtime.settings.model_copy(update={"sms_gateway_url": url})
    with fresh_runtime.db.transaction() as cur:
        repo.queue_sms(cur, phone="13912340001", text="确认码 111111", now=NOW)
    at = NOW
    for _ in range(10):
        deliver_due(fresh_runtime.db, at, settings)
        if _raw(fresh_runtime)[0]["status"] != "pending":
            break
        at += dt.timedelta(minutes=40)
    row = _raw(fresh_runtime)[0]
    assert row["status"] == "gave-up" and row["attempts"] <= 3, row


def test_outbox_list_shows_pending_codes_without_a_gateway_and_never_in_production(
        cli_env: None, runtime: Runtime, client: Any, regulator: Api,
        monkeypatch: pytest.MonkeyPatch) -> None:
    company = regulator.make_company()
    op = make_principal(runtime, client, "company_operator", company_id=company["id"])
    phone = "13712349876"
    body = {"name": "短信", "id_number": random_id_number(), "phone": phone}
    assert op.post("/v1/guards", json=body).status_code == 202
    shown = CliRunner().invoke(main, ["outbox", "list", "--json", "--limit", "200"])
    assert shown.exit_code == 0, shown.output
    mine = [json.loads(line) for line in shown.stdout.splitlines()
            if line.startswith("{") and json.loads(line)["to"] == phone]
    assert mine and "确认码" in mine[0]["text"] and company["name"] in mine[0]["text"]
    code = mine[0]["text"].split("确认码 ")[1][:6]
    assert op.post("/v1/guards", json={**body, "consent_code": code}).status_code == 201
    monkeypatch.setenv("GUARDREG_MODE", "production")
    reset_settings_cache()
    refused = CliRunner().invoke(main, ["outbox", "list"])
    assert refused.exit_code != 0 and phone not in refused.output
