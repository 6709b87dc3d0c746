"""Rate limits that hold across API processes and hosts.

The state lives in PostgreSQL (migration 0090, an UNLOGGED table on the primary): one
row per (kind, key) with the theoretical arrival time of the generic cell rate
algorithm (GCRA), advanced by ONE conditional upsert per request. So a limit of N per
minute admits N per minute in total, however many processes serve the key, and the
database's clock is the only clock (hosts' clocks may disagree).

The :class:`RateLimits` object belongs to the :class:`~api.runtime.Runtime`. When the
primary cannot be reached, the check falls back to a per-process bucket with the same
rate (so an outage of the primary neither lets requests through unlimited nor refuses
all of them); :class:`ProcessRateLimiter` is that bucket, and the baseline of
bench/bench_rate_limits.py.
"""

from __future__ import annotations

import math
import threading
import time

from registry import rate_limit_repository as repo
from registry.db import Database
from registry.errors import RateLimited, Unavailable


def burst_of(per_minute: int) -> float:
    """Requests admitted at once from rest: a tenth of a minute's allowance, at least 1."""
    return max(1.0, per_minute / 6.0)


class RateLimits:
    """Shared limits: ``check(kind, key, per_minute)`` admits or raises 429."""

    def __init__(self, db: Database, *, shared: bool = True) -> None:
        self.db = db
        self.shared = shared
        self._fallback: dict[tuple[str, int], ProcessRateLimiter] = {}
        self._lock = threading.Lock()

    def check(self, kind: str, key: int, per_minute: int) -> None:
        interval = 60.0 / max(1, per_minute)
        tolerance = (burst_of(per_minute) - 1.0) * interval
        if not self.shared:
            self._local(kind, per_minute).check(key)
            return
        try:
            with self.db.snapshot() as cur:
                admitted = repo.take(cur, kind, key, interval, tolerance)
                # Refused: Retry-After says when the next request is admitted.
                wait = 0.0 if admitted else repo.wait_s(cur, kind, key, tolerance)
        except Unavailable:
            self._local(kind, per_minute).check(key)
            return
        if not admitted:
            raise RateLimited("too many requests for this key; slow down",
                              retry_after_s=max(1, math.ceil(wait)))

    def _local(self, kind: str, per_minute: int) -> ProcessRateLimiter:
        with self._lock:
            limiter = self._fallback.get((kind, per_minute))
            if limiter is None:
                limiter = self._fallback[(kind, per_minute)] = ProcessRateLimiter(per_minute)
            return limiter

    def sweep(self, idle_s: float = 3600.0) -> int:
        """Forget keys idle for an hour (a scheduled job, api/jobs.py)."""
        with self.db.transaction() as cur:
            return repo.sweep(cur, idle_s)


class ProcessRateLimiter:
    """Token buckets in this process only (fallback and benchmark baseline)."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst_of(per_minute)
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: int) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate) if self.rate > 0 else 60
                raise RateLimited("too many requests for this key; slow down",
                                  retry_after_s=max(1, int(wait)))
            self._buckets[key] = (tokens - 1.0, now)
