"""SQL of the shared credit data: companies by credit code, open list entries, yearly
credit totals (read-only; tables of migrations 0001 and 0002)."""

from __future__ import annotations

from typing import Any

from registry.db import Cursor, fetch_all

Row = dict[str, Any]

_COMPANY = ("id, name, credit_code, kind, district, status, licence_number, credit_grade,"
            " red_list, black_list, abnormal_operations")


def companies_by_codes(cur: Cursor, codes: list[str]) -> list[Row]:
    cur.execute(f"SELECT {_COMPANY} FROM registry_company WHERE credit_code = ANY(%s)"
                " ORDER BY id", (codes,))
    return fetch_all(cur)


def companies_page(cur: Cursor, *, after_id: int, limit: int, district: str | None,
                   credit_code: str | None) -> list[Row]:
    cur.execute(f"SELECT {_COMPANY} FROM registry_company WHERE id > %s"
                " AND (%s::text IS NULL OR district = %s)"
                " AND (%s::text IS NULL OR credit_code = %s) ORDER BY id LIMIT %s",
                (after_id, district, district, credit_code, credit_code, limit))
    return fetch_all(cur)


def open_lists(cur: Cursor, company_ids: list[int]) -> list[Row]:
    cur.execute("SELECT company_id, list, reason, added_on FROM registry_company_list_entry"
                " WHERE removed_on IS NULL AND company_id = ANY(%s) ORDER BY id",
                (company_ids,))
    return fetch_all(cur)


def credit_totals(cur: Cursor, company_ids: list[int], year: int) -> dict[int, int]:
    """1000 plus the entries that count (as registry.repository.credit_total)."""
    cur.execute("SELECT company_id, 1000 + coalesce(sum(points), 0) AS total"
                " FROM registry_credit_entry WHERE company_id = ANY(%s) AND year = %s"
                " AND dispute IN ('none', 'dismissed') GROUP BY company_id",
                (company_ids, year))
    return {int(r["company_id"]): int(r["total"]) for r in fetch_all(cur)}


def list_members(cur: Cursor, lst: str, *, after_id: int, limit: int) -> list[Row]:
    cur.execute("SELECT e.id, c.id AS company_id, c.name, c.credit_code, c.district,"
                " c.credit_grade, e.reason, e.added_on FROM registry_company_list_entry e"
                " JOIN registry_company c ON c.id = e.company_id"
                " WHERE e.list = %s AND e.removed_on IS NULL AND e.id > %s"
                " ORDER BY e.id LIMIT %s", (lst, after_id, limit))
    return fetch_all(cur)
