"""SQL of clients, contracts (service projects with a client) and deployments
(migration 0020)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]

_CLIENT = ("id, name, kind, district, floor_area_m2, expected_attendance, event_on,"
           " own_company_id, created_by, created_at")
_DEPLOYMENT = "id, project_id, guard_id, post, starts_on, ended_on, created_by, created_at"


def insert_client(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_client", values, _CLIENT)


def get_client(cur: Cursor, client_id: int) -> Row | None:
    cur.execute(f"SELECT {_CLIENT} FROM registry_client WHERE id = %s", (client_id,))
    return fetch_one(cur)


def list_clients(cur: Cursor, *, district: str | None, kind: str | None, after_id: int,
                 limit: int) -> list[Row]:
    cur.execute(f"SELECT {_CLIENT} FROM registry_client WHERE id > %s"
                " AND (%s::text IS NULL OR district = %s) AND (%s::text IS NULL OR kind = %s)"
                " ORDER BY id LIMIT %s", (after_id, district, district, kind, kind, limit))
    return fetch_all(cur)


def get_project(cur: Cursor, project_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute("SELECT id, company_id, name, service, client, client_id, starts_on, ends_on"
                " FROM registry_service_project WHERE id = %s"
                + (" FOR UPDATE" if for_update else ""), (project_id,))
    return fetch_one(cur)


def insert_deployment(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_deployment", values, _DEPLOYMENT)


def active_deployment_of(cur: Cursor, guard_id: int) -> Row | None:
    cur.execute(f"SELECT {_DEPLOYMENT} FROM registry_deployment WHERE guard_id = %s"
                " AND ended_on IS NULL", (guard_id,))
    return fetch_one(cur)


def get_deployment(cur: Cursor, deployment_id: int, *, for_update: bool = False
                   ) -> Row | None:
    cur.execute(f"SELECT d.{_DEPLOYMENT.replace(', ', ', d.')}, p.company_id"
                " FROM registry_deployment d JOIN registry_service_project p"
                " ON p.id = d.project_id WHERE d.id = %s"
                + (" FOR UPDATE OF d" if for_update else ""), (deployment_id,))
    return fetch_one(cur)


def end_deployment(cur: Cursor, deployment_id: int, ended_on: dt.date) -> bool:
    cur.execute("UPDATE registry_deployment SET ended_on = greatest(%s, starts_on)"
                " WHERE id = %s AND ended_on IS NULL", (ended_on, deployment_id))
    return bool(cur.rowcount)


def deployments_of_company(cur: Cursor, company_id: int, *, active_only: bool) -> list[Row]:
    cur.execute(f"SELECT d.{_DEPLOYMENT.replace(', ', ', d.')}, p.client_id, p.service"
                " FROM registry_deployment d JOIN registry_service_project p"
                " ON p.id = d.project_id WHERE p.company_id = %s"
                + (" AND d.ended_on IS NULL" if active_only else "")
                + " ORDER BY d.id", (company_id,))
    return fetch_all(cur)


def coverage_rows(cur: Cursor, *, today: dt.date, district: str | None,
                  kind: str | None) -> list[Row]:
    """Every current client (an event not yet past) with its contracts in force and the
    guards deployed on them, today or, for a future event, on the event's day."""
    cur.execute(
        "SELECT c.id, c.name, c.kind, c.district, c.floor_area_m2, c.expected_attendance,"
        " c.event_on,"
        " count(DISTINCT p.id) AS contracts,"
        " coalesce(array_agg(DISTINCT p.company_id) FILTER (WHERE p.id IS NOT NULL), '{}')"
        "   AS company_ids,"
        " count(DISTINCT d.id) AS deployed"
        " FROM registry_client c"
        " LEFT JOIN registry_service_project p ON p.client_id = c.id"
        "   AND p.starts_on <= greatest(c.event_on, %s)"
        "   AND (p.ends_on IS NULL OR p.ends_on >= greatest(c.event_on, %s))"
        " LEFT JOIN registry_deployment d ON d.project_id = p.id"
        "   AND d.starts_on <= greatest(c.event_on, %s) AND d.ended_on IS NULL"
        " WHERE (c.event_on IS NULL OR c.event_on >= %s)"
        " AND (%s::text IS NULL OR c.district = %s) AND (%s::text IS NULL OR c.kind = %s)"
        " GROUP BY c.id ORDER BY c.district, c.kind, c.id",
        (today, today, today, today, district, district, kind, kind))
    return fetch_all(cur)
