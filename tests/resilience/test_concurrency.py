"""Parallel issue, suspend, reinstate, revoke and verify on the same guards.

Threads call the ASGI app (sync endpoints run on a thread pool, each request in its own
database transaction), so the database's locking is what keeps the invariants:
unique certificate numbers and status indices, one live certificate per guard, no lost
update, no "valid" verdict after a committed revocation, and status lists that say
what the database says.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from certificates.publication import STATUS_VALUES
from certificates.statuslist import verify_status_list_token
from tests.conftest import Api, Clock
from tests.resilience.helpers import eligible_guard, issue

THREADS = 8


def _parallel(n: int, fn: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _no_server_errors(responses: list[Any]) -> None:
    bad = [(r.status_code, r.text[:200]) for r in responses
           if r.status_code >= 500 and r.status_code != 503]
    assert not bad, bad


@pytest.fixture(scope="module")
def company(regulator: Api) -> dict[str, Any]:
    return regulator.make_company()


@pytest.fixture(scope="module")
def guards(regulator: Api, company: dict[str, Any]) -> list[dict[str, Any]]:
    return [eligible_guard(regulator, company["id"]) for _ in range(4)]


def _db_certificates(runtime: Any, guard_ids: list[str]) -> list[dict[str, Any]]:
    """Certificate rows of these guards (named by public id, as the API names them)."""
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT c.id, c.number, g.public_id::text AS guard_id, c.status,"
                    " c.status_shard, c.status_idx FROM certificates_certificate c"
                    " JOIN registry_guard g ON g.id = c.guard_id"
                    " WHERE g.public_id::text = ANY(%s) ORDER BY c.id", (guard_ids,))
        return [dict(r) for r in cur.fetchall()]


def test_parallel_issuance_gives_one_certificate_per_guard(
        regulator: Api, runtime: Any, guards: list[dict[str, Any]]) -> None:
    gids = [g["id"] for g in guards[:2]]
    responses = _parallel(THREADS, lambda i: regulator.post(
        f"/v1/guards/{gids[i % 2]}/certificate"))
    _no_server_errors(responses)
    ok = [r for r in responses if r.status_code in (200, 201)]
    assert all(r.status_code in (200, 201, 409, 503) for r in responses), \
        [(r.status_code, r.text[:200]) for r in responses]
    for gid in gids:
        numbers = {r.json()["number"] for r in ok if r.json()["guard_id"] == gid}
        created = [r for r in ok if r.json()["guard_id"] == gid and r.status_code == 201]
        assert len(numbers) == 1, numbers  # every success names the same certificate
        assert len(created) == 1
    rows = _db_certificates(runtime, gids)
    live = Counter(r["guard_id"] for r in rows if r["status"] in ("valid", "suspended"))
    assert live == {gid: 1 for gid in gids}
    assert not [r for r in rows if r["status"] == "pending"]


def test_numbers_and_status_indices_stay_unique_across_the_registry(
        regulator: Api, runtime: Any, guards: list[dict[str, Any]]) -> None:
    for g in guards:
        issue(regulator, g["id"])
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT count(*) AS n, count(DISTINCT number) AS numbers, "
                    "count(DISTINCT (status_shard, status_idx)) AS refs "
                    "FROM certificates_certificate")
        row = cur.fetchone()
    assert row["n"] == row["numbers"] == row["refs"]


def _status_list_agrees_with_db(runtime: Any, clock: Clock, client: Any,
                                rows: list[dict[str, Any]]) -> None:
    trust, _ = runtime.certs.trust(clock())
    for shard in {r["status_shard"] for r in rows}:
        resp = client.get(f"/v1/status-lists/{shard}")
        assert resp.status_code == 200
        token = verify_status_list_token(resp.content, trust=trust, now=clock())
        with runtime.db.transaction(readonly=True) as cur:
            cur.execute("SELECT status_idx, status FROM certificates_certificate "
                        "WHERE status_shard = %s AND status IN ('valid','suspended','revoked')",
                        (shard,))
            for r in cur.fetchall():
                assert token.status_list.get(r["status_idx"]) == STATUS_VALUES[r["status"]], \
                    (shard, r["status_idx"], r["status"])


def test_status_changes_race_with_verifications(
        regulator: Api, officer: Api, runtime: Any, clock: Clock, client: Any,
        guards: list[dict[str, Any]]) -> None:
    target = issue(regulator, guards[2]["id"])
    other = issue(regulator, guards[3]["id"])
    number, text = target["number"], target["text"]
    stop = threading.Event()
    revoked_at: list[float] = []
    verdicts: list[tuple[float, str]] = []
    changes: list[Any] = []
    lock = threading.Lock()

    def verifier() -> None:
        while not stop.is_set():
            started = time.monotonic()
            r = officer.post("/v1/verifications", json={"text": text})
            assert r.status_code in (200, 503), r.text
            if r.status_code == 200:
                with lock:
                    verdicts.append((started, r.json()["verdict"]))

    def flipper(which: str) -> None:
        for _ in range(6):
            for op, body in (("suspend", {"reason": "investigation"}), ("reinstate", None)):
                r = regulator.post(f"/v1/certificates/{which}/{op}",
                                   **({"json": body} if body else {}))
                with lock:
                    changes.append(r)

    threads = [threading.Thread(target=verifier) for _ in range(3)]
    threads += [threading.Thread(target=flipper, args=(n,)) for n in (number, number,
                                                                      other["number"])]
    for t in threads:
        t.start()
    time.sleep(0.5)
    revoke = regulator.post(f"/v1/certificates/{number}/revoke", json={"reason": "misconduct"})
    revoked_at.append(time.monotonic())
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(60)
    assert revoke.status_code == 200, revoke.text
    _no_server_errors(changes)
    # A suspension or reinstatement that lost the race is refused (409) or a no-op
    # (changed: false), never applied on top of the revocation.
    assert all(r.status_code in (200, 409, 503) for r in changes), \
        [(r.status_code, r.text[:200]) for r in changes]
    after = [v for started, v in verdicts if started > revoked_at[0]]
    assert after, "no verification ran after the revocation"
    assert set(after) == {"revoked"}, Counter(after)
    assert {v for _, v in verdicts} <= {"valid", "suspended", "revoked"}
    rows = _db_certificates(runtime, [guards[2]["id"], guards[3]["id"]])
    by_number = {r["number"]: r for r in rows}
    assert by_number[number]["status"] == "revoked"
    assert by_number[other["number"]]["status"] == "valid"  # every suspend was reinstated
    again = regulator.post(f"/v1/certificates/{number}/reinstate")
    assert again.status_code in (200, 409), again.text
    if again.status_code == 200:
        assert again.json()["status"] == "revoked" and again.json()["changed"] is False
    _status_list_agrees_with_db(runtime, clock, client, rows)
    # Every verification answered was logged (no lost insert) once the queue is written.
    runtime.verification_log.flush()
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT count(*) AS n FROM certificates_verification_log "
                    "WHERE certificate_number = %s", (number,))
        assert cur.fetchone()["n"] >= len(verdicts)


def test_concurrent_patches_with_the_same_version_do_not_lose_updates(
        regulator: Api, runtime: Any) -> None:
    company = regulator.make_company()
    version = company["version"]
    responses = _parallel(THREADS, lambda i: regulator.patch(
        f"/v1/companies/{company['id']}",
        json={"district": f"区{i}", "expected_version": version}))
    _no_server_errors(responses)
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [(r.status_code, r.text[:100]) for r in responses]
    assert all(r.status_code == 409 for r in responses if r.status_code != 200)
    now = regulator.get(f"/v1/companies/{company['id']}").json()
    assert now["version"] == version + 1
    assert now["district"] == winners[0].json()["district"]
    # Without expected_version every change is applied in turn: N updates, N versions.
    responses = _parallel(THREADS, lambda i: regulator.patch(
        f"/v1/companies/{company['id']}", json={"name": f"并发公司{i}"}))
    _no_server_errors(responses)
    assert all(r.status_code == 200 for r in responses)
    final = regulator.get(f"/v1/companies/{company['id']}").json()
    assert final["version"] == version + 1 + THREADS
    history = regulator.get(f"/v1/companies/{company['id']}/history").json()["items"]
    assert len(history) >= 1 + THREADS


def test_parallel_revocations_of_one_certificate_apply_once(
        regulator: Api, runtime: Any, company: dict[str, Any]) -> None:
    guard = eligible_guard(regulator, company["id"])
    cert = issue(regulator, guard["id"])
    responses = _parallel(THREADS, lambda i: regulator.post(
        f"/v1/certificates/{cert['number']}/revoke", json={"reason": "left-industry"}))
    _no_server_errors(responses)
    changed = [r for r in responses if r.status_code == 200 and r.json()["changed"]]
    assert len(changed) == 1, [(r.status_code, r.text[:120]) for r in responses]
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT count(*) AS n FROM registry_audit_event "
                    "WHERE action = 'certificate.revoke' AND target_id = %s "
                    "AND data->>'changed' = 'true'", (cert["number"],))
        row = cur.fetchone()
    assert row["n"] == 1
