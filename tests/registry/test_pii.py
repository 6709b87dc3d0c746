"""Personal fields at rest (issue 14): the ID number and the phone are sealed, one keyed
blind index serves look-ups, joins, bans and uniqueness, and rows written before the
change are sealed by the upgrade."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from registry import migrate, repository, service
from registry.audit import Actor
from registry.db import Database
from registry.errors import Conflict
from registry.pii import PiiCodec, PiiError
from registry.settings import Settings
from tests.conftest import Api, _create_database, internal_guard_id, random_id_number

ACTOR = Actor("regulator", 1)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
PHONE = f"137{secrets.randbelow(10**8):08d}"  # unique: the scan reads the shared database


def _all_text(cur: Any) -> str:
    """Every row of every table of ours, as text (bytea shows as hex)."""
    cur.execute("SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
    parts = []
    for (table,) in [(r["table_name"],) for r in cur.fetchall()]:
        cur.execute(f'SELECT coalesce(string_agg(t::text, E\'\\n\'), \'\') AS s FROM "{table}" t')
        parts.append(cur.fetchone()["s"])
    return "\n".join(parts)


def test_codec_round_trip_binding_and_keys() -> None:
    a = PiiCodec(b"a" * 32, b"b" * 32)
    b = PiiCodec(b"c" * 32, b"d" * 32)
    number = random_id_number()
    bidx = a.blind_index(number)
    assert bidx == a.blind_index(number.lower()) and len(bidx) == 32
    assert bidx != b.blind_index(number)  # keyed: no table of hashes of guessed numbers
    sealed = a.seal(number, purpose="id_number", bound_to=bidx)
    assert number.encode() not in sealed
    assert a.open(sealed, purpose="id_number", bound_to=bidx) == number
    other = a.blind_index(random_id_number())
    with pytest.raises(PiiError):  # moved onto another person's row
        a.open(sealed, purpose="id_number", bound_to=other)
    with pytest.raises(PiiError):  # another field's ciphertext
        a.open(sealed, purpose="phone", bound_to=bidx)
    with pytest.raises(PiiError):  # another key
        b.open(sealed, purpose="id_number", bound_to=bidx)
    with pytest.raises(PiiError):
        a.open(b"GRP1short", purpose="id_number", bound_to=bidx)
    with pytest.raises(ValueError):
        PiiCodec(b"a" * 32, b"a" * 32)


def test_no_id_number_or_phone_in_clear_anywhere(regulator: Api, runtime: Any) -> None:
    company = regulator.make_company()
    number = random_id_number()
    guard = regulator.make_guard(company["id"], id_number=number, phone=PHONE)
    # The API still shows them to who may see them...
    shown = regulator.get(f"/v1/guards/{guard['id']}").json()
    assert shown["id_number"] == number and shown["phone"] == PHONE
    # ...and a look-up by ID number finds the record (through the blind index).
    with runtime.db.transaction() as cur:
        found = repository.get_guard_by_id_number(cur, number)
        assert found is not None and str(found["public_id"]) == guard["id"]
        text = _all_text(cur)
    assert number not in text and number[:17] not in text
    assert PHONE not in text


def test_uniqueness_and_bans_hold_through_the_blind_index(regulator: Api, runtime: Any
                                                          ) -> None:
    company = regulator.make_company()
    number = random_id_number()
    guard = regulator.make_guard(company["id"], id_number=number)
    guard["id"] = internal_guard_id(runtime, guard["id"])  # the use cases take the row id
    with runtime.db.transaction() as cur:
        with pytest.raises(Conflict):
            service.enroll_guard(cur, actor=ACTOR, now=NOW, company_id=company["id"],
                                 name=guard["name"], id_number=number)
    with runtime.db.transaction() as cur:
        service.ban_person(cur, actor=ACTOR, now=NOW, id_number=number, reason="test ban",
                           until_on=None)
    with runtime.db.transaction() as cur:
        bars = repository.guard_bars(cur, guard["id"], NOW.date())
        assert bars is not None and "banned" in bars
        bans = repository.active_bans(cur, number, NOW.date())
        assert [b["id_number"] for b in bans] == [number]
        # The index is not the ID number in any form the database could reverse.
        cur.execute("SELECT id_number_bidx FROM registry_ban WHERE id = %s", (bans[0]["id"],))
        assert number.encode() not in bytes(cur.fetchone()["id_number_bidx"])
        assert repository.active_bans(cur, random_id_number(), NOW.date()) == []


def test_phone_changes_are_sealed_and_the_id_number_never_changes(regulator: Api,
                                                                  runtime: Any) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"], phone=PHONE)
    guard["id"] = internal_guard_id(runtime, guard["id"])
    with runtime.db.transaction() as cur:
        repository.update_guard(cur, guard["id"], {"phone": "13800000001"})
        with pytest.raises(ValueError):
            repository.update_guard(cur, guard["id"], {"id_number": random_id_number()})
    with runtime.db.transaction() as cur:
        row = repository.get_guard(cur, guard["id"])
        assert row is not None and row["phone"] == "13800000001"
        cur.execute("SELECT phone_sealed FROM registry_guard WHERE id = %s", (guard["id"],))
        assert b"13800000001" not in bytes(cur.fetchone()["phone_sealed"])


@pytest.fixture
def pre_0080_db(pg_server: str) -> Iterator[Database]:
    """A database migrated only up to the version before personal fields were sealed."""
    dsn = _create_database(pg_server, f"guardreg_pii_{uuid.uuid4().hex[:8]}")
    db = Database(dsn, max_size=3, pii=PiiCodec.from_settings(Settings(mode="test")))
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE schema_migration (version integer PRIMARY KEY, name text"
                    " NOT NULL, package text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())")
        for m in migrate.discover(migrate_packages()):
            if m.version >= 80:
                break
            cur.execute(m.sql)
            cur.execute("INSERT INTO schema_migration VALUES (%s, %s, %s, %s)",
                        (m.version, m.name, m.package, m.checksum))
    conn.close()
    yield db
    db.close()


def migrate_packages() -> list[str]:
    from api.runtime import MIGRATION_PACKAGES

    return list(MIGRATION_PACKAGES)


def test_the_upgrade_seals_rows_written_before_it(pre_0080_db: Database) -> None:
    db = pre_0080_db
    numbers = [random_id_number() for _ in range(3)]
    with db.transaction() as cur:
        for i, n in enumerate(numbers):
            cur.execute("INSERT INTO registry_guard (name, id_number, birth_date, sex, phone)"
                        " VALUES (%s, %s, '1990-01-01', 'M', %s)",
                        (f"旧{i}", n, PHONE if i == 0 else None))
        cur.execute("INSERT INTO registry_ban (id_number, reason, created_by)"
                    " VALUES (%s, 'old ban', 'regulator')",
                    (numbers[1],))
    migrate.upgrade(db, migrate_packages())
    with db.transaction() as cur:
        text = _all_text(cur)
        assert not any(n in text for n in numbers) and PHONE not in text
        first = repository.get_guard_by_id_number(cur, numbers[0])
        assert first is not None and first["phone"] == PHONE and first["name"] == "旧0"
        assert [b["id_number"] for b in repository.active_bans(cur, numbers[1],
                                                               NOW.date())] == [numbers[1]]
        # The constraints that forbid clear values are now in force for every row.
        cur.execute("SELECT bool_and(convalidated) AS ok FROM pg_constraint WHERE conname"
                    " IN ('registry_guard_no_clear_pii', 'registry_ban_no_clear_pii')")
        assert cur.fetchone()["ok"] is True
        with pytest.raises(psycopg2.errors.CheckViolation):
            cur.execute("UPDATE registry_guard SET legacy_phone = '13900000000'"
                        " WHERE id = %s", (first["id"],))
    # Running it again is a no-op (resumable, safe on every start).
    migrate.upgrade(db, migrate_packages())
