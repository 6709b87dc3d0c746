"""Regulator workflows of the municipal notice: lists, credit grades, service projects,
skill-level service scopes, qualifications and the company licence lifecycle."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from registry import audit, repository, service
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotEligible, NotFound

LISTS = ("red", "black", "abnormal")
CREDIT_START = 1000
CREDIT_KINDS = ("violation", "commendation", "late-filing", "complaint", "inspection-pass",
                "training", "other")
CREDIT_BLOCKS_PROJECTS = ("D", "E")


def grade_for(total: int) -> str:
    """Tianjin security-industry credit grades from the year's points total."""
    if total >= 950:
        return "A"
    if total >= 850:
        return "B"
    if total >= 700:
        return "C"
    if total >= 600:
        return "D"
    return "E"


# -- lists ---------------------------------------------------------------------------------
def put_on_list(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int, lst: str,
                reason: str) -> dict[str, Any]:
    if lst not in LISTS:
        raise InvalidInput(f"unknown list {lst!r}", field="list")
    if repository.get_company(cur, company_id, for_update=True) is None:
        raise NotFound("no such company")
    if repository.open_list_entry(cur, company_id, lst) is not None:
        raise Conflict(f"the company is already on the {lst} list", reason="already-listed")
    entry = repository.insert_list_entry(cur, company_id, lst, reason, now.date(), actor.label)
    service.update_company(cur, actor=actor, now=now, company_id=company_id,
                           changes={repository.LIST_FLAGS[lst]: True}, action="company.list_add")
    return entry


def remove_from_list(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int, lst: str,
                     reason: str) -> dict[str, Any]:
    if lst not in LISTS:
        raise InvalidInput(f"unknown list {lst!r}", field="list")
    entry = repository.open_list_entry(cur, company_id, lst)
    if entry is None:
        raise NotFound(f"the company is not on the {lst} list")
    repository.close_list_entry(cur, entry["id"], now.date(), actor.label, reason)
    service.update_company(cur, actor=actor, now=now, company_id=company_id,
                           changes={repository.LIST_FLAGS[lst]: False},
                           action="company.list_remove")
    return {"list": lst, "removed_on": now.date(), "reason": reason}


def list_history(cur: Cursor, company_id: int) -> list[dict[str, Any]]:
    """Every list entry of the company, current and removed."""
    return repository.list_entries(cur, company_id)


# -- credit ----------------------------------------------------------------------------------
def _refresh_grade(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int) -> str:
    grade = grade_for(repository.credit_total(cur, company_id, now.year))
    service.update_company(cur, actor=actor, now=now, company_id=company_id,
                           changes={"credit_grade": grade}, action="company.credit_grade")
    return grade


def add_credit_event(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                     points: int, kind: str, reason: str, evidence: str | None,
                     occurred_on: dt.date) -> dict[str, Any]:
    if kind not in CREDIT_KINDS:
        raise InvalidInput(f"unknown credit event kind {kind!r}", field="kind")
    if points == 0:
        raise InvalidInput("points must not be 0", field="points")
    if occurred_on > now.date():
        raise InvalidInput("the event date is in the future", field="occurred_on")
    if repository.get_company(cur, company_id, for_update=True) is None:
        raise NotFound("no such company")
    entry = repository.insert_credit_entry(cur, {
        "company_id": company_id, "year": occurred_on.year, "points": points, "kind": kind,
        "reason": reason, "evidence": evidence, "occurred_on": occurred_on,
        "created_by": actor.label})
    audit.record(cur, actor=actor, action="credit.entry", target_type="company",
                 target_id=company_id, data={"entry_id": entry["id"], "points": points,
                                             "kind": kind}, now=now)
    entry["grade"] = _refresh_grade(cur, actor=actor, now=now, company_id=company_id)
    return entry


def object_to_entry(cur: Cursor, *, actor: Actor, now: dt.datetime, entry_id: int,
                    company_id: int | None, reason: str) -> dict[str, Any]:
    entry = repository.get_credit_entry(cur, entry_id, for_update=True)
    if entry is None or (company_id is not None and entry["company_id"] != company_id):
        raise NotFound("no such credit entry")
    if not repository.set_dispute(cur, entry_id, dispute="pending", from_states=("none",),
                                  by=actor.label, reason=reason):
        raise Conflict("this entry was already disputed", reason="already-disputed")
    audit.record(cur, actor=actor, action="credit.objection", target_type="company",
                 target_id=entry["company_id"], data={"entry_id": entry_id}, now=now)
    _refresh_grade(cur, actor=actor, now=now, company_id=int(entry["company_id"]))
    result = repository.get_credit_entry(cur, entry_id)
    assert result is not None
    return result


def rule_on_objection(cur: Cursor, *, actor: Actor, now: dt.datetime, entry_id: int,
                      uphold: bool) -> dict[str, Any]:
    entry = repository.get_credit_entry(cur, entry_id, for_update=True)
    if entry is None:
        raise NotFound("no such credit entry")
    if not repository.set_dispute(cur, entry_id, dispute="upheld" if uphold else "dismissed",
                                  from_states=("pending",), by=actor.label, ruling=True):
        raise Conflict("there is no pending objection on this entry", reason="no-objection")
    audit.record(cur, actor=actor, action="credit.ruling", target_type="company",
                 target_id=entry["company_id"], data={"entry_id": entry_id, "upheld": uphold},
                 now=now)
    _refresh_grade(cur, actor=actor, now=now, company_id=int(entry["company_id"]))
    result = repository.get_credit_entry(cur, entry_id)
    assert result is not None
    return result


def credit_summary(cur: Cursor, company_id: int, year: int) -> dict[str, Any]:
    total = repository.credit_total(cur, company_id, year)
    return {"company_id": company_id, "year": year, "start": CREDIT_START, "total": total,
            "grade": grade_for(total), "entries": repository.credit_entries(cur, company_id,
                                                                             year)}


# -- service projects -------------------------------------------------------------------------
def register_service_project(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                             name: str, service_name: str, client: str, starts_on: dt.date,
                             ends_on: dt.date | None,
                             client_id: int | None = None) -> dict[str, Any]:
    company = repository.get_company(cur, company_id, for_update=True)
    if company is None:
        raise NotFound("no such company")
    if company["status"] != "active":
        raise NotEligible(f"the company's licence is {company['status']}",
                          reason="company-not-active")
    if company["credit_grade"] in CREDIT_BLOCKS_PROJECTS:
        raise NotEligible(f"credit grade {company['credit_grade']} companies cannot register "
                          "new service projects", reason="credit-grade")
    if company["black_list"]:
        raise NotEligible("black-listed companies cannot register new service projects",
                          reason="black-list")
    if ends_on is not None and ends_on < starts_on:
        raise InvalidInput("the project ends before it starts", field="ends_on")
    if service_name not in {p["service"] for p in repository.current_policy(cur)}:
        raise InvalidInput(f"unknown service {service_name!r}", field="service")
    if service_name == "armed-escort" and not company["armed_escort"]:
        raise NotEligible("the company holds no armed-escort endorsement",
                          reason="no-armed-escort-endorsement")
    from registry import annual_reports  # the policy's module imports this one

    lowest = annual_reports.policy(cur)[1].service_lowest_grade.get(service_name)
    if lowest is not None and company["credit_grade"] > lowest:
        raise NotEligible(f"{service_name} needs credit grade {lowest} or better (the company "
                          f"is {company['credit_grade']})", reason="credit-grade-for-service")
    row = repository.insert_service_project(cur, {
        "company_id": company_id, "name": name, "service": service_name, "client": client,
        "starts_on": starts_on, "ends_on": ends_on, "created_by": actor.label,
        "client_id": client_id})
    audit.record(cur, actor=actor, action="company.service_project", target_type="company",
                 target_id=company_id, data={"project_id": row["id"], "service": service_name},
                 now=now)
    return row


def service_projects(cur: Cursor, company_id: int) -> list[dict[str, Any]]:
    return repository.service_projects(cur, company_id)


# -- licence lifecycle -------------------------------------------------------------------------
LICENCE_TRANSITIONS = {"suspend": ("active", "suspended"), "revoke": (None, "revoked"),
                       "reinstate": ("suspended", "active")}


def change_licence(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int, op: str,
                   reason: str) -> dict[str, Any]:
    if op not in LICENCE_TRANSITIONS:
        raise InvalidInput(f"unknown licence operation {op!r}")
    company = repository.get_company(cur, company_id, for_update=True)
    if company is None:
        raise NotFound("no such company")
    required, target = LICENCE_TRANSITIONS[op]
    if company["status"] == "revoked":
        raise Conflict("the licence is revoked; a revoked licence is final",
                       reason="licence-revoked")
    if required is not None and company["status"] != required:
        raise Conflict(f"the licence is {company['status']}; cannot {op}",
                       reason="wrong-licence-status")
    return service.update_company(cur, actor=actor, now=now, company_id=company_id,
                                  changes={"status": target}, action=f"company.licence_{op}",
                                  reason=reason)


# -- service scopes ------------------------------------------------------------------------------
@dataclass
class ScopeDecision:
    service: str
    allowed: bool
    reasons: list[str] = field(default_factory=list)
    policy_version: int = 0


def _active(quals: list[dict[str, Any]], kind: str, today: dt.date,
            within: dt.timedelta | None = None) -> bool:
    for q in quals:
        if q["kind"] != kind or q["valid_from"] > today:
            continue
        if q["valid_until"] is not None and q["valid_until"] < today:
            continue
        if within is not None and today - q["valid_from"] > within:
            continue
        return True
    return False


def may_perform(cur: Cursor, *, guard: dict[str, Any], service_name: str, now: dt.datetime,
                policy: list[dict[str, Any]] | None = None,
                quals: list[dict[str, Any]] | None = None) -> ScopeDecision:
    policy = policy if policy is not None else repository.current_policy(cur)
    rule = next((p for p in policy if p["service"] == service_name), None)
    if rule is None:
        raise NotFound(f"unknown service {service_name!r}")
    decision = ScopeDecision(service_name, True, policy_version=int(rule["version"]))
    today = now.date()

    def refuse(msg: str) -> None:
        decision.allowed = False
        decision.reasons.append(msg)

    if guard["skill_level"] > rule["lowest_level"]:
        refuse(f"needs skill level {rule['lowest_level']} or higher (guard is level "
               f"{guard['skill_level']})")
    birth: dt.date = guard["birth_date"]
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    if rule["min_age"] and age < rule["min_age"]:
        refuse(f"needs age {rule['min_age']} or older (guard is {age})")
    if guard["company_id"] is None:
        refuse("no active employer")
    elif guard["company_status"] != "active":
        refuse(f"employer licence is {guard['company_status']}")
    quals = quals if quals is not None else repository.qualifications(cur, int(guard["id"]))
    requires = rule["requires"] or []
    if "firearm-licence" in requires and not _active(quals, "firearm-licence", today):
        refuse("no active firearm licence")
    if "psych-assessment-1y" in requires and not _active(quals, "psych-assessment", today,
                                                          within=dt.timedelta(days=365)):
        refuse("no psychological assessment within the last year")
    if "no-detention-or-record" in requires and (guard["administrative_detentions"] > 0
                                                 or guard["intentional_crime"]):
        refuse("has an administrative detention or criminal record")
    if "employer-armed-escort" in requires and guard["company_id"] is not None:
        endorsed = guard.get("company_armed_escort")
        if endorsed is None:
            company = repository.get_company(cur, int(guard["company_id"]))
            endorsed = bool(company and company["armed_escort"])
        if not endorsed:
            refuse("employer holds no armed-escort endorsement")
    return decision


def permitted_services(cur: Cursor, *, guard: dict[str, Any], now: dt.datetime,
                       policy: list[dict[str, Any]] | None = None,
                       quals: list[dict[str, Any]] | None = None) -> list[str]:
    policy = policy if policy is not None else repository.current_policy(cur)
    quals = quals if quals is not None else repository.qualifications(cur, int(guard["id"]))
    return [p["service"] for p in policy
            if may_perform(cur, guard=guard, service_name=p["service"], now=now, policy=policy,
                           quals=quals).allowed]


def service_policy(cur: Cursor) -> dict[str, Any]:
    """The policy in force: its version (0 before the first) and its services."""
    rows = repository.current_policy(cur)
    return {"version": rows[0]["version"] if rows else 0, "services": rows}


def policy_versions(cur: Cursor) -> list[dict[str, Any]]:
    """Every version of the policy, oldest first, with its size."""
    return repository.policy_versions(cur)


def set_policy(cur: Cursor, *, actor: Actor, now: dt.datetime,
               rows: list[dict[str, Any]]) -> int:
    names = [r["service"] for r in rows]
    if len(set(names)) != len(names) or not rows:
        raise InvalidInput("each service must appear exactly once")
    version = repository.insert_policy_version(cur, rows, actor.label)
    audit.record(cur, actor=actor, action="policy.service_scope", target_type="policy",
                 target_id=version, data={"services": names}, now=now)
    return version


def add_qualification(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int, kind: str,
                      reference: str | None, valid_from: dt.date,
                      valid_until: dt.date | None) -> dict[str, Any]:
    if repository.get_guard(cur, guard_id) is None:
        raise NotFound("no such guard")
    if valid_until is not None and valid_until < valid_from:
        raise InvalidInput("valid_until is before valid_from", field="valid_until")
    row = repository.insert_qualification(cur, {
        "guard_id": guard_id, "kind": kind, "reference": reference, "valid_from": valid_from,
        "valid_until": valid_until, "recorded_by": actor.label})
    audit.record(cur, actor=actor, action="guard.qualification", target_type="guard",
                 target_id=guard_id, data={"kind": kind}, now=now)
    return row


# -- public disclosure ------------------------------------------------------------------------
# What anyone may read about a company: its standing, never its people or addresses.
PUBLIC_COMPANY_FIELDS = ("name", "credit_code", "kind", "status", "credit_grade", "red_list",
                         "black_list", "abnormal_operations", "district", "licence_number")


def public_companies(cur: Cursor, *, query: str, limit: int = 50) -> list[dict[str, Any]]:
    """Companies by name part or exact credit code, with the public fields only."""
    return [{k: r[k] for k in PUBLIC_COMPANY_FIELDS}
            for r in repository.public_companies(cur, query=query, limit=limit)]
