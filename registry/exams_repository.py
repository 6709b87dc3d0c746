"""SQL of the unified guard exam (migration 0081): sessions, registrations, refusals,
attendance checks and results."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning, pii_of

Row = dict[str, Any]

SESSION_COLUMNS = "id, sits_on, venue, district, capacity, registered, created_at"
_REGISTRATION = (
    "r.id, r.session_id, r.guard_id, r.applied_by, r.company_id, r.status, r.attended_at,"
    " r.created_at, s.sits_on, s.venue, s.district, g.name, g.biometric_subject,"
    " x.passed, x.score, x.recorded_at AS result_at"
    " FROM registry_exam_registration r JOIN registry_exam_session s ON s.id = r.session_id"
    " JOIN registry_guard g ON g.id = r.guard_id"
    " LEFT JOIN registry_exam_result x ON x.registration_id = r.id"
)


def code_index(cur: Cursor, code: str) -> bytes:
    return pii_of(cur).code_index(code)


def insert_session(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_exam_session", values, SESSION_COLUMNS)


def get_session(cur: Cursor, session_id: int) -> Row | None:
    cur.execute(f"SELECT {SESSION_COLUMNS} FROM registry_exam_session WHERE id = %s",
                (session_id,))
    return fetch_one(cur)


def sessions(cur: Cursor, *, year: int | None, limit: int) -> list[Row]:
    cur.execute(f"SELECT {SESSION_COLUMNS} FROM registry_exam_session"
                " WHERE (%s::int IS NULL OR extract(year FROM sits_on) = %s)"
                " ORDER BY sits_on, id LIMIT %s", (year, year, limit))
    return fetch_all(cur)


def sessions_in_year(cur: Cursor, year: int) -> int:
    cur.execute("SELECT count(*) AS n FROM registry_exam_session"
                " WHERE extract(year FROM sits_on) = %s", (year,))
    row = fetch_one(cur)
    return int(row["n"]) if row else 0


def take_seat(cur: Cursor, session_id: int) -> bool:
    """One seat, atomically: concurrent applications queue on the row and the last seat
    goes to exactly one of them."""
    cur.execute("UPDATE registry_exam_session SET registered = registered + 1"
                " WHERE id = %s AND registered < capacity RETURNING id", (session_id,))
    return cur.fetchone() is not None


def active_registration(cur: Cursor, session_id: int, guard_id: int) -> Row | None:
    cur.execute("SELECT id FROM registry_exam_registration WHERE session_id = %s"
                " AND guard_id = %s AND status = 'registered'", (session_id, guard_id))
    return fetch_one(cur)


def insert_registration(cur: Cursor, values: dict[str, Any]) -> int | None:
    """None when the person is already registered for the session (a concurrent twin)."""
    cols = list(values)
    cur.execute(
        f"INSERT INTO registry_exam_registration ({', '.join(cols)}) VALUES"
        f" ({', '.join(['%s'] * len(cols))}) ON CONFLICT DO NOTHING RETURNING id",
        [values[c] for c in cols])
    row = cur.fetchone()
    return None if row is None else int(row["id"])


def get_registration(cur: Cursor, registration_id: int, *,
                     for_update: bool = False) -> Row | None:
    if for_update:
        cur.execute("SELECT id FROM registry_exam_registration WHERE id = %s FOR UPDATE",
                    (registration_id,))
        if cur.fetchone() is None:
            return None
    cur.execute(f"SELECT {_REGISTRATION} WHERE r.id = %s", (registration_id,))
    return fetch_one(cur)


def registration_by_code(cur: Cursor, code: str) -> Row | None:
    cur.execute(f"SELECT {_REGISTRATION} WHERE r.code_hmac = %s", (code_index(cur, code),))
    return fetch_one(cur)


def registrations_of_person(cur: Cursor, guard_id: int) -> list[Row]:
    cur.execute(f"SELECT {_REGISTRATION} WHERE r.guard_id = %s ORDER BY s.sits_on, r.id",
                (guard_id,))
    return fetch_all(cur)


def registrations_in_session(cur: Cursor, session_id: int, *, after_id: int,
                             limit: int) -> list[Row]:
    cur.execute(f"SELECT {_REGISTRATION} WHERE r.session_id = %s AND r.id > %s"
                " ORDER BY r.id LIMIT %s", (session_id, after_id, limit))
    return fetch_all(cur)


def registration_in_session_by_guard(cur: Cursor, session_id: int,
                                     guard_id: int) -> Row | None:
    cur.execute(f"SELECT {_REGISTRATION} WHERE r.session_id = %s AND r.guard_id = %s"
                " AND r.status = 'registered'", (session_id, guard_id))
    return fetch_one(cur)


def insert_refusal(cur: Cursor, values: dict[str, Any]) -> int:
    sealed = pii_of(cur).seal_person(values)
    return int(insert_returning(cur, "registry_exam_refusal", sealed, "id")["id"])


def refusals(cur: Cursor, *, session_id: int | None, after_id: int, limit: int) -> list[Row]:
    cur.execute(
        "SELECT id, session_id, id_number_bidx, id_number_sealed, name, guard_id, applied_by,"
        " reasons, created_at FROM registry_exam_refusal"
        " WHERE (%s::bigint IS NULL OR session_id = %s) AND id > %s ORDER BY id LIMIT %s",
        (session_id, session_id, after_id, limit))
    codec = pii_of(cur)
    return [codec.open_person(r) for r in fetch_all(cur)]


def insert_attendance(cur: Cursor, values: dict[str, Any]) -> int:
    return int(insert_returning(cur, "registry_exam_attendance", values, "id")["id"])


def mark_attended(cur: Cursor, registration_id: int, at: dt.datetime) -> None:
    cur.execute("UPDATE registry_exam_registration SET attended_at = coalesce(attended_at, %s)"
                " WHERE id = %s", (at, registration_id))


def attendance_of(cur: Cursor, registration_id: int) -> list[Row]:
    cur.execute("SELECT id, admitted, fused_llr, threshold, face_distance, finger_score,"
                " checked_by, checked_at FROM registry_exam_attendance"
                " WHERE registration_id = %s ORDER BY id", (registration_id,))
    return fetch_all(cur)


def upsert_result(cur: Cursor, values: dict[str, Any]) -> Row:
    """The result of a sitting (one per registration; a correction replaces it)."""
    cur.execute(
        "INSERT INTO registry_exam_result (guard_id, registration_id, passed, score, source,"
        " evidence, recorded_by, recorded_at) VALUES (%(guard_id)s, %(registration_id)s,"
        " %(passed)s, %(score)s, 'exam', NULL, %(recorded_by)s, %(recorded_at)s)"
        " ON CONFLICT (registration_id) DO UPDATE SET passed = EXCLUDED.passed,"
        " score = EXCLUDED.score, recorded_by = EXCLUDED.recorded_by,"
        " recorded_at = EXCLUDED.recorded_at RETURNING id, passed, score", values)
    row = cur.fetchone()
    assert row is not None
    return dict(row)


def insert_result(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_exam_result", values,
                            "id, guard_id, passed, score, source, evidence, recorded_at")


def results_of(cur: Cursor, guard_id: int) -> list[Row]:
    cur.execute(
        "SELECT x.id, x.registration_id, x.passed, x.score, x.source, x.evidence,"
        " x.recorded_at, s.sits_on, s.venue FROM registry_exam_result x"
        " LEFT JOIN registry_exam_registration r ON r.id = x.registration_id"
        " LEFT JOIN registry_exam_session s ON s.id = r.session_id"
        " WHERE x.guard_id = %s ORDER BY x.recorded_at, x.id", (guard_id,))
    return fetch_all(cur)
