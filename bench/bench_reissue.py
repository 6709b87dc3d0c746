"""Re-issuing every live certificate of a compromised certificate key (issue 14).

Starts an embedded PostgreSQL in a temporary directory, applies the migrations, imports
N guards, gives each a signed certificate (written straight through the certificates
repository: the biometric capture that issuance requires is not what is measured),
declares the certificate key compromised and re-issues everything with
``certificates.compromise.reissue_batch`` (one transaction per batch, status lists
republished once per batch, no QR image rendered). Baselines from the same run: the
signing alone (``seal``) per second, and the QR PNG rendering per second, which is what
re-issuance would also pay per certificate if it drew the images in the loop.

    .venv/bin/python bench/bench_reissue.py [--guards 2000] [--batch 500]
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
from certificates import compromise, publication, qr
from certificates import repository as cert_repo
from certificates.credential import inspect, seal
from certificates.cwt import GuardClaims, StatusRef
from certificates.issuance import claims_json
from certificates.numbers import make_number
from registry import auth, migrate
from registry.audit import Actor
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
    ap.add_argument("--guards", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="guardreg-bench-reissue-"))
    pg = EmbeddedPostgres(tmp / "pg")
    dsn = pg.start()
    db = Database(dsn, max_size=4)
    try:
        migrate.upgrade(db, MIGRATION_PACKAGES)
        settings = Settings(mode="test", database_url=dsn, data_dir=tmp)
        rt = Runtime(settings=settings, db=db, embedded=None)
        with TestClient(create_app(runtime=rt)) as client:
            with db.transaction() as cur:
                _, key = auth.create_api_key(
                    cur, pepper=settings.derive_key("apikey_pepper", "apikey-hmac"),
                    name="bench", role=auth.Role.REGULATOR)
            h = {"Authorization": f"Bearer {key}"}
            body = {"name": "基准公司" + secrets.token_hex(3), "kind": "security_service",
                    "credit_code": make_credit_code("120101", secrets.token_hex(4).upper()),
                    "licence_number": "B1", "district": "和平区"}
            cid = int(client.post("/v1/companies", json=body, headers=h).json()["id"])
            csv = "name,id_number,phone\n" + "".join(
                f"保安{i},{n},139{i:08d}\n" for i, n in enumerate(ids(args.guards)))
            resp = client.post(f"/v1/guards/import?company_id={cid}", content=csv.encode(),
                               headers={**h, "content-type": "text/csv"})
            assert resp.status_code == 200, resp.text
        ctx = rt.certs
        signer = ctx.signer("certificate")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        texts: list[str] = []
        with db.transaction() as cur:
            cur.execute("SELECT g.id, g.name, g.skill_level, c.name AS company_name"
                        " FROM registry_guard g JOIN registry_employment e ON e.guard_id = g.id"
                        " JOIN registry_company c ON c.id = e.company_id WHERE c.id = %s",
                        (cid,))
            guards = cur.fetchall()
            for g in guards:
                shard, idx = publication.allocate(cur, config=ctx.issuance.status)
                number = make_number(settings.city_code, now.year,
                                     cert_repo.next_number_sequence(cur))
                claims = GuardClaims(
                    issuer=settings.issuer, issued_at=now, expires_at=now + dt.timedelta(days=365),
                    certificate_number=number, guard_name=g["name"],
                    skill_level=g["skill_level"], employer_id=cid,
                    employer_name=g["company_name"],
                    status=StatusRef(ctx.issuance.status.uri(shard), idx))
                cert_id = cert_repo.insert_certificate(cur, {
                    "number": number, "guard_id": g["id"], "status": "pending",
                    "status_shard": shard, "status_idx": idx, "claims": claims_json(claims),
                    "payload": claims.encode(), "employer_id": cid,
                    "skill_level": g["skill_level"], "issued_at": now,
                    "expires_at": claims.expires_at, "issued_by": "bench"})
                text = seal(claims, signer)
                cert_repo.mark_signed(cur, cert_id, text=text, kid=signer.kid, alg=signer.alg)
                texts.append(text)
        n = len(texts)
        actor = Actor("system")
        with db.transaction() as cur:
            declared = compromise.declare(cur, ring=ctx.keyring, actor=actor, kid=signer.kid,
                                          since=now - dt.timedelta(days=1), now=now)
        ctx.forget()
        t0 = time.perf_counter()
        done = 0
        while True:
            with db.transaction() as cur:
                step = compromise.reissue_batch(
                    cur, actor=actor, now=dt.datetime.now(dt.UTC), kid=signer.kid,
                    signer=ctx.signer("certificate"), status_signer=ctx.signer("status-list"),
                    config=ctx.issuance, limit=args.batch)
            done += len(step.reissued)
            if step.remaining == 0 or not step.reissued:
                break
        elapsed = time.perf_counter() - t0
        sample = texts[: min(200, n)]
        new_signer = ctx.signer("certificate")
        t0 = time.perf_counter()
        for t in sample:
            seal(inspect(t)[1], new_signer)
        sign_rate = len(sample) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for t in sample:
            qr.render_png(t)
        png_rate = len(sample) / (time.perf_counter() - t0)
        print(f"live certificates under the compromised key: {declared.live_certificates}")
        print(f"re-issued {done} of {n} in {elapsed:.1f} s = {done / elapsed:.0f} certificates/s "
              f"(batches of {args.batch}, no QR rendered)")
        print(f"baseline, same run: decode + sign alone {sign_rate:.0f}/s; "
              f"QR PNG render alone {png_rate:.0f}/s")
        est = 1 / (1 / (done / elapsed) + 1 / png_rate)
        print(f"re-issuing with the PNG drawn in the loop would run at about {est:.0f}/s")
    finally:
        db.close()
        pg.stop()


if __name__ == "__main__":
    main()
