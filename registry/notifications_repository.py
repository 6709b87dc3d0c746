"""SQL of the company inbox, webhooks and their deliveries (migration 0016)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]


def insert_notification(cur: Cursor, values: dict[str, Any]) -> int:
    values = {**values, "data": json.dumps(values.get("data") or {}, default=str)}
    return int(insert_returning(cur, "registry_notification", values, "id")["id"])


def inbox(cur: Cursor, company_id: int, *, unread_only: bool, before_id: int | None,
          limit: int) -> list[Row]:
    cur.execute(
        "SELECT id, kind, guard_id, subject, data, created_at, read_at FROM registry_notification"
        " WHERE company_id = %s AND (%s::bigint IS NULL OR id < %s)"
        + (" AND read_at IS NULL" if unread_only else "") + " ORDER BY id DESC LIMIT %s",
        (company_id, before_id, before_id, limit))
    return fetch_all(cur)


def mark_read(cur: Cursor, company_id: int, notification_id: int, now: dt.datetime) -> bool:
    cur.execute("UPDATE registry_notification SET read_at = coalesce(read_at, %s)"
                " WHERE company_id = %s AND id = %s", (now, company_id, notification_id))
    return bool(cur.rowcount)


def unread_count(cur: Cursor, company_id: int) -> int:
    cur.execute("SELECT count(*) AS n FROM registry_notification WHERE company_id = %s"
                " AND read_at IS NULL", (company_id,))
    row = fetch_one(cur)
    return int(row["n"]) if row else 0


def insert_webhook(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_webhook", values,
                            "id, company_id, url, created_at, disabled_at")


def webhooks(cur: Cursor, company_id: int, *, active_only: bool = False) -> list[Row]:
    cur.execute("SELECT id, company_id, url, created_at, disabled_at FROM registry_webhook"
                " WHERE company_id = %s" + (" AND disabled_at IS NULL" if active_only else "")
                + " ORDER BY id", (company_id,))
    return fetch_all(cur)


def disable_webhook(cur: Cursor, company_id: int, webhook_id: int, now: dt.datetime) -> bool:
    cur.execute("UPDATE registry_webhook SET disabled_at = %s WHERE company_id = %s AND id = %s"
                " AND disabled_at IS NULL", (now, company_id, webhook_id))
    if cur.rowcount:
        cur.execute("UPDATE registry_webhook_delivery SET status = 'gave-up',"
                    " last_error = 'webhook disabled' WHERE webhook_id = %s"
                    " AND status = 'pending'", (webhook_id,))
        return True
    return False


def queue_deliveries(cur: Cursor, company_id: int, notification_id: int,
                     now: dt.datetime) -> None:
    cur.execute(
        "INSERT INTO registry_webhook_delivery (webhook_id, notification_id, next_attempt_at)"
        " SELECT id, %s, %s FROM registry_webhook WHERE company_id = %s"
        " AND disabled_at IS NULL", (notification_id, now, company_id))


def due_deliveries(cur: Cursor, now: dt.datetime, *, limit: int) -> list[Row]:
    """Due deliveries (one runner at a time: the job's lease, registry/jobs.py)."""
    cur.execute(
        "SELECT d.id, d.attempts, w.id AS webhook_id, w.url, w.secret_sealed, n.id AS"
        " notification_id, n.company_id, n.kind, n.guard_id, n.subject, n.data, n.created_at"
        " FROM registry_webhook_delivery d JOIN registry_webhook w ON w.id = d.webhook_id"
        " JOIN registry_notification n ON n.id = d.notification_id"
        " WHERE d.status = 'pending' AND d.next_attempt_at <= %s"
        " ORDER BY d.next_attempt_at, d.id LIMIT %s",
        (now, limit))
    return fetch_all(cur)


def record_attempt(cur: Cursor, delivery_id: int, *, status: str, code: int | None,
                   error: str | None, next_attempt_at: dt.datetime | None,
                   now: dt.datetime) -> None:
    cur.execute(
        "UPDATE registry_webhook_delivery SET attempts = attempts + 1, status = %s,"
        " last_status_code = %s, last_error = %s,"
        " next_attempt_at = coalesce(%s, next_attempt_at),"
        " delivered_at = CASE WHEN %s = 'delivered' THEN %s ELSE delivered_at END"
        " WHERE id = %s", (status, code, error, next_attempt_at, status, now, delivery_id))


def deliveries(cur: Cursor, company_id: int, webhook_id: int, *, limit: int) -> list[Row]:
    cur.execute(
        "SELECT d.id, d.notification_id, n.kind, d.status, d.attempts, d.next_attempt_at,"
        " d.last_status_code, d.last_error, d.delivered_at FROM registry_webhook_delivery d"
        " JOIN registry_webhook w ON w.id = d.webhook_id"
        " JOIN registry_notification n ON n.id = d.notification_id"
        " WHERE w.company_id = %s AND w.id = %s ORDER BY d.id DESC LIMIT %s",
        (company_id, webhook_id, limit))
    return fetch_all(cur)
