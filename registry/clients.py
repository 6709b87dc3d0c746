"""Clients, contracts and deployments (notice §3), with the credit rules that bite (§12).

A contract is a service project (registry_service_project) with a client, so the rules
of service projects apply to it (licence, black list, D/E grades, service scope, grade
per kind of work); on top of them the client's kind adds its own, with numbers from the
supervision policy: a large event needs a company whose grade fits its expected
attendance; key units, schools, hospitals and banks prefer (or, by policy, require)
high-grade companies; a self-recruiting unit serves only its own premises. An
entertainment venue is covered only with a contract in force and one deployed guard per
``venue_m2_per_guard`` of floor area (the coverage report says who is not).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from registry import annual_reports, audit, holds_repository, regulation, repository
from registry import clients_repository as repo
from registry.annual_reports import CLIENT_KINDS, SupervisionPolicy
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotEligible, NotFound


@dataclass(frozen=True)
class ClientIn:
    name: str
    kind: str
    district: str
    floor_area_m2: int | None = None
    expected_attendance: int | None = None
    event_on: dt.date | None = None
    own_company_id: int | None = None


def create_client(cur: Cursor, *, actor: Actor, now: dt.datetime, client: ClientIn
                  ) -> dict[str, Any]:
    if client.kind not in CLIENT_KINDS:
        raise InvalidInput(f"unknown client kind {client.kind!r}", field="kind")
    if client.kind == "entertainment_venue" and client.floor_area_m2 is None:
        raise InvalidInput("an entertainment venue gives its floor area",
                           field="floor_area_m2")
    if client.kind == "large_event" and client.expected_attendance is None:
        raise InvalidInput("a large event gives its expected attendance",
                           field="expected_attendance")
    if client.own_company_id is not None:
        owner = repository.get_company(cur, client.own_company_id)
        if owner is None:
            raise NotFound("no such company")
        if owner["kind"] != "self_recruiting":
            raise InvalidInput("own_company_id names a self-recruiting unit guarding its own "
                               "premises", field="own_company_id")
    row = repo.insert_client(cur, {
        "name": client.name.strip(), "kind": client.kind, "district": client.district.strip(),
        "floor_area_m2": client.floor_area_m2,
        "expected_attendance": client.expected_attendance, "event_on": client.event_on,
        "own_company_id": client.own_company_id, "created_by": actor.label,
        "created_at": now})
    audit.record(cur, actor=actor, action="client.create", target_type="client",
                 target_id=row["id"], data={"kind": client.kind}, now=now)
    return row


def _worse(grade: str, lowest: str) -> bool:
    """True when ``grade`` is below ``lowest`` (A is the best grade)."""
    return grade > lowest


def contract_checks(company: dict[str, Any], client: dict[str, Any],
                    pol: SupervisionPolicy) -> list[str]:
    """The client-kind rules; raises on a refusal, returns warnings."""
    grade = str(company["credit_grade"])
    if company["kind"] == "self_recruiting" and client["own_company_id"] != company["id"]:
        raise NotEligible("a self-recruiting security unit may not serve outside clients",
                          reason="self-recruiting-outside-client")
    if company["kind"] == "training":
        raise NotEligible("a training company does not provide security services",
                          reason="company-kind")
    warnings: list[str] = []
    if client["kind"] == "large_event":
        attendance = int(client["expected_attendance"])
        lowest = pol.event_grade(attendance)
        if lowest is not None and _worse(grade, lowest):
            raise NotEligible(f"an event of {attendance} people needs a company of credit "
                              f"grade {lowest} or better (this one is {grade})",
                              reason="grade-too-low-for-event", needed=lowest, grade=grade)
    if client["kind"] in pol.high_grade_client_kinds and _worse(grade, pol.high_grade_lowest):
        message = (f"{client['kind']} clients {'need' if pol.high_grade_required else 'prefer'}"
                   f" a company of credit grade {pol.high_grade_lowest} or better (this one is "
                   f"{grade})")
        if pol.high_grade_required:
            raise NotEligible(message, reason="high-grade-required", needed=pol.high_grade_lowest,
                              grade=grade)
        warnings.append(message)
    return warnings


def list_clients(cur: Cursor, *, district: str | None, kind: str | None, after_id: int,
                 limit: int) -> list[dict[str, Any]]:
    return repo.list_clients(cur, district=district, kind=kind, after_id=after_id,
                             limit=limit)


def sign_contract(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                  client_id: int, service_name: str, name: str, starts_on: dt.date,
                  ends_on: dt.date | None) -> dict[str, Any]:
    company = repository.get_company(cur, company_id, for_update=True)
    if company is None:
        raise NotFound("no such company")
    client = repo.get_client(cur, client_id)
    if client is None:
        raise NotFound("no such client")
    _, pol = annual_reports.policy(cur)
    warnings = contract_checks(company, client, pol)
    row = regulation.register_service_project(
        cur, actor=actor, now=now, company_id=company_id, name=name,
        service_name=service_name, client=str(client["name"]), starts_on=starts_on,
        ends_on=ends_on, client_id=client_id)
    row["warnings"] = warnings
    return row


def deploy(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int, project_id: int,
           guard_id: int, post: str, starts_on: dt.date) -> dict[str, Any]:
    project = repo.get_project(cur, project_id, for_update=True)
    if project is None or project["company_id"] != company_id:
        raise NotFound("no such contract")
    if project["ends_on"] is not None and project["ends_on"] < starts_on:
        raise InvalidInput("the contract ends before this deployment starts",
                           field="starts_on")
    guard = repository.get_guard(cur, guard_id, for_update=True)
    if guard is None or guard["company_id"] != company_id:
        raise NotFound("no such guard")
    if holds_repository.pending_for_guard(cur, guard_id) is not None:
        raise NotEligible("the guard's enrollment awaits the regulator's approval",
                          reason="enrollment-held")
    decision = regulation.may_perform(cur, guard=guard, service_name=str(project["service"]),
                                      now=now)
    if not decision.allowed:
        raise NotEligible("the guard may not perform " + str(project["service"]) + ": "
                          + "; ".join(decision.reasons), reason="not-qualified")
    if repo.active_deployment_of(cur, guard_id) is not None:
        raise Conflict("the guard is already deployed to a post; end that deployment first",
                       reason="already-deployed")
    row = repo.insert_deployment(cur, {
        "project_id": project_id, "guard_id": guard_id, "post": post.strip(),
        "starts_on": starts_on, "created_by": actor.label, "created_at": now})
    audit.record(cur, actor=actor, action="guard.deploy", target_type="guard",
                 target_id=guard_id, data={"deployment_id": row["id"],
                                           "project_id": project_id}, now=now)
    return row


def deployments(cur: Cursor, *, company_id: int, active_only: bool
                ) -> list[dict[str, Any]]:
    """The company's deployments (only those not ended, with ``active_only``)."""
    return repo.deployments_of_company(cur, company_id, active_only=active_only)


def end_deployment(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                   deployment_id: int) -> dict[str, Any]:
    row = repo.get_deployment(cur, deployment_id, for_update=True)
    if row is None or row["company_id"] != company_id:
        raise NotFound("no such deployment")
    if not repo.end_deployment(cur, deployment_id, now.date()):
        raise Conflict("the deployment has already ended", reason="already-ended")
    audit.record(cur, actor=actor, action="guard.deployment_end", target_type="guard",
                 target_id=row["guard_id"], data={"deployment_id": deployment_id}, now=now)
    done = repo.get_deployment(cur, deployment_id)
    assert done is not None
    return done


def required_guards(client: dict[str, Any], pol: SupervisionPolicy) -> int:
    if client["kind"] == "entertainment_venue":
        return max(1, math.ceil(int(client["floor_area_m2"]) / pol.venue_m2_per_guard))
    return 1


def coverage(cur: Cursor, *, now: dt.datetime, district: str | None = None,
             kind: str | None = None) -> dict[str, Any]:
    """Which clients are covered (a contract in force and enough deployed guards), by
    district and client kind, and the uncovered ones with the reason."""
    _, pol = annual_reports.policy(cur)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    uncovered: list[dict[str, Any]] = []
    for row in repo.coverage_rows(cur, today=now.date(), district=district, kind=kind):
        need = required_guards(row, pol)
        deployed = int(row["deployed"])
        reason = None
        if int(row["contracts"]) == 0:
            reason = "no-contract"
        elif deployed < need:
            reason = "no-deployed-guards" if deployed == 0 else "too-few-guards"
        group = groups.setdefault((row["district"], row["kind"]), {
            "district": row["district"], "kind": row["kind"], "clients": 0, "covered": 0,
            "uncovered": 0})
        group["clients"] += 1
        group["covered" if reason is None else "uncovered"] += 1
        if reason is not None:
            uncovered.append({"client_id": row["id"], "name": row["name"],
                              "kind": row["kind"], "district": row["district"],
                              "reason": reason, "required_guards": need,
                              "deployed_guards": deployed,
                              "company_ids": sorted(int(c) for c in row["company_ids"])})
    return {"as_of": now.date(), "venue_m2_per_guard": pol.venue_m2_per_guard,
            "groups": list(groups.values()), "uncovered": uncovered}
