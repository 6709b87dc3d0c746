"""Tasks for tests/api/test_workpool.py, importable by a worker process (no pytest here)."""

from __future__ import annotations

import os
import time

from registry.errors import Conflict


def add(a: int, b: int) -> int:
    return a + b


def pid() -> int:
    return os.getpid()


def burn_python() -> int:
    """CPU in the interpreter, forever."""
    n = 0
    while True:
        n += 1


def idle_forever() -> None:
    """No CPU at all: only the wall-clock backstop can end it."""
    while True:
        time.sleep(3600)


def refuse() -> None:
    raise Conflict("already there", reason="already-enrolled", guard_id=7)


def crash_with_secret() -> None:
    raise RuntimeError("110105194912310021 must never leave the worker")
