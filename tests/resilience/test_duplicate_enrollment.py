"""Two companies enrolling the same ID number at the same time (issue 14): the loser gets
a 409 problem, never a 500, and no ID number reaches the server's logs.

Runs on a live uvicorn (the server that would log a traceback) with a handler on every
logger that could carry one."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.runtime import Runtime
from registry import audit, service
from tests.api.live_server import serve
from tests.conftest import Api, random_id_number

LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "guardreg", "guardreg.api")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # the traceback too, when there is one


@pytest.fixture
def logs() -> Iterator[_Capture]:
    handler = _Capture()
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)


@pytest.fixture(scope="module")
def live(app: Any) -> Iterator[str]:
    with serve(app) as base:
        yield base


def _enroll(base: str, api: Api, company_id: int, id_number: str) -> httpx.Response:
    return httpx.post(f"{base}/v1/guards", headers=api.headers, timeout=60,
                      json={"name": "王五", "id_number": id_number, "company_id": company_id})


def _waiting_on_a_lock(runtime: Runtime) -> bool:
    with runtime.db.snapshot() as cur:
        cur.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = "
                    "current_database() AND wait_event_type = 'Lock'")
        row = cur.fetchone()
    return bool(row and row["n"])


def test_the_loser_of_an_enrollment_race_gets_a_409_and_the_logs_no_id_number(
        runtime: Runtime, regulator: Api, live: str, logs: _Capture) -> None:
    """Deterministic: company A's enrollment holds its new guard row uncommitted while
    company B's request inserts the same ID number and waits on the unique index."""
    a, b = regulator.make_company(), regulator.make_company()
    id_number = random_id_number()
    now = dt.datetime.now(dt.UTC)
    request_sent = threading.Event()
    result: dict[str, Any] = {}

    def company_b() -> None:
        request_sent.set()
        result["resp"] = _enroll(live, regulator, b["id"], id_number)

    with runtime.db.transaction() as cur:
        service.enroll_guard(cur, actor=audit.SYSTEM, now=now, company_id=a["id"],
                             name="王五", id_number=id_number)
        thread = threading.Thread(target=company_b)
        thread.start()
        request_sent.wait()
        for _ in range(20_000):  # until B's INSERT waits for this transaction
            if _waiting_on_a_lock(runtime) or not thread.is_alive():
                break
        assert thread.is_alive(), result["resp"].text  # B must be waiting, not answered
    thread.join(60)
    resp = result["resp"]
    assert resp.status_code == 409, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["type"] == "/problems/concurrent-duplicate"
    assert id_number not in resp.text
    assert any("concurrent duplicate refused" in line for line in logs.lines), logs.lines
    leaked = [line for line in logs.lines if id_number in line or id_number[:17] in line]
    assert not leaked, leaked


def test_racing_enrollments_over_http_never_give_a_500(
        regulator: Api, live: str, logs: _Capture) -> None:
    id_numbers = []
    for _ in range(6):
        a, b = regulator.make_company(), regulator.make_company()
        id_number = random_id_number()
        id_numbers.append(id_number)
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def enroll(company_id: int, number: str = id_number,
                   gate: threading.Barrier = barrier, out: list[int] = statuses) -> None:
            gate.wait()
            out.append(_enroll(live, regulator, company_id, number).status_code)

        threads = [threading.Thread(target=enroll, args=(c["id"],)) for c in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(statuses) == [201, 409], statuses
    leaked = [line for line in logs.lines for n in id_numbers if n[:17] in line]
    assert not leaked, leaked
