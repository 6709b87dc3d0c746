"""A revoked API key stops working on every worker once the database's notification
arrives, not after a cache TTL (issue 14). Two Runtime instances on one database stand
for two workers; the tests wait for the notification, never for a timer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.principal_cache import PrincipalCache
from api.runtime import Runtime
from registry.db import Database
from tests.conftest import Api, Clock, make_principal

WAIT_S = 30.0  # an upper bound for a notification on a loaded machine, not a measurement


@pytest.fixture(scope="module")
def worker_b(runtime: Runtime) -> Iterator[tuple[Runtime, TestClient]]:
    db = Database(runtime.db.dsn, max_size=4)
    rt = Runtime(settings=runtime.settings, db=db, embedded=None, certs=runtime.certs)
    with TestClient(create_app(runtime=rt, clock=Clock()),
                    raise_server_exceptions=False) as client:
        yield rt, client
    rt.close()


def _cache(rt: Runtime) -> PrincipalCache:
    cache = rt.principal_cache()
    assert cache.wait_listening(WAIT_S)
    return cache


def _as(client: TestClient, api: Api) -> Any:
    return client.get("/v1/companies", params={"limit": 1}, headers=api.headers)


def test_a_key_revoked_on_one_worker_is_refused_by_another(
        runtime: Runtime, client: TestClient, regulator: Api,
        worker_b: tuple[Runtime, TestClient]) -> None:
    rt_b, client_b = worker_b
    cache_b = _cache(rt_b)
    victim = make_principal(runtime, client, "regulator")
    assert _as(client_b, victim).status_code == 200
    assert cache_b.get(victim.key) is not None  # B now answers from its cache
    seen = cache_b.generation
    # revoked through worker A's API
    assert regulator.delete(f"/v1/apikeys/{victim.principal.id}").status_code == 204
    assert cache_b.wait_for_invalidation(seen, WAIT_S)
    assert cache_b.get(victim.key) is None
    resp = _as(client_b, victim)
    assert resp.status_code == 401, resp.text
    assert _as(client, victim).status_code == 401  # and on A, at once


def test_a_revocation_by_plain_sql_reaches_the_cache_too(
        runtime: Runtime, client: TestClient, worker_b: tuple[Runtime, TestClient]) -> None:
    rt_b, client_b = worker_b
    cache_b = _cache(rt_b)
    victim = make_principal(runtime, client, "checkpoint_officer")
    other = make_principal(runtime, client, "regulator")
    assert _as(client_b, other).status_code == 200
    assert client_b.get("/v1/companies", headers=victim.headers).status_code in (200, 403)
    assert cache_b.get(victim.key) is not None
    seen = cache_b.generation
    with runtime.db.transaction() as cur:
        cur.execute("UPDATE registry_principal SET revoked_at = now() WHERE id = %s",
                    (victim.principal.id,))
    assert cache_b.wait_for_invalidation(seen, WAIT_S)
    assert cache_b.get(victim.key) is None
    assert cache_b.get(other.key) is not None  # only that principal's keys were dropped
    assert client_b.get("/v1/companies", headers=victim.headers).status_code == 401


def test_a_dropped_listener_flushes_the_cache_and_pauses_caching(
        runtime: Runtime, client: TestClient, worker_b: tuple[Runtime, TestClient]) -> None:
    rt_b, client_b = worker_b
    cache_b = _cache(rt_b)
    api = make_principal(runtime, client, "regulator")
    assert _as(client_b, api).status_code == 200
    assert cache_b.get(api.key) is not None
    conn = cache_b._conn
    assert conn is not None
    seen = cache_b.generation
    with runtime.db.transaction() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (conn.get_backend_pid(),))
    assert cache_b.wait_for_invalidation(seen, WAIT_S)
    assert cache_b.get(api.key) is None  # flushed: nothing cached may have missed a revocation
    # the listener comes back by itself, and then caching resumes
    assert cache_b.wait_listening(WAIT_S)
    assert _as(client_b, api).status_code == 200
    assert cache_b.get(api.key) is not None


def test_a_lookup_that_races_an_invalidation_is_not_cached(runtime: Runtime) -> None:
    cache = PrincipalCache(runtime.db.dsn)
    try:
        assert cache.wait_listening(WAIT_S)
        from registry.auth import Principal, Role

        p = Principal(10**9, "x", Role.REGULATOR, None, None)
        token = cache.token()
        cache.invalidate(p.id)  # a notification lands while the lookup reads the database
        cache.put("gr_x_y", p, token)
        assert cache.get("gr_x_y") is None
        cache.put("gr_x_y", p, cache.token())
        assert cache.get("gr_x_y") == p
    finally:
        cache.close()


def test_a_new_service_policy_reaches_the_other_worker_by_notification(
        runtime: Runtime, client: TestClient, regulator: Api,
        worker_b: tuple[Runtime, TestClient]) -> None:
    # Issue 19: the checkpoint's policy cache is the runtime's, kept in step by the
    # change listener (no polling interval): a version committed through worker A is what
    # worker B answers with once the notification arrives, and a dropped listener
    # empties the cache too.
    rt_b, _ = worker_b
    _cache(rt_b)
    policies = rt_b.policy_cache()
    with rt_b.db.transaction(readonly=True) as cur:
        before = policies.get(cur)
        loads = policies.loads
        assert policies.get(cur) == before and policies.loads == loads  # cached
    seen = policies.generation
    services = [{k: s[k] for k in ("service", "lowest_level", "min_age", "requires",
                                   "description")} for s in before]
    resp = regulator.put("/v1/service-policy", json={"services": services})
    assert resp.status_code == 200, resp.text
    assert policies.wait_for_flush(seen, WAIT_S)
    with rt_b.db.transaction(readonly=True) as cur:
        after = policies.get(cur)
    assert after[0]["version"] == before[0]["version"] + 1
    assert policies.loads == loads + 1
    conn = rt_b.principal_cache()._conn
    assert conn is not None
    seen = policies.generation
    with runtime.db.transaction() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (conn.get_backend_pid(),))
    assert policies.wait_for_flush(seen, WAIT_S)
    assert _cache(rt_b).listening  # back by itself
    with rt_b.db.transaction(readonly=True) as cur:
        assert policies.get(cur) == after
    assert policies.loads == loads + 2  # read again after the drop
