"""Reserve force and grid duty (notice §15 §16): a roster of reserve guards by district
and skill, call-ups that reach them with acknowledgement and a live count, and incident
reports from guards on duty to the police (the regulator is the police bureau)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry import audit, repository
from registry import clients_repository as clients_repo
from registry import reserve_repository as repo
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotFound

INCIDENT_KINDS = ("theft", "violence", "fire", "suspicious", "traffic", "public-order",
                  "other")


def enlist(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int, district: str,
           skills: list[str], active: bool = True) -> dict[str, Any]:
    guard = repository.get_guard(cur, guard_id)
    if guard is None:
        raise NotFound("no such guard")
    if active and (guard["status"] != "active" or guard["company_id"] is None):
        raise Conflict("only an active, employed guard joins the reserve",
                       reason="guard-not-active")
    clean = sorted({s.strip() for s in skills if s.strip()})
    row = repo.upsert_member(cur, {"guard_id": guard_id, "district": district.strip(),
                                   "skills": clean, "active": active,
                                   "created_by": actor.label, "created_at": now})
    audit.record(cur, actor=actor, action="reserve.enlist", target_type="guard",
                 target_id=guard_id, data={"district": district, "active": active}, now=now)
    return row


def members(cur: Cursor, *, district: str | None, skill: str | None, after_id: int,
            limit: int) -> list[dict[str, Any]]:
    """The roster, filtered by district and skill."""
    return repo.members(cur, district=district, skill=skill, after_id=after_id, limit=limit)


def call_up(cur: Cursor, *, actor: Actor, now: dt.datetime, district: str,
            skill: str | None, reason: str, assemble_at: str | None) -> dict[str, Any]:
    row = repo.insert_callup(cur, {"district": district.strip(), "skill": skill,
                                   "reason": reason, "assemble_at": assemble_at,
                                   "called_by": actor.label, "called_at": now})
    notified = repo.notify_members(cur, int(row["id"]), district=row["district"],
                                   skill=skill, now=now)
    audit.record(cur, actor=actor, action="reserve.call_up", target_type="callup",
                 target_id=row["id"], data={"district": district, "skill": skill,
                                            "notified": notified}, now=now)
    return status(cur, callup_id=int(row["id"]))


def status(cur: Cursor, *, callup_id: int) -> dict[str, Any]:
    row = repo.get_callup(cur, callup_id)
    if row is None:
        raise NotFound("no such call-up")
    counts = repo.callup_counts(cur, callup_id)
    return {**row, "notified": int(counts["notified"]),
            "acknowledged": int(counts["acknowledged"])}


def call_ups_of_guard(cur: Cursor, *, guard_id: int) -> list[dict[str, Any]]:
    """The open call-ups that reached the guard, newest first."""
    return repo.callups_of_guard(cur, guard_id)


def acknowledge(cur: Cursor, *, actor: Actor, now: dt.datetime, callup_id: int,
                guard_id: int) -> dict[str, Any]:
    callup = repo.get_callup(cur, callup_id)
    if callup is None:
        raise NotFound("no such call-up")
    if callup["closed_at"] is not None:
        raise Conflict("the call-up is closed", reason="callup-closed")
    notice = repo.acknowledge(cur, callup_id, guard_id, now)
    if notice is None:
        raise NotFound("no such call-up")  # this guard was not called: nothing to see
    audit.record(cur, actor=actor, action="reserve.acknowledge", target_type="callup",
                 target_id=callup_id, data={"guard_id": guard_id}, now=now)
    return status(cur, callup_id=callup_id)


def close(cur: Cursor, *, actor: Actor, now: dt.datetime, callup_id: int) -> dict[str, Any]:
    if repo.get_callup(cur, callup_id, for_update=True) is None:
        raise NotFound("no such call-up")
    if not repo.close_callup(cur, callup_id, now):
        raise Conflict("the call-up is already closed", reason="callup-closed")
    audit.record(cur, actor=actor, action="reserve.close", target_type="callup",
                 target_id=callup_id, now=now)
    return status(cur, callup_id=callup_id)


def report_incident(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
                    kind: str, location: str, description: str,
                    occurred_at: dt.datetime) -> dict[str, Any]:
    if kind not in INCIDENT_KINDS:
        raise InvalidInput(f"unknown incident kind {kind!r}", field="kind")
    if occurred_at > now + dt.timedelta(minutes=5):
        raise InvalidInput("the incident is in the future", field="occurred_at")
    guard = repository.get_guard(cur, guard_id)
    if guard is None:
        raise NotFound("no such guard")
    deployment = clients_repo.active_deployment_of(cur, guard_id)
    row = repo.insert_incident(cur, {
        "guard_id": guard_id, "company_id": guard["company_id"],
        "deployment_id": deployment["id"] if deployment else None, "kind": kind,
        "location": location.strip(), "description": description, "occurred_at": occurred_at,
        "reported_at": now})
    audit.record(cur, actor=actor, action="incident.report", target_type="incident",
                 target_id=row["id"], data={"guard_id": guard_id, "kind": kind}, now=now)
    return row


def incidents(cur: Cursor, *, status: str | None, after_id: int, limit: int
              ) -> list[dict[str, Any]]:
    return repo.incidents(cur, status=status, after_id=after_id, limit=limit)


def acknowledge_incident(cur: Cursor, *, actor: Actor, now: dt.datetime, incident_id: int
                         ) -> dict[str, Any]:
    row = repo.acknowledge_incident(cur, incident_id, actor.label, now)
    if row is None:
        if repo.get_incident(cur, incident_id) is None:
            raise NotFound("no such incident")
        raise Conflict("the incident was already acknowledged", reason="already-acknowledged")
    audit.record(cur, actor=actor, action="incident.acknowledge", target_type="incident",
                 target_id=incident_id, now=now)
    return row
