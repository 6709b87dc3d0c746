"""Read-only SQL that spans packages (registry + biometrics + certificates).

It lives in the composition root because no lower package may see the others'
tables; it only reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, execute_prepared

_CAPTURE_SQL = """
WITH active AS (
    SELECT g.id, g.biometric_subject, g.intentional_crime, g.administrative_detentions,
           c.id AS company_id, c.name AS company_name, c.district,
           c.status AS company_status
    FROM registry_guard g
    JOIN registry_employment e ON e.guard_id = g.id AND e.ended_on IS NULL
    JOIN registry_company c ON c.id = e.company_id
    WHERE g.status = 'active' {scope}
), facts AS (
    SELECT a.*,
        (SELECT f.status = 'enrolled' FROM biometrics_face f
          WHERE f.subject = a.biometric_subject) IS TRUE AS has_face,
        (SELECT count(*) FROM biometrics_finger b
          WHERE b.subject = a.biometric_subject AND b.status = 'enrolled') AS fingers,
        -- The registry's rules, from their one source (migration 0031).
        cardinality(registry_guard_bars(a.id, %(today)s)) = 0 AS registry_eligible,
        EXISTS (SELECT 1 FROM certificates_certificate cc WHERE cc.guard_id = a.id
          AND cc.status = 'valid' AND cc.expires_at > %(now)s) AS has_valid_certificate
    FROM active a
), judged AS (
    SELECT *,
        (has_face AND fingers >= 2) AS captured,
        (has_face AND fingers >= 2 AND registry_eligible) AS eligible
    FROM facts
)
SELECT {key} AS key, {label} AS label,
       count(*) AS active_guards,
       count(*) FILTER (WHERE has_face) AS with_photo,
       count(*) FILTER (WHERE fingers >= 2) AS with_two_fingers,
       count(*) FILTER (WHERE captured) AS captured,
       count(*) FILTER (WHERE eligible) AS eligible,
       count(*) FILTER (WHERE eligible AND has_valid_certificate) AS eligible_with_certificate
FROM judged GROUP BY 1, 2 ORDER BY 2
"""

_GROUPINGS = {
    "city": ("'city'", "'city'"),
    "district": ("district", "district"),
    "company": ("company_id::text", "company_name"),
}


def capture_rate(cur: Cursor, *, by: str, now: dt.datetime,
                 company_id: int | None = None) -> list[dict[str, Any]]:
    key, label = _GROUPINGS[by]
    scope = "AND c.id = %(company)s" if company_id is not None else ""
    cur.execute(_CAPTURE_SQL.format(key=key, label=label, scope=scope),
                {"today": now.astimezone(dt.UTC).date(), "now": now, "company": company_id})
    rows = [dict(r) for r in cur.fetchall()]
    for r in rows:
        n, e = r["active_guards"], r["eligible"]
        r["capture_rate"] = round(r["captured"] / n, 4) if n else None
        r["certificate_rate"] = round(r["eligible_with_certificate"] / e, 4) if e else None
    return rows


def recent_verifications(cur: Cursor, *, limit: int) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT checked_at, certificate_number, verdict, location, channel"
        " FROM certificates_verification_log ORDER BY id DESC LIMIT %s",
        (limit,),
    )
    return [dict(r) for r in cur.fetchall()]


def capture_summaries(cur: Cursor, guard_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per guard: face status, enrolled fingers and the live certificate's status."""
    if not guard_ids:
        return {}
    cur.execute(
        "SELECT g.id,"
        " (SELECT f.status FROM biometrics_face f WHERE f.subject = g.biometric_subject)"
        " AS face,"
        " (SELECT count(*) FROM biometrics_finger b WHERE b.subject = g.biometric_subject"
        "  AND b.status = 'enrolled') AS fingers_enrolled,"
        " (SELECT c.status FROM certificates_certificate c WHERE c.guard_id = g.id"
        "  AND c.status IN ('valid', 'suspended', 'revoked') AND c.kind = 'certificate'"
        "  ORDER BY c.id DESC LIMIT 1)"
        " AS certificate"
        " FROM registry_guard g WHERE g.id = ANY(%s)",
        (guard_ids,),
    )
    out = {}
    for r in cur.fetchall():
        out[int(r["id"])] = {"face": r["face"], "fingers_enrolled": int(r["fingers_enrolled"]),
                             "complete": r["face"] == "enrolled" and r["fingers_enrolled"] >= 2,
                             "certificate": r["certificate"]}
    return out


_VERIFY_CONTEXT_SQL = """
SELECT c.id AS certificate_id, c.number, c.status, c.status_reason, c.kid,
       -- a certificate purged after the retention period keeps only its payload's hash
       CASE WHEN c.claims ? 'purged' THEN c.payload ELSE sha256(c.payload) END
           AS payload_sha256,
       g.id AS guard_id, g.skill_level, g.birth_date, g.status AS guard_status,
       g.intentional_crime, g.administrative_detentions, g.biometric_subject::text AS subject,
       e.company_id, co.name AS company_name, co.status AS company_status,
       co.armed_escort AS company_armed_escort,
       f.status AS face_status,
       CASE WHEN $3 AND f.status IS DISTINCT FROM 'rejected'
            THEN coalesce(f.display_sealed, f.photo_sealed) END AS photo_sealed,
       f.display_sealed IS NOT NULL AS photo_is_display,
       coalesce((SELECT json_agg(json_build_object('kind', q.kind, 'valid_from', q.valid_from,
                                                   'valid_until', q.valid_until))
                 FROM registry_guard_qualification q WHERE q.guard_id = g.id), '[]')
           AS qualifications
FROM certificates_certificate c
JOIN registry_guard g ON g.id = c.guard_id
LEFT JOIN registry_employment e ON e.guard_id = g.id AND e.ended_on IS NULL
LEFT JOIN registry_company co ON co.id = e.company_id
LEFT JOIN biometrics_face f ON f.subject = g.biometric_subject
WHERE c.status_shard = $1 AND c.status_idx = $2
"""


def verification_context(cur: Cursor, shard: int, idx: int, *,
                         with_photo: bool = False) -> dict[str, Any] | None:
    """Everything online verification shows, in one prepared statement: the certificate's
    live status, the guard, the current employer and its licence, the face capture status
    (and the sealed photo when asked) and the qualifications that decide permitted
    services. ``number``, ``kid`` and ``payload_sha256`` say whose entry (shard, idx)
    is: the caller must check them against the certificate being verified
    (``status-mismatch``) before showing anything else of the row."""
    execute_prepared(cur, "guardreg_verify_ctx_v2", _VERIFY_CONTEXT_SQL, (shard, idx, with_photo))
    row = cur.fetchone()
    if row is None:
        return None
    out = dict(row)
    out["id"] = out["guard_id"]
    out["qualifications"] = [
        {"kind": q["kind"], "valid_from": dt.date.fromisoformat(q["valid_from"]),
         "valid_until": dt.date.fromisoformat(q["valid_until"]) if q["valid_until"] else None}
        for q in out["qualifications"]]
    return out
