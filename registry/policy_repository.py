"""SQL of the versioned service policy (which services need which skill level).

One module per aggregate (issue 19); ``registry.repository`` re-exports them all.
"""

from __future__ import annotations

import json
from typing import Any

from registry.db import Cursor, fetch_all

Row = dict[str, Any]


# -- service policy ----------------------------------------------------------------------------
def current_policy(cur: Cursor) -> list[Row]:
    cur.execute(
        "SELECT version, service, lowest_level, min_age, requires, description, created_by,"
        " created_at FROM registry_service_policy WHERE version ="
        " (SELECT max(version) FROM registry_service_policy) ORDER BY lowest_level DESC, service"
    )
    return fetch_all(cur)


def policy_versions(cur: Cursor) -> list[Row]:
    cur.execute(
        "SELECT version, min(created_at) AS created_at, min(created_by) AS created_by,"
        " count(*) AS services FROM registry_service_policy GROUP BY version ORDER BY version"
    )
    return fetch_all(cur)


def insert_policy_version(cur: Cursor, rows: list[dict[str, Any]], by: str) -> int:
    cur.execute("LOCK TABLE registry_service_policy IN SHARE ROW EXCLUSIVE MODE")
    cur.execute("SELECT coalesce(max(version), 0) + 1 AS v FROM registry_service_policy")
    row = cur.fetchone()
    assert row is not None
    version = int(row["v"])
    for r in rows:
        cur.execute(
            "INSERT INTO registry_service_policy (version, service, lowest_level, min_age,"
            " requires, description, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (version, r["service"], r["lowest_level"], r.get("min_age"),
             json.dumps(r.get("requires", [])), r.get("description"), by),
        )
    return version
