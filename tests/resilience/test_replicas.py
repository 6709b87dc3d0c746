"""Several API processes, a primary and a streaming replica (issue 19).

tools/cluster.py starts a PostgreSQL primary, a replica made with ``pg_basebackup -R``
and two ``guardreg serve`` processes on their own ports, reading DATABASE_READ_URL = the
replica. The tests talk HTTP to the processes and SQL to the servers:

- with the replica caught up, online verifications are served from it (counted in the
  replica's own statistics);
- with replay paused on the replica, a revocation committed on the primary is never
  followed by a "valid" verdict from either process;
- an API key revoked through one process is refused by the other once the notification
  is out, and after the listening connections were killed;
- a rate limit counts requests from both processes together;
- a scheduled job runs once with two hosts up.

Waits poll for a condition with a generous upper bound; none is a wall-clock limit on
what is measured.
"""

from __future__ import annotations

import contextlib
import secrets
import select
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest

from tests.conftest import Api
from tests.resilience.helpers import eligible_guard, issue
from tools.cluster import REPLICA_NAME, Cluster

pytestmark = pytest.mark.slow
WAIT_S = 180.0  # upper bound for a condition on a loaded 2-core machine
LEASE_S = 4.0


def _until(what: str, condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Not under pytest's basetemp: each pytest session (ours or another on the machine)
    # resets that directory to mode 0700, and the servers run as another user that must
    # keep reading their configuration files (a reload re-reads them).
    base = Path(tempfile.mkdtemp(prefix="guardreg-cluster-")) / "c"
    c = Cluster(base, apis=2, env={
        "GUARDREG_REPLICA_LEASE_S": str(LEASE_S), "GUARDREG_REPLICA_MAX_LAG_S": "2",
        "GUARDREG_IMAGE_WORKERS": "1", "GUARDREG_RATE_LIMIT_COMPLAINT_PER_MIN": "1",
        # The freshness test verifies as fast as it can with one key from two processes:
        # the (shared) verification limit must not be what it measures.
        "GUARDREG_RATE_LIMIT_VERIFY_PER_MIN": "100000000"})
    try:
        c.start()
        yield c
    finally:
        c.stop()
        shutil.rmtree(base.parent, ignore_errors=True)


def _sql(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(psycopg2.connect(dsn)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []


def _key(cluster: Cluster, role: str) -> Api:
    import subprocess
    import sys

    name = f"cluster-{role}-{secrets.token_hex(4)}"
    out = subprocess.run([sys.executable, "-m", "api.cli", "apikey", "create", "--role", role,
                          "--name", name], env=cluster.env(), capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    key = out.stdout.strip().splitlines()[-1]
    (pid,) = _sql(cluster.primary_url, "SELECT id FROM registry_principal WHERE name = %s",
                  (name,))[0]
    client = httpx.Client(base_url=cluster.api_urls[0], timeout=120)
    api = Api(client, key, None)  # type: ignore[arg-type]
    api.principal_id = pid  # type: ignore[attr-defined]
    return api


def _on(api: Api, url: str) -> Api:
    other = Api(httpx.Client(base_url=url, timeout=120), api.key, api.principal)
    other.principal_id = api.principal_id  # type: ignore[attr-defined]
    return other


@pytest.fixture(scope="module")
def people(cluster: Cluster) -> dict[str, Any]:
    regulator = _key(cluster, "regulator")
    officer = _key(cluster, "checkpoint_officer")
    company = regulator.make_company()
    texts = []
    numbers = []
    for _ in range(2):
        cert = issue(regulator, eligible_guard(regulator, company["id"])["id"])
        texts.append(cert["text"])
        numbers.append(cert["number"])
    return {"regulator": regulator, "officers": [officer] + [
        _on(officer, url) for url in cluster.api_urls[1:]], "texts": texts, "numbers": numbers}


def _serving(cluster: Cluster) -> bool:
    rows = _sql(cluster.primary_url, "SELECT state = 'serving' AND lease_until > now()"
                " FROM registry_read_replica WHERE name = %s", (REPLICA_NAME,))
    return bool(rows and rows[0][0])


class ReplicaCounter:
    """Transactions committed on the replica's database, less this counter's own."""

    def __init__(self, cluster: Cluster) -> None:
        self.conn = psycopg2.connect(cluster.replica_url)
        self.conn.autocommit = True
        self.own = 0
        self.start = self._total()

    def _total(self) -> int:
        self.own += 1
        with self.conn.cursor() as cur:
            cur.execute("SELECT xact_commit FROM pg_stat_database"
                        " WHERE datname = current_database()")
            row = cur.fetchone()
        assert row is not None
        return int(row[0])

    def others(self) -> int:
        return self._total() - self.start - self.own

    def verifications_seen(self) -> bool:
        """A guardreg backend on the replica whose last statement was a verification."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                        " 'guardreg' AND query LIKE 'EXECUTE guardreg_verify_ctx%%'")
            row = cur.fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        self.conn.close()


def _verdict(officer: Api, text: str) -> str:
    resp = officer.post("/v1/verifications", json={"text": text, "include_photo": False})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["verdict"])


# -- reads from the replica ---------------------------------------------------------------
def test_verifications_are_served_from_the_caught_up_replica(
        cluster: Cluster, people: dict[str, Any]) -> None:
    _until("the replica's read lease", lambda: _serving(cluster))
    counter = ReplicaCounter(cluster)
    try:
        def counted() -> bool:
            for officer in people["officers"]:
                assert _verdict(officer, people["texts"][0]) == "valid"
            # Statistics reach pg_stat_database when each backend flushes them (~1 s).
            return counter.others() >= 40

        # Nothing but the API processes' reads runs transactions on the replica.
        _until("40 verification transactions counted on the replica", counted)
        assert counter.verifications_seen()
    finally:
        counter.close()


# -- revocation freshness ------------------------------------------------------------------
def test_a_revocation_is_never_followed_by_a_valid_verdict_while_the_replica_lags(
        cluster: Cluster, people: dict[str, Any]) -> None:
    text, number = people["texts"][1], people["numbers"][1]
    _until("the replica's read lease", lambda: _serving(cluster))
    for officer in people["officers"]:
        assert _verdict(officer, text) == "valid"
    cluster.pause_replay()
    try:
        seen_revoked: list[float] = []  # monotonic time the primary first showed it
        records: list[tuple[float, str, int]] = []  # (start, verdict, process)
        stop = threading.Event()

        def watch() -> None:
            with contextlib.closing(psycopg2.connect(cluster.primary_url)) as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    while not stop.is_set():
                        cur.execute("SELECT status FROM certificates_certificate"
                                    " WHERE number = %s", (number,))
                        row = cur.fetchone()
                        if row and row[0] == "revoked":
                            seen_revoked.append(time.monotonic())
                            return
                        time.sleep(0.02)

        def hammer(i: int, officer: Api) -> None:
            client = httpx.Client(base_url=str(officer.client.base_url), timeout=120)
            while not stop.is_set():
                started = time.monotonic()
                resp = client.post("/v1/verifications", headers=officer.headers,
                                   json={"text": text, "include_photo": False})
                verdict = (resp.json()["verdict"] if resp.status_code == 200
                           else f"http-{resp.status_code}")  # asserted below, not here
                records.append((started, verdict, i))

        threads = [threading.Thread(target=watch)] + [
            threading.Thread(target=hammer, args=(i, o))
            for i, o in enumerate(people["officers"])]
        for t in threads:
            t.start()
        try:
            # The commit waits until the paused replica has lost its lease and left the
            # synchronous set; only then is the revocation visible on the primary.
            resp = people["regulator"].post(f"/v1/certificates/{number}/revoke",
                                            json={"reason": "misconduct"})
            assert resp.status_code == 200, resp.text
            _until("the revocation on the primary", lambda: bool(seen_revoked))
            after = seen_revoked[0]
            _until("three verdicts per process after the revocation", lambda: all(
                sum(1 for s, _, p in list(records) if s > after and p == i) >= 3
                for i in range(len(people["officers"]))))
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert not [v for _, v, _ in records if v.startswith("http-")], records[:10]
        late = [(s, v, p) for s, v, p in records if s > after]
        assert late and all(v == "revoked" for _, v, _ in late), late[:10]
        state = _sql(cluster.primary_url, "SELECT state FROM registry_read_replica"
                     " WHERE name = %s", (REPLICA_NAME,))[0][0]
        assert state in ("draining", "out"), state  # the paused replica lost its lease
        assert any(v == "valid" for s, v, _ in records if s < after)  # before: valid
    finally:
        cluster.resume_replay()
    # Caught up again, the replica rejoins and answers "revoked" itself.
    _until("the replica's lease after replay resumed", lambda: _serving(cluster))
    counter = ReplicaCounter(cluster)
    try:
        def counted() -> bool:
            for officer in people["officers"]:
                assert _verdict(officer, text) == "revoked"
            return counter.others() >= 10

        _until("verifications counted on the rejoined replica", counted)
    finally:
        counter.close()


# -- API keys across processes -------------------------------------------------------------
def _listen(cluster: Cluster) -> Any:
    conn = psycopg2.connect(cluster.primary_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("LISTEN guardreg_principal")
    return conn


def _await_note(conn: Any, principal_id: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if select.select([conn], [], [], 1.0)[0]:
            conn.poll()
            while conn.notifies:
                if conn.notifies.pop(0).payload == str(principal_id):
                    return
    raise AssertionError("no notification for the revoked key")


def _companies(api: Api) -> int:
    return int(api.get("/v1/companies", params={"limit": 1}).status_code)


def test_a_key_revoked_on_one_process_is_refused_by_the_other(
        cluster: Cluster, people: dict[str, Any]) -> None:
    a, b = cluster.api_urls
    victim = _key(cluster, "regulator")
    on_b = _on(victim, b)
    assert _companies(on_b) == 200 and _companies(on_b) == 200  # cached on B now
    listener = _listen(cluster)
    try:
        resp = _on(people["regulator"], a).delete(f"/v1/apikeys/{victim.principal_id}")
        assert resp.status_code == 204, resp.text
        _await_note(listener, victim.principal_id)  # type: ignore[attr-defined]
        # B's listener got the same notification; its cache drops the key on it.
        _until("B refusing the revoked key", lambda: _companies(on_b) == 401, 30)
    finally:
        listener.close()


def test_a_dropped_listening_connection_flushes_every_process_cache(
        cluster: Cluster, people: dict[str, Any]) -> None:
    a, b = cluster.api_urls
    victim = _key(cluster, "regulator")
    on_a, on_b = _on(victim, a), _on(victim, b)
    assert _companies(on_a) == 200 and _companies(on_b) == 200
    killed = _sql(cluster.primary_url, "SELECT count(pg_terminate_backend(pid))"
                  " FROM pg_stat_activity WHERE application_name = 'guardreg-listener'")[0][0]
    assert killed >= 2  # one listening connection per process
    # Revoked by plain SQL while nobody listens: no notification reaches anyone.
    _sql(cluster.primary_url, "UPDATE registry_principal SET revoked_at = now()"
         " WHERE id = %s", (victim.principal_id,))  # type: ignore[attr-defined]
    _until("both processes refusing the key", lambda: _companies(on_a) == 401
           and _companies(on_b) == 401, 60)
    _until("both processes listening again", lambda: _sql(
        cluster.primary_url, "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = 'guardreg-listener'")[0][0] >= 2, 60)
    assert _companies(on_a) == 401 and _companies(on_b) == 401


# -- rate limits ---------------------------------------------------------------------------
def test_a_rate_limit_counts_both_processes_together(cluster: Cluster) -> None:
    # One complaint per minute and client address (a burst of one): per process, each
    # would take one; together, one in total unless a minute went by.
    started = time.monotonic()
    codes = []
    for i in range(6):
        with httpx.Client(base_url=cluster.api_urls[i % 2], timeout=120) as client:
            codes.append(client.post("/v1/public/complaints", data={
                "category": "other",
                "description": "两台服务器轮流收到的同一地址的投诉内容。"}).status_code)
    elapsed = time.monotonic() - started
    assert set(codes) <= {201, 429}, codes
    assert codes[0] == 201 and codes[1] == 429, codes
    assert codes.count(201) <= 1 + int(elapsed // 60), codes


# -- scheduled jobs ------------------------------------------------------------------------
def test_a_scheduled_job_runs_once_with_two_hosts_up(cluster: Cluster) -> None:
    owners: set[str] = set()

    def both_hosts_ran_the_frequent_job() -> bool:
        for (owner,) in _sql(cluster.primary_url, "SELECT last_owner FROM registry_job"
                             " WHERE name = 'notifications.webhooks' AND runs > 0"):
            owners.add(owner)
        return len(owners) >= 2

    def hourly() -> list[tuple[Any, ...]]:
        return _sql(cluster.primary_url, "SELECT name, runs FROM registry_job"
                    " WHERE interval_s >= 3600")

    # The 20-second job ends up run by both hosts in turn: both tick, both see due jobs.
    _until("both hosts running jobs", both_hosts_ran_the_frequent_job, 300)
    _until("every hourly job's first run finished",
           lambda: bool(hourly()) and all(runs >= 1 for _, runs in hourly()), 300)
    # Due once at start-up, attempted by both hosts on every tick since: run once.
    assert all(runs == 1 for _, runs in hourly()), hourly()
