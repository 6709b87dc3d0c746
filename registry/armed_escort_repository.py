"""SQL of armed-escort records and supervision alerts (migration 0020)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]

_FIREARM = ("id, company_id, serial, model, status, custodian_guard_id, last_inspected_on,"
            " created_at")
_EVENT = "id, firearm_id, kind, guard_id, detail, occurred_at, recorded_by"
_VAULT = "id, company_id, vault, kind, detail, occurred_at, recorded_by"
_DRILL = "id, company_id, held_on, scenario, participants, notes, recorded_by, created_at"
_ALERT = "id, kind, company_id, guard_id, detail, raised_at, resolved_at"


def insert_firearm(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_firearm", values, _FIREARM)


def firearm_by_serial(cur: Cursor, serial: str) -> Row | None:
    cur.execute(f"SELECT {_FIREARM} FROM registry_firearm WHERE serial = %s", (serial,))
    return fetch_one(cur)


def get_firearm(cur: Cursor, firearm_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(f"SELECT {_FIREARM} FROM registry_firearm WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (firearm_id,))
    return fetch_one(cur)


def update_firearm(cur: Cursor, firearm_id: int, changes: dict[str, Any]) -> None:
    sets = ", ".join(f"{k} = %s" for k in changes)
    cur.execute(f"UPDATE registry_firearm SET {sets} WHERE id = %s",
                [*changes.values(), firearm_id])


def insert_firearm_event(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_firearm_event", values, _EVENT)


def firearms_of(cur: Cursor, company_id: int) -> list[Row]:
    cur.execute(f"SELECT {_FIREARM} FROM registry_firearm WHERE company_id = %s ORDER BY id",
                (company_id,))
    return fetch_all(cur)


def firearm_events(cur: Cursor, firearm_id: int) -> list[Row]:
    cur.execute(f"SELECT {_EVENT} FROM registry_firearm_event WHERE firearm_id = %s"
                " ORDER BY id", (firearm_id,))
    return fetch_all(cur)


def insert_ammunition(cur: Cursor, values: dict[str, Any]) -> None:
    insert_returning(cur, "registry_ammunition_entry", values, "id")


def ammunition_balance(cur: Cursor, company_id: int, calibre: str | None = None
                       ) -> list[Row]:
    cur.execute("SELECT calibre, sum(delta)::bigint AS rounds FROM registry_ammunition_entry"
                " WHERE company_id = %s AND (%s::text IS NULL OR calibre = %s)"
                " GROUP BY calibre ORDER BY calibre", (company_id, calibre, calibre))
    return fetch_all(cur)


def lock_ammunition(cur: Cursor, company_id: int) -> None:
    """Serialise a company's ammunition movements (the balance check is read-then-write)."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended('registry_ammunition', %s))",
                (company_id,))


def insert_vault_record(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_vault_record", values, _VAULT)


def vault_records(cur: Cursor, company_id: int, limit: int) -> list[Row]:
    cur.execute(f"SELECT {_VAULT} FROM registry_vault_record WHERE company_id = %s"
                " ORDER BY id DESC LIMIT %s", (company_id, limit))
    return fetch_all(cur)


def insert_drill(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_emergency_drill", values, _DRILL)


def drills(cur: Cursor, company_id: int, limit: int) -> list[Row]:
    cur.execute(f"SELECT {_DRILL} FROM registry_emergency_drill WHERE company_id = %s"
                " ORDER BY held_on DESC, id DESC LIMIT %s", (company_id, limit))
    return fetch_all(cur)


def armed_escort_companies(cur: Cursor) -> list[Row]:
    cur.execute("SELECT id, name, district, credit_grade FROM registry_company"
                " WHERE armed_escort AND status = 'active' ORDER BY id")
    return fetch_all(cur)


def psych_due(cur: Cursor, *, today: dt.date, interval_days: int) -> list[Row]:
    """Active guards of armed-escort companies whose latest psychological assessment is
    missing or older than ``interval_days``."""
    cur.execute(
        "SELECT g.id AS guard_id, e.company_id, max(q.valid_from) AS last_assessed"
        " FROM registry_guard g"
        " JOIN registry_employment e ON e.guard_id = g.id AND e.ended_on IS NULL"
        " JOIN registry_company c ON c.id = e.company_id AND c.armed_escort"
        "   AND c.status = 'active'"
        " LEFT JOIN registry_guard_qualification q ON q.guard_id = g.id"
        "   AND q.kind = 'psych-assessment' AND q.valid_from <= %s"
        " WHERE g.status = 'active'"
        " GROUP BY g.id, e.company_id"
        " HAVING max(q.valid_from) IS NULL OR max(q.valid_from) < %s::date - %s"
        " ORDER BY g.id", (today, today, interval_days))
    return fetch_all(cur)


def open_alerts(cur: Cursor, kind: str, company_id: int | None = None) -> list[Row]:
    cur.execute(f"SELECT {_ALERT} FROM registry_supervision_alert WHERE kind = %s"
                " AND resolved_at IS NULL AND (%s::bigint IS NULL OR company_id = %s)"
                " ORDER BY id", (kind, company_id, company_id))
    return fetch_all(cur)


def raise_alert(cur: Cursor, values: dict[str, Any]) -> bool:
    cur.execute("INSERT INTO registry_supervision_alert (kind, company_id, guard_id, detail,"
                " raised_at) VALUES (%(kind)s, %(company_id)s, %(guard_id)s, %(detail)s,"
                " %(raised_at)s) ON CONFLICT DO NOTHING", values)
    return bool(cur.rowcount)


def resolve_alert(cur: Cursor, alert_id: int, now: dt.datetime) -> None:
    cur.execute("UPDATE registry_supervision_alert SET resolved_at = %s WHERE id = %s",
                (now, alert_id))
