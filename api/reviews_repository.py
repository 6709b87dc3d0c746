"""The regulator's one review queue, read-only: biometric duplicate holds (biometrics'
table) beside registry enrollment holds (black-listed employers). Each package still
owns and decides its own holds; this only reads both, so it lives in the composition
root (like api/reporting_repository.py)."""

from __future__ import annotations

from typing import Any

from registry.db import Cursor, fetch_all

Row = dict[str, Any]


def review_queue(cur: Cursor, *, status: str, limit: int) -> list[Row]:
    """Holds of ``status``, oldest first, ordered by (created_at, kind, id)."""
    cur.execute(
        "SELECT * FROM ("
        " SELECT 'biometric-' || r.modality AS kind, r.id, g.id AS guard_id,"
        "  e.company_id, r.status, r.created_at, r.banned_match, NULL::text AS reason"
        "  FROM biometrics_review r JOIN registry_guard g ON g.biometric_subject = r.subject"
        "  LEFT JOIN registry_employment e ON e.guard_id = g.id AND e.ended_on IS NULL"
        "  WHERE r.status = %s"
        " UNION ALL"
        " SELECT 'enrollment-hold', h.id, h.guard_id, h.company_id, h.status, h.created_at,"
        "  false, h.reason FROM registry_enrollment_hold h WHERE h.status = %s"
        ") q ORDER BY created_at, kind, id LIMIT %s",
        (status, status, limit))
    return fetch_all(cur)
