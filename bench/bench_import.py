"""Bulk CSV import of guards (no images): time for 10,000 rows through the real endpoint.

Starts an embedded PostgreSQL in a temporary directory, applies the migrations, builds
the app and posts one CSV of N valid guards to ``POST /v1/guards/import``. Baseline in
the same run: the same number of single ``POST /v1/guards`` calls for a small sample,
extrapolated, so the ratio shows what the bulk path saves.

    .venv/bin/python bench/bench_import.py [--rows 10000] [--sample 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import MIGRATION_PACKAGES, Runtime
from registry import auth, migrate
from registry.db import Database, EmbeddedPostgres
from registry.settings import Settings
from registry.validation import make_credit_code, make_resident_id


def ids(n: int) -> list[str]:
    out, seen = [], set()
    while len(out) < n:
        birth = dt.date(1970, 1, 1) + dt.timedelta(days=secrets.randbelow(12000))
        number = make_resident_id("120101", birth, secrets.randbelow(1000))
        if number not in seen:
            seen.add(number)
            out.append(number)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--sample", type=int, default=300)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="guardreg-bench-import-"))
    pg = EmbeddedPostgres(tmp / "pg")
    dsn = pg.start()
    try:
        db = Database(dsn, max_size=4)
        migrate.upgrade(db, MIGRATION_PACKAGES)
        settings = Settings(mode="test", database_url=dsn, data_dir=tmp)
        rt = Runtime(settings=settings, db=db, embedded=None)
        with TestClient(create_app(runtime=rt)) as client, db.transaction() as cur:
            _, key = auth.create_api_key(cur, pepper=settings.derive_key("apikey_pepper",
                                                                         "apikey-hmac"),
                                         name="bench", role=auth.Role.REGULATOR)
        with TestClient(create_app(runtime=rt)) as client:
            h = {"Authorization": f"Bearer {key}"}

            def company() -> int:
                body = {"name": "基准公司" + secrets.token_hex(3), "kind": "security_service",
                        "credit_code": make_credit_code("120101", secrets.token_hex(4).upper()),
                        "licence_number": "B1", "district": "和平区"}
                return int(client.post("/v1/companies", json=body, headers=h).json()["id"])

            numbers = ids(args.rows + args.sample)
            csv = "name,id_number,phone\n" + "".join(
                f"保安{i},{n},139{i:08d}\n" for i, n in enumerate(numbers[:args.rows]))
            cid = company()
            t0 = time.perf_counter()
            resp = client.post(f"/v1/guards/import?company_id={cid}", content=csv.encode(),
                               headers={**h, "content-type": "text/csv"})
            bulk_s = time.perf_counter() - t0
            body = resp.json()
            assert resp.status_code == 200, resp.text
            cid2 = company()
            t0 = time.perf_counter()
            for i, n in enumerate(numbers[args.rows:]):
                r = client.post("/v1/guards", json={"name": f"单{i}", "id_number": n,
                                                     "company_id": cid2}, headers=h)
                assert r.status_code == 201, r.text
            single_s = (time.perf_counter() - t0) / args.sample * args.rows
        print(f"bulk import: {args.rows} rows in {bulk_s:.1f} s "
              f"({args.rows / bulk_s:.0f} rows/s); enrolled {len(body['enrolled'])}, "
              f"rejected {len(body['rejected'])}")
        print(f"baseline (single POST /v1/guards, {args.sample} measured, extrapolated): "
              f"{single_s:.1f} s for {args.rows}; bulk is {single_s / bulk_s:.1f}x faster")
    finally:
        db.close()
        pg.stop()


if __name__ == "__main__":
    main()
