"""Rate limits hold across API processes (issue 19): the state is one row per key in
PostgreSQL, so a limit of N per minute admits N in total, not N per process. Two
Runtime instances with their own connection pools on one database stand for two
processes (tests/resilience/test_replicas.py repeats it with real processes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.rate_limits import ProcessRateLimiter, RateLimits, burst_of
from api.runtime import Runtime
from registry.db import Database
from registry.errors import RateLimited
from registry.settings import Settings
from tests.conftest import Api, Clock, make_principal
from tests.resilience.helpers import eligible_guard, issue


def _process(runtime: Runtime, per_minute: int) -> Runtime:
    settings = Settings(mode="test", database_url=runtime.settings.database_url,
                        data_dir=runtime.settings.data_dir,
                        rate_limit_verify_per_min=per_minute)
    return Runtime(settings=settings, db=Database(runtime.db.dsn, max_size=4), embedded=None,
                   certs=runtime.certs)


@pytest.fixture
def two_processes(runtime: Runtime) -> Iterator[tuple[TestClient, TestClient, Runtime]]:
    # One per minute: a burst of one, the next one 60 s later, so the count below does
    # not depend on how fast this machine is.
    a, b = _process(runtime, 1), _process(runtime, 1)
    with (TestClient(create_app(runtime=a, clock=Clock()), raise_server_exceptions=False) as ca,
          TestClient(create_app(runtime=b, clock=Clock()), raise_server_exceptions=False) as cb):
        yield ca, cb, a
    a.db.close()
    b.db.close()


def test_one_per_minute_admits_one_in_total_across_two_processes(
        two_processes: tuple[TestClient, TestClient, Runtime], regulator: Api) -> None:
    ca, cb, rt = two_processes
    company = regulator.make_company()
    text = issue(regulator, eligible_guard(regulator, company["id"])["id"])["text"]
    officer = make_principal(rt, ca, "checkpoint_officer")
    started = time.monotonic()
    codes = [(ca if i % 2 == 0 else cb).post("/v1/verifications", json={"text": text},
                                               headers=officer.headers).status_code
             for i in range(8)]
    elapsed = time.monotonic() - started
    assert set(codes) <= {200, 429}, codes
    # Per process, each would admit its own burst of one: two 200s. Shared: one, plus one
    # more only if a whole minute went by.
    assert codes.count(200) <= 1 + int(elapsed // 60), codes
    assert codes[0] == 200
    assert codes[1] == 429  # the other process knows of the first one's request


def test_concurrent_takes_from_two_pools_admit_the_burst_once(runtime: Runtime) -> None:
    per_minute = 600  # a burst of 100, then one every 0.1 s
    pools = [Database(runtime.db.dsn, max_size=4) for _ in range(2)]
    limits = [RateLimits(db) for db in pools]
    admitted = 0
    lock = threading.Lock()
    key = int(time.time_ns() % 2**62)

    def hammer(limit: RateLimits) -> None:
        nonlocal admitted
        for _ in range(150):
            try:
                limit.check("test-shared", key, per_minute)
            except RateLimited:
                continue
            with lock:
                admitted += 1

    started = time.monotonic()
    threads = [threading.Thread(target=hammer, args=(limits[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    for db in pools:
        db.close()
    burst = int(burst_of(per_minute))
    # All 600 attempts against one bucket: the burst, plus what the rate refilled.
    assert burst <= admitted <= burst + int(elapsed * per_minute / 60) + 1, (admitted, elapsed)
    assert admitted < 2 * burst or elapsed * per_minute / 60 >= burst


def test_the_process_limiter_is_the_same_bucket_shape() -> None:
    local = ProcessRateLimiter(12)  # burst of 2
    local.check(1)
    local.check(1)
    with pytest.raises(RateLimited):
        local.check(1)
    local.check(2)
