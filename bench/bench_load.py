"""Load benchmark of the real service: guardreg workers on a TCP PostgreSQL, loaded by wrk.

    .venv/bin/python bench/bench_load.py [--workers 2] [--connections 16] [--profile]

1. starts a fresh PostgreSQL (tools/pg_tcp.py) and ``guardreg serve --workers N`` on
   127.0.0.1, each on a free port, in a temporary directory;
2. seeds through the API: a company, guards with real face photos and FVC2002 fingers
   (held duplicates approved by the regulator), background checks, certificates;
3. phase A: ``GET /healthz`` alone (wrk), the trivial endpoint's capacity;
4. phase B: ``POST /v1/verifications`` alone (wrk + Lua, checkpoint officer key);
   optionally py-spy samples one worker meanwhile (--profile);
5. phase C, the mix: wrk verifications + wrk healthz + a writer process (guard
   enrollments, fingerprint enrollments, issuances, revocations, suspend/reinstate),
   all at once, with latencies per endpoint;
6. prints a report (and writes it as JSON with --json), stops everything it started.

Every phase is bounded in time (seconds) and the writer also in operations. Needs
``wrk`` (apt-get install wrk) and, for --profile, ``py-spy`` in the venv.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load.seed import Seeder, seed  # noqa: E402
from bench.load.stack import PY, Stack, running_stack  # noqa: E402

LOAD = Path(__file__).resolve().parent / "load"


def wrk(url: str, script: Path, *, threads: int, connections: int, seconds: int,
        env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
           "-s", str(script), url]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)


def wrk_result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=180)
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            result: dict[str, Any] = json.loads(line[len("WRKJSON "):])
            return result
    raise RuntimeError("wrk produced no summary:\n" + out)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def profile(pid: int, seconds: int, out: Path, *, gil: bool = False
            ) -> subprocess.Popen[str] | None:
    spy = Path(PY).with_name("py-spy")
    if not spy.exists():
        return None
    return subprocess.Popen([str(spy), "record", "--pid", str(pid), "--duration", str(seconds),
                             "--rate", "200", "--format", "raw", "--nonblocking", "--output",
                             str(out), *(["--gil"] if gil else [])],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def summarize_profile(raw: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_s)
        total += count
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
                  for f in stack.split(";")]
        self_c[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    share = (lambda c: round(100.0 * c / total, 1)) if total else (lambda c: 0.0)
    return {"samples": total,
            "self_pct": [(f, share(c)) for f, c in self_c.most_common(top)],
            "inclusive_pct": [(f, share(c)) for f, c in incl.most_common(top * 2)]}


def cpu_seconds() -> dict[str, float]:
    """CPU time (user+system) used so far by process groups: postgres, guardreg, wrk."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    out = {"postgres": 0.0, "guardreg_workers": 0.0, "wrk": 0.0, "other": 0.0}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        if comm.startswith("postgres") or b"postgres" in cmd[:200]:
            out["postgres"] += used
        elif b"spawn_main" in cmd:
            out["guardreg_workers"] += used
        elif comm == "wrk":
            out["wrk"] += used
        else:
            out["other"] += used
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float], seconds: float,
              requests: int) -> dict[str, Any]:
    """Cores used per group during a phase, and CPU milliseconds per request."""
    out: dict[str, Any] = {}
    for k in before:
        used = max(0.0, after.get(k, 0.0) - before[k])
        out[k] = {"cores": round(used / seconds, 2),
                  "cpu_ms_per_request": round(1000 * used / max(1, requests), 3)}
    return out


def pg_stats(stack: Stack) -> dict[str, int]:
    import psycopg2

    conn = psycopg2.connect(stack.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT sum(xact_commit), sum(tup_returned + tup_fetched), "
                        "sum(tup_inserted) FROM pg_stat_database")
            row = cur.fetchone()
            assert row is not None
            return {"commits": int(row[0]), "tuples_read": int(row[1]),
                    "tuples_inserted": int(row[2])}
    finally:
        conn.close()


def create_officer(client: httpx.Client, regulator_key: str, name: str) -> str:
    r = client.post("/v1/apikeys", headers={"Authorization": f"Bearer {regulator_key}"},
                    json={"name": name, "role": "checkpoint_officer"})
    r.raise_for_status()
    return str(r.json()["api_key"])


def db_counts(stack: Stack) -> dict[str, Any]:
    import psycopg2

    conn = psycopg2.connect(stack.database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT status, count(*) FROM certificates_certificate GROUP BY status")
            certs = dict(cur.fetchall())
            cur.execute("SELECT verdict, count(*) FROM certificates_verification_log "
                        "GROUP BY verdict")
            verdicts = dict(cur.fetchall())
            cur.execute("SELECT count(*) FROM certificates_certificate GROUP BY number "
                        "HAVING count(*) > 1")
            dup_numbers = len(cur.fetchall())
        return {"certificates_by_status": certs, "verification_log_by_verdict": verdicts,
                "duplicate_numbers": dup_numbers}
    finally:
        conn.close()


def _async_commit(stack: Stack) -> None:
    import psycopg2

    conn = psycopg2.connect(stack.database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("ALTER SYSTEM SET synchronous_commit = off")
        cur.execute("SELECT pg_reload_conf()")
    conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--guards", type=int, default=8, help="certificates verified under load")
    ap.add_argument("--fresh", type=int, default=6, help="guards issued (then revoked) in the mix")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=15, help="phase B length (max 60)")
    ap.add_argument("--mix-seconds", type=int, default=20, help="phase C length (max 60)")
    ap.add_argument("--sweep", default="8,12,16",
                    help="phase B again at these connection counts (closed loop: more "
                         "connections, more throughput and more queueing); '' for none")
    ap.add_argument("--profile", action="store_true", help="py-spy one worker in phase B")
    ap.add_argument("--profile-gil", action="store_true",
                    help="with --profile: sample only the thread holding the GIL (Python CPU)")
    ap.add_argument("--pg-async-commit", action="store_true",
                    help="experiment: synchronous_commit=off on the server (not a product "
                    "setting; shows what the per-verification WAL flush costs)")
    ap.add_argument("--include-photo", choices=["default", "true", "false"], default="default",
                    help="include_photo in the verification requests (API default: true)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    seconds, mix_seconds = min(args.seconds, 60), min(args.mix_seconds, 60)
    report: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                              "argv": sys.argv[1:], "workers": args.workers,
                              "connections": args.connections,
                              "pg_async_commit": args.pg_async_commit,
                              "include_photo": args.include_photo}
    tmp = Path(tempfile.mkdtemp(prefix="guardreg-bench-wrk-"))
    try:
        with running_stack(workers=args.workers, keep=args.keep) as stack:
            if args.pg_async_commit:
                _async_commit(stack)
            regulator = stack.cli("apikey", "create", "--role", "regulator", "--name", "bench")
            with httpx.Client(base_url=stack.base_url, timeout=60) as client:
                t0 = time.monotonic()
                seeded = seed(client, regulator, args.guards)
                s = Seeder(client, regulator)
                fresh = [s.enrolled_guard(seeded.company_id, args.guards + i)
                         for i in range(args.fresh)]
                report["seed"] = {"guards_with_certificates": len(seeded.certificates),
                                  "fresh_guards": len(fresh),
                                  "held_reviews_approved": seeded.held_reviews + s.held,
                                  "seconds": round(time.monotonic() - t0, 1)}
                officer_b = create_officer(client, regulator, "bench-officer-b")
                officer_c = create_officer(client, regulator, "bench-officer-c")
            texts = tmp / "texts.txt"
            texts.write_text("\n".join(c["text"] for c in seeded.certificates) + "\n")
            base_env = {"PATH": "/usr/bin:/bin", "GR_TEXTS": str(texts)}
            if args.include_photo != "default":
                base_env["GR_PHOTO"] = args.include_photo
            verify_lua, get_lua = LOAD / "wrk_verify.lua", LOAD / "wrk_get.lua"

            # warm-up (worker caches, connections, trust list)
            wrk_result(wrk(stack.base_url, verify_lua, threads=1, connections=4, seconds=3,
                           env={**base_env, "GR_KEY": officer_b}))

            # A: the trivial endpoint alone
            report["A_healthz_alone"] = wrk_result(wrk(
                stack.base_url + "/healthz", get_lua, threads=args.threads,
                connections=args.connections, seconds=min(10, seconds)))

            # B: verifications alone (+ profile)
            spy_out = tmp / "pyspy.txt"
            workers = stack.worker_pids()
            spy = profile(workers[0], max(5, seconds - 4), spy_out, gil=args.profile_gil) if (
                args.profile and workers) else None
            cpu0, pg0, t_b = cpu_seconds(), pg_stats(stack), time.monotonic()
            report["B_verify_alone"] = wrk_result(wrk(
                stack.base_url, verify_lua, threads=args.threads, connections=args.connections,
                seconds=seconds, env={**base_env, "GR_KEY": officer_b}))
            n_b = report["B_verify_alone"]["requests"]
            report["B_cpu"] = cpu_delta(cpu0, cpu_seconds(), time.monotonic() - t_b, n_b)
            pg1 = pg_stats(stack)
            report["B_db_per_verification"] = {
                k: round((pg1[k] - pg0[k]) / max(1, n_b), 2) for k in pg0}
            if spy is not None:
                out, _ = spy.communicate(timeout=120)
                if spy_out.exists():
                    report["B_profile_worker"] = summarize_profile(spy_out)
                else:
                    report["B_profile_error"] = out[-2000:]

            # B': verifications alone at other concurrencies (latency vs throughput)
            report["B_sweep"] = {}
            for conns in [int(c) for c in args.sweep.split(",") if c.strip()]:
                report["B_sweep"][conns] = wrk_result(wrk(
                    stack.base_url, verify_lua, threads=min(args.threads, conns),
                    connections=conns, seconds=min(10, seconds),
                    env={**base_env, "GR_KEY": officer_b}))

            # C: the mix
            plan = {"base_url": stack.base_url, "regulator_key": regulator,
                    "company_id": seeded.company_id, "fresh_guards": fresh,
                    "cycle_numbers": [c["number"] for c in seeded.certificates[:2]],
                    "seconds": mix_seconds, "max_ops": 2000, "pace_s": 0.25}
            plan_file, result_file = tmp / "plan.json", tmp / "writer.json"
            plan_file.write_text(json.dumps(plan))
            writer = subprocess.Popen([PY, "-m", "bench.load.writer", str(plan_file),
                                       str(result_file)], cwd=ROOT)
            v = wrk(stack.base_url, verify_lua, threads=args.threads,
                    connections=args.connections, seconds=mix_seconds,
                    env={**base_env, "GR_KEY": officer_c})
            h = wrk(stack.base_url + "/healthz", get_lua, threads=1, connections=2,
                    seconds=mix_seconds)
            mix_v, mix_h = wrk_result(v), wrk_result(h)
            writer.wait(timeout=mix_seconds + 120)
            w = json.loads(result_file.read_text())
            per_endpoint: dict[str, Any] = {
                "POST /v1/verifications": mix_v, "GET /healthz": mix_h}
            for name, values in w["latencies_ms"].items():
                per_endpoint[name] = {
                    "requests": len(values), "rps": round(len(values) / mix_seconds, 2),
                    "p50_ms": round(pct(values, 50), 1), "p95_ms": round(pct(values, 95), 1),
                    "p99_ms": round(pct(values, 99), 1), "max_ms": round(max(values), 1),
                    "mean_ms": round(statistics.fmean(values), 1),
                    "status": w["status"][name]}
            report["C_mix"] = per_endpoint
            report["db_after"] = db_counts(stack)
        b, a = report["B_verify_alone"], report["A_healthz_alone"]
        report["ratio_verify_to_healthz_rps"] = round(b["rps"] / a["rps"], 3)
        runs = [b, *report["B_sweep"].values()]
        report["target_met"] = any(x["rps"] >= 1000 and x["p99_ms"] < 50 and x["non2xx"] == 0
                                   for x in runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))


def print_report(r: dict[str, Any]) -> None:
    print(f"guardreg load benchmark  {r['date']}  workers={r['workers']} "
          f"connections={r['connections']} pg_async_commit={r['pg_async_commit']} "
          f"include_photo={r['include_photo']}")
    print(f"seed: {r.get('seed')}")
    row = "{:<42} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}  {}"
    print(row.format("phase / endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms",
                     "max ms", "errors"))
    def line(name: str, x: dict[str, Any]) -> None:
        errs = x.get("status") or {k: x[k] for k in ("non2xx", "socket_errors", "timeouts")
                                   if k in x}
        print(row.format(name, x["requests"], x["rps"], x["p50_ms"], x["p95_ms"], x["p99_ms"],
                         x["max_ms"], errs))
    line("A  GET /healthz (alone)", r["A_healthz_alone"])
    line("B  POST /v1/verifications (alone)", r["B_verify_alone"])
    for conns, x in r.get("B_sweep", {}).items():
        line(f"B' POST /v1/verifications, {conns} conns", x)
    for name, x in r["C_mix"].items():
        line("C  " + name, x)
    print(f"verification/healthz throughput ratio (B/A): {r['ratio_verify_to_healthz_rps']}")
    print(f"target >= 1000 verifications/s with p99 < 50 ms (phase B or any B' run): "
          f"{'MET' if r['target_met'] else 'NOT MET'}")
    print(f"CPU during B (cores used, CPU ms per verification): {r.get('B_cpu')}")
    print(f"PostgreSQL work per verification during B: {r.get('B_db_per_verification')}")
    print(f"database after the run: {r['db_after']}")
    prof = r.get("B_profile_worker")
    if prof:
        print(f"py-spy, one worker during B ({prof['samples']} samples), top self time:")
        for f, p in prof["self_pct"][:15]:
            print(f"  {p:5.1f}%  {f}")
        print("top inclusive:")
        for f, p in prof["inclusive_pct"][:40]:
            print(f"  {p:5.1f}%  {f}")
    elif r.get("B_profile_error"):
        print("py-spy failed: " + r["B_profile_error"])


if __name__ == "__main__":
    main()
