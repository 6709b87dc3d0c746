"""The retention job (docs/LIFECYCLE.md "Retention") on a city-sized registry.

A database of its own (embedded PostgreSQL 18) with ``--guards`` synthetic guard rows
(sealed columns filled with placeholder bytes, no biometrics): 90% employed, 9% left
500 days ago, 1% left four years ago (past the three-year period). Measures the
candidate selection under the default statement timeout (5 s, as the job runs) and one
run of the job purging ``--purge`` people.

    .venv/bin/python bench/bench_retention.py --guards 150000 --purge 600
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg2

from api import retention_repository as repo
from api.runtime import MIGRATION_PACKAGES
from api.usecases import retention
from registry import migrate
from registry.db import Database, EmbeddedPostgres
from registry.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guards", type=int, default=150_000)
    parser.add_argument("--purge", type=int, default=600)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="guardreg-bench-retention-"))
    server = EmbeddedPostgres(tmp / "pgdata")
    dsn = server.start()
    try:
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        conn.cursor().execute('CREATE DATABASE "bench_retention"')
        conn.close()
        url = dsn.replace("/postgres?", "/bench_retention?")
        setup = Database(url, max_size=2, statement_timeout_ms=900_000)
        migrate.upgrade(setup, MIGRATION_PACKAGES)
        with setup.transaction() as cur:
            cur.execute(
                "INSERT INTO registry_company (name, credit_code, kind, licence_number,"
                " district) VALUES ('bench', '91120101MA00000000', 'security_service', 'L1',"
                " '和平区') RETURNING id")
            row = cur.fetchone()
            assert row is not None
            cur.execute(
                "INSERT INTO registry_guard (name, birth_date, sex, id_number_bidx,"
                " id_number_sealed, created_at) SELECT '张三', '1990-01-01', 'M',"
                " sha256(i::text::bytea), '\\x00'::bytea, now() - interval '5 years'"
                " FROM generate_series(1, %s) i", (args.guards,))
            cur.execute(
                "INSERT INTO registry_employment (guard_id, company_id, started_on, ended_on,"
                " end_reason) SELECT id, %s, date '2019-01-01',"
                " CASE WHEN id %% 100 = 0 THEN current_date - 1460"
                "      WHEN id %% 10 = 0 THEN current_date - 500 END,"
                " CASE WHEN id %% 10 = 0 THEN 'left' END FROM registry_guard", (row["id"],))
            cur.execute("ANALYZE")
        setup.close()
        db = Database(url, max_size=2)  # the default statement timeout, as the job has
        settings = Settings(mode="test", database_url=url, data_dir=tmp / "data")
        now = dt.datetime.now(dt.UTC)
        for label, limit in (("first 50", 50), ("all", 10**6)):
            t = time.perf_counter()
            with db.transaction() as cur:
                rows = repo.candidates(cur, now=now, cutoff=retention.cutoff(now, 3),
                                       limit=limit)
            print(f"candidates, {label}: {len(rows)} in {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        out = retention.run(db, settings, now, limit=args.purge)
        took = time.perf_counter() - t
        print(f"run: {out}\n{took:.1f} s, {1000 * took / max(1, out['purged']):.1f} ms"
              " per person")
        db.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
