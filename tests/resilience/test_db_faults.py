"""Database faults: server restart mid-traffic, a full pool, lock waits, statement timeouts.

The tests own a PostgreSQL of their own (tools/pg_tcp.py, TCP on 127.0.0.1) so they can
stop and start it without disturbing the rest of the suite. Every failure must be a
clean 503 problem, never a 500 or a hang; the service must recover by itself; and
everything that was acknowledged must be in the database afterwards.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import MIGRATION_PACKAGES, Runtime
from registry import audit, migrate
from registry.db import Database
from registry.settings import Settings
from tests.conftest import Api, Clock, make_principal, random_credit_code
from tests.resilience.helpers import TcpPostgres, dsn_with_db, free_port


@pytest.fixture(scope="module")
def server() -> Iterator[TcpPostgres]:
    tmp = Path(tempfile.mkdtemp(prefix="guardreg-faults-"))
    pg = TcpPostgres(tmp / "pgdata", free_port())
    dsn = pg.init()
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE guardreg_faults")
    conn.close()
    pg.dsn = dsn_with_db(dsn, "guardreg_faults")
    db = Database(pg.dsn, max_size=2)
    migrate.upgrade(db, MIGRATION_PACKAGES)
    db.close()
    try:
        yield pg
    finally:
        pg.close()


@contextlib.contextmanager
def app_on(server: TcpPostgres, tmp_path: Path, *, pool: int = 6, acquire_s: float = 5.0,
           statement_ms: int = 5000) -> Iterator[tuple[Runtime, TestClient, Api]]:
    settings = Settings(mode="test", database_url=server.dsn, data_dir=tmp_path,
                        db_pool_max=pool, db_statement_timeout_ms=statement_ms)
    db = Database(server.dsn, max_size=pool, acquire_timeout_s=acquire_s,
                  statement_timeout_ms=statement_ms, connect_timeout_s=2)
    rt = Runtime(settings=settings, db=db, embedded=None)
    app = create_app(runtime=rt, clock=Clock())
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            regulator = make_principal(rt, client, "regulator")
            assert regulator.get("/v1/companies").status_code == 200  # caches the key
            yield rt, client, regulator
    finally:
        db.close()


def company_body() -> dict[str, Any]:
    return {"name": f"故障测试公司{secrets.token_hex(4)}", "credit_code": random_credit_code(),
            "kind": "security_service", "licence_number": f"津公保{secrets.randbelow(10**8):08d}",
            "district": "和平区"}


def assert_clean_503(resp: Any, *reasons: str) -> None:
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers.get("retry-after")
    body = resp.json()
    assert body["status"] == 503
    if reasons:
        assert body.get("reason") in reasons, body


def test_restart_mid_traffic_gives_503s_recovers_and_loses_nothing(
        server: TcpPostgres, tmp_path: Path) -> None:
    with app_on(server, tmp_path) as (_, client, regulator):
        acked: list[dict[str, Any]] = []
        statuses: Counter[int] = Counter()
        problems: list[Any] = []
        stop = threading.Event()
        lock = threading.Lock()

        def writer() -> None:
            while not stop.is_set():
                body = company_body()
                r = regulator.post("/v1/companies", json=body)
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code == 201:
                        acked.append(r.json())
                    elif r.status_code != 503 or not r.headers.get(
                            "content-type", "").startswith("application/problem+json"):
                        problems.append((r.status_code, r.text[:300]))

        def reader() -> None:
            while not stop.is_set():
                r = regulator.get("/v1/companies?limit=5")
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code not in (200, 503):
                        problems.append((r.status_code, r.text[:300]))

        threads = [threading.Thread(target=writer) for _ in range(3)]
        threads.append(threading.Thread(target=reader))
        for t in threads:
            t.start()
        for _ in range(600):  # bounded wait for traffic to flow before the crash
            if len(acked) >= 5:
                break
            time.sleep(0.05)
        assert len(acked) >= 5, statuses
        server.stop("immediate")  # a crash: no checkpoint, in-flight transactions die
        down = client.get("/readyz")
        outage_writes = [regulator.post("/v1/companies", json=company_body()) for _ in range(3)]
        time.sleep(0.5)
        server.start()
        before = len(acked)
        for _ in range(400):  # bounded: the service must come back by itself
            if len(acked) > before + 5:
                break
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads), "a request hung"
        assert not problems, problems
        assert statuses[500] == 0
        assert down.status_code == 503
        for r in outage_writes:
            assert_clean_503(r, "db-unavailable", "db-unreachable")
        assert len(acked) > before + 5, f"no recovery: {statuses}"
        assert client.get("/readyz").status_code == 200
        # Everything acknowledged is there, exactly as acknowledged.
        conn = psycopg2.connect(server.dsn)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT id, credit_code, name FROM registry_company WHERE id = ANY(%s)",
                            ([c["id"] for c in acked],))
                stored = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
        finally:
            conn.close()
        missing = [c for c in acked if stored.get(c["id"]) != (c["credit_code"], c["name"])]
        assert not missing, missing
        with _db(server.dsn) as db, db.transaction(readonly=True) as cur:
            report = audit.verify_chain(cur)
        assert report.ok, report
        assert statuses[503] >= 1


@contextlib.contextmanager
def _db(dsn: str) -> Iterator[Database]:
    db = Database(dsn, max_size=1)
    try:
        yield db
    finally:
        db.close()


@contextlib.contextmanager
def locked_company(server: TcpPostgres, company_id: int, *, table: bool = False) -> Iterator[None]:
    conn = psycopg2.connect(server.dsn)
    try:
        with conn.cursor() as cur:
            if table:
                cur.execute("LOCK TABLE registry_company IN ACCESS EXCLUSIVE MODE")
            else:
                cur.execute("SELECT id FROM registry_company WHERE id = %s FOR UPDATE",
                            (company_id,))
            yield
    finally:
        conn.rollback()
        conn.close()


def test_a_full_pool_answers_503_pool_exhausted_not_a_hang(server: TcpPostgres,
                                                            tmp_path: Path) -> None:
    with app_on(server, tmp_path, pool=2, acquire_s=0.5) as (_, _client, regulator):
        company = regulator.post("/v1/companies", json=company_body()).json()
        results: list[Any] = []
        lock = threading.Lock()

        def patch(i: int) -> None:
            r = regulator.patch(f"/v1/companies/{company['id']}", json={"district": f"区{i}"})
            with lock:
                results.append(r)

        with locked_company(server, company["id"]):
            threads = [threading.Thread(target=patch, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        assert not any(t.is_alive() for t in threads), "a request hung"
        assert len(results) == 8
        reasons = Counter(r.json().get("reason") for r in results if r.status_code == 503)
        assert reasons["db-pool-exhausted"] >= 1, [(r.status_code, r.text) for r in results]
        for r in results:
            if r.status_code != 200:
                assert_clean_503(r, "db-pool-exhausted", "db-lock-timeout", "db-timeout")
        # the pool has all its connections back
        after = [regulator.patch(f"/v1/companies/{company['id']}", json={"district": "河西区"})
                 for _ in range(4)]
        assert [r.status_code for r in after] == [200] * 4


def test_a_row_lock_held_elsewhere_gives_503_lock_timeout(server: TcpPostgres,
                                                          tmp_path: Path) -> None:
    with app_on(server, tmp_path) as (_, _client, regulator):
        company = regulator.post("/v1/companies", json=company_body()).json()
        with locked_company(server, company["id"]):
            r = regulator.patch(f"/v1/companies/{company['id']}", json={"district": "南开区"})
        assert_clean_503(r, "db-lock-timeout")
        ok = regulator.patch(f"/v1/companies/{company['id']}", json={"district": "南开区"})
        assert ok.status_code == 200 and ok.json()["district"] == "南开区"


def test_a_slow_query_hits_the_statement_timeout_503(server: TcpPostgres,
                                                     tmp_path: Path) -> None:
    with app_on(server, tmp_path, statement_ms=300) as (_, _client, regulator):
        company = regulator.post("/v1/companies", json=company_body()).json()
        with locked_company(server, company["id"], table=True):
            read = regulator.get("/v1/companies?limit=5")
            write = regulator.patch(f"/v1/companies/{company['id']}", json={"district": "红桥区"})
        assert_clean_503(read, "db-timeout")
        assert_clean_503(write, "db-timeout")
        assert regulator.get("/v1/companies?limit=5").status_code == 200
