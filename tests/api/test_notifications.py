"""Clearing out (notice §6) and the company told: inbox, signed webhooks, retries."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from api.jobs import cluster_jobs
from registry import notifications
from registry.errors import InvalidInput
from registry.jobs import JobRunner
from tests.conftest import Api, Clock, make_issuable_guard, make_principal


class Receiver:
    """A webhook receiver on loopback: answers the scripted codes, keeps what arrives."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = codes
        self.got: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.codes.pop(0) if outer.codes else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500])
    yield r
    r.server.shutdown()


def _webhook_job(runtime: Any, clock: Clock) -> JobRunner:
    return JobRunner(runtime.db, [j for j in cluster_jobs(runtime)
                                  if j.name == "notifications.webhooks"], clock=clock)


def test_a_failed_check_clears_out_the_guard_and_tells_the_company(
        runtime: Any, client: Any, regulator: Api, receiver: Receiver) -> None:
    clock = Clock()  # the job's own clock: the session-wide one must not move
    company = regulator.make_company()
    op = make_principal(runtime, client, "company_operator", company_id=company["id"])
    hook = op.post(f"/v1/companies/{company['id']}/webhooks", json={"url": receiver.url})
    assert hook.status_code == 201, hook.text
    secret = bytes.fromhex(hook.json()["secret"])
    guard = make_issuable_guard(regulator, company["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()
    before = {g["id"] for g in op.get("/v1/guards").json()["items"]}
    assert guard["id"] in before
    failed = regulator.post(f"/v1/guards/{guard['id']}/background-checks", json={
        "result": "failed", "reason": "涉嫌故意犯罪", "checked_on": dt.date.today().isoformat()})
    assert failed.status_code == 201, failed.text
    # One transaction: certificate revoked, employment ended, the company told why.
    assert regulator.get(f"/v1/certificates/{cert['number']}").json()["status"] == "revoked"
    employment = regulator.get(f"/v1/guards/{guard['id']}/employment").json()
    assert employment["items"][0]["end_reason"] == "cleared-out:background-check-failed"
    assert guard["id"] not in {g["id"] for g in op.get("/v1/guards").json()["items"]
                               if g.get("company_id") == company["id"]}
    inbox = op.get(f"/v1/companies/{company['id']}/notifications").json()
    kinds = [n["kind"] for n in inbox["items"]]
    assert kinds[:2] == ["guard.cleared-out", "certificate.revoked"], kinds
    assert inbox["unread"] >= 2
    assert "涉嫌" not in json.dumps(inbox, ensure_ascii=False)  # the regulator's reason stays
    # The webhook: first attempt gets a 500, the retry after the back-off arrives once.
    runner = _webhook_job(runtime, clock)
    assert runner.run_now("notifications.webhooks")
    first = len(receiver.got)
    assert first >= 1
    clock.advance(minutes=2)
    runner.run_now("notifications.webhooks")
    clock.advance(minutes=10)
    runner.run_now("notifications.webhooks")
    ids = [h["x-guardreg-delivery"] for h, _ in receiver.got]
    assert ids.count(ids[0]) == 2  # the one that got the 500, and its single retry
    assert all(ids.count(i) == 1 for i in ids[1:] if i != ids[0])  # the others once
    for headers, body in receiver.got:
        stamp, mac = headers["x-guardreg-signature"].split(",")
        t = stamp.split("=")[1]
        expected = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert mac == f"v1={expected}"
        assert json.loads(body)["company_id"] == company["id"]
    log = op.get(f"/v1/companies/{company['id']}/webhooks/{hook.json()['webhook']['id']}"
                 "/deliveries").json()["items"]
    assert all(d["status"] == "delivered" for d in log)
    assert any(d["attempts"] == 2 and d["last_status_code"] == 200 for d in log)
    # Cleared out: not re-hired while the failed check stands, by any company.
    other = regulator.make_company()
    refused = regulator.post("/v1/guards", json={"name": guard["name"], "company_id": other["id"],
                                                 "id_number": regulator.get(
                                                     f"/v1/guards/{guard['id']}").json()[
                                                     "id_number"]})
    assert refused.status_code == 422 and refused.json()["reason"] == "not-eligible"
    assert "background" not in refused.text


def test_webhook_urls_never_point_inside(regulator: Api) -> None:
    for url in ("http://example.org/h", "https://127.0.0.1/h", "https://10.1.2.3/h",
                "https://[::1]/h", "https://169.254.169.254/latest", "https://user:pw@x.org/",
                "ftp://example.org/"):
        with pytest.raises(InvalidInput):
            notifications.check_url(url, development=False, resolve=False)
    assert notifications.check_url("https://8.8.8.8/hook", development=False)  # no call made
    # The development server on a laptop may call its own loopback receiver.
    assert notifications.check_url("http://127.0.0.1:9/h", development=True)
