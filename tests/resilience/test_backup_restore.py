"""tools/backup.py: back up a live registry, restore it into a fresh database and data
directory, then check the audit chain and verify every certificate against the restored
keys' trust list and the restored database's status."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.cert_context import make_context
from api.runtime import Runtime
from certificates import publication
from certificates.errors import Reason, VerificationError
from certificates.verification import CallableStatusProvider, verify
from registry import audit
from registry.db import Database
from tests import conftest as base
from tests.conftest import Clock, make_principal
from tests.resilience.helpers import eligible_guard, issue

ROOT = Path(__file__).resolve().parents[2]
TOOL = [sys.executable, str(ROOT / "tools" / "backup.py")]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TOOL, *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


@pytest.fixture(scope="module")
def source(pg_server: str, template_db: str,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    dsn = base._create_database(pg_server, f"guardreg_bk_{uuid.uuid4().hex[:8]}", template_db)
    data_dir = tmp_path_factory.mktemp("backup-source")
    settings = base.test_settings(data_dir, dsn)
    db = Database(dsn, max_size=4)
    rt = Runtime(settings=settings, db=db, embedded=None)
    clock = Clock()
    with TestClient(create_app(runtime=rt, clock=clock), raise_server_exceptions=False) as c:
        reg = make_principal(rt, c, "regulator")
        company = reg.make_company()
        certs = [issue(reg, eligible_guard(reg, company["id"])["id"]) for _ in range(3)]
        assert reg.post(f"/v1/certificates/{certs[1]['number']}/revoke",
                        json={"reason": "misconduct"}).status_code == 200
        assert reg.post(f"/v1/certificates/{certs[2]['number']}/suspend",
                        json={"reason": "investigation"}).status_code == 200
    db.close()
    return {"dsn": dsn, "data_dir": data_dir, "settings": settings, "clock": clock,
            "certs": certs, "server": pg_server}


@pytest.fixture(scope="module")
def restored(source: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("backups")
    made = _run("backup", str(out), "--database-url", source["dsn"], "--data-dir",
                str(source["data_dir"]))
    assert made.returncode == 0, made.stderr
    backup_dir = Path(made.stdout.strip().splitlines()[-1])
    target_dsn = base._create_database(source["server"],
                                       f"guardreg_restored_{uuid.uuid4().hex[:8]}")
    target_data = tmp_path_factory.mktemp("backup-target")
    done = _run("restore", str(backup_dir), "--database-url", target_dsn, "--data-dir",
                str(target_data))
    assert done.returncode == 0, done.stderr
    return {"backup_dir": backup_dir, "dsn": target_dsn, "data_dir": target_data,
            "stdout": done.stdout}


def test_backup_holds_a_dump_the_keys_and_a_manifest(restored: dict[str, Any],
                                                     source: dict[str, Any]) -> None:
    d = restored["backup_dir"]
    assert sorted(p.name for p in d.iterdir()) == ["db.dump", "keys.tar.gz", "manifest.json"]
    assert (d / "db.dump").read_bytes()[:5] == b"PGDMP"
    with tarfile.open(d / "keys.tar.gz") as tar:
        names = sorted(Path(n).name for n in tar.getnames())
    assert names == sorted(p.name for p in (source["data_dir"] / "keys").iterdir()
                           if p.is_file())
    assert any(n.endswith(".key.pem") for n in names)
    assert (d / "db.dump").stat().st_mode & 0o077 == 0


def test_restored_audit_chain_is_intact_and_complete(restored: dict[str, Any],
                                                     source: dict[str, Any]) -> None:
    reports = []
    for dsn in (source["dsn"], restored["dsn"]):
        db = Database(dsn, max_size=1)
        with db.transaction(readonly=True) as cur:
            reports.append(audit.verify_chain(cur))
        db.close()
    assert reports[1].ok, reports[1]
    assert reports[1].events == reports[0].events > 10


def test_every_restored_certificate_verifies_with_the_restored_keys(
        restored: dict[str, Any], source: dict[str, Any]) -> None:
    settings = source["settings"].model_copy(update={"data_dir": restored["data_dir"],
                                                     "database_url": restored["dsn"]})
    ctx = make_context(settings)
    now = source["clock"]()
    trust, _ = ctx.trust(now)
    original = make_context(source["settings"]).trust(now)[0]
    assert sorted(k.kid for k in trust.keys) == sorted(k.kid for k in original.keys)
    db = Database(restored["dsn"], max_size=1)
    outcomes: dict[str, str] = {}
    try:
        with db.transaction(readonly=True) as cur:
            cur.execute("SELECT number, status, text FROM certificates_certificate "
                        "WHERE text IS NOT NULL ORDER BY id")
            rows = [dict(r) for r in cur.fetchall()]
            provider = CallableStatusProvider(lambda uri, idx: publication.online_status(
                cur, config=ctx.issuance.status, uri=uri, idx=idx, now=now))
            for row in rows:
                outcome = "valid"
                try:
                    verify(row["text"], now=now, trust=trust, status=provider, policy=ctx.policy)
                except VerificationError as exc:
                    outcome = exc.reason.value
                assert outcome in ("valid", Reason.REVOKED.value, Reason.SUSPENDED.value)
                assert outcome == row["status"]
                outcomes[row["number"]] = outcome
    finally:
        db.close()
    numbers = [c["number"] for c in source["certs"]]
    assert [outcomes[n] for n in numbers] == ["valid", "revoked", "suspended"]
    # the restored private keys open with the same passphrase and sign
    signer = ctx.signer("status-list")
    assert signer.kid in {k.kid for k in trust.keys}


def test_restore_refuses_a_damaged_backup_or_a_used_database(restored: dict[str, Any],
                                                             source: dict[str, Any],
                                                             tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(restored["backup_dir"], copy)
    with (copy / "keys.tar.gz").open("r+b") as f:
        f.seek(40)
        f.write(b"\x00\x01\x02")
    bad = _run("restore", str(copy), "--database-url", restored["dsn"], "--data-dir",
               str(tmp_path / "d1"))
    assert bad.returncode == 1 and "checksum" in bad.stderr
    used = _run("restore", str(restored["backup_dir"]), "--database-url", source["dsn"],
                "--data-dir", str(tmp_path / "d2"))
    assert used.returncode == 1 and "not empty" in used.stderr
    assert not (tmp_path / "d2" / "keys").exists()


def test_restored_service_serves_and_verifies(restored: dict[str, Any],
                                              source: dict[str, Any]) -> None:
    settings = source["settings"].model_copy(update={"data_dir": restored["data_dir"],
                                                     "database_url": restored["dsn"]})
    db = Database(restored["dsn"], max_size=2)
    rt = Runtime(settings=settings, db=db, embedded=None)
    try:
        with TestClient(create_app(runtime=rt, clock=source["clock"])) as c:
            officer = make_principal(rt, c, "checkpoint_officer")
            r = officer.post("/v1/verifications", json={"text": source["certs"][0]["text"]})
            assert r.status_code == 200 and r.json()["verdict"] == "valid", r.text
            conn = psycopg2.connect(restored["dsn"])
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM registry_guard")
                assert cur.fetchone()[0] == 3
            conn.close()
    finally:
        db.close()


def test_backup_and_restore_default_to_the_embedded_server(tmp_path: Path) -> None:
    """A newcomer's installation (no DATABASE_URL): both commands start the embedded
    server of the data directory themselves."""
    import os

    from api.runtime import open_runtime

    src, dst = tmp_path / "src", tmp_path / "dst"
    settings = base.test_settings(src, "").model_copy(update={"database_url": None})
    rt = open_runtime(settings, upgrade=True)
    try:
        with TestClient(create_app(runtime=rt, clock=Clock())) as c:
            make_principal(rt, c, "regulator").make_company()
    finally:
        rt.close()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(GUARDREG_MODE="test", GUARDREG_DATA_DIR=str(src))
    made = subprocess.run([*TOOL, "backup", str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=env)
    assert made.returncode == 0, made.stderr
    backup_dir = made.stdout.strip().splitlines()[-1]
    env["GUARDREG_DATA_DIR"] = str(dst)
    done = subprocess.run([*TOOL, "restore", backup_dir], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["audit_ok"] is True and result["audit_events"] >= 1
    assert result["counts"]["registry_company"] == 1
    assert (dst / "pgdata").is_dir() and any((dst / "keys").iterdir())
