"""Enrollment holds (notice §12): a black-listed company keeps the grade its ledger
gives, but each guard it newly enrolls waits for the regulator before any certificate.

The hold is made in the enrollment's transaction (registry/service.py) and decided by
the regulator; a pending hold makes the guard ineligible for a certificate, and a
rejection ends the employment it held. The regulator sees these holds beside the
biometric duplicate holds (``GET /v1/reviews``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry import audit, repository
from registry import holds_repository as repo
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, NotFound


def hold_if_black_listed(cur: Cursor, *, actor: Actor, now: dt.datetime,
                         company: dict[str, Any], guard_id: int) -> int | None:
    """Hold ``guard_id``'s new enrollment when ``company`` is on the black list."""
    if not company["black_list"]:
        return None
    row = repo.insert_hold(cur, {"guard_id": guard_id, "company_id": company["id"],
                                 "reason": "black-list", "created_at": now})
    audit.record(cur, actor=actor, action="guard.enrollment_held", target_type="guard",
                 target_id=guard_id, data={"hold_id": row["id"], "company_id": company["id"],
                                           "reason": "black-list"}, now=now)
    return int(row["id"])


def decide(cur: Cursor, *, actor: Actor, now: dt.datetime, hold_id: int, approve: bool,
           note: str | None) -> dict[str, Any]:
    hold = repo.get_hold(cur, hold_id, for_update=True)
    if hold is None:
        raise NotFound("no such hold")
    if not repo.decide(cur, hold_id, status="approved" if approve else "rejected",
                       by=actor.label, note=note, now=now):
        raise Conflict(f"the hold was already {hold['status']}", reason="already-decided")
    if not approve:
        from registry import service  # service makes holds: import at use

        guard = repository.get_guard(cur, int(hold["guard_id"]))
        if guard is not None and guard["company_id"] == hold["company_id"]:
            service.end_employment(cur, actor=actor, now=now, guard_id=int(hold["guard_id"]),
                                   reason="enrollment refused (black-listed employer)")
    audit.record(cur, actor=actor, action="guard.enrollment_hold_decision",
                 target_type="guard", target_id=hold["guard_id"],
                 data={"hold_id": hold_id, "approved": approve}, now=now)
    done = repo.get_hold(cur, hold_id)
    assert done is not None
    return done
