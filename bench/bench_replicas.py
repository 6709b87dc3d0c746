"""Verification capacity with shared rate limits and read replicas (issue 19).

    .venv/bin/python bench/bench_replicas.py [--seconds 15] [--connections 8] [--guards 4]

Starts tools/cluster.py (a PostgreSQL primary, a streaming replica, API processes),
seeds enrolled guards with certificates through the API, then loads
``POST /v1/verifications`` with wrk (one wrk per API process, the connections split
between them), one officer key (every request takes the same rate-limit row: the worst
case for the shared limiter), in these phases:

1. 1 API process, reads on the primary, per-process limiter (the baseline);
2. 1 API process, reads on the primary, shared limiter (PostgreSQL);
3. 1 API process, reads on the replica, shared limiter;
4. 2 API processes, reads on the primary, shared limiter;
5. 2 API processes, reads on the replica, shared limiter.

For each: requests/s, latency percentiles (for 2 processes: the worse process's), and
the transactions the replica committed per verification (about 1 when it serves them).
Needs ``wrk``. Everything it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import seed as seed_module  # noqa: E402
from bench.load.seed import seed  # noqa: E402
from tools.cluster import Cluster  # noqa: E402

LUA = ROOT / "bench" / "load" / "wrk_verify.lua"
HIGH = {"GUARDREG_RATE_LIMIT_VERIFY_PER_MIN": "100000000",
        "GUARDREG_RATE_LIMIT_ENROLL_PER_MIN": "100000", "GUARDREG_DB_POOL_MAX": "16",
        "GUARDREG_IMAGE_WORKERS": "1", "GUARDREG_JOBS_ENABLED": "false"}


def cli(cluster: Cluster, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "api.cli", *args], env=cluster.env(),
                         cwd=ROOT, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def replica_xacts(cluster: Cluster) -> int:
    with contextlib.closing(psycopg2.connect(cluster.replica_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        row = cur.fetchone()
        assert row is not None
        return int(row[0])


def wait_lease(cluster: Cluster, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.closing(psycopg2.connect(cluster.primary_url)) as conn, \
                conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM registry_read_replica WHERE state = 'serving'"
                        " AND lease_until > now()")
            row = cur.fetchone()
            if row and row[0]:
                # Each process learns the lease within a quarter lease.
                time.sleep(2)
                return
        time.sleep(0.3)
    raise TimeoutError("no replica lease")


PHOTO = "true"  # include_photo of every verification (--photo)


def run_wrk(urls: list[str], connections: int, seconds: int, texts: Path,
            key: str) -> list[dict[str, Any]]:
    per = max(1, connections // len(urls))
    env = {"PATH": "/usr/bin:/bin", "GR_TEXTS": str(texts), "GR_KEY": key,
           "GR_PHOTO": PHOTO}
    procs = [subprocess.Popen(["wrk", "-t1", f"-c{per}", f"-d{seconds}s", "--timeout", "10s",
                               "-s", str(LUA), url], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env) for url in urls]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 120)
        line = next((ln for ln in out.splitlines() if ln.startswith("WRKJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result:\n{out}")
        results.append(json.loads(line[len("WRKJSON "):]))
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--guards", type=int, default=4)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--photo", choices=("true", "false"), default="true",
                    help="include_photo: the enrolled portrait in each answer")
    ap.add_argument("--fingers", type=Path, default=seed_module.FINGERS,
                    help="FVC2002 DB1_B images (default: the shared data beside the repo)")
    args = ap.parse_args()
    global PHOTO
    PHOTO = args.photo
    seed_module.FINGERS = args.fingers
    if len(seed_module.finger_images()) < 80:
        sys.exit(f"no FVC2002 DB1_B images in {args.fingers}: pass --fingers DIR")

    base = Path(tempfile.mkdtemp(prefix="guardreg-bench-replicas-")) / "c"
    cluster = Cluster(base, apis=1, env=dict(HIGH))
    rows: list[dict[str, Any]] = []
    try:
        cluster.start()
        regulator = cli(cluster, "apikey", "create", "--role", "regulator")
        officer = cli(cluster, "apikey", "create", "--role", "checkpoint_officer")
        with httpx.Client(base_url=cluster.api_urls[0], timeout=300) as client:
            seeded = seed(client, regulator, args.guards)
        texts = base.parent / "texts.txt"
        texts.write_text("\n".join(c["text"] for c in seeded.certificates) + "\n")
        phases = [
            ("1 process, primary, per-process limiter", 1, "", "process"),
            ("1 process, primary, shared limiter", 1, "", "database"),
            ("1 process, replica, shared limiter", 1, cluster.replica_url, "database"),
            ("2 processes, primary, shared limiter", 2, "", "database"),
            ("2 processes, replica, shared limiter", 2, cluster.replica_url, "database"),
        ]
        for label, apis, read_url, store in phases:
            cluster.restart_apis(apis, {"DATABASE_READ_URL": read_url,
                                        "GUARDREG_RATE_LIMIT_STORE": store})
            if read_url:
                wait_lease(cluster)
            # Warm-up: prepared statements, pools, the first trust list.
            run_wrk(cluster.api_urls, args.connections, 3, texts, officer)
            before = replica_xacts(cluster)
            load = os.getloadavg()[0]
            results = run_wrk(cluster.api_urls, args.connections, args.seconds, texts,
                              officer)
            time.sleep(1.5)  # statistics reach pg_stat_database within about a second
            requests = sum(r["requests"] for r in results)
            row = {
                "phase": label, "processes": apis, "reads": "replica" if read_url else "primary",
                "limiter": store, "requests": requests,
                "rps": round(sum(r["rps"] for r in results), 1),
                "p50_ms": max(r["p50_ms"] for r in results),
                "p99_ms": max(r["p99_ms"] for r in results),
                "non2xx": sum(r["non2xx"] for r in results),
                "replica_xacts_per_request": round(
                    (replica_xacts(cluster) - before) / max(1, requests), 2),
                "load_avg_1m": round(load, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(base.parent, ignore_errors=True)
    print(f"\n{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {args.connections} connections, "
          f"{args.seconds} s per phase, include_photo={PHOTO}")
    print(f"{'phase':45} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
          f" {'replica xact/req':>17} {'load':>5}")
    for r in rows:
        print(f"{r['phase']:45} {r['rps']:8.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}"
              f" {r['non2xx']:8d} {r['replica_xacts_per_request']:17.2f}"
              f" {r['load_avg_1m']:5.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
