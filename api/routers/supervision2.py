"""Supervision, second part (issue 16): credit consequences and the one review queue
(§12), clients, contracts and deployments (§3), armed-escort records (§3), labour rights
(§11), shared data for the association and partner agencies, signed procurement
statements, public red and black lists, credit export (§2 §12 §14), reserve force and
incident reports (§15 §16).

Parse -> one use case in registry/*.py -> view. Public routes carry no personal data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api import statements
from api.access import GuardRef, actor_of, company_for, guard_for, guard_id_in, public_guard_ids
from api.cursors import PageAt, page_cursor
from api.deps import clock, rate_limit_client, require, runtime
from api.schemas import GuardIdIn, Input
from api.usecases import reviews
from registry import (
    armed_escort,
    clients,
    holds,
    labour,
    reserve,
    shared_data,
)
from registry.annual_reports import CLIENT_KINDS
from registry.auth import Principal, Role
from registry.errors import NotFound

router = APIRouter(tags=["supervision"])
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
RegulatorOrCompany = Annotated[Principal, Depends(require(Role.REGULATOR,
                                                          Role.COMPANY_OPERATOR))]
GuardSelf = Annotated[Principal, Depends(require(Role.GUARD))]
Police = Annotated[Principal, Depends(require(Role.REGULATOR, Role.CHECKPOINT_OFFICER))]
SharedReader = Annotated[Principal, Depends(require(
    Role.REGULATOR, Role.ASSOCIATION, Role.MARKET_REGULATION, Role.HUMAN_RESOURCES,
    Role.TAX))]
Exporter = Annotated[Principal, Depends(require(Role.REGULATOR, Role.ASSOCIATION,
                                                Role.MARKET_REGULATION))]
Id = Annotated[int, Path(ge=1, le=2**62)]
Now = Annotated[dt.datetime, Depends(clock)]
Limit = Annotated[int, Query(ge=1, le=500)]
_KIND = "^(" + "|".join(CLIENT_KINDS) + ")$"
Text = Annotated[str, Field(min_length=1, max_length=200)]


# -- the one review queue and enrollment holds (§12) ---------------------------------------
class ReviewItemOut(BaseModel):
    kind: str = Field(description="biometric-face, biometric-finger or enrollment-hold")
    id: int
    guard_id: str
    company_id: int | None
    status: str
    created_at: dt.datetime
    banned_match: bool
    reason: str | None
    decide_url: str


class ReviewQueueOut(BaseModel):
    items: list[ReviewItemOut]


class HoldDecisionIn(Input):
    approve: bool
    note: str | None = Field(default=None, max_length=2000)


class HoldOut(BaseModel):
    id: int
    guard_id: str
    company_id: int
    reason: str
    status: str
    decided_at: dt.datetime | None
    decision_note: str | None
    created_at: dt.datetime


def _decide_url(kind: str, item_id: int) -> str:
    if kind == "enrollment-hold":
        return f"/v1/enrollment-holds/{item_id}/decision"
    return f"/v1/biometrics/reviews/{item_id}/decision"


@router.get("/v1/reviews", response_model=ReviewQueueOut,
            summary="Every hold waiting for the regulator: biometric duplicates and "
                    "black-listed employers' enrollments, oldest first (regulator)")
@public_guard_ids
def review_queue(request: Request, principal: Regulator, limit: Limit = 100,
                 status: Annotated[str, Query(pattern="^(pending|approved|rejected)$")]
                 = "pending") -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = reviews.review_queue(cur, status=status, limit=limit)
    return {"items": [{**r, "decide_url": _decide_url(r["kind"], int(r["id"]))}
                      for r in rows]}


@router.post("/v1/enrollment-holds/{hold_id}/decision", response_model=HoldOut,
             summary="Approve or refuse a held enrollment; a refusal ends the employment "
                     "(regulator)")
@public_guard_ids
def decide_hold(hold_id: Id, body: HoldDecisionIn, request: Request, principal: Regulator,
                now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return holds.decide(cur, actor=actor_of(principal), now=now, hold_id=hold_id,
                            approve=body.approve, note=body.note)


# -- clients, contracts, deployments, coverage (§3) ------------------------------------------
class ClientIn(Input):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(pattern=_KIND)
    district: str = Field(min_length=1, max_length=64)
    floor_area_m2: int | None = Field(default=None, ge=1, le=10_000_000,
                                      description="entertainment venues: required")
    expected_attendance: int | None = Field(default=None, ge=1, le=10_000_000,
                                            description="large events: required")
    event_on: dt.date | None = None
    own_company_id: int | None = Field(
        default=None, ge=1, le=2**62,
        description="the self-recruiting unit whose own premises this is")


class ClientOut(BaseModel):
    id: int
    name: str
    kind: str
    district: str
    floor_area_m2: int | None
    expected_attendance: int | None
    event_on: dt.date | None
    own_company_id: int | None
    created_at: dt.datetime


class ClientsOut(BaseModel):
    items: list[ClientOut]
    next_cursor: str | None


class ContractIn(Input):
    client_id: int = Field(ge=1, le=2**62)
    service: str = Field(min_length=1, max_length=60)
    name: str = Field(min_length=1, max_length=200)
    starts_on: dt.date
    ends_on: dt.date | None = None


class ContractOut(BaseModel):
    id: int
    company_id: int
    client_id: int | None
    name: str
    service: str
    client: str
    starts_on: dt.date
    ends_on: dt.date | None
    warnings: list[str]


class DeploymentIn(Input):
    project_id: int = Field(ge=1, le=2**62, description="the contract (service project)")
    guard_id: GuardIdIn
    post: str = Field(min_length=1, max_length=200)
    starts_on: dt.date


class DeploymentOut(BaseModel):
    id: int
    project_id: int
    guard_id: str
    post: str
    starts_on: dt.date
    ended_on: dt.date | None


class DeploymentsOut(BaseModel):
    items: list[DeploymentOut]


class CoverageGroupOut(BaseModel):
    district: str
    kind: str
    clients: int
    covered: int
    uncovered: int


class UncoveredOut(BaseModel):
    client_id: int
    name: str
    kind: str
    district: str
    reason: str = Field(description="no-contract, no-deployed-guards or too-few-guards")
    required_guards: int
    deployed_guards: int
    company_ids: list[int]


class CoverageOut(BaseModel):
    as_of: dt.date
    venue_m2_per_guard: int
    groups: list[CoverageGroupOut]
    uncovered: list[UncoveredOut]


@router.post("/v1/clients", status_code=201, response_model=ClientOut,
             summary="Register a client: school, hospital, bank, venue, event, key unit...")
@public_guard_ids
def create_client(body: ClientIn, request: Request, principal: RegulatorOrCompany,
                  now: Now) -> dict[str, Any]:
    if (principal.role is Role.COMPANY_OPERATOR and body.own_company_id is not None
            and body.own_company_id != principal.company_id):
        raise NotFound("no such company")
    with runtime(request).db.transaction() as cur:
        return clients.create_client(cur, actor=actor_of(principal), now=now,
                                     client=clients.ClientIn(**body.model_dump()))


@router.get("/v1/clients", response_model=ClientsOut, summary="Clients (regulator)")
@public_guard_ids
def list_clients(request: Request, principal: Regulator,
                 cursor: Annotated[PageAt, page_cursor("clients")], limit: Limit = 100,
                 district: Annotated[str | None, Query(max_length=64)] = None,
                 kind: Annotated[str | None, Query(pattern=_KIND)] = None) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = clients.list_clients(cur, district=district, kind=kind, after_id=cursor.last,
                                    limit=limit)
    return {"items": rows, "next_cursor": cursor.next_of(rows, limit)}


@router.post("/v1/companies/{company_id}/contracts", status_code=201,
             response_model=ContractOut,
             summary="A contract with a client (a service project with the client's rules)")
@public_guard_ids
def sign_contract(company_id: Id, body: ContractIn, request: Request,
                  principal: RegulatorOrCompany, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        return clients.sign_contract(cur, actor=actor_of(principal), now=now,
                                     company_id=company_id, client_id=body.client_id,
                                     service_name=body.service, name=body.name,
                                     starts_on=body.starts_on, ends_on=body.ends_on)


@router.post("/v1/companies/{company_id}/deployments", status_code=201,
             response_model=DeploymentOut, summary="Deploy one of the company's guards to a "
                                                   "post under one of its contracts")
@public_guard_ids
def deploy(company_id: Id, body: DeploymentIn, request: Request,
           principal: RegulatorOrCompany, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        return clients.deploy(cur, actor=actor_of(principal), now=now, company_id=company_id,
                              project_id=body.project_id,
                              guard_id=guard_id_in(cur, body.guard_id),
                              post=body.post, starts_on=body.starts_on)


@router.get("/v1/companies/{company_id}/deployments", response_model=DeploymentsOut,
            summary="The company's deployments")
@public_guard_ids
def list_deployments(company_id: Id, request: Request, principal: RegulatorOrCompany,
                     active: bool = True) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return {"items": clients.deployments(cur, company_id=company_id, active_only=active)}


@router.post("/v1/companies/{company_id}/deployments/{deployment_id}/end",
             response_model=DeploymentOut, summary="End a deployment")
@public_guard_ids
def end_deployment(company_id: Id, deployment_id: Id, request: Request,
                   principal: RegulatorOrCompany, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        return clients.end_deployment(cur, actor=actor_of(principal), now=now,
                                      company_id=company_id, deployment_id=deployment_id)


@router.get("/v1/coverage", response_model=CoverageOut,
            summary="Who guards which clients, by district and client kind; the uncovered "
                    "ones with the reason (regulator)")
@public_guard_ids
def coverage(request: Request, principal: Regulator, now: Now,
             district: Annotated[str | None, Query(max_length=64)] = None,
             kind: Annotated[str | None, Query(pattern=_KIND)] = None) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return clients.coverage(cur, now=now, district=district, kind=kind)


# -- armed-escort companies (§3) ---------------------------------------------------------
class FirearmIn(Input):
    serial: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-/]+$")
    model: str = Field(min_length=1, max_length=100)


class FirearmOut(BaseModel):
    id: int
    company_id: int
    serial: str
    model: str
    status: str
    custodian_guard_id: str | None
    last_inspected_on: dt.date | None


class FirearmEventIn(Input):
    kind: str = Field(pattern="^(issue|return|inspection|repair|retire)$")
    guard_id: GuardIdIn | None = None
    detail: str | None = Field(default=None, max_length=2000)


class FirearmEventOut(BaseModel):
    id: int
    firearm_id: int
    kind: str
    guard_id: str | None
    detail: str | None
    occurred_at: dt.datetime


class AmmunitionIn(Input):
    calibre: str = Field(min_length=1, max_length=40)
    delta: int = Field(ge=-1_000_000, le=1_000_000, description="rounds in (+) or out (-)")
    reason: str = Field(min_length=1, max_length=500)


class AmmunitionOut(BaseModel):
    calibre: str
    rounds: int


class VaultRecordIn(Input):
    vault: str = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(check|access|incident)$")
    detail: str = Field(min_length=1, max_length=2000)


class VaultRecordOut(BaseModel):
    id: int
    vault: str
    kind: str
    detail: str
    occurred_at: dt.datetime


class DrillIn(Input):
    held_on: dt.date
    scenario: str = Field(min_length=1, max_length=500)
    participants: int = Field(ge=1, le=100_000)
    notes: str | None = Field(default=None, max_length=2000)


class DrillOut(BaseModel):
    id: int
    held_on: dt.date
    scenario: str
    participants: int
    notes: str | None


class AlertOut(BaseModel):
    id: int
    kind: str
    company_id: int
    guard_id: str | None
    detail: str
    raised_at: dt.datetime


class ArmedEscortOut(BaseModel):
    company_id: int
    firearms: list[FirearmOut]
    ammunition: list[AmmunitionOut]
    vault_records: list[VaultRecordOut]
    drills: list[DrillOut]
    alerts: list[AlertOut]


class AlertsOut(BaseModel):
    items: list[AlertOut]


class CandidateOut(BaseModel):
    company_id: int
    weight: int
    name: str
    district: str
    credit_grade: str


class CandidatesOut(BaseModel):
    candidates: list[CandidateOut] = Field(
        description="pass company_id and weight as a plan's candidates")


@router.post("/v1/companies/{company_id}/firearms", status_code=201,
             response_model=FirearmOut, summary="Register a firearm (armed-escort company)")
@public_guard_ids
def register_firearm(company_id: Id, body: FirearmIn, request: Request,
                     principal: RegulatorOrCompany, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        return armed_escort.register_firearm(cur, actor=actor_of(principal), now=now,
                                             company_id=company_id, serial=body.serial,
                                             model=body.model)


@router.post("/v1/companies/{company_id}/firearms/{firearm_id}/events", status_code=201,
             response_model=FirearmEventOut,
             summary="Issue, return, inspect, repair or retire a firearm")
@public_guard_ids
def firearm_event(company_id: Id, firearm_id: Id, body: FirearmEventIn, request: Request,
                  principal: RegulatorOrCompany, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        return armed_escort.firearm_event(cur, actor=actor_of(principal), now=now,
                                          company_id=company_id, firearm_id=firearm_id,
                                          kind=body.kind,
                                          guard_id=(guard_id_in(cur, body.guard_id)
                                                    if body.guard_id is not None else None),
                                          detail=body.detail)


@router.post("/v1/companies/{company_id}/ammunition", response_model=AmmunitionOut,
             summary="Ammunition in or out; the balance never goes negative")
@public_guard_ids
def ammunition(company_id: Id, body: AmmunitionIn, request: Request,
               principal: RegulatorOrCompany, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        return armed_escort.ammunition(cur, actor=actor_of(principal), now=now,
                                       company_id=company_id, calibre=body.calibre,
                                       delta=body.delta, reason=body.reason)


@router.post("/v1/companies/{company_id}/vault-records", status_code=201,
             response_model=VaultRecordOut, summary="A vault check, access or incident")
@public_guard_ids
def vault_record(company_id: Id, body: VaultRecordIn, request: Request,
                 principal: RegulatorOrCompany, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        return armed_escort.vault_record(cur, actor=actor_of(principal), now=now,
                                         company_id=company_id, vault=body.vault,
                                         kind=body.kind, detail=body.detail)


@router.post("/v1/companies/{company_id}/drills", status_code=201, response_model=DrillOut,
             summary="An emergency drill held")
@public_guard_ids
def drill(company_id: Id, body: DrillIn, request: Request, principal: RegulatorOrCompany,
          now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        return armed_escort.drill(cur, actor=actor_of(principal), now=now,
                                  company_id=company_id, held_on=body.held_on,
                                  scenario=body.scenario, participants=body.participants,
                                  notes=body.notes)


@router.get("/v1/companies/{company_id}/armed-escort", response_model=ArmedEscortOut,
            summary="Firearms, ammunition, vault records, drills and overdue assessments")
@public_guard_ids
def armed_escort_summary(company_id: Id, request: Request, principal: RegulatorOrCompany
                         ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return armed_escort.summary(cur, company_id=company_id)


@router.get("/v1/armed-escort/candidates", response_model=CandidatesOut,
            summary="Armed-escort companies as an inspection plan's candidates (regulator)")
@public_guard_ids
def armed_escort_candidates(request: Request, principal: Regulator) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"candidates": armed_escort.inspection_candidates(cur)}


@router.get("/v1/supervision-alerts", response_model=AlertsOut,
            summary="Open supervision alerts (regulator)")
@public_guard_ids
def supervision_alerts(request: Request, principal: Regulator) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": armed_escort.open_psych_alerts(cur)}


# -- labour rights (§11) --------------------------------------------------------------------
class LabourIn(Input):
    labour_contract: str = Field(pattern="^(signed|none|unknown)$")
    contract_signed_on: dt.date | None = None
    social_insurance: str = Field(pattern="^(insured|none|unknown)$")
    insured_since: dt.date | None = None


class LabourOut(BaseModel):
    employment_id: int
    guard_id: str
    company_id: int
    started_on: dt.date
    labour_contract: str
    contract_signed_on: dt.date | None
    social_insurance: str
    insured_since: dt.date | None


class LabourGuardOut(BaseModel):
    guard_id: str
    name: str
    started_on: dt.date
    labour_contract: str
    social_insurance: str


class LabourReportOut(BaseModel):
    company_id: int
    headcount: int
    without_contract: int
    without_insurance: int
    guards: list[LabourGuardOut] = Field(description="active guards lacking either")


@router.put("/v1/guards/{guard_id}/labour", response_model=LabourOut,
            summary="Labour-contract and social-insurance status of the current employment")
@public_guard_ids
def set_labour(guard_id: GuardRef, body: LabourIn, request: Request, principal: RegulatorOrCompany,
               now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        guard_for(cur, principal, guard_id)
        return labour.set_status(cur, actor=actor_of(principal), now=now, guard_id=guard_id,
                                 status=labour.LabourStatus(**body.model_dump()))


@router.get("/v1/companies/{company_id}/labour-report", response_model=LabourReportOut,
            summary="Guards without a labour contract or social insurance")
@public_guard_ids
def labour_report(company_id: Id, request: Request, principal: RegulatorOrCompany
                  ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return labour.company_report(cur, company_id=company_id)


# -- shared data (§2 §12 §14) ----------------------------------------------------------------
class ListEntryOut(BaseModel):
    list: str
    reason: str
    added_on: dt.date


class TreatmentOut(BaseModel):
    level: str = Field(description="licence, strictest, restricted, watch, commended, normal")
    summary: str
    may_take_new_projects: bool
    enrollments_held: bool


class SharedCompanyOut(BaseModel):
    """Only the fields of the caller's allow-list are present (registry/shared_data.py)."""

    id: int
    credit_code: str | None = None
    name: str | None = None
    kind: str | None = None
    district: str | None = None
    status: str | None = None
    licence_number: str | None = None
    credit_grade: str | None = None
    credit_total: int | None = None
    red_list: bool | None = None
    black_list: bool | None = None
    abnormal_operations: bool | None = None
    lists: list[ListEntryOut] | None = None
    treatment: TreatmentOut | None = None
    headcount: int | None = None
    without_contract: int | None = None
    without_insurance: int | None = None


class SharedCompaniesOut(BaseModel):
    role: str
    fields: list[str]
    items: list[SharedCompanyOut]
    next_cursor: str | None


@router.get("/v1/shared/companies", response_model=SharedCompaniesOut,
            response_model_exclude_unset=True,
            summary="Companies as the association and partner agencies may read them "
                    "(field allow-list per role; no personal data)")
@public_guard_ids
def shared_companies(request: Request, principal: SharedReader, now: Now,
                     cursor: Annotated[PageAt, page_cursor("shared-companies")],
                     limit: Limit = 100,
                     district: Annotated[str | None, Query(max_length=64)] = None,
                     credit_code: Annotated[str | None, Query(max_length=18)] = None
                     ) -> dict[str, Any]:
    role = principal.role.value
    with runtime(request).db.transaction(readonly=True) as cur:
        items = shared_data.shared_companies(cur, role=role, now=now, after_id=cursor.last,
                                             limit=limit, district=district,
                                             credit_code=credit_code)
    return {"role": role, "fields": list(shared_data.SHARED_FIELDS[role]), "items": items,
            "next_cursor": cursor.next_of(items, limit)}


class ProcurementIn(Input):
    credit_codes: list[Annotated[str, Field(min_length=18, max_length=18)]] = Field(
        min_length=1, max_length=shared_data.MAX_BATCH)


class ProcurementItemOut(BaseModel):
    credit_code: str
    registered: bool
    name: str | None = None
    kind: str | None = None
    status: str | None = None
    credit_grade: str | None = None
    credit_total: int | None = None
    year: int | None = None
    red_list: bool | None = None
    black_list: bool | None = None
    abnormal_operations: bool | None = None
    treatment: TreatmentOut | None = None


class StatementOut(BaseModel):
    statement: str = Field(description="the signed text: keep it as evidence; check it "
                                       "with `guardreg statements verify`")
    issued_at: dt.datetime
    items: list[ProcurementItemOut]


class StatementKeyOut(BaseModel):
    kid: str
    alg: str
    spki: str = Field(description="base64 DER SubjectPublicKeyInfo")
    state: str


class StatementKeysOut(BaseModel):
    keys: list[StatementKeyOut]


@router.post("/v1/procurement/credit-statements", response_model=StatementOut,
             response_model_exclude_unset=True,
             summary="Credit standing of up to 100 companies by credit code, as a signed "
                     "statement usable as evidence (public)")
@public_guard_ids
def credit_statement(body: ProcurementIn, request: Request, now: Now) -> dict[str, Any]:
    rate_limit_client(request, "procurement")
    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        items = shared_data.procurement_items(cur, codes=body.credit_codes, now=now)
    assert rt.certs is not None
    text = statements.sign(issuer=rt.settings.issuer, now=now,
                           query=[i["credit_code"] for i in items], items=items,
                           signer=rt.certs.signer("statement"))
    return {"statement": text, "issued_at": now, "items": items}


@router.get("/v1/procurement/statement-keys", response_model=StatementKeysOut,
            summary="The public keys that sign credit statements (public)")
@public_guard_ids
def statement_keys(request: Request) -> dict[str, Any]:
    import base64

    rt = runtime(request)
    assert rt.certs is not None
    return {"keys": [{"kid": r.kid.hex(), "alg": r.alg, "state": r.state,
                      "spki": base64.b64encode(r.spki).decode()}
                     for r in rt.certs.keyring.list_keys("statement")]}


class PublicListEntryOut(BaseModel):
    company_id: int
    name: str
    credit_code: str
    district: str
    credit_grade: str
    reason: str
    added_on: dt.date


class PublicListOut(BaseModel):
    list_name: str
    items: list[PublicListEntryOut]
    next_cursor: str | None


@router.get("/v1/public/lists/{list_name}", response_model=PublicListOut,
            summary="The red or black list (public)")
@public_guard_ids
def public_list(list_name: Annotated[str, Path(pattern="^(red|black)$")], request: Request,
                cursor: Annotated[PageAt, page_cursor("public-list")],
                limit: Limit = 100) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = shared_data.public_list(cur, lst=list_name, after_id=cursor.last, limit=limit)
    return {"list_name": list_name, "items": rows, "next_cursor": cursor.next_of(rows, limit)}


class ExportRowOut(BaseModel):
    credit_code: str
    name: str
    kind: str
    district: str
    status: str
    credit_grade: str
    credit_total: int
    red_list: bool
    black_list: bool
    abnormal_operations: bool


class ExportOut(BaseModel):
    year: int
    items: list[ExportRowOut]


Year = Annotated[int | None, Query(ge=2000, le=2100)]


@router.get("/v1/credit-export.json", response_model=ExportOut,
            summary="Every company's credit data for a year, as JSON")
@public_guard_ids
def export_json(request: Request, principal: Exporter, now: Now, year: Year = None
                ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = shared_data.export_rows(cur, now=now, year=year)
    return {"year": year or now.year, "items": rows}


@router.get("/v1/credit-export.csv", response_class=Response,
            summary="Every company's credit data for a year, as CSV (cells that a "
                    "spreadsheet would run as a formula are escaped)",
            responses={200: {"content": {"text/csv": {}}}})
@public_guard_ids
def export_csv(request: Request, principal: Exporter, now: Now, year: Year = None
               ) -> Response:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = shared_data.export_rows(cur, now=now, year=year)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(shared_data.EXPORT_FIELDS)
    for row in rows:
        writer.writerow([shared_data.csv_cell(row[f]) for f in shared_data.EXPORT_FIELDS])
    return Response(out.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="credit-{year or now.year}.csv"',
                             "Cache-Control": "no-store"})


# -- reserve force and incident reports (§15 §16) ------------------------------------------
class ReserveMemberIn(Input):
    district: str = Field(min_length=1, max_length=64)
    skills: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=20)
    active: bool = True


class ReserveMemberOut(BaseModel):
    id: int
    guard_id: str
    district: str
    skills: list[str]
    active: bool


class ReserveMemberListedOut(ReserveMemberOut):
    name: str


class ReserveMembersOut(BaseModel):
    items: list[ReserveMemberListedOut]
    next_cursor: str | None


class CallUpIn(Input):
    district: str = Field(min_length=1, max_length=64)
    skill: str | None = Field(default=None, min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=1000)
    assemble_at: str | None = Field(default=None, max_length=200)


class CallUpOut(BaseModel):
    id: int
    district: str
    skill: str | None
    reason: str
    assemble_at: str | None
    called_at: dt.datetime
    closed_at: dt.datetime | None
    notified: int
    acknowledged: int


class MyCallUpOut(BaseModel):
    id: int
    district: str
    reason: str
    assemble_at: str | None
    called_at: dt.datetime
    acknowledged_at: dt.datetime | None


class MyCallUpsOut(BaseModel):
    items: list[MyCallUpOut]


class IncidentIn(Input):
    kind: str = Field(pattern="^(theft|violence|fire|suspicious|traffic|public-order|other)$")
    location: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=5000)
    occurred_at: dt.datetime


class IncidentOut(BaseModel):
    id: int
    guard_id: str
    company_id: int | None
    deployment_id: int | None
    kind: str
    location: str
    description: str
    occurred_at: dt.datetime
    reported_at: dt.datetime
    status: str
    acknowledged_at: dt.datetime | None


class IncidentsOut(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None


@router.put("/v1/reserve/members/{guard_id}", response_model=ReserveMemberOut,
            summary="Put a guard on (or take off) the reserve roster (regulator)")
@public_guard_ids
def enlist(guard_id: GuardRef, body: ReserveMemberIn, request: Request, principal: Regulator,
           now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return reserve.enlist(cur, actor=actor_of(principal), now=now, guard_id=guard_id,
                              district=body.district, skills=body.skills, active=body.active)


@router.get("/v1/reserve/members", response_model=ReserveMembersOut,
            summary="The reserve roster by district and skill (regulator)")
@public_guard_ids
def reserve_members(request: Request, principal: Regulator,
                    cursor: Annotated[PageAt, page_cursor("reserve-members")],
                    limit: Limit = 100,
                    district: Annotated[str | None, Query(max_length=64)] = None,
                    skill: Annotated[str | None, Query(max_length=40)] = None
                    ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = reserve.members(cur, district=district, skill=skill, after_id=cursor.last,
                               limit=limit)
    return {"items": rows, "next_cursor": cursor.next_of(rows, limit)}


@router.post("/v1/reserve/call-ups", status_code=201, response_model=CallUpOut,
             summary="Call up the reserve of a district (with a skill) (regulator)")
@public_guard_ids
def call_up(body: CallUpIn, request: Request, principal: Regulator, now: Now
            ) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return reserve.call_up(cur, actor=actor_of(principal), now=now,
                               district=body.district, skill=body.skill, reason=body.reason,
                               assemble_at=body.assemble_at)


@router.get("/v1/reserve/call-ups/{callup_id}", response_model=CallUpOut,
            summary="A call-up with the live count of acknowledgements (regulator)")
@public_guard_ids
def call_up_status(callup_id: Id, request: Request, principal: Regulator) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return reserve.status(cur, callup_id=callup_id)


@router.post("/v1/reserve/call-ups/{callup_id}/close", response_model=CallUpOut,
             summary="Close a call-up (regulator)")
@public_guard_ids
def close_call_up(callup_id: Id, request: Request, principal: Regulator, now: Now
                  ) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return reserve.close(cur, actor=actor_of(principal), now=now, callup_id=callup_id)


@router.get("/v1/me/call-ups", response_model=MyCallUpsOut,
            summary="Open call-ups that reached me (guard)")
@public_guard_ids
def my_call_ups(request: Request, principal: GuardSelf) -> dict[str, Any]:
    assert principal.guard_id is not None
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": reserve.call_ups_of_guard(cur, guard_id=principal.guard_id)}


@router.post("/v1/me/call-ups/{callup_id}/acknowledge", response_model=CallUpOut,
             summary="Acknowledge a call-up (guard)")
@public_guard_ids
def acknowledge_call_up(callup_id: Id, request: Request, principal: GuardSelf, now: Now
                        ) -> dict[str, Any]:
    assert principal.guard_id is not None
    with runtime(request).db.transaction() as cur:
        return reserve.acknowledge(cur, actor=actor_of(principal), now=now,
                                   callup_id=callup_id, guard_id=principal.guard_id)


@router.post("/v1/me/incidents", status_code=201, response_model=IncidentOut,
             summary="Report an incident on duty to the police (guard)")
@public_guard_ids
def report_incident(body: IncidentIn, request: Request, principal: GuardSelf, now: Now
                    ) -> dict[str, Any]:
    assert principal.guard_id is not None
    with runtime(request).db.transaction() as cur:
        return reserve.report_incident(cur, actor=actor_of(principal), now=now,
                                       guard_id=principal.guard_id, kind=body.kind,
                                       location=body.location, description=body.description,
                                       occurred_at=body.occurred_at)


@router.get("/v1/incidents", response_model=IncidentsOut,
            summary="Incident reports from guards on duty (police)")
@public_guard_ids
def list_incidents(request: Request, principal: Police,
                   cursor: Annotated[PageAt, page_cursor("incidents")], limit: Limit = 100,
                   status: Annotated[str | None, Query(pattern="^(received|acknowledged)$")]
                   = None) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = reserve.incidents(cur, status=status, after_id=cursor.last, limit=limit)
    return {"items": rows, "next_cursor": cursor.next_of(rows, limit)}


@router.post("/v1/incidents/{incident_id}/acknowledge", response_model=IncidentOut,
             summary="Acknowledge an incident report (police)")
@public_guard_ids
def acknowledge_incident(incident_id: Id, request: Request, principal: Police, now: Now
                         ) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return reserve.acknowledge_incident(cur, actor=actor_of(principal), now=now,
                                            incident_id=incident_id)
