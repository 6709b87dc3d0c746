"""SQL of the supervision policy and annual reports (migration 0013)."""

from __future__ import annotations

import json
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]

_REPORT = ("id, company_id, year, status, headcount, labour_contracts, insured, training_hours,"
           " incidents, notes, filed_by, filed_at, reviewed_by, reviewed_at, review_note")


def current_policy(cur: Cursor) -> Row:
    cur.execute("SELECT version, settings, created_by, created_at FROM"
                " registry_supervision_policy ORDER BY version DESC LIMIT 1")
    row = fetch_one(cur)
    assert row is not None  # migration 0013 seeds version 1
    return row


def insert_policy(cur: Cursor, settings: dict[str, Any], by: str) -> int:
    cur.execute("LOCK TABLE registry_supervision_policy IN SHARE ROW EXCLUSIVE MODE")
    cur.execute("INSERT INTO registry_supervision_policy (version, settings, created_by)"
                " SELECT coalesce(max(version), 0) + 1, %s, %s FROM registry_supervision_policy"
                " RETURNING version", (json.dumps(settings), by))
    row = fetch_one(cur)
    assert row is not None
    return int(row["version"])


def insert_report(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_annual_report", values, _REPORT)


def live_report(cur: Cursor, company_id: int, year: int) -> Row | None:
    cur.execute(f"SELECT {_REPORT} FROM registry_annual_report WHERE company_id = %s"
                " AND year = %s AND status <> 'rejected'", (company_id, year))
    return fetch_one(cur)


def get_report(cur: Cursor, report_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(f"SELECT {_REPORT} FROM registry_annual_report WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (report_id,))
    return fetch_one(cur)


def reports_of(cur: Cursor, company_id: int) -> list[Row]:
    cur.execute(f"SELECT {_REPORT} FROM registry_annual_report WHERE company_id = %s"
                " ORDER BY year DESC, id DESC", (company_id,))
    return fetch_all(cur)


def review(cur: Cursor, report_id: int, *, status: str, by: str, note: str | None,
           now: Any) -> None:
    cur.execute("UPDATE registry_annual_report SET status = %s, reviewed_by = %s,"
                " reviewed_at = %s, review_note = %s WHERE id = %s",
                (status, by, now, note, report_id))


def companies_without_report(cur: Cursor, year: int) -> list[Row]:
    """Active security-service companies that existed in ``year`` and have no filed or
    accepted report for it."""
    cur.execute(
        "SELECT c.id, c.name, c.district, c.abnormal_operations FROM registry_company c"
        " WHERE c.status = 'active' AND c.kind = 'security_service'"
        " AND c.created_at < make_timestamptz(%s + 1, 1, 1, 0, 0, 0, 'UTC')"
        " AND NOT EXISTS (SELECT 1 FROM registry_annual_report r"
        " WHERE r.company_id = c.id AND r.year = %s AND r.status <> 'rejected')"
        " ORDER BY c.id", (year, year))
    return fetch_all(cur)


# -- annual-report reminders (migration 0086) -------------------------------------------
def claim_reminder(cur: Cursor, *, company_id: int, year: int, stage: str, due_on: Any,
                   now: Any) -> bool:
    """Record that the ``stage`` reminder of ``year`` goes to the company now; False when
    it was sent before (the primary key makes reruns and concurrent hosts send once)."""
    cur.execute("INSERT INTO registry_annual_report_reminder (company_id, year, stage, due_on,"
                " sent_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (company_id, year, stage, due_on, now))
    return bool(cur.rowcount)


def set_reminder_notification(cur: Cursor, *, company_id: int, year: int, stage: str,
                              notification_id: int) -> None:
    cur.execute("UPDATE registry_annual_report_reminder SET notification_id = %s"
                " WHERE company_id = %s AND year = %s AND stage = %s",
                (notification_id, company_id, year, stage))


def reminders_of(cur: Cursor, company_id: int) -> list[Row]:
    cur.execute("SELECT company_id, year, stage, due_on, notification_id, sent_at"
                " FROM registry_annual_report_reminder WHERE company_id = %s"
                " ORDER BY year, stage", (company_id,))
    return fetch_all(cur)
