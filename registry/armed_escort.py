"""Armed-escort companies (notice §3): the firearm register (serials, custody,
inspections), ammunition ledger, vault records, emergency drills and scheduled
psychological assessments with overdue alerts.

Only a company holding the armed-escort endorsement keeps these records. A firearm is
issued only to an active guard of the same company who may perform ``armed-escort``
(firearm licence, recent assessment, skill level: registry/regulation.py); the
ammunition balance may never go negative. The daily job
``supervision.psych-assessments`` raises one open alert per guard whose assessment is
older than the policy's ``psych_assessment_interval_days`` (or missing) and resolves it
once a new assessment is recorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry import annual_reports, audit, regulation, repository
from registry import armed_escort_repository as repo
from registry.audit import SYSTEM, Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotEligible, NotFound
from registry.inspections import GRADE_WEIGHTS

FIREARM_EVENTS = ("issue", "return", "inspection", "repair", "retire")
ALERT_PSYCH = "psych-assessment-overdue"


def _armed_company(cur: Cursor, company_id: int, *, for_update: bool = False
                   ) -> dict[str, Any]:
    company = repository.get_company(cur, company_id, for_update=for_update)
    if company is None:
        raise NotFound("no such company")
    if not company["armed_escort"]:
        raise NotEligible("the company holds no armed-escort endorsement",
                          reason="no-armed-escort-endorsement")
    return company


def register_firearm(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                     serial: str, model: str) -> dict[str, Any]:
    _armed_company(cur, company_id, for_update=True)
    serial = serial.strip().upper()
    if repo.firearm_by_serial(cur, serial) is not None:
        raise Conflict("a firearm with this serial is already registered",
                       reason="duplicate-serial")
    row = repo.insert_firearm(cur, {"company_id": company_id, "serial": serial,
                                    "model": model.strip(), "created_by": actor.label,
                                    "created_at": now})
    audit.record(cur, actor=actor, action="firearm.register", target_type="company",
                 target_id=company_id, data={"firearm_id": row["id"], "serial": serial},
                 now=now)
    return row


_NEXT = {"issue": ("vault",), "return": ("issued",), "repair": ("vault",),
         "retire": ("vault", "repair"), "inspection": ("vault", "issued", "repair")}


def firearm_event(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                  firearm_id: int, kind: str, guard_id: int | None,
                  detail: str | None) -> dict[str, Any]:
    if kind not in FIREARM_EVENTS:
        raise InvalidInput(f"unknown firearm event {kind!r}", field="kind")
    firearm = repo.get_firearm(cur, firearm_id, for_update=True)
    if firearm is None or firearm["company_id"] != company_id:
        raise NotFound("no such firearm")
    if firearm["status"] not in _NEXT[kind]:
        raise Conflict(f"a firearm that is {firearm['status']} cannot take '{kind}'",
                       reason="firearm-state")
    changes: dict[str, Any] = {}
    if kind == "issue":
        if guard_id is None:
            raise InvalidInput("issuing names the guard who takes custody", field="guard_id")
        guard = repository.get_guard(cur, guard_id)
        if guard is None or guard["company_id"] != company_id:
            raise NotFound("no such guard")
        decision = regulation.may_perform(cur, guard=guard, service_name="armed-escort",
                                          now=now)
        if not decision.allowed:
            raise NotEligible("the guard may not carry a firearm: "
                              + "; ".join(decision.reasons), reason="not-qualified")
        changes = {"status": "issued", "custodian_guard_id": guard_id}
    elif kind == "return":
        guard_id = firearm["custodian_guard_id"]
        changes = {"status": "vault", "custodian_guard_id": None}
    elif kind == "repair":
        changes = {"status": "repair"}
    elif kind == "retire":
        changes = {"status": "retired"}
    else:
        if not detail:
            raise InvalidInput("an inspection records what was found", field="detail")
        changes = {"last_inspected_on": now.date()}
        if firearm["status"] == "repair":
            changes["status"] = "vault"  # inspected after repair: back in the vault
    repo.update_firearm(cur, firearm_id, changes)
    event = repo.insert_firearm_event(cur, {
        "firearm_id": firearm_id, "kind": kind, "guard_id": guard_id, "detail": detail,
        "occurred_at": now, "recorded_by": actor.label})
    audit.record(cur, actor=actor, action=f"firearm.{kind}", target_type="company",
                 target_id=company_id, data={"firearm_id": firearm_id, "guard_id": guard_id},
                 now=now)
    return event


def ammunition(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
               calibre: str, delta: int, reason: str) -> dict[str, Any]:
    _armed_company(cur, company_id)
    if delta == 0:
        raise InvalidInput("delta must not be 0", field="delta")
    calibre = calibre.strip()
    repo.lock_ammunition(cur, company_id)
    balance = sum(int(r["rounds"]) for r in repo.ammunition_balance(cur, company_id, calibre))
    if balance + delta < 0:
        raise Conflict(f"only {balance} rounds of {calibre} on record",
                       reason="ammunition-balance")
    repo.insert_ammunition(cur, {"company_id": company_id, "calibre": calibre, "delta": delta,
                                 "reason": reason, "occurred_at": now,
                                 "recorded_by": actor.label})
    audit.record(cur, actor=actor, action="ammunition.entry", target_type="company",
                 target_id=company_id, data={"calibre": calibre, "delta": delta}, now=now)
    return {"calibre": calibre, "rounds": balance + delta}


def vault_record(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                 vault: str, kind: str, detail: str) -> dict[str, Any]:
    _armed_company(cur, company_id)
    row = repo.insert_vault_record(cur, {"company_id": company_id, "vault": vault.strip(),
                                         "kind": kind, "detail": detail, "occurred_at": now,
                                         "recorded_by": actor.label})
    audit.record(cur, actor=actor, action="vault.record", target_type="company",
                 target_id=company_id, data={"record_id": row["id"], "kind": kind}, now=now)
    return row


def drill(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
          held_on: dt.date, scenario: str, participants: int,
          notes: str | None) -> dict[str, Any]:
    _armed_company(cur, company_id)
    if held_on > now.date():
        raise InvalidInput("the drill date is in the future", field="held_on")
    row = repo.insert_drill(cur, {"company_id": company_id, "held_on": held_on,
                                  "scenario": scenario, "participants": participants,
                                  "notes": notes, "recorded_by": actor.label,
                                  "created_at": now})
    audit.record(cur, actor=actor, action="drill.record", target_type="company",
                 target_id=company_id, data={"drill_id": row["id"]}, now=now)
    return row


def summary(cur: Cursor, *, company_id: int) -> dict[str, Any]:
    _armed_company(cur, company_id)
    firearms = repo.firearms_of(cur, company_id)
    return {"company_id": company_id, "firearms": firearms,
            "ammunition": repo.ammunition_balance(cur, company_id),
            "vault_records": repo.vault_records(cur, company_id, 50),
            "drills": repo.drills(cur, company_id, 20),
            "alerts": repo.open_alerts(cur, ALERT_PSYCH, company_id)}


def psych_alerts(cur: Cursor, *, now: dt.datetime, actor: Actor = SYSTEM) -> dict[str, Any]:
    """Raise an alert per overdue assessment, resolve the ones no longer overdue (the
    job ``supervision.psych-assessments``)."""
    _, pol = annual_reports.policy(cur)
    due = repo.psych_due(cur, today=now.date(), interval_days=pol.psych_assessment_interval_days)
    overdue = {(int(r["company_id"]), int(r["guard_id"])): r for r in due}
    raised = resolved = 0
    for alert in repo.open_alerts(cur, ALERT_PSYCH):
        if (int(alert["company_id"]), int(alert["guard_id"] or 0)) not in overdue:
            repo.resolve_alert(cur, int(alert["id"]), now)
            resolved += 1
    for (company_id, guard_id), row in overdue.items():
        last = row["last_assessed"]
        detail = ("no psychological assessment on record" if last is None else
                  f"last psychological assessment {last.isoformat()}, older than "
                  f"{pol.psych_assessment_interval_days} days")
        raised += repo.raise_alert(cur, {"kind": ALERT_PSYCH, "company_id": company_id,
                                         "guard_id": guard_id, "detail": detail,
                                         "raised_at": now})
    if raised or resolved:
        audit.record(cur, actor=actor, action="supervision.psych_alerts",
                     target_type="policy", target_id=None,
                     data={"raised": raised, "resolved": resolved}, now=now)
    return {"overdue": len(overdue), "raised": raised, "resolved": resolved}


def open_psych_alerts(cur: Cursor) -> list[dict[str, Any]]:
    """Every open overdue-assessment alert, of every company."""
    return repo.open_alerts(cur, ALERT_PSYCH)


def inspection_candidates(cur: Cursor) -> list[dict[str, Any]]:
    """Armed-escort companies as an inspection plan's candidates, weighted by credit
    grade as the plan's default is (registry/inspections.py)."""
    return [{"company_id": r["id"], "name": r["name"], "district": r["district"],
             "credit_grade": r["credit_grade"],
             "weight": GRADE_WEIGHTS[str(r["credit_grade"])]}
            for r in repo.armed_escort_companies(cur)]
