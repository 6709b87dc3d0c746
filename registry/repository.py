"""All SQL of the registry package. Functions take the caller's cursor; none commits."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning, pii_of

Row = dict[str, Any]

COMPANY_COLUMNS = (
    "id, name, credit_code, kind, armed_escort, entertainment_venue, licence_number, status,"
    " district, credit_grade, red_list, black_list, abnormal_operations, version,"
    " created_at, updated_at"
)
GUARD_COLUMNS = (
    "g.id, g.public_id, g.name, g.id_number_bidx, g.id_number_sealed, g.birth_date, g.sex,"
    " g.phone_sealed, g.education, g.skill_level,"
    " g.status, g.intentional_crime, g.administrative_detentions, g.biometric_subject,"
    " g.version, g.created_at, g.updated_at, e.company_id, e.started_on AS employed_since,"
    " c.name AS company_name, c.district, c.status AS company_status"
)
CHECK_COLUMNS = "id, guard_id, result, reason, checked_on, recorded_by, source, created_at"
BAN_COLUMNS = ("id, id_number_bidx, id_number_sealed, reason, until_on, company_id, created_by,"
               " created_at, lifted_at")
PROJECT_COLUMNS = ("id, company_id, name, service, client, starts_on, ends_on, created_by,"
                   " created_at, client_id")
QUALIFICATION_COLUMNS = ("id, guard_id, kind, reference, valid_from, valid_until, recorded_by,"
                         " created_at")
_GUARD_FROM = (
    " FROM registry_guard g"
    " LEFT JOIN registry_employment e ON e.guard_id = g.id AND e.ended_on IS NULL"
    " LEFT JOIN registry_company c ON c.id = e.company_id"
)


# -- companies -----------------------------------------------------------------------
def insert_company(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_company", values, COMPANY_COLUMNS)


def get_company(cur: Cursor, company_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(
        f"SELECT {COMPANY_COLUMNS} FROM registry_company WHERE id = %s"
        + (" FOR UPDATE" if for_update else ""),
        (company_id,),
    )
    return fetch_one(cur)


def get_company_by_credit_code(cur: Cursor, credit_code: str) -> Row | None:
    cur.execute(f"SELECT {COMPANY_COLUMNS} FROM registry_company WHERE credit_code = %s",
                (credit_code,))
    return fetch_one(cur)


def update_company(cur: Cursor, company_id: int, changes: dict[str, Any]) -> Row:
    sets = ", ".join(f"{k} = %s" for k in changes)
    cur.execute(
        f"UPDATE registry_company SET {sets}, version = version + 1, updated_at = now()"
        f" WHERE id = %s RETURNING {COMPANY_COLUMNS}",
        [*changes.values(), company_id],
    )
    row = cur.fetchone()
    assert row is not None
    return dict(row)


def insert_company_history(cur: Cursor, company_id: int, actor: str,
                           changes: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO registry_company_history (company_id, actor, changes) VALUES (%s, %s, %s)",
        (company_id, actor, json.dumps(changes, default=str)),
    )


def company_history(cur: Cursor, company_id: int) -> list[Row]:
    cur.execute(
        "SELECT id, changed_at, actor, changes FROM registry_company_history"
        " WHERE company_id = %s ORDER BY id",
        (company_id,),
    )
    return fetch_all(cur)


def _where(conditions: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """AND together ``column-condition %s`` pairs whose value is not None."""
    used = [(sql, value) for sql, value in conditions if value is not None]
    return " AND ".join(sql for sql, _ in used), [value for _, value in used]


def list_companies(
    cur: Cursor,
    *,
    after_id: int = 0,
    limit: int = 50,
    company_id: int | None = None,
    status: str | None = None,
    district: str | None = None,
    query: str | None = None,
) -> list[Row]:
    where, args = _where([("id > %s", after_id), ("id = %s", company_id),
                          ("status = %s", status), ("district = %s", district)])
    if query:
        where += " AND (lower(name) LIKE %s OR credit_code = %s)"
        args += [f"%{query.lower().replace('%', '').replace('_', '')}%", query.upper()]
    cur.execute(
        f"SELECT {COMPANY_COLUMNS} FROM registry_company WHERE {where} ORDER BY id LIMIT %s",
        [*args, limit],
    )
    return fetch_all(cur)


# -- guards --------------------------------------------------------------------------
# The ID number and the phone are sealed at rest (registry/pii.py): rows come back with
# them in clear under ``id_number`` and ``phone``; callers write them in clear and the
# sealing happens here. Look-ups go through the blind index (``id_number_index``).
def _guard(cur: Cursor, row: Row | None) -> Row | None:
    return None if row is None else pii_of(cur).open_person(row)


def _guards(cur: Cursor, rows: list[Row]) -> list[Row]:
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
    return _guard(cur, fetch_one(cur))


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
    return _guard(cur, fetch_one(cur))


def get_guard_by_subject(cur: Cursor, subject: str) -> Row | None:
    cur.execute(f"SELECT {GUARD_COLUMNS}{_GUARD_FROM} WHERE g.biometric_subject = %s",
                (subject,))
    return _guard(cur, fetch_one(cur))


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
    where, args = _where([("g.id > %s", after_id), ("e.company_id = %s", company_id),
                          ("g.status = %s", status), ("c.district = %s", district),
                          ("g.skill_level = %s", skill_level)])
    cur.execute(
        f"SELECT {GUARD_COLUMNS}{_GUARD_FROM} WHERE {where} ORDER BY g.id LIMIT %s",
        [*args, limit],
    )
    return _guards(cur, fetch_all(cur))


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


# -- bans ----------------------------------------------------------------------------
def insert_ban(cur: Cursor, values: dict[str, Any]) -> Row:
    codec = pii_of(cur)
    row = insert_returning(cur, "registry_ban", codec.seal_person(values), BAN_COLUMNS)
    return codec.open_person(row)


def active_bans(cur: Cursor, id_number: str, today: dt.date) -> list[Row]:
    """Bans in force for an ID number."""
    bidx = id_number_index(cur, id_number)
    cur.execute(
        "SELECT id, id_number_bidx, id_number_sealed, reason, until_on, company_id, created_at"
        " FROM registry_ban WHERE id_number_bidx = %s AND lifted_at IS NULL"
        " AND (until_on IS NULL OR until_on >= %s) ORDER BY id",
        (bidx, today),
    )
    return _guards(cur, fetch_all(cur))


def active_bans_of_guard(cur: Cursor, guard_id: int, today: dt.date) -> list[Row]:
    """Bans in force for the guard's ID number, matched by its blind index (so a record
    purged at the end of the retention period, which has no ID number left, still
    matches its bans)."""
    cur.execute(
        "SELECT b.id, b.reason, b.until_on, b.company_id, b.created_at FROM registry_ban b"
        " JOIN registry_guard g ON g.id_number_bidx = b.id_number_bidx"
        " WHERE g.id = %s AND b.lifted_at IS NULL"
        " AND (b.until_on IS NULL OR b.until_on >= %s) ORDER BY b.id",
        (guard_id, today),
    )
    return fetch_all(cur)


def list_bans(cur: Cursor, *, after_id: int = 0, limit: int = 50) -> list[Row]:
    cur.execute(
        f"SELECT {BAN_COLUMNS} FROM registry_ban WHERE id > %s ORDER BY id LIMIT %s",
        (after_id, limit),
    )
    return _guards(cur, fetch_all(cur))


def lift_ban(cur: Cursor, ban_id: int) -> Row | None:
    cur.execute(
        "UPDATE registry_ban SET lifted_at = now() WHERE id = %s AND lifted_at IS NULL"
        " RETURNING id, id_number_bidx, id_number_sealed",
        (ban_id,),
    )
    return _guard(cur, fetch_one(cur))


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


# -- principals ------------------------------------------------------------------------
def insert_principal(cur: Cursor, *, name: str, role: str, company_id: int | None,
                     guard_id: int | None, key_prefix: str, key_hash: bytes) -> int:
    cur.execute(
        "INSERT INTO registry_principal (name, role, company_id, guard_id, key_prefix, key_hash)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (name, role, company_id, guard_id, key_prefix, key_hash),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["id"])


def get_principal_by_prefix(cur: Cursor, prefix: str) -> Row | None:
    cur.execute(
        "SELECT id, name, role, company_id, guard_id, key_hash, revoked_at"
        " FROM registry_principal WHERE key_prefix = %s",
        (prefix,),
    )
    return fetch_one(cur)


def list_principals(cur: Cursor) -> list[Row]:
    cur.execute(
        "SELECT id, name, role, company_id, guard_id, key_prefix, created_at, revoked_at"
        " FROM registry_principal ORDER BY id"
    )
    return fetch_all(cur)


def revoke_principal(cur: Cursor, principal_id: int) -> bool:
    cur.execute(
        "UPDATE registry_principal SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
        (principal_id,),
    )
    return bool(cur.rowcount)


# -- idempotency -----------------------------------------------------------------------
def try_idempotency_lock(cur: Cursor, principal_id: int, key: str) -> bool:
    cur.execute(
        "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, %s)) AS locked",
        (key, principal_id),
    )
    row = cur.fetchone()
    return bool(row and row["locked"])


def get_idempotency(cur: Cursor, principal_id: int, key: str, *,
                    newer_than: dt.datetime) -> Row | None:
    """The stored result of (principal, key), unless it expired (created before
    ``newer_than``)."""
    cur.execute(
        "SELECT request_hash, response_status, response_body FROM registry_idempotency"
        " WHERE principal_id = %s AND key = %s AND created_at >= %s",
        (principal_id, key, newer_than),
    )
    return fetch_one(cur)


def insert_idempotency(cur: Cursor, principal_id: int, key: str, request_hash: bytes,
                       status: int, body: Any, *, now: dt.datetime) -> None:
    # An expired record of the same key is replaced (the caller holds the key's lock).
    cur.execute(
        "INSERT INTO registry_idempotency (principal_id, key, request_hash, response_status,"
        " response_body, created_at) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (principal_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,"
        " response_status = EXCLUDED.response_status,"
        " response_body = EXCLUDED.response_body, created_at = EXCLUDED.created_at",
        (principal_id, key, request_hash, status, json.dumps(body, default=str), now),
    )


def purge_idempotency(cur: Cursor, *, older_than: dt.datetime, limit: int) -> int:
    """Delete up to ``limit`` expired records; how many went."""
    cur.execute(
        "DELETE FROM registry_idempotency WHERE ctid = ANY(ARRAY(SELECT ctid FROM"
        " registry_idempotency WHERE created_at < %s LIMIT %s))",
        (older_than, limit),
    )
    return int(cur.rowcount)


# -- company lists -----------------------------------------------------------------------
LIST_FLAGS = {"red": "red_list", "black": "black_list", "abnormal": "abnormal_operations"}


def open_list_entry(cur: Cursor, company_id: int, lst: str) -> Row | None:
    cur.execute(
        "SELECT id, list, reason, added_on, added_by FROM registry_company_list_entry"
        " WHERE company_id = %s AND list = %s AND removed_on IS NULL",
        (company_id, lst),
    )
    return fetch_one(cur)


def insert_list_entry(cur: Cursor, company_id: int, lst: str, reason: str, on: dt.date,
                      by: str) -> Row:
    cur.execute(
        "INSERT INTO registry_company_list_entry (company_id, list, reason, added_on, added_by)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id, list, reason, added_on, added_by",
        (company_id, lst, reason, on, by),
    )
    row = cur.fetchone()
    assert row is not None
    return dict(row)


def close_list_entry(cur: Cursor, entry_id: int, on: dt.date, by: str, reason: str) -> None:
    cur.execute(
        "UPDATE registry_company_list_entry SET removed_on = %s, removed_by = %s,"
        " removal_reason = %s WHERE id = %s",
        (on, by, reason, entry_id),
    )


def list_entries(cur: Cursor, company_id: int) -> list[Row]:
    cur.execute(
        "SELECT id, list, reason, added_on, added_by, removed_on, removal_reason"
        " FROM registry_company_list_entry WHERE company_id = %s ORDER BY id",
        (company_id,),
    )
    return fetch_all(cur)


# -- credit ledger -------------------------------------------------------------------------
CREDIT_COLUMNS = ("id, company_id, year, points, kind, reason, evidence, occurred_on,"
                  " created_by, created_at, dispute, dispute_reason, ruled_by, ruled_at")


def insert_credit_entry(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_credit_entry", values, CREDIT_COLUMNS)


def get_credit_entry(cur: Cursor, entry_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(f"SELECT {CREDIT_COLUMNS} FROM registry_credit_entry WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (entry_id,))
    return fetch_one(cur)


def credit_entries(cur: Cursor, company_id: int, year: int) -> list[Row]:
    cur.execute(f"SELECT {CREDIT_COLUMNS} FROM registry_credit_entry WHERE company_id = %s"
                " AND year = %s ORDER BY id", (company_id, year))
    return fetch_all(cur)


def credit_total(cur: Cursor, company_id: int, year: int) -> int:
    """1000 plus every entry that counts: not under a pending objection, not upheld."""
    cur.execute(
        "SELECT 1000 + coalesce(sum(points), 0) AS total FROM registry_credit_entry"
        " WHERE company_id = %s AND year = %s AND dispute IN ('none', 'dismissed')",
        (company_id, year),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["total"])


def set_dispute(cur: Cursor, entry_id: int, *, dispute: str, from_states: tuple[str, ...],
                by: str, reason: str | None = None, ruling: bool = False) -> bool:
    if ruling:
        cur.execute(
            "UPDATE registry_credit_entry SET dispute = %s, ruled_by = %s, ruled_at = now()"
            " WHERE id = %s AND dispute = ANY(%s)",
            (dispute, by, entry_id, list(from_states)),
        )
    else:
        cur.execute(
            "UPDATE registry_credit_entry SET dispute = %s, disputed_by = %s, dispute_reason = %s"
            " WHERE id = %s AND dispute = ANY(%s)",
            (dispute, by, reason, entry_id, list(from_states)),
        )
    return bool(cur.rowcount)


# -- service projects -----------------------------------------------------------------------
def insert_service_project(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_service_project", values, PROJECT_COLUMNS)


def service_projects(cur: Cursor, company_id: int) -> list[Row]:
    cur.execute(
        f"SELECT {PROJECT_COLUMNS} FROM registry_service_project WHERE company_id = %s"
        " ORDER BY id",
        (company_id,),
    )
    return fetch_all(cur)


# -- service policy ----------------------------------------------------------------------------
def current_policy(cur: Cursor) -> list[Row]:
    cur.execute(
        "SELECT version, service, lowest_level, min_age, requires, description, created_by,"
        " created_at FROM registry_service_policy WHERE version ="
        " (SELECT max(version) FROM registry_service_policy) ORDER BY lowest_level DESC, service"
    )
    return fetch_all(cur)


def policy_versions(cur: Cursor) -> list[Row]:
    cur.execute(
        "SELECT version, min(created_at) AS created_at, min(created_by) AS created_by,"
        " count(*) AS services FROM registry_service_policy GROUP BY version ORDER BY version"
    )
    return fetch_all(cur)


def insert_policy_version(cur: Cursor, rows: list[dict[str, Any]], by: str) -> int:
    cur.execute("LOCK TABLE registry_service_policy IN SHARE ROW EXCLUSIVE MODE")
    cur.execute("SELECT coalesce(max(version), 0) + 1 AS v FROM registry_service_policy")
    row = cur.fetchone()
    assert row is not None
    version = int(row["v"])
    for r in rows:
        cur.execute(
            "INSERT INTO registry_service_policy (version, service, lowest_level, min_age,"
            " requires, description, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (version, r["service"], r["lowest_level"], r.get("min_age"),
             json.dumps(r.get("requires", [])), r.get("description"), by),
        )
    return version


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


def public_companies(cur: Cursor, *, query: str, limit: int) -> list[Row]:
    q = query.strip()
    cur.execute(
        "SELECT name, credit_code, kind, status, credit_grade, red_list, black_list,"
        " abnormal_operations, district, licence_number FROM registry_company"
        " WHERE credit_code = %s OR lower(name) LIKE %s ORDER BY name LIMIT %s",
        (q.upper(), "%" + q.lower().replace("%", "").replace("_", "") + "%", limit),
    )
    return fetch_all(cur)


# -- principal change notifications (migration 0008) -------------------------------------
PRINCIPAL_CHANNEL = "guardreg_principal"


def listen_principal_changes(cur: Cursor) -> None:
    """Subscribe this (autocommit) connection to principal changes."""
    cur.execute(f"LISTEN {PRINCIPAL_CHANNEL}")


def ping(cur: Cursor) -> None:
    """A round trip that fails on a dropped connection."""
    cur.execute("SELECT 1")


# -- webreg: guard search of the regulator console ---------------------------------------
def search_guards_by_name(cur: Cursor, name: str, *, limit: int = 50) -> list[Row]:
    """Guards whose name contains ``name`` (case-insensitive), newest first."""
    pattern = "%" + name.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
    cur.execute(
        f"SELECT {GUARD_COLUMNS}{_GUARD_FROM} WHERE lower(g.name) LIKE %s"
        " ORDER BY g.id DESC LIMIT %s",
        (pattern, limit),
    )
    return _guards(cur, fetch_all(cur))


def bans_of_guard(cur: Cursor, guard_id: int) -> list[Row]:
    """Every ban of the guard's ID number, lifted or not, oldest first; matched by the blind
    index, so a record purged at the end of retention still shows its bans."""
    cur.execute(f"SELECT {', '.join('b.' + c.strip() for c in BAN_COLUMNS.split(','))}"
                " FROM registry_ban b JOIN registry_guard g ON g.id_number_bidx = b.id_number_bidx"
                " WHERE g.id = %s ORDER BY b.id", (guard_id,))
    return _guards(cur, fetch_all(cur))


def bans_for_id_number(cur: Cursor, id_number: str) -> list[Row]:
    """Every ban of an ID number, lifted or not, oldest first."""
    cur.execute(f"SELECT {BAN_COLUMNS} FROM registry_ban WHERE id_number_bidx = %s ORDER BY id",
                (id_number_index(cur, id_number),))
    return _guards(cur, fetch_all(cur))
