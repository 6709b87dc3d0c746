"""SQL of labour-contract and social-insurance status per employment (migration 0020)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one

Row = dict[str, Any]

_LABOUR = ("id AS employment_id, guard_id, company_id, started_on, labour_contract,"
           " contract_signed_on, social_insurance, insured_since, labour_updated_at")


def active_employment(cur: Cursor, guard_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(f"SELECT {_LABOUR} FROM registry_employment WHERE guard_id = %s"
                " AND ended_on IS NULL" + (" FOR UPDATE" if for_update else ""), (guard_id,))
    return fetch_one(cur)


def set_status(cur: Cursor, employment_id: int, values: dict[str, Any],
               now: dt.datetime) -> Row:
    cur.execute("UPDATE registry_employment SET labour_contract = %s, contract_signed_on = %s,"
                " social_insurance = %s, insured_since = %s, labour_updated_at = %s"
                f" WHERE id = %s RETURNING {_LABOUR}",
                (values["labour_contract"], values["contract_signed_on"],
                 values["social_insurance"], values["insured_since"], now, employment_id))
    row = fetch_one(cur)
    assert row is not None
    return row


def company_report(cur: Cursor, company_id: int) -> list[Row]:
    """Active guards of the company without a signed contract or without insurance."""
    cur.execute(
        "SELECT e.guard_id, g.name, e.started_on, e.labour_contract, e.social_insurance"
        " FROM registry_employment e JOIN registry_guard g ON g.id = e.guard_id"
        " WHERE e.company_id = %s AND e.ended_on IS NULL"
        " AND (e.labour_contract <> 'signed' OR e.social_insurance <> 'insured')"
        " ORDER BY e.guard_id", (company_id,))
    return fetch_all(cur)


def company_counts(cur: Cursor, company_ids: list[int]) -> dict[int, Row]:
    """Per company: active guards, and how many lack a contract or insurance."""
    cur.execute(
        "SELECT company_id, count(*) AS headcount,"
        " count(*) FILTER (WHERE labour_contract <> 'signed') AS without_contract,"
        " count(*) FILTER (WHERE social_insurance <> 'insured') AS without_insurance"
        " FROM registry_employment WHERE ended_on IS NULL AND company_id = ANY(%s)"
        " GROUP BY company_id", (company_ids,))
    return {int(r["company_id"]): r for r in fetch_all(cur)}
