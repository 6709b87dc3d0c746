"""Migration 0240 (issue 15): a database upgraded to the exam rule keeps its certified
guards eligible (a legacy exam pass), and gives none to anyone never certified."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from registry import migrate, repository
from registry.db import Database
from registry.pii import PiiCodec
from registry.settings import Settings
from tests.conftest import _create_database
from tests.registry.test_pii import migrate_packages

EXAM_MIGRATIONS = {81, 82, 240}


@pytest.fixture
def pre_exam_db(pg_server: str) -> Iterator[Database]:
    """Every migration but the exam ones, as a database from before issue 15 was."""
    dsn = _create_database(pg_server, f"guardreg_exam_{uuid.uuid4().hex[:8]}")
    db = Database(dsn, max_size=3, pii=PiiCodec.from_settings(Settings(mode="test")))
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE schema_migration (version integer PRIMARY KEY, name text"
                    " NOT NULL, package text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())")
        for m in migrate.discover(migrate_packages()):
            if m.version in EXAM_MIGRATIONS or m.version > 240:
                continue
            cur.execute(m.sql)
            cur.execute("INSERT INTO schema_migration VALUES (%s, %s, %s, %s)",
                        (m.version, m.name, m.package, m.checksum))
    conn.close()
    yield db
    db.close()


def _person(cur: object, name: str) -> int:
    cur.execute(  # type: ignore[attr-defined]
        "INSERT INTO registry_guard (name, birth_date, sex, id_number_bidx, id_number_sealed)"
        " VALUES (%s, '1990-01-01', 'M', %s, %s) RETURNING id",
        (name, os.urandom(32), b"sealed"))
    return int(cur.fetchone()["id"])  # type: ignore[attr-defined]


def test_certified_guards_get_a_legacy_pass_and_no_one_else(pre_exam_db: Database) -> None:
    db = pre_exam_db
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as cur:
        certified, revoked, never = (_person(cur, n) for n in ("持证", "已吊销", "未持证"))
        for idx, (guard, status) in enumerate(((certified, "valid"), (revoked, "revoked"))):
            cur.execute(
                "INSERT INTO certificates_certificate (number, guard_id, status, status_shard,"
                " status_idx, claims, payload, skill_level, issued_at, expires_at, issued_by)"
                " VALUES (%s, %s, %s, 0, %s, '{}', '\\x00', 5, %s, %s, 'test')",
                (f"12012026000{idx}", guard, status, idx, now, now + dt.timedelta(days=365)))
        for guard in (certified, revoked, never):
            cur.execute("INSERT INTO registry_background_check (guard_id, result, checked_on,"
                        " recorded_by) VALUES (%s, 'clear', %s, 't')", (guard, now.date()))
    applied = migrate.upgrade(db, migrate_packages())
    # the exam migrations, and any later one the set-up left for the upgrade
    assert {m.version for m in applied if m.version <= 240} == EXAM_MIGRATIONS
    with db.transaction(readonly=True) as cur:
        assert repository.guard_bars(cur, certified, now.date()) == []
        assert repository.guard_bars(cur, revoked, now.date()) == []
        assert repository.guard_bars(cur, never, now.date()) == ["no-exam-pass"]
        cur.execute("SELECT guard_id, source FROM registry_exam_result ORDER BY guard_id")
        assert [(r["guard_id"], r["source"]) for r in cur.fetchall()] == [
            (certified, "legacy"), (revoked, "legacy")]
