"""SQL of the fused duplicate check (``biometrics.enrollment``): the lock that
serialises the final check, and the candidates' templates. Functions take the
caller's cursor; none commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from registry.db import Cursor, fetch_all

# pg_advisory_xact_lock key of the duplicate check: 'GRDD' as a 32-bit integer.
DEDUP_LOCK_KEY = 0x47524444


def lock_dedup(cur: Cursor) -> None:
    """Serialise duplicate checks until the transaction ends: an enrollment searches,
    decides and stores under this lock, so two enrollments of one person running at
    the same time cannot both miss each other (the second one searches after the first
    has committed; READ COMMITTED gives each statement a fresh snapshot)."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (DEDUP_LOCK_KEY,))


def faces_of(cur: Cursor, subjects: Sequence[str]) -> list[dict[str, Any]]:
    """Stored face templates (not rejected) of ``subjects``. The subjects are compared as
    uuids, so the primary key finds them (``subject::text = ANY(...)`` read every row)."""
    if not subjects:
        return []
    cur.execute(
        "SELECT subject::text AS subject, model, embedding::text AS embedding"
        " FROM biometrics_face WHERE subject = ANY(%s::uuid[]) AND status <> 'rejected'",
        (list(subjects),))
    return fetch_all(cur)


def fingers_of(cur: Cursor, subjects: Sequence[str]) -> list[dict[str, Any]]:
    """Stored finger templates (not rejected) of ``subjects``, with the ``change_seq``
    that keys a prepared template in a cache."""
    if not subjects:
        return []
    cur.execute(
        "SELECT subject::text AS subject, position, model, template_sealed, change_seq"
        " FROM biometrics_finger WHERE subject = ANY(%s::uuid[]) AND status <> 'rejected'"
        " ORDER BY subject, position",
        (list(subjects),))
    return fetch_all(cur)
