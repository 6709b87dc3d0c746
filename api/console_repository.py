"""Read-only SQL of the regulator console (``api/routers/console.py``) that spans
packages: the overview figures and the daily checks. It sits in the composition root
for the same reason as ``api/reporting_repository.py``: no lower package may see the
others' tables. Functions take the caller's cursor; none writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one


def _counts(cur: Cursor, sql: str, args: tuple[Any, ...] = ()) -> dict[str, int]:
    cur.execute(sql, args)
    return {str(r["k"]): int(r["n"]) for r in fetch_all(cur)}


def overview(cur: Cursor, *, today: dt.date) -> dict[str, Any]:
    """Counts a regulator starts the day with."""
    out: dict[str, Any] = {
        "companies": _counts(cur, "SELECT status AS k, count(*) AS n FROM registry_company"
                                  " GROUP BY status"),
        "guards": _counts(cur, "SELECT status AS k, count(*) AS n FROM registry_guard"
                               " GROUP BY status"),
        "certificates": _counts(cur, "SELECT status AS k, count(*) AS n"
                                     " FROM certificates_certificate GROUP BY status"),
    }
    cur.execute(
        "SELECT"
        " (SELECT count(*) FROM registry_company WHERE red_list) AS red,"
        " (SELECT count(*) FROM registry_company WHERE black_list) AS black,"
        " (SELECT count(*) FROM registry_company WHERE abnormal_operations) AS abnormal,"
        " (SELECT count(*) FROM biometrics_review WHERE status = 'pending') AS reviews,"
        " (SELECT count(*) FROM certificates_issuance_request WHERE status = 'pending')"
        "   AS requests,"
        " (SELECT count(*) FROM registry_ban WHERE lifted_at IS NULL"
        "   AND (until_on IS NULL OR until_on >= %s)) AS bans",
        (today,))
    row = fetch_one(cur) or {}
    out["lists"] = {k: int(row.get(k) or 0) for k in ("red", "black", "abnormal")}
    out["pending"] = {"reviews": int(row.get("reviews") or 0),
                      "requests": int(row.get("requests") or 0)}
    out["active_bans"] = int(row.get("bans") or 0)
    return out


def checks_per_day(cur: Cursor, *, since: dt.datetime) -> list[dict[str, Any]]:
    """Checkpoint verifications per UTC day and verdict since ``since``."""
    cur.execute(
        "SELECT (checked_at AT TIME ZONE 'UTC')::date AS day, verdict, count(*) AS n"
        " FROM certificates_verification_log WHERE checked_at >= %s"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        (since,))
    return fetch_all(cur)
