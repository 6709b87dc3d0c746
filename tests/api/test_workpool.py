"""The image work pool: results and errors come back; a task past its CPU budget is
killed in the worker, Python or native code alike, and the pool goes on serving."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from api.workpool import WorkBudgetExceeded, WorkFailed, WorkPool
from registry.errors import Conflict
from tests.api import workpool_tasks as tasks
from tests.resilience.exhaustion import finder_pattern_mosaic


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkPool]:
    p = WorkPool(workers=1, cpu_budget_s=0.5, wall_margin_s=60.0)
    yield p
    p.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_results_come_back(pool: WorkPool) -> None:
    assert pool.run(tasks.add, 2, b=3) == 5
    assert pool.run(tasks.pid) != os.getpid()


def test_a_guardreg_error_keeps_its_code_status_and_fields(pool: WorkPool) -> None:
    with pytest.raises(Conflict) as caught:
        pool.run(tasks.refuse)
    assert caught.value.status == 409
    assert caught.value.extra == {"reason": "already-enrolled", "guard_id": 7}


def test_an_unexpected_error_is_a_bare_500_without_its_message(pool: WorkPool) -> None:
    with pytest.raises(WorkFailed) as caught:
        pool.run(tasks.crash_with_secret)
    assert caught.value.status == 500
    assert "110105" not in str(caught.value) and "110105" not in caught.value.detail


def test_python_code_past_the_budget_is_killed(pool: WorkPool) -> None:
    victim = pool.run(tasks.pid)
    killed = pool.killed
    with pytest.raises(WorkBudgetExceeded) as caught:
        pool.run(tasks.burn_python)
    assert caught.value.status == 422
    assert caught.value.extra["reason"] == "cpu-time"
    assert caught.value.extra["limit"] == 0.5
    assert pool.killed == killed + 1
    assert not _alive(victim)  # the work really stopped: its process is gone
    # ... and the pool serves the next task from a fresh worker
    assert pool.run(tasks.pid) != victim
    assert pool.run(tasks.add, 1, 1) == 2


def test_native_code_past_the_budget_is_killed(pool: WorkPool) -> None:
    """zxing-cpp holds the CPU inside C++; no Python check could stop it."""
    from api import image_work

    victim = pool.run(tasks.pid)
    with pytest.raises(WorkBudgetExceeded) as caught:
        pool.run(image_work.read_qr, finder_pattern_mosaic(), max_bytes=10**7,
                 max_pixels=16_000_000)
    assert caught.value.extra["reason"] == "cpu-time"
    assert not _alive(victim)


def test_a_worker_that_uses_no_cpu_is_ended_by_the_wall_clock_backstop() -> None:
    p = WorkPool(workers=1, cpu_budget_s=0.5, wall_factor=0.0, wall_margin_s=0.5)
    try:
        victim = p.run(tasks.pid)
        with pytest.raises(WorkBudgetExceeded) as caught:
            p.run(tasks.idle_forever)
        assert caught.value.extra["reason"] == "wall-time"
        assert not _alive(victim)
        assert p.run(tasks.add, 2, 2) == 4
    finally:
        p.close()

