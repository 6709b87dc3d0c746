"""Regulator workflows: lists, credit, projects, licences, scopes, bulk imports, stats,
public disclosure and the printable card."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import Field

from api import csv_import
from api.access import (
    GuardRef,
    actor_of,
    certificate_holder,
    company_for,
    enrolling_company,
    guard_for,
    publicise_guards,
)
from api.biometric_context import sealer
from api.card import render_card
from api.deps import clock, rate_limit, rate_limit_client, require, runtime
from api.schemas import CompanyOut, Input, Output
from api.usecases import imports, printing, statistics, verdicts
from registry import enroll_consent, regulation
from registry.auth import Principal, Role

router = APIRouter(prefix="/v1", tags=["regulation"])
Now = Annotated[dt.datetime, Depends(clock)]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
Staff = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR))]
Checkers = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR,
                                                Role.CHECKPOINT_OFFICER))]


class Reason(Input):
    reason: str = Field(min_length=1, max_length=500)


class ListIn(Reason):
    list: Literal["red", "black", "abnormal"]


ListName = Literal["red", "black", "abnormal"]


class ListEntryOut(Output):
    id: int
    list: ListName
    reason: str
    added_on: dt.date
    added_by: str
    removed_on: dt.date | None = None
    removal_reason: str | None = None


class ListEntriesOut(Output):
    items: list[ListEntryOut]


class ListRemovedOut(Output):
    list: ListName
    removed_on: dt.date
    reason: str


class CreditEntryOut(Output):
    id: int
    company_id: int
    year: int
    points: int
    kind: str
    reason: str
    evidence: str | None
    occurred_on: dt.date
    created_by: str
    created_at: dt.datetime
    dispute: str | None
    dispute_reason: str | None
    ruled_by: str | None
    ruled_at: dt.datetime | None


class CreditEventOut(CreditEntryOut):
    grade: str


class CreditLedgerOut(Output):
    company_id: int
    year: int
    start: int
    total: int
    grade: str
    entries: list[CreditEntryOut]


class ProjectOut(Output):
    id: int
    company_id: int
    name: str
    service: str
    client: str | None
    starts_on: dt.date
    ends_on: dt.date | None
    created_by: str
    created_at: dt.datetime
    client_id: int | None = None


class ProjectsOut(Output):
    items: list[ProjectOut]


class PolicyServiceOut(Output):
    version: int
    service: str
    lowest_level: int
    min_age: int | None
    requires: list[str]
    description: str | None
    created_by: str
    created_at: dt.datetime


class PolicyVersionOut(Output):
    version: int
    created_at: dt.datetime
    created_by: str
    services: int


class PolicyOut(Output):
    version: int
    services: list[PolicyServiceOut]
    versions: list[PolicyVersionOut] | None = None


class QualificationOut(Output):
    id: int
    guard_id: str  # the public id
    kind: str
    reference: str | None
    valid_from: dt.date
    valid_until: dt.date | None
    recorded_by: str
    created_at: dt.datetime


class ScopeAnswerOut(Output):
    service: str
    allowed: bool
    reasons: list[str]
    policy_version: int
    checked_at: dt.datetime


class MayPerformOut(ScopeAnswerOut):
    guard_id: str  # the public id


class HolderMayPerformOut(ScopeAnswerOut):
    number: str  # the certificate's


class LineError(Output):
    line: int
    reason: str


class ChecksImportedOut(Output):
    applied: int
    unchanged: int
    rejected: list[LineError]
    revoked_certificates: list[str]


class ImportedRow(Output):
    line: int
    guard_id: str  # the public id


class AwaitingRow(Output):
    line: int


class GuardsImportedOut(Output):
    enrolled: list[ImportedRow]
    existing: list[ImportedRow]
    unchanged: int
    rejected: list[LineError]
    committed: bool
    # A company operator's rows without a valid consent_code: a code was texted to the
    # person (registry/enroll_consent.py); re-run them with it.
    awaiting_confirmation: list[AwaitingRow] = Field(default_factory=list)


class CaptureRateRow(Output):
    key: str | None
    label: str | None
    active_guards: int
    with_photo: int
    with_two_fingers: int
    captured: int
    eligible: int
    eligible_with_certificate: int
    capture_rate: float | None
    certificate_rate: float | None


class CaptureRateOut(Output):
    by: Literal["city", "district", "company"]
    computed_at: dt.datetime
    items: list[CaptureRateRow]


class RevocationOut(Output):
    number: str
    guard_id: str  # the public id
    status: str
    status_reason: str | None
    status_changed_at: dt.datetime | None


class RevocationsOut(Output):
    items: list[RevocationOut]


class PublicCompanyOut(Output):
    name: str
    credit_code: str
    kind: str
    status: str
    credit_grade: str
    red_list: bool
    black_list: bool
    abnormal_operations: bool
    district: str
    licence_number: str


class PublicCompaniesOut(Output):
    items: list[PublicCompanyOut]


class PublicCertificateOut(Output):
    number: str
    valid: bool
    status: str
    guard_name: str | None
    skill_level: int | None
    employer_name: str | None
    expires_at: dt.datetime


# -- lists ---------------------------------------------------------------------------------
@router.post("/companies/{company_id}/lists", status_code=201, response_model=ListEntryOut,
             summary="Put a company on the red, black or abnormal-operations list")
def add_to_list(company_id: int, body: ListIn, request: Request, principal: Regulator,
                now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        return regulation.put_on_list(cur, actor=actor_of(principal), now=now,
                                      company_id=company_id, lst=body.list, reason=body.reason)


@router.post("/companies/{company_id}/lists/{list_name}/remove", response_model=ListRemovedOut,
             summary="Take a company off a list")
def remove_from_list(company_id: int, list_name: Literal["red", "black", "abnormal"],
                     body: Reason, request: Request, principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        return regulation.remove_from_list(cur, actor=actor_of(principal), now=now,
                                           company_id=company_id, lst=list_name,
                                           reason=body.reason)


@router.get("/companies/{company_id}/lists", response_model=ListEntriesOut,
            summary="A company's list history")
def company_lists(company_id: int, request: Request, principal: Staff) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return {"items": regulation.list_history(cur, company_id)}


# -- credit --------------------------------------------------------------------------------
class CreditEventIn(Input):
    points: int = Field(ge=-1000, le=1000, description="signed: negative for violations")
    kind: Literal["violation", "commendation", "late-filing", "complaint", "inspection-pass",
                  "training", "other"]
    reason: str = Field(min_length=1, max_length=500)
    evidence: str | None = Field(default=None, max_length=2000)
    occurred_on: dt.date


@router.post("/companies/{company_id}/credit-events", status_code=201,
             response_model=CreditEventOut,
             summary="Record a credit event (regulator); the grade follows")
def add_credit_event(company_id: int, body: CreditEventIn, request: Request,
                     principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        return regulation.add_credit_event(cur, actor=actor_of(principal), now=now,
                                           company_id=company_id, **body.model_dump())


@router.get("/companies/{company_id}/credit", response_model=CreditLedgerOut,
            summary="The year's credit ledger and grade")
def credit_ledger(company_id: int, request: Request, principal: Staff, now: Now,
                  year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return regulation.credit_summary(cur, company_id, year or now.year)


@router.post("/credit-entries/{entry_id}/objection", response_model=CreditEntryOut,
             summary="Object to a credit entry (the company); disputed until the ruling")
def object_to_credit_entry(entry_id: int, body: Reason, request: Request, principal: Staff,
                           now: Now) -> Any:
    company = principal.company_id if principal.role is Role.COMPANY_OPERATOR else None
    with runtime(request).db.transaction() as cur:
        return regulation.object_to_entry(cur, actor=actor_of(principal), now=now,
                                          entry_id=entry_id, company_id=company,
                                          reason=body.reason)


class RulingIn(Input):
    uphold: bool = Field(description="true: the objection is right and the entry is void")


@router.post("/credit-entries/{entry_id}/ruling", response_model=CreditEntryOut,
             summary="Rule on an objection (regulator)")
def rule_on_objection(entry_id: int, body: RulingIn, request: Request, principal: Regulator,
                      now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        return regulation.rule_on_objection(cur, actor=actor_of(principal), now=now,
                                            entry_id=entry_id, uphold=body.uphold)


# -- service projects --------------------------------------------------------------------------
class ProjectIn(Input):
    name: str = Field(min_length=1, max_length=200)
    service: str = Field(min_length=1, max_length=60)
    client: str = Field(min_length=1, max_length=200)
    starts_on: dt.date
    ends_on: dt.date | None = None


@router.post("/companies/{company_id}/service-projects", status_code=201,
             response_model=ProjectOut,
             summary="Register a new service project (refused for grades D and E)")
def register_project(company_id: int, body: ProjectIn, request: Request, principal: Staff,
                     now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        return regulation.register_service_project(
            cur, actor=actor_of(principal), now=now, company_id=company_id, name=body.name,
            service_name=body.service, client=body.client, starts_on=body.starts_on,
            ends_on=body.ends_on)


@router.get("/companies/{company_id}/service-projects", response_model=ProjectsOut,
            summary="A company's service projects")
def list_projects(company_id: int, request: Request, principal: Staff) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return {"items": regulation.service_projects(cur, company_id)}


# -- licence lifecycle --------------------------------------------------------------------------
@router.post("/companies/{company_id}/licence/{op}", response_model=CompanyOut,
             summary="Suspend, revoke or reinstate a company's licence (regulator)")
def change_licence(company_id: int, op: Literal["suspend", "revoke", "reinstate"], body: Reason,
                   request: Request, principal: Regulator, now: Now) -> Any:
    from api.schemas import company_view

    with runtime(request).db.transaction() as cur:
        return company_view(regulation.change_licence(cur, actor=actor_of(principal), now=now,
                                                      company_id=company_id, op=op,
                                                      reason=body.reason))


# -- skill levels and scopes -------------------------------------------------------------------
class PolicyRow(Input):
    service: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9-]+$")
    lowest_level: int = Field(ge=1, le=5)
    min_age: int | None = Field(default=None, ge=18, le=70)
    requires: list[Literal["firearm-licence", "psych-assessment-1y", "no-detention-or-record",
                           "employer-armed-escort"]] = Field(default_factory=list)
    description: str | None = Field(default=None, max_length=200)


class PolicyIn(Input):
    services: list[PolicyRow] = Field(min_length=1, max_length=100)


@router.get("/service-policy", response_model=PolicyOut,
            summary="The current service-scope policy (public)")
def get_policy(request: Request) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {**regulation.service_policy(cur), "versions": regulation.policy_versions(cur)}


@router.put("/service-policy", response_model=PolicyOut,
            summary="Publish a new version of the policy (regulator)")
def put_policy(body: PolicyIn, request: Request, principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        regulation.set_policy(cur, actor=actor_of(principal), now=now,
                              rows=[r.model_dump() for r in body.services])
        return regulation.service_policy(cur)


class QualificationIn(Input):
    kind: Literal["firearm-licence", "psych-assessment"]
    reference: str | None = Field(default=None, max_length=100)
    valid_from: dt.date
    valid_until: dt.date | None = None


@router.post("/guards/{guard_id}/qualifications", status_code=201,
             response_model=QualificationOut,
             summary="Record a firearm licence or psychological assessment (regulator)")
def add_qualification(guard_id: GuardRef, body: QualificationIn, request: Request,
                      principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        return publicise_guards(cur, [regulation.add_qualification(
            cur, actor=actor_of(principal), now=now, guard_id=guard_id,
            **body.model_dump())])[0]


@router.get("/guards/{guard_id}/services/{service_name}", response_model=MayPerformOut,
            summary="May this guard perform service S now? (yes/no with reasons)")
def may_perform(guard_id: GuardRef, service_name: str, request: Request, principal: Staff,
                now: Now) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard = guard_for(cur, principal, guard_id)
        d = regulation.may_perform(cur, guard=guard, service_name=service_name, now=now)
    return {"guard_id": str(guard["public_id"]), "service": d.service, "allowed": d.allowed,
            "reasons": d.reasons, "policy_version": d.policy_version, "checked_at": now}


@router.get("/certificates/{number}/services/{service_name}",
            response_model=HolderMayPerformOut,
            summary="At a checkpoint: may the holder of this certificate number (scanned or "
                    "typed) perform service S now?")
def may_perform_by_certificate(number: Annotated[str, Path(max_length=40)], service_name: str,
                               request: Request, principal: Checkers, now: Now) -> Any:
    if principal.role is Role.CHECKPOINT_OFFICER:
        rate_limit(request, principal, "officer-lookup")
    with runtime(request).db.transaction(readonly=True) as cur:
        cert, guard = certificate_holder(cur, principal, number)
        d = regulation.may_perform(cur, guard=guard, service_name=service_name, now=now)
    return {"number": cert["number"], "service": d.service, "allowed": d.allowed,
            "reasons": d.reasons, "policy_version": d.policy_version, "checked_at": now}


# -- bulk imports ---------------------------------------------------------------------------------
@router.post("/background-checks/import", response_model=ChecksImportedOut,
             summary="Apply a CSV of background-check results (regulator); re-runs change "
             "nothing")
async def import_background_checks(request: Request, principal: Regulator, now: Now,
                                   file: Annotated[UploadFile | None, File()] = None) -> Any:
    data = await csv_import.read_body(request, file)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_apply_checks, request, principal, now, data)


def _apply_checks(request: Request, principal: Principal, now: dt.datetime,
                  data: bytes) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return imports.apply_checks(cur, actor=actor_of(principal), now=now, data=data)


@router.post("/guards/import", response_model=GuardsImportedOut,
             summary="Enroll many guards from a CSV (name,id_number[,phone,education,"
             "started_on,consent_code]); re-runs do not duplicate")
async def import_guards(request: Request, principal: Staff, now: Now,
                        company_id: Annotated[int | None, Query(ge=1)] = None,
                        all_or_nothing: bool = False,
                        file: Annotated[UploadFile | None, File()] = None) -> Any:
    data = await csv_import.read_body(request, file)
    target = enrolling_company(principal, company_id)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_import_guards, request, principal, now, data, target,
                                   all_or_nothing)


def _import_guards(request: Request, principal: Principal, now: dt.datetime, data: bytes,
                   company_id: int, all_or_nothing: bool) -> dict[str, Any]:
    policy = enroll_consent.Policy.from_settings(runtime(request).settings)
    try:
        with runtime(request).db.transaction() as cur:
            company_for(cur, principal, company_id)
            return imports.enroll_guards(cur, actor=actor_of(principal), now=now,
                                         company_id=company_id, data=data,
                                         all_or_nothing=all_or_nothing, policy=policy)
    except imports.NothingCommitted as rolled_back:
        return rolled_back.report


# -- statistics -----------------------------------------------------------------------------------
@router.get("/stats/capture-rate", response_model=CaptureRateOut,
            summary="Share of active guards with photo and 2+ fingerprints, and of eligible "
            "guards holding a valid certificate")
def capture_rate(request: Request, principal: Staff, now: Now,
                 by: Literal["city", "district", "company"] = "city") -> Any:
    company = principal.company_id if principal.role is Role.COMPANY_OPERATOR else None
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = statistics.capture_rate(cur, by=by, now=now, company_id=company)
    return {"by": by, "computed_at": now, "items": rows}


@router.get("/stats/recent-revocations", response_model=RevocationsOut,
            summary="Latest revocations and suspensions")
def recent_revocations(request: Request, principal: Regulator,
                       limit: Annotated[int, Query(ge=1, le=200)] = 20) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": statistics.recent_revocations(cur, limit=limit)}


# -- public disclosure ---------------------------------------------------------------------------
@router.get("/public/companies", response_model=PublicCompaniesOut,
            summary="Public company lookup by name or credit code")
def public_companies(request: Request,
                     q: Annotated[str, Query(min_length=2, max_length=100)]) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": regulation.public_companies(cur, query=q, limit=50)}


@router.get("/public/certificates/{number}", response_model=PublicCertificateOut,
            summary="Public certificate-number check: valid or not, and what the card shows")
def public_certificate(number: str, request: Request, now: Now) -> Any:
    # Per client address, before anything else: numbers are sequential, so this check
    # must not be a way to harvest every card's name, employer and status.
    rate_limit_client(request, "public-certificate")
    n = verdicts.parse_number(number)
    with runtime(request).db.transaction(readonly=True) as cur:
        v = verdicts.public_verdict(cur, number=n, now=now)
    return {"number": v.number, "valid": v.valid, "status": v.status,
            "guard_name": v.guard_name, "skill_level": v.skill_level,
            "employer_name": v.employer_name, "expires_at": v.expires_at,
            **({"card": True} if v.card else {})}


# -- printable card ------------------------------------------------------------------------------
def _card_pdf(request: Request, card: printing.PrintableCard) -> Response:
    settings = runtime(request).settings
    view = {"number": card.number, "guard_name": card.guard_name,
            "skill_level": card.skill_level, "employer_name": card.employer_name,
            "issued_at": card.issued_at, "expires_at": card.expires_at, "text": card.text}
    pdf = render_card(cert=view, photo=card.photo, issuer=settings.issuer,
                      fmt=settings.card_format)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="guard-card-{card.number}.pdf"',
        "Cache-Control": "no-store"})


_PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}


@router.get("/me/card.pdf", summary="My printable card (guard)", response_class=Response,
            responses=_PDF)
def my_card(request: Request, now: Now,
            principal: Annotated[Principal, Depends(require(Role.GUARD))]) -> Response:
    rt = runtime(request)
    with rt.db.transaction() as cur:
        card = printing.card_of(cur, ctx=rt.certs, sealer=sealer(rt.settings),
                                principal=principal, guard=printing.own_guard(cur, principal),
                                now=now)
        return _card_pdf(request, card)


@router.get("/guards/{guard_id}/card.pdf", summary="A guard's printable card",
            response_class=Response, responses=_PDF)
def guard_card(guard_id: GuardRef, request: Request, principal: Staff, now: Now) -> Response:
    rt = runtime(request)
    with rt.db.transaction() as cur:
        card = printing.card_of(cur, ctx=rt.certs, sealer=sealer(rt.settings),
                                principal=principal,
                                guard=guard_for(cur, principal, guard_id), now=now)
        return _card_pdf(request, card)
