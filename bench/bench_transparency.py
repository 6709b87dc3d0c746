"""The audit transparency log: sequencing, proofs and re-verification costs.

Starts an embedded PostgreSQL in a temporary directory, applies the migrations, writes N
audit events (``audit.record``, in transactions of 1,000) and measures, with baselines
from the same run:

1. sequencing (``transparency_log.integrate``) in events/s, against recomputing the
   audit hash chain over the same events (``audit.verify_chain``);
2. one inclusion proof and one consistency proof (one transaction each, as an endpoint
   runs them), against reading one audit event by its seq;
3. ``recompute`` (what ``audit verify --witness`` adds) against ``verify_chain``;
4. the stored rows per event and the proof lengths at N.

    .venv/bin/python bench/bench_transparency.py [--events 100000] [--proofs 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.runtime import MIGRATION_PACKAGES
from certificates import transparency_log as tlog
from registry import audit, migrate
from registry.db import Database, EmbeddedPostgres


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f} ms (p95 " \
           f"{sorted(samples)[int(len(samples) * 0.95) - 1] * 1000:.2f} ms)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--proofs", type=int, default=300)
    args = ap.parse_args()
    n = args.events
    tmp = Path(tempfile.mkdtemp(prefix="guardreg-bench-tlog-"))
    pg = EmbeddedPostgres(tmp / "pg")
    dsn = pg.start()
    try:
        db = Database(dsn, max_size=2, statement_timeout_ms=600_000)
        migrate.upgrade(db, MIGRATION_PACKAGES)
        t0 = time.perf_counter()
        for start in range(0, n, 1000):
            with db.transaction() as cur:
                for i in range(start, min(n, start + 1000)):
                    audit.record(cur, actor=audit.SYSTEM, action="bench.event",
                                 target_type="guard", target_id=i,
                                 data={"fields": ["name", "phone"], "n": i})
        print(f"events written: {n} in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        with db.transaction(readonly=True) as cur:
            chain = audit.verify_chain(cur)
        chain_s = time.perf_counter() - t0
        assert chain.ok
        assert chain.events == n
        t0 = time.perf_counter()
        with db.transaction() as cur:
            done = tlog.integrate(cur, max_events=n)
        seq_s = time.perf_counter() - t0
        assert done.tree_size == n
        print(f"1. sequencing: {n / seq_s:,.0f} events/s ({seq_s:.2f} s); baseline"
              f" verify_chain: {n / chain_s:,.0f} events/s ({chain_s:.2f} s); ratio"
              f" {seq_s / chain_s:.2f}x")

        rng = random.Random(7)
        incl, cons, base = [], [], []
        for _ in range(args.proofs):
            idx = rng.randrange(n)
            first = rng.randrange(1, n)
            t0 = time.perf_counter()
            with db.transaction(readonly=True) as cur:
                p = tlog.prove_inclusion(cur, index=idx, size=n)
            incl.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with db.transaction(readonly=True) as cur:
                c = tlog.prove_consistency(cur, first=first, second=n)
            cons.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with db.transaction(readonly=True) as cur:
                audit.list_events(cur, after_seq=idx, limit=1)
            base.append(time.perf_counter() - t0)
        print(f"2. inclusion proof: {_median_ms(incl)}, {len(p.hashes)} hashes;"
              f" consistency proof: {_median_ms(cons)}, {len(c.hashes)} hashes;"
              f" baseline one event by seq: {_median_ms(base)}")

        t0 = time.perf_counter()
        with db.transaction(readonly=True) as cur:
            rebuilt = tlog.recompute(cur, at_size=n)
            stored = tlog.stored_root(cur, n)
        rec_s = time.perf_counter() - t0
        assert rebuilt.root_at == stored
        assert rebuilt.first_stored_mismatch is None
        print(f"3. recompute (verify --witness): {n / rec_s:,.0f} events/s ({rec_s:.2f} s);"
              f" baseline verify_chain {chain_s:.2f} s; ratio {rec_s / chain_s:.2f}x")

        with db.transaction(readonly=True) as cur:
            cur.execute("SELECT count(*) AS c, pg_total_relation_size('certificates_log_node')"
                        " AS b, pg_total_relation_size('registry_audit_event') AS e"
                        " FROM certificates_log_node")
            row = cur.fetchone()
        assert row is not None
        print(f"4. stored subtrees: {row['c']} rows ({row['c'] / n:.2f} per event),"
              f" {row['b'] / 2**20:.1f} MiB; baseline audit event table"
              f" {row['e'] / 2**20:.1f} MiB")
        db.close()
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
