"""Regulator workflows: lists, credit, projects, licences, scopes, bulk imports, stats,
public disclosure and the printable card."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import Field

from api import csv_import, reporting_repository
from api.access import (
    GuardRef,
    actor_of,
    certificate_holder,
    company_for,
    enrolling_company,
    guard_for,
    may_see_certificate,
    publicise_guards,
)
from api.biometric_context import sealer
from api.card import render_card
from api.deps import clock, rate_limit, rate_limit_client, require, runtime
from api.schemas import CompanyOut, Input, Output
from biometrics import enrollment
from certificates import repository as cert_repo
from certificates.numbers import is_well_formed
from registry import enroll_consent, regulation, service
from registry import repository as registry_repo
from registry.auth import Principal, Role
from registry.db import Cursor, savepoint
from registry.errors import GuardregError, InvalidInput, NotFound
from registry.validation import normalise_name, parse_resident_id

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


class MayPerformOut(Output):
    guard_id: str  # the public id
    service: str
    allowed: bool
    reasons: list[str]
    policy_version: int
    checked_at: dt.datetime


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
        return {"items": registry_repo.list_entries(cur, company_id)}


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
        return {"items": registry_repo.service_projects(cur, company_id)}


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
        rows = registry_repo.current_policy(cur)
        versions = registry_repo.policy_versions(cur)
    return {"version": rows[0]["version"] if rows else 0, "services": rows,
            "versions": versions}


@router.put("/service-policy", response_model=PolicyOut,
            summary="Publish a new version of the policy (regulator)")
def put_policy(body: PolicyIn, request: Request, principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        version = regulation.set_policy(cur, actor=actor_of(principal), now=now,
                                        rows=[r.model_dump() for r in body.services])
        return {"version": version, "services": registry_repo.current_policy(cur)}


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
def _row_error(line: int, exc: Exception) -> dict[str, Any]:
    detail = exc.detail if isinstance(exc, GuardregError) else "invalid value"
    return {"line": line, "reason": detail}


def _parse_date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a date (YYYY-MM-DD)", field=field) from None


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
    applied, unchanged, rejected, revoked = 0, 0, [], []
    # webreg: one entry per data line, so a page can show what became of each line
    # (no ID number in it: the uploader has the file).
    lines: list[dict[str, Any]] = []
    actor = actor_of(principal)
    with runtime(request).db.transaction() as cur:
        for row in csv_import.rows(data, required=("id_number", "result", "reason",
                                                   "checked_on"),
                                   optional=("intentional_crime", "administrative_detentions")):
            try:
                with savepoint(cur):
                    outcome = _apply_check_row(cur, actor, now, row)
            except GuardregError as exc:
                rejected.append(_row_error(row.line, exc))
                lines.append({"line": row.line, "status": "rejected",
                              "reason": rejected[-1]["reason"]})
                continue
            if outcome is None:
                unchanged += 1
                lines.append({"line": row.line, "status": "unchanged"})
            else:
                applied += 1
                revoked.extend(outcome)
                lines.append({"line": row.line, "status": "applied",
                              "revoked_certificates": outcome})
    return {"applied": applied, "unchanged": unchanged, "rejected": rejected,
            "revoked_certificates": revoked, "lines": lines}


def _apply_check_row(cur: Cursor, actor: Any, now: dt.datetime,
                     row: csv_import.CsvRow) -> list[str] | None:
    v = row.values
    if "__width__" in v:
        raise InvalidInput(f"line {row.line}: expected as many fields as the header")
    rid = parse_resident_id(v["id_number"], today=now.date())
    result = v["result"].lower()
    if result not in ("clear", "failed"):
        raise InvalidInput("result must be clear or failed", field="result")
    checked_on = _parse_date(v["checked_on"], "checked_on")
    guard = registry_repo.get_guard_by_id_number(cur, rid.number)
    if guard is None:
        raise NotFound("no guard with this ID number")
    reason = v.get("reason") or None
    if registry_repo.find_background_check(cur, int(guard["id"]), result, checked_on,
                                           reason) is not None:
        return None
    detentions = v.get("administrative_detentions") or None
    crime = v.get("intentional_crime") or None
    before = cert_repo.live_certificate(cur, int(guard["id"]))
    service.record_background_check(
        cur, actor=actor, now=now, guard_id=int(guard["id"]), result=result, reason=reason,
        checked_on=checked_on, source="csv-import",
        intentional_crime=None if crime is None else crime.lower() in ("1", "true", "yes"),
        administrative_detentions=None if detentions is None else _int(detentions,
                                                                        "administrative_detentions"))
    after = cert_repo.get_by_id(cur, before["id"]) if before else None
    return [after["number"]] if after and before and after["status"] != before["status"] else []


def _int(value: str, field: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a whole number", field=field) from None
    if not 0 <= n <= 100:
        raise InvalidInput(f"{field} out of range", field=field)
    return n


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
    from registry.errors import Conflict

    actor = actor_of(principal)
    enrolled: list[dict[str, Any]] = []
    existing: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    awaiting: list[dict[str, Any]] = []
    policy = enroll_consent.Policy.from_settings(runtime(request).settings)
    try:
        with runtime(request).db.transaction() as cur:
            company_for(cur, principal, company_id)
            for row in csv_import.rows(data, required=("name", "id_number"),
                                       optional=("phone", "education", "started_on",
                                                 "consent_code")):
                try:
                    with savepoint(cur):
                        guard_id = _import_guard_row(cur, actor, now, company_id, row, policy)
                    if guard_id is None:
                        awaiting.append({"line": row.line})
                    else:
                        enrolled.append({"line": row.line, "guard_id": guard_id})
                except Conflict as exc:
                    if exc.extra.get("reason") == "already-enrolled":
                        existing.append({"line": row.line, "guard_id": exc.extra["guard_id"]})
                    else:
                        rejected.append(_row_error(row.line, exc))
                except GuardregError as exc:
                    rejected.append(_row_error(row.line, exc))
            if all_or_nothing and rejected:
                raise _RollBack
    except _RollBack:
        return {"enrolled": [], "existing": [], "unchanged": 0, "rejected": rejected,
                "committed": False, "awaiting_confirmation": []}
    return {"enrolled": enrolled, "existing": existing, "unchanged": len(existing),
            "rejected": rejected, "committed": True, "awaiting_confirmation": awaiting}


def _import_guard_row(cur: Cursor, actor: Any, now: dt.datetime, company_id: int,
                      row: csv_import.CsvRow, policy: enroll_consent.Policy) -> str | None:
    v = row.values
    if "__width__" in v:
        raise InvalidInput("expected as many fields as the header")
    started = _parse_date(v["started_on"], "started_on") if v.get("started_on") else None
    phone = v.get("phone") or None
    if phone is not None and not (phone.lstrip("+").isdigit() and 5 <= len(phone) <= 21):
        raise InvalidInput("phone must be digits", field="phone")
    name = normalise_name(v["name"] or "")
    if len(name) > 100:
        raise InvalidInput("name must be 1-100 characters", field="name")
    guard = service.enroll_guard(cur, actor=actor, now=now, company_id=company_id,
                                 name=name, id_number=v["id_number"], phone=phone,
                                 education=(v.get("education") or "unknown")[:50],
                                 started_on=started,
                                 consent_code=(v.get("consent_code") or None),
                                 consent_policy=policy)
    if isinstance(guard, enroll_consent.AwaitingConfirmation):
        return None
    return str(guard["public_id"])


class _RollBack(Exception):
    pass


# -- statistics -----------------------------------------------------------------------------------
@router.get("/stats/capture-rate", response_model=CaptureRateOut,
            summary="Share of active guards with photo and 2+ fingerprints, and of eligible "
            "guards holding a valid certificate")
def capture_rate(request: Request, principal: Staff, now: Now,
                 by: Literal["city", "district", "company"] = "city") -> Any:
    company = principal.company_id if principal.role is Role.COMPANY_OPERATOR else None
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = reporting_repository.capture_rate(cur, by=by, now=now, company_id=company)
    return {"by": by, "computed_at": now, "items": rows}


@router.get("/stats/recent-revocations", response_model=RevocationsOut,
            summary="Latest revocations and suspensions")
def recent_revocations(request: Request, principal: Regulator,
                       limit: Annotated[int, Query(ge=1, le=200)] = 20) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": publicise_guards(cur, cert_repo.recent_revocations(cur, limit=limit))}


# -- public disclosure ---------------------------------------------------------------------------
PUBLIC_COMPANY_FIELDS = ("name", "credit_code", "kind", "status", "credit_grade", "red_list",
                         "black_list", "abnormal_operations", "district", "licence_number")


@router.get("/public/companies", response_model=PublicCompaniesOut,
            summary="Public company lookup by name or credit code")
def public_companies(request: Request,
                     q: Annotated[str, Query(min_length=2, max_length=100)]) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = registry_repo.public_companies(cur, query=q, limit=50)
    return {"items": [{k: r[k] for k in PUBLIC_COMPANY_FIELDS} for r in rows]}


@router.get("/public/certificates/{number}", response_model=PublicCertificateOut,
            summary="Public certificate-number check: valid or not, and what the card shows")
def public_certificate(number: str, request: Request, now: Now) -> Any:
    # Per client address, before anything else: numbers are sequential, so this check
    # must not be a way to harvest every card's name, employer and status.
    rate_limit_client(request, "public-certificate")
    n = number.strip().upper()
    base, sep, serial = n.rpartition("-C")  # a printed card: <certificate number>-C<n>
    card = bool(sep) and serial.isascii() and serial.isdigit() and is_well_formed(base)
    if not card and not is_well_formed(n):
        raise InvalidInput("not a well-formed certificate number (check character)",
                           field="number")
    with runtime(request).db.transaction(readonly=True) as cur:
        cert = cert_repo.get_by_number(cur, n)
    if cert is None or cert["status"] in ("pending", "failed"):
        raise NotFound("no such certificate")
    claims = cert["claims"]
    valid = cert["status"] == "valid" and cert["expires_at"] > now
    return {"number": n, "valid": valid,
            "status": "expired" if cert["status"] == "valid" and not valid else cert["status"],
            "guard_name": claims.get("guard_name"), "skill_level": claims.get("skill_level"),
            "employer_name": claims.get("employer_name"), "expires_at": cert["expires_at"],
            **({"card": True} if cert.get("kind") == "card" else {})}


# -- printable card ------------------------------------------------------------------------------
def _card(request: Request, cur: Cursor, guard: dict[str, Any], principal: Principal,
          now: dt.datetime) -> Response:
    """The printed card is its own credential (certificates/cards.py): the PDF carries
    the guard's live card for the current certificate, issuing card C1 (or the next
    serial, after a re-issue) on the first download; a replacement for a lost card is
    ``POST /v1/guards/{guard_id}/cards``."""
    from certificates import cards

    ctx = runtime(request).certs
    card = cards.current_card(cur, actor=actor_of(principal), now=now,
                              guard_id=int(guard["id"]), signer=ctx.signer("certificate"),
                              status_signer=ctx.signer("status-list"),
                              config=ctx.issuance.status)
    if not may_see_certificate(principal, card):
        # Issued under a previous employer (takeover by re-hire): not this company's to
        # print; the exception rolls back a card issued just now.
        raise NotFound("no current certificate to print")
    photo = enrollment.load_portrait(cur, subject=str(guard["biometric_subject"]),
                                     sealer=sealer(runtime(request).settings))
    view = {"number": card["number"], "guard_name": card["claims"].get("guard_name"),
            "skill_level": card["skill_level"],
            "employer_name": card["claims"].get("employer_name"), "issued_at": card["issued_at"],
            "expires_at": card["expires_at"], "text": card["text"]}
    settings = runtime(request).settings
    pdf = render_card(cert=view, photo=photo, issuer=settings.issuer, fmt=settings.card_format)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="guard-card-{card["number"]}.pdf"',
        "Cache-Control": "no-store"})


@router.get("/me/card.pdf", summary="My printable card (guard)", response_class=Response)
def my_card(request: Request, now: Now,
            principal: Annotated[Principal, Depends(require(Role.GUARD))]) -> Response:
    with runtime(request).db.transaction() as cur:
        guard = registry_repo.get_guard(cur, int(principal.guard_id or 0))
        if guard is None:
            raise NotFound("no such guard")
        return _card(request, cur, guard, principal, now)


@router.get("/guards/{guard_id}/card.pdf", summary="A guard's printable card",
            response_class=Response)
def guard_card(guard_id: GuardRef, request: Request, principal: Staff, now: Now) -> Response:
    with runtime(request).db.transaction() as cur:
        return _card(request, cur, guard_for(cur, principal, guard_id), principal, now)

