"""SQL of the company aggregate: companies and their history, the red/black/abnormal
lists, the credit ledger, service projects, the public company search.

One module per aggregate (issue 19); ``registry.repository`` re-exports them all.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from registry.db import Cursor, and_where, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]


COMPANY_COLUMNS = (
    "id, name, credit_code, kind, armed_escort, entertainment_venue, licence_number, status,"
    " district, credit_grade, red_list, black_list, abnormal_operations, version,"
    " created_at, updated_at"
)


PROJECT_COLUMNS = ("id, company_id, name, service, client, starts_on, ends_on, created_by,"
                   " created_at, client_id")


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
    where, args = and_where([("id > %s", after_id), ("id = %s", company_id),
                          ("status = %s", status), ("district = %s", district)])
    if query:
        where += " AND (lower(name) LIKE %s OR credit_code = %s)"
        args += [f"%{query.lower().replace('%', '').replace('_', '')}%", query.upper()]
    cur.execute(
        f"SELECT {COMPANY_COLUMNS} FROM registry_company WHERE {where} ORDER BY id LIMIT %s",
        [*args, limit],
    )
    return fetch_all(cur)


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


def public_companies(cur: Cursor, *, query: str, limit: int) -> list[Row]:
    q = query.strip()
    cur.execute(
        "SELECT name, credit_code, kind, status, credit_grade, red_list, black_list,"
        " abnormal_operations, district, licence_number FROM registry_company"
        " WHERE credit_code = %s OR lower(name) LIKE %s ORDER BY name LIMIT %s",
        (q.upper(), "%" + q.lower().replace("%", "").replace("_", "") + "%", limit),
    )
    return fetch_all(cur)
