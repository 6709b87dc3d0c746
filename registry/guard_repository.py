"""SQL of the guard aggregate: the person (ID number and phone sealed at rest, looked up
through the blind index), employment, hire consent, background checks, revocation
records, qualifications, the console's name search.

One module per aggregate (issue 19); ``registry.repository`` re-exports them all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, and_where, fetch_all, fetch_one, insert_returning, pii_of

Row = dict[str, Any]


GUARD_COLUMNS = (
    "g.id, g.public_id, g.name, g.id_number_bidx, g.id_number_sealed, g.birth_date, g.sex,"
    " g.phone_sealed, g.education, g.skill_level,"
    " g.status, g.intentional_crime, g.administrative_detentions, g.biometric_subject,"
    " g.version, g.created_at, g.updated_at, e.company_id, e.started_on AS employed_since,"
    " c.name AS company_name, c.district, c.status AS company_status"
)


CHECK_COLUMNS = "id, guard_id, result, reason, checked_on, recorded_by, source, created_at"


QUALIFICATION_COLUMNS = ("id, guard_id, kind, reference, valid_from, valid_until, recorded_by,"
                         " created_at")


_GUARD_FROM = (
    " FROM registry_guard g"
    " LEFT JOIN registry_employment e ON e.guard_id = g.id AND e.ended_on IS NULL"
    " LEFT JOIN registry_company c ON c.id = e.company_id"
)


# -- guards --------------------------------------------------------------------------
# The ID number and the phone are sealed at rest (registry/pii.py): rows come back with
# them in clear under ``id_number`` and ``phone``; callers write them in clear and the
# sealing happens here. Look-ups go through the blind index (``id_number_index``).
def open_person_row(cur: Cursor, row: Row | None) -> Row | None:
    return None if row is None else pii_of(cur).open_person(row)


def open_person_rows(cur: Cursor, rows: list[Row]) -> list[Row]:
    codec = pii_of(cur)
    return [codec.open_person(r) for r in rows]


def id_number_index(cur: Cursor, id_number: str) -> bytes:
    """The blind index an ID number is looked up by (tables of other modules join on it)."""
    return pii_of(cur).blind_index(id_number)


def insert_guard(cur: Cursor, values: dict[str, Any]) -> int:
    sealed = pii_of(cur).seal_person(values)
    return int(insert_returning(cur, "registry_guard", sealed, "id")["id"])


def get_guard(cur: Cursor, guard_id: int, *, for_update: bool = False) -> Row | None:
    if for_update:
        cur.execute("SELECT id FROM registry_guard WHERE id = %s FOR UPDATE", (guard_id,))
        if cur.fetchone() is None:
            return None
    cur.execute(f"SELECT {GUARD_COLUMNS}{_GUARD_FROM} WHERE g.id = %s", (guard_id,))
    return open_person_row(cur, fetch_one(cur))


def guard_id_of(cur: Cursor, public_id: str) -> int | None:
    """The internal id of the guard named by ``public_id`` (a UUID), or None."""
    cur.execute("SELECT id FROM registry_guard WHERE public_id = %s", (public_id,))
    row = fetch_one(cur)
    return int(row["id"]) if row else None


def public_ids_of(cur: Cursor, guard_ids: list[int]) -> dict[int, str]:
    """Public ids of these guards, by internal id (for views listing several guards)."""
    if not guard_ids:
        return {}
    cur.execute("SELECT id, public_id FROM registry_guard WHERE id = ANY(%s)",
                (list(guard_ids),))
    return {int(r["id"]): str(r["public_id"]) for r in fetch_all(cur)}


def get_guard_by_id_number(cur: Cursor, id_number: str) -> Row | None:
    cur.execute(f"SELECT {GUARD_COLUMNS}{_GUARD_FROM} WHERE g.id_number_bidx = %s",
                (id_number_index(cur, id_number),))
    return open_person_row(cur, fetch_one(cur))


def get_guard_by_subject(cur: Cursor, subject: str) -> Row | None:
    cur.execute(f"SELECT {GUARD_COLUMNS}{_GUARD_FROM} WHERE g.biometric_subject = %s",
                (subject,))
    return open_person_row(cur, fetch_one(cur))


def update_guard(cur: Cursor, guard_id: int, changes: dict[str, Any]) -> None:
    if "id_number" in changes:
        raise ValueError("a guard's ID number never changes")
    if "phone" in changes:
        cur.execute("SELECT id_number_bidx FROM registry_guard WHERE id = %s", (guard_id,))
        found = fetch_one(cur)
        if found is None:
            return
        changes = pii_of(cur).seal_person({**changes, "_bidx": bytes(found["id_number_bidx"])})
    sets = ", ".join(f"{k} = %s" for k in changes)
    cur.execute(
        f"UPDATE registry_guard SET {sets}, version = version + 1, updated_at = now()"
        " WHERE id = %s",
        [*changes.values(), guard_id],
    )


def restore_purged_guard(cur: Cursor, guard_id: int, *, id_number: str, birth_date: dt.date,
                         sex: str) -> None:
    """A person whose record was purged (retention) comes back under the same ID number:
    the row gets its sealed ID number, birth date and sex again (from the ID number)."""
    sealed = pii_of(cur).seal_person({"id_number": id_number})
    cur.execute(
        "UPDATE registry_guard SET id_number_sealed = %s, birth_date = %s, sex = %s,"
        " purged_at = NULL, retention = NULL, version = version + 1, updated_at = now()"
        " WHERE id = %s AND id_number_bidx = %s AND purged_at IS NOT NULL",
        (sealed["id_number_sealed"], birth_date, sex, guard_id, sealed["id_number_bidx"]))


def list_guards(
    cur: Cursor,
    *,
    after_id: int = 0,
    limit: int = 50,
    company_id: int | None = None,
    status: str | None = None,
    district: str | None = None,
    skill_level: int | None = None,
) -> list[Row]:
    where, args = and_where([("g.id > %s", after_id), ("e.company_id = %s", company_id),
                          ("g.status = %s", status), ("c.district = %s", district),
                          ("g.skill_level = %s", skill_level)])
    cur.execute(
        f"SELECT {GUARD_COLUMNS}{_GUARD_FROM} WHERE {where} ORDER BY g.id LIMIT %s",
        [*args, limit],
    )
    return open_person_rows(cur, fetch_all(cur))


# -- employment ------------------------------------------------------------------------
def active_employment(cur: Cursor, guard_id: int) -> Row | None:
    cur.execute(
        "SELECT id, guard_id, company_id, started_on FROM registry_employment"
        " WHERE guard_id = %s AND ended_on IS NULL",
        (guard_id,),
    )
    return fetch_one(cur)


def insert_employment(cur: Cursor, guard_id: int, company_id: int, started_on: dt.date) -> int:
    cur.execute(
        "INSERT INTO registry_employment (guard_id, company_id, started_on)"
        " VALUES (%s, %s, %s) RETURNING id",
        (guard_id, company_id, started_on),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["id"])


def end_employment(cur: Cursor, guard_id: int, ended_on: dt.date, reason: str) -> Row | None:
    cur.execute(
        "UPDATE registry_employment SET ended_on = greatest(%s, started_on), end_reason = %s"
        " WHERE guard_id = %s AND ended_on IS NULL RETURNING id, company_id",
        (ended_on, reason, guard_id),
    )
    return fetch_one(cur)


def end_company_employments(cur: Cursor, company_id: int, ended_on: dt.date,
                            reason: str) -> list[int]:
    cur.execute(
        "UPDATE registry_employment SET ended_on = greatest(%s, started_on), end_reason = %s"
        " WHERE company_id = %s AND ended_on IS NULL RETURNING guard_id",
        (ended_on, reason, company_id),
    )
    return [int(r["guard_id"]) for r in cur.fetchall()]


def employed_elsewhere_ever(cur: Cursor, guard_id: int, company_id: int) -> bool:
    """Has this person ever been employed by a company other than ``company_id``?"""
    cur.execute("SELECT EXISTS (SELECT 1 FROM registry_employment WHERE guard_id = %s"
                " AND company_id <> %s) AS found", (guard_id, company_id))
    row = fetch_one(cur)
    return bool(row and row["found"])


# -- hire consent (one-time codes the guard gives a new employer) ----------------------
def put_hire_consent(cur: Cursor, guard_id: int, code_hash: bytes, created_at: dt.datetime,
                     expires_at: dt.datetime) -> None:
    cur.execute(
        "INSERT INTO registry_hire_consent (guard_id, code_hash, created_at, expires_at)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (guard_id) DO UPDATE SET"
        " code_hash = EXCLUDED.code_hash, created_at = EXCLUDED.created_at,"
        " expires_at = EXCLUDED.expires_at",
        (guard_id, code_hash, created_at, expires_at),
    )


def take_hire_consent(cur: Cursor, guard_id: int, code_hash: bytes,
                      now: dt.datetime) -> bool:
    """Consume the guard's hire code if it is this one and still valid (one use)."""
    cur.execute(
        "DELETE FROM registry_hire_consent WHERE guard_id = %s AND code_hash = %s"
        " AND expires_at > %s RETURNING guard_id",
        (guard_id, code_hash, now),
    )
    return fetch_one(cur) is not None


def employment_history(cur: Cursor, guard_id: int) -> list[Row]:
    cur.execute(
        "SELECT e.id, e.company_id, c.name AS company_name, e.started_on, e.ended_on,"
        " e.end_reason FROM registry_employment e JOIN registry_company c ON c.id = e.company_id"
        " WHERE e.guard_id = %s ORDER BY e.id",
        (guard_id,),
    )
    return fetch_all(cur)


# -- background checks ---------------------------------------------------------------
def insert_background_check(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_background_check", values, CHECK_COLUMNS)


def latest_background_check(cur: Cursor, guard_id: int) -> Row | None:
    cur.execute(
        f"SELECT {CHECK_COLUMNS} FROM registry_background_check WHERE guard_id = %s"
        " ORDER BY checked_on DESC, id DESC LIMIT 1",
        (guard_id,),
    )
    return fetch_one(cur)


def background_checks(cur: Cursor, guard_id: int) -> list[Row]:
    cur.execute(
        f"SELECT {CHECK_COLUMNS} FROM registry_background_check WHERE guard_id = %s"
        " ORDER BY checked_on, id",
        (guard_id,),
    )
    return fetch_all(cur)


def find_background_check(cur: Cursor, guard_id: int, result: str, checked_on: dt.date,
                          reason: str | None) -> Row | None:
    cur.execute(
        "SELECT id FROM registry_background_check WHERE guard_id = %s AND result = %s"
        " AND checked_on = %s AND reason IS NOT DISTINCT FROM %s LIMIT 1",
        (guard_id, result, checked_on, reason),
    )
    return fetch_one(cur)


# -- revocation records (Art. 17) ------------------------------------------------------
def insert_revocation_record(cur: Cursor, guard_id: int, revoked_at: dt.datetime, reason: str,
                             certificate_number: str | None) -> None:
    cur.execute(
        "INSERT INTO registry_revocation_record (guard_id, revoked_at, reason,"
        " certificate_number) VALUES (%s, %s, %s, %s)",
        (guard_id, revoked_at, reason, certificate_number),
    )


def guard_bars(cur: Cursor, guard_id: int, today: dt.date) -> list[str] | None:
    """The eligibility reason codes that bar the guard on ``today`` (migration 0031's
    function: the one source of these rules); None for an unknown guard."""
    cur.execute("SELECT registry_guard_bars(%s, %s) AS bars", (guard_id, today))
    row = fetch_one(cur)
    return None if row is None or row["bars"] is None else list(row["bars"])


def revocation_records(cur: Cursor, guard_id: int) -> list[Row]:
    cur.execute(
        "SELECT revoked_at, reason, certificate_number FROM registry_revocation_record"
        " WHERE guard_id = %s ORDER BY revoked_at",
        (guard_id,),
    )
    return fetch_all(cur)


# -- qualifications --------------------------------------------------------------------------
def insert_qualification(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_guard_qualification", values, QUALIFICATION_COLUMNS)


def qualifications(cur: Cursor, guard_id: int) -> list[Row]:
    cur.execute(
        f"SELECT {QUALIFICATION_COLUMNS} FROM registry_guard_qualification WHERE guard_id = %s"
        " ORDER BY id",
        (guard_id,),
    )
    return fetch_all(cur)


# -- webreg: guard search of the regulator console ---------------------------------------
def search_guards_by_name(cur: Cursor, name: str, *, limit: int = 50) -> list[Row]:
    """Guards whose name contains ``name`` (case-insensitive), newest first."""
    pattern = "%" + name.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
    cur.execute(
        f"SELECT {GUARD_COLUMNS}{_GUARD_FROM} WHERE lower(g.name) LIKE %s"
        " ORDER BY g.id DESC LIMIT %s",
        (pattern, limit),
    )
    return open_person_rows(cur, fetch_all(cur))
