"""The rate-limit check alone: shared (PostgreSQL, api/rate_limits.py) against the
per-process bucket, in the same run.

    .venv/bin/python bench/bench_rate_limits.py [--threads 8] [--seconds 10]

Starts a TCP PostgreSQL (tools/pg_tcp.py), applies the migrations, then calls
``RateLimits.check`` from THREADS threads for SECONDS seconds: once all on ONE key (the
worst case: every call takes the same row lock, as one busy checkpoint officer's key
does) and once on one key per thread; then the same with the per-process bucket.
Prints calls per second and latency percentiles of each call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.rate_limits import ProcessRateLimiter, RateLimits  # noqa: E402
from api.runtime import MIGRATION_PACKAGES  # noqa: E402
from registry import migrate  # noqa: E402
from registry.db import Database  # noqa: E402
from tools import pg_tcp  # noqa: E402
from tools.cluster import free_port  # noqa: E402

PER_MINUTE = 100_000_000  # never refuses: the cost of the check, not of a 429


def run(check: object, threads: int, seconds: float, same_key: bool) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        key = 1 if same_key else 1000 + i
        out = latencies[i]
        while True:
            t0 = time.perf_counter()
            check(key)  # type: ignore[operator]
            out.append(time.perf_counter() - t0)
            if time.monotonic() >= stop:
                return

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - started
    flat = sorted(x for lat in latencies for x in lat)
    q = statistics.quantiles(flat, n=100)
    return {"calls": len(flat), "per_s": len(flat) / elapsed, "p50_ms": q[49] * 1e3,
            "p99_ms": q[98] * 1e3, "max_ms": flat[-1] * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="guardreg-bench-limits-"))
    data = work / "pg"
    dsn = pg_tcp.start(data, free_port())
    try:
        db = Database(dsn, max_size=args.threads + 2)
        migrate.upgrade(db, MIGRATION_PACKAGES)
        shared = RateLimits(db)
        local = ProcessRateLimiter(PER_MINUTE)
        rows = []
        for label, fn in (
                ("shared (PostgreSQL), one key", lambda k: shared.check("verify", k, PER_MINUTE)),
                ("per-process bucket, one key", local.check)):
            rows.append((label, run(fn, args.threads, args.seconds, True)))
        for label, fn in (
                ("shared (PostgreSQL), key per thread",
                 lambda k: shared.check("verify", k, PER_MINUTE)),
                ("per-process bucket, key per thread", local.check)):
            rows.append((label, run(fn, args.threads, args.seconds, False)))
        db.close()
    finally:
        pg_tcp.stop(data)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {args.threads} threads, "
          f"{args.seconds:g} s each, load average {os.getloadavg()[0]:.1f}")
    print(f"{'check':38} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, r in rows:
        print(f"{label:38} {r['per_s']:9.0f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f}"
              f" {r['max_ms']:8.1f}")


if __name__ == "__main__":
    main()
