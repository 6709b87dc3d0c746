"""SQL of training sessions, attendance and skill evaluations (migration 0030)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]

_SESSION = ("s.id, s.company_id, c.name AS company_name, s.course, s.starts_on, s.ends_on,"
            " s.hours, s.location, s.created_at")


def courses(cur: Cursor) -> list[Row]:
    cur.execute("SELECT code, title, rotation FROM registry_training_course ORDER BY code")
    return fetch_all(cur)


def course(cur: Cursor, code: str) -> Row | None:
    cur.execute("SELECT code, title, rotation FROM registry_training_course WHERE code = %s",
                (code,))
    return fetch_one(cur)


def insert_session(cur: Cursor, values: dict[str, Any]) -> int:
    return int(insert_returning(cur, "registry_training_session", values, "id")["id"])


def get_session(cur: Cursor, session_id: int) -> Row | None:
    cur.execute(f"SELECT {_SESSION} FROM registry_training_session s JOIN registry_company c"
                " ON c.id = s.company_id WHERE s.id = %s", (session_id,))
    return fetch_one(cur)


def sessions(cur: Cursor, *, company_id: int | None, limit: int) -> list[Row]:
    cur.execute(f"SELECT {_SESSION} FROM registry_training_session s JOIN registry_company c"
                " ON c.id = s.company_id WHERE (%s::bigint IS NULL OR s.company_id = %s)"
                " ORDER BY s.starts_on DESC, s.id DESC LIMIT %s", (company_id, company_id, limit))
    return fetch_all(cur)


def upsert_attendance(cur: Cursor, values: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO registry_training_attendance (session_id, guard_id, completed,"
        " certificate_no, recorded_by, recorded_at) VALUES (%(session_id)s, %(guard_id)s,"
        " %(completed)s, %(certificate_no)s, %(recorded_by)s, %(recorded_at)s)"
        " ON CONFLICT (session_id, guard_id) DO UPDATE SET completed = EXCLUDED.completed,"
        " certificate_no = EXCLUDED.certificate_no, recorded_by = EXCLUDED.recorded_by,"
        " recorded_at = EXCLUDED.recorded_at", values)


def training_of(cur: Cursor, guard_id: int) -> list[Row]:
    cur.execute(
        "SELECT s.id AS session_id, s.course, t.title, s.starts_on, s.ends_on, s.hours,"
        " c.name AS training_unit, a.completed, a.certificate_no FROM"
        " registry_training_attendance a JOIN registry_training_session s ON s.id = a.session_id"
        " JOIN registry_training_course t ON t.code = s.course"
        " JOIN registry_company c ON c.id = s.company_id WHERE a.guard_id = %s"
        " ORDER BY s.ends_on, s.id", (guard_id,))
    return fetch_all(cur)


def rotation_due(cur: Cursor, *, today: dt.date, months: int, company_id: int | None,
                 district: str | None) -> list[Row]:
    """Employed guards whose rotation training is due: the last completed rotation
    course (or, never trained, the start of the current employment) plus ``months``."""
    cur.execute(
        "WITH last AS (SELECT a.guard_id, max(s.ends_on) AS trained_on"
        " FROM registry_training_attendance a JOIN registry_training_session s"
        " ON s.id = a.session_id JOIN registry_training_course t ON t.code = s.course"
        " WHERE a.completed AND t.rotation GROUP BY a.guard_id)"
        " SELECT g.id AS guard_id, g.name, e.company_id, c.name AS company_name, c.district,"
        " last.trained_on, e.started_on,"
        " (coalesce(last.trained_on, e.started_on) + make_interval(months => %s))::date AS due_on"
        " FROM registry_employment e JOIN registry_guard g ON g.id = e.guard_id"
        " JOIN registry_company c ON c.id = e.company_id"
        " LEFT JOIN last ON last.guard_id = g.id"
        " WHERE e.ended_on IS NULL"
        " AND (coalesce(last.trained_on, e.started_on) + make_interval(months => %s))::date"
        "  <= %s"
        " AND (%s::bigint IS NULL OR e.company_id = %s) AND (%s::text IS NULL OR c.district = %s)"
        " ORDER BY due_on, g.id",
        (months, months, today, company_id, company_id, district, district))
    return fetch_all(cur)


def insert_evaluation(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_skill_evaluation", values,
                            "id, guard_id, kind, passed, level_before, level_after, evidence,"
                            " evaluated_on, recorded_at")


def evaluations_of(cur: Cursor, guard_id: int) -> list[Row]:
    cur.execute("SELECT id, kind, passed, level_before, level_after, evidence, evaluated_on,"
                " recorded_at FROM registry_skill_evaluation WHERE guard_id = %s ORDER BY id",
                (guard_id,))
    return fetch_all(cur)
