"""SQL of the reserve force, call-ups and incident reports (migration 0020)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]

_MEMBER = "id, guard_id, district, skills, active, created_at"
_CALLUP = "id, district, skill, reason, assemble_at, called_by, called_at, closed_at"
_INCIDENT = ("id, guard_id, company_id, deployment_id, kind, location, description,"
             " occurred_at, reported_at, status, acknowledged_by, acknowledged_at")


def upsert_member(cur: Cursor, values: dict[str, Any]) -> Row:
    cur.execute("INSERT INTO registry_reserve_member (guard_id, district, skills, active,"
                " created_by, created_at) VALUES (%(guard_id)s, %(district)s, %(skills)s,"
                " %(active)s, %(created_by)s, %(created_at)s) ON CONFLICT (guard_id) DO UPDATE"
                " SET district = excluded.district, skills = excluded.skills,"
                f" active = excluded.active RETURNING {_MEMBER}", values)
    row = fetch_one(cur)
    assert row is not None
    return row


def members(cur: Cursor, *, district: str | None, skill: str | None, after_id: int,
            limit: int) -> list[Row]:
    cur.execute(f"SELECT m.{_MEMBER.replace(', ', ', m.')}, g.name"
                " FROM registry_reserve_member m JOIN registry_guard g ON g.id = m.guard_id"
                " WHERE m.active AND m.id > %s AND (%s::text IS NULL OR m.district = %s)"
                " AND (%s::text IS NULL OR %s = ANY(m.skills)) ORDER BY m.id LIMIT %s",
                (after_id, district, district, skill, skill, limit))
    return fetch_all(cur)


def insert_callup(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_callup", values, _CALLUP)


def notify_members(cur: Cursor, callup_id: int, *, district: str, skill: str | None,
                   now: dt.datetime) -> int:
    """A notice for every active reserve member of the district (with the skill) who is
    an active guard."""
    cur.execute("INSERT INTO registry_callup_notice (callup_id, guard_id, notified_at)"
                " SELECT %s, m.guard_id, %s FROM registry_reserve_member m"
                " JOIN registry_guard g ON g.id = m.guard_id AND g.status = 'active'"
                " WHERE m.active AND m.district = %s AND (%s::text IS NULL OR %s = ANY(m.skills))",
                (callup_id, now, district, skill, skill))
    return int(cur.rowcount)


def get_callup(cur: Cursor, callup_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(f"SELECT {_CALLUP} FROM registry_callup WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (callup_id,))
    return fetch_one(cur)


def callup_counts(cur: Cursor, callup_id: int) -> Row:
    cur.execute("SELECT count(*) AS notified, count(acknowledged_at) AS acknowledged"
                " FROM registry_callup_notice WHERE callup_id = %s", (callup_id,))
    row = fetch_one(cur)
    assert row is not None
    return row


def acknowledge(cur: Cursor, callup_id: int, guard_id: int, now: dt.datetime) -> Row | None:
    """Set the acknowledgement once; returns the notice (None: the guard was not called)."""
    cur.execute("UPDATE registry_callup_notice SET acknowledged_at = coalesce("
                "acknowledged_at, %s) WHERE callup_id = %s AND guard_id = %s"
                " RETURNING callup_id, guard_id, notified_at, acknowledged_at",
                (now, callup_id, guard_id))
    return fetch_one(cur)


def close_callup(cur: Cursor, callup_id: int, now: dt.datetime) -> bool:
    cur.execute("UPDATE registry_callup SET closed_at = %s WHERE id = %s AND closed_at IS NULL",
                (now, callup_id))
    return bool(cur.rowcount)


def callups_of_guard(cur: Cursor, guard_id: int) -> list[Row]:
    cur.execute(f"SELECT c.{_CALLUP.replace(', ', ', c.')}, n.notified_at, n.acknowledged_at"
                " FROM registry_callup_notice n JOIN registry_callup c ON c.id = n.callup_id"
                " WHERE n.guard_id = %s AND c.closed_at IS NULL ORDER BY c.id DESC LIMIT 50",
                (guard_id,))
    return fetch_all(cur)


def insert_incident(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_incident_report", values, _INCIDENT)


def incidents(cur: Cursor, *, status: str | None, after_id: int, limit: int) -> list[Row]:
    cur.execute(f"SELECT {_INCIDENT} FROM registry_incident_report WHERE id > %s"
                " AND (%s::text IS NULL OR status = %s) ORDER BY id LIMIT %s",
                (after_id, status, status, limit))
    return fetch_all(cur)


def acknowledge_incident(cur: Cursor, incident_id: int, by: str, now: dt.datetime
                         ) -> Row | None:
    cur.execute("UPDATE registry_incident_report SET status = 'acknowledged',"
                " acknowledged_by = %s, acknowledged_at = %s WHERE id = %s"
                f" AND status = 'received' RETURNING {_INCIDENT}", (by, now, incident_id))
    return fetch_one(cur)


def get_incident(cur: Cursor, incident_id: int) -> Row | None:
    cur.execute(f"SELECT {_INCIDENT} FROM registry_incident_report WHERE id = %s",
                (incident_id,))
    return fetch_one(cur)
