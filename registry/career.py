"""Training and skill levels (notice §6 §7).

Training units record their sessions and who completed them; the rotation course counts
towards the periodic rotation training, due ``rotation_training_months`` (supervision
policy, default 12) after the last one, or after the start of the current employment for
someone never trained. Skill assessors (and the regulator) record evaluations: an exam or
an appraisal passed moves the level by at most one step towards 1 (highest); a skill
competition may promote by more. The level history is the list of evaluations. Trainers
and assessors identify a person by the ID number and name on the ID card they are shown,
and learn nothing more about them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from registry import annual_reports, audit, repository
from registry import career_repository as repo
from registry.audit import Actor
from registry.auth import Principal, Role
from registry.db import Cursor
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.validation import parse_resident_id

EVALUATION_KINDS = ("exam", "appraisal", "competition")


def _today(now: dt.datetime) -> dt.date:
    return now.astimezone(dt.UTC).date()


def person(cur: Cursor, *, id_number: str, name: str, now: dt.datetime) -> dict[str, Any]:
    """The guard an ID card names; the same refusal whether the number is unknown or the
    name does not match (a trainer learns nothing from trying numbers)."""
    rid = parse_resident_id(id_number, today=_today(now))
    guard = repository.get_guard_by_id_number(cur, rid.number)
    if guard is None or guard["name"] != name.strip():
        raise NotFound("no guard with this ID number and name")
    return guard


@dataclass(frozen=True)
class SessionIn:
    course: str
    starts_on: dt.date
    ends_on: dt.date
    hours: int
    location: str


def add_session(cur: Cursor, *, actor: Actor, principal: Principal, now: dt.datetime,
                company_id: int, session: SessionIn) -> dict[str, Any]:
    if principal.role is Role.TRAINING_UNIT and principal.company_id != company_id:
        raise NotFound("no such company")
    company = repository.get_company(cur, company_id)
    if company is None:
        raise NotFound("no such company")
    if company["kind"] != "training":
        raise InvalidInput("training sessions are run by a training unit (a company of kind "
                           "'training')", field="company_id")
    if repo.course(cur, session.course) is None:
        raise InvalidInput("unknown course", field="course")
    if session.ends_on < session.starts_on:
        raise InvalidInput("the session ends before it starts", field="ends_on")
    session_id = repo.insert_session(cur, {
        "company_id": company_id, "course": session.course, "starts_on": session.starts_on,
        "ends_on": session.ends_on, "hours": session.hours, "location": session.location,
        "created_by": actor.label, "created_at": now})
    audit.record(cur, actor=actor, action="training.session", target_type="company",
                 target_id=company_id, data={"session_id": session_id,
                                             "course": session.course}, now=now)
    row = repo.get_session(cur, session_id)
    assert row is not None
    return row


def record_attendance(cur: Cursor, *, actor: Actor, principal: Principal, now: dt.datetime,
                      session_id: int, id_number: str, name: str, completed: bool,
                      certificate_no: str | None) -> dict[str, Any]:
    session = repo.get_session(cur, session_id)
    if session is None or (principal.role is Role.TRAINING_UNIT
                           and principal.company_id != session["company_id"]):
        raise NotFound("no such session")
    if completed and session["ends_on"] > _today(now):
        raise Conflict("completion is recorded once the session has ended",
                       reason="session-not-ended")
    guard = person(cur, id_number=id_number, name=name, now=now)
    repo.upsert_attendance(cur, {
        "session_id": session_id, "guard_id": guard["id"], "completed": completed,
        "certificate_no": certificate_no, "recorded_by": actor.label, "recorded_at": now})
    audit.record(cur, actor=actor, action="training.attendance", target_type="guard",
                 target_id=int(guard["id"]), data={"session_id": session_id,
                                                   "completed": completed}, now=now)
    return {"session_id": session_id, "guard_id": guard["id"], "completed": completed}


def courses(cur: Cursor) -> list[dict[str, Any]]:
    return repo.courses(cur)


def sessions(cur: Cursor, *, principal: Principal, company_id: int | None,
             limit: int) -> list[dict[str, Any]]:
    """Training sessions, newest first; a training unit sees its own whatever it asks."""
    if principal.role is Role.TRAINING_UNIT:
        company_id = principal.company_id
    return repo.sessions(cur, company_id=company_id, limit=limit)


def training_of(cur: Cursor, guard_id: int) -> list[dict[str, Any]]:
    """The guard's training record (the archive's training section)."""
    return repo.training_of(cur, guard_id)


def evaluations_of(cur: Cursor, guard_id: int) -> list[dict[str, Any]]:
    """The guard's level history: every evaluation, in order."""
    return repo.evaluations_of(cur, guard_id)


@dataclass(frozen=True)
class RotationDue:
    months: int  # the supervision policy's rotation period
    guards: list[dict[str, Any]]


def rotation_due(cur: Cursor, *, now: dt.datetime, company_id: int | None,
                 district: str | None) -> RotationDue:
    """Guards whose rotation training is due under the current supervision policy."""
    _, policy = annual_reports.policy(cur)
    months = policy.rotation_training_months
    return RotationDue(months, repo.rotation_due(cur, today=_today(now), months=months,
                                                 company_id=company_id, district=district))


@dataclass(frozen=True)
class Evaluated:
    evaluation: dict[str, Any]
    guard_id: int
    level_changed: bool


def evaluate(cur: Cursor, *, actor: Actor, principal: Principal, now: dt.datetime,
             id_number: str, name: str, kind: str, passed: bool, level: int | None,
             evidence: str, evaluated_on: dt.date) -> Evaluated:
    """Record an evaluation; a pass with ``level`` moves the guard's level (one step for
    an exam or appraisal, any number for a competition; never down by an evaluation)."""
    if principal.role not in (Role.SKILL_ASSESSOR, Role.REGULATOR):
        raise Forbidden("skill evaluations are recorded by assessors and the regulator")
    if kind not in EVALUATION_KINDS:
        raise InvalidInput(f"kind is one of {', '.join(EVALUATION_KINDS)}", field="kind")
    if evaluated_on > _today(now):
        raise InvalidInput("the evaluation date is in the future", field="evaluated_on")
    guard = person(cur, id_number=id_number, name=name, now=now)
    guard_id = int(guard["id"])
    repository.get_guard(cur, guard_id, for_update=True)
    before = int(guard["skill_level"])
    after = before
    if passed and level is not None:
        if not 1 <= level <= 5:
            raise InvalidInput("levels run from 5 (entry) to 1 (highest)", field="level")
        if level > before:
            raise InvalidInput("an evaluation does not lower a level", field="level")
        if kind != "competition" and before - level > 1:
            raise InvalidInput("an exam or appraisal promotes by one level at a time",
                               field="level")
        after = level
    elif level is not None and not passed:
        raise InvalidInput("a failed evaluation awards no level", field="level")
    row = repo.insert_evaluation(cur, {
        "guard_id": guard_id, "kind": kind, "passed": passed, "level_before": before,
        "level_after": after, "evidence": evidence, "evaluated_on": evaluated_on,
        "recorded_by": actor.label, "recorded_at": now})
    if after != before:
        repository.update_guard(cur, guard_id, {"skill_level": after})
    audit.record(cur, actor=actor, action="guard.skill_evaluation", target_type="guard",
                 target_id=guard_id, data={"kind": kind, "passed": passed,
                                           "level_before": before, "level_after": after},
                 now=now)
    return Evaluated(row, guard_id, after != before)
