"""SQL of inspectors, inspection plans, draw parties and inspections (migration 0012)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]


def insert_inspector(cur: Cursor, name: str, agency: str) -> Row:
    return insert_returning(cur, "registry_inspector", {"name": name, "agency": agency},
                            "id, name, agency, active, created_at")


def list_inspectors(cur: Cursor, *, active_only: bool = False) -> list[Row]:
    cur.execute("SELECT id, name, agency, active, created_at FROM registry_inspector"
                + (" WHERE active" if active_only else "") + " ORDER BY id")
    return fetch_all(cur)


def insert_plan(cur: Cursor, title: str, created_by: str) -> int:
    return int(insert_returning(cur, "registry_inspection_plan",
                                {"title": title, "created_by": created_by}, "id")["id"])


def freeze_plan(cur: Cursor, plan_id: int, canonical: str, plan_hash: bytes) -> None:
    cur.execute("UPDATE registry_inspection_plan SET plan_canonical = %s, plan_hash = %s"
                " WHERE id = %s", (canonical, plan_hash, plan_id))


def get_plan(cur: Cursor, plan_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(
        "SELECT id, title, state, plan_canonical, plan_hash, seed, draw, created_by, created_at,"
        " drawn_at FROM registry_inspection_plan WHERE id = %s"
        + (" FOR UPDATE" if for_update else ""), (plan_id,))
    return fetch_one(cur)


def list_plans(cur: Cursor) -> list[Row]:
    cur.execute("SELECT id, title, state, plan_hash, created_at, drawn_at"
                " FROM registry_inspection_plan ORDER BY id DESC")
    return fetch_all(cur)


def set_plan_state(cur: Cursor, plan_id: int, state: str) -> None:
    cur.execute("UPDATE registry_inspection_plan SET state = %s WHERE id = %s", (state, plan_id))


def record_draw(cur: Cursor, plan_id: int, seed: bytes, draw: dict[str, Any],
                now: dt.datetime) -> None:
    cur.execute("UPDATE registry_inspection_plan SET state = 'drawn', seed = %s, draw = %s,"
                " drawn_at = %s WHERE id = %s", (seed, json.dumps(draw), now, plan_id))


def insert_party(cur: Cursor, plan_id: int, party: str) -> None:
    cur.execute("INSERT INTO registry_draw_party (plan_id, party) VALUES (%s, %s)",
                (plan_id, party))


def parties(cur: Cursor, plan_id: int) -> list[Row]:
    cur.execute("SELECT party, commitment, committed_at, secret, revealed_at"
                " FROM registry_draw_party WHERE plan_id = %s ORDER BY party", (plan_id,))
    return fetch_all(cur)


def set_commitment(cur: Cursor, plan_id: int, party: str, commitment: bytes,
                   now: dt.datetime) -> bool:
    cur.execute("UPDATE registry_draw_party SET commitment = %s, committed_at = %s"
                " WHERE plan_id = %s AND party = %s AND commitment IS NULL",
                (commitment, now, plan_id, party))
    return bool(cur.rowcount)


def set_secret(cur: Cursor, plan_id: int, party: str, secret: bytes, now: dt.datetime) -> bool:
    cur.execute("UPDATE registry_draw_party SET secret = %s, revealed_at = %s"
                " WHERE plan_id = %s AND party = %s AND secret IS NULL",
                (secret, now, plan_id, party))
    return bool(cur.rowcount)


def insert_inspection(cur: Cursor, plan_id: int, company_id: int, inspectors: list[int],
                      position: int) -> None:
    cur.execute("INSERT INTO registry_inspection (plan_id, company_id, inspectors, position)"
                " VALUES (%s, %s, %s, %s)", (plan_id, company_id, json.dumps(inspectors),
                                             position))


_INSPECTION = (
    "i.id, i.plan_id, i.company_id, c.name AS company_name, i.inspectors, i.position, i.status,"
    " i.outcome, i.findings, i.inspected_on, i.credit_entry_id, i.recorded_at"
)


def inspections_of_plan(cur: Cursor, plan_id: int) -> list[Row]:
    cur.execute(f"SELECT {_INSPECTION} FROM registry_inspection i JOIN registry_company c"
                " ON c.id = i.company_id WHERE i.plan_id = %s ORDER BY i.position", (plan_id,))
    return fetch_all(cur)


def get_inspection(cur: Cursor, inspection_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(f"SELECT {_INSPECTION} FROM registry_inspection i JOIN registry_company c"
                " ON c.id = i.company_id WHERE i.id = %s"
                + (" FOR UPDATE OF i" if for_update else ""), (inspection_id,))
    return fetch_one(cur)


def record_result(cur: Cursor, inspection_id: int, values: dict[str, Any]) -> None:
    sets = ", ".join(f"{k} = %s" for k in values)  # keys from registry/inspections.py
    cur.execute(f"UPDATE registry_inspection SET {sets}, status = 'done' WHERE id = %s",
                [*values.values(), inspection_id])


def published_results(cur: Cursor, *, limit: int) -> list[Row]:
    cur.execute(f"SELECT {_INSPECTION} FROM registry_inspection i JOIN registry_company c"
                " ON c.id = i.company_id WHERE i.status = 'done'"
                " ORDER BY i.inspected_on DESC, i.id DESC LIMIT %s", (limit,))
    return fetch_all(cur)


def draw_candidates(cur: Cursor) -> list[Row]:
    """Active companies and their grades (the default candidates of a plan)."""
    cur.execute("SELECT id, credit_grade FROM registry_company WHERE status = 'active'"
                " ORDER BY id")
    return fetch_all(cur)
