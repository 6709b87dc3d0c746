"""Schema migrations: plain SQL files, applied in order, each in its own transaction.

Each package owns its tables and keeps its migrations in ``<package>/migrations``;
files are named ``NNNN_description.sql`` with a number unique across packages, so the
global order is the numeric order. ``api`` passes the list of packages.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
from dataclasses import dataclass

from registry.db import Database

log = logging.getLogger(__name__)

_LOCK_ID = 0x6775617264726567  # "guardreg": one migrator at a time


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    package: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(packages: list[str]) -> list[Migration]:
    found: dict[int, Migration] = {}
    for package in packages:
        root = importlib.resources.files(package) / "migrations"
        if not root.is_dir():
            continue
        for entry in root.iterdir():
            if not entry.name.endswith(".sql"):
                continue
            number, _, rest = entry.name.partition("_")
            version = int(number)
            if version in found:
                raise RuntimeError(f"duplicate migration number {version} ({entry.name})")
            found[version] = Migration(version, rest[:-4], package, entry.read_text("utf-8"))
    return [found[v] for v in sorted(found)]


def upgrade(db: Database, packages: list[str]) -> list[Migration]:
    """Apply every migration not yet applied; return the ones applied now."""
    migrations = discover(packages)
    applied_now: list[Migration] = []
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration ("
                " version integer PRIMARY KEY, name text NOT NULL, package text NOT NULL,"
                " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT version, checksum FROM schema_migration")
            done = {int(v): c for v, c in cur.fetchall()}
            for m in migrations:
                if m.version in done:
                    if done[m.version] != m.checksum:
                        log.warning("migration %s changed after it was applied", m.version)
                    continue
                cur.execute("BEGIN")
                try:
                    cur.execute(m.sql)
                    cur.execute(
                        "INSERT INTO schema_migration (version, name, package, checksum)"
                        " VALUES (%s, %s, %s, %s)",
                        (m.version, m.name, m.package, m.checksum),
                    )
                    cur.execute("COMMIT")
                except Exception:
                    cur.execute("ROLLBACK")
                    raise
                applied_now.append(m)
                log.info("applied migration %04d_%s", m.version, m.name)
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    if "registry" in packages:
        # Data the SQL above cannot write: sealing needs a key the database never sees.
        from registry.pii import seal_legacy_rows

        seal_legacy_rows(db)
    return applied_now
