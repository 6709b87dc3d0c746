"""Supervision (notice §2): inspectors, "double random" inspection plans and results.

Parse -> one use case in registry/inspections.py -> view. The published plan and the
published results are public on purpose: anyone may recompute a draw.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.access import actor_of, company_for, guard_id_in
from api.cursors import PageAt, page_cursor
from api.deps import clock, require, runtime
from api.schemas import GuardIdIn, Input
from registry import annual_reports, complaints, inspections
from registry.auth import Principal, Role

router = APIRouter(tags=["supervision"])
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
RegulatorOrCompany = Annotated[Principal, Depends(require(Role.REGULATOR,
                                                          Role.COMPANY_OPERATOR))]
CompanyId = Annotated[int, Path(ge=1, le=2**62)]
Now = Annotated[dt.datetime, Depends(clock)]
PlanId = Annotated[int, Path(ge=1, le=2**62)]

_HEX32 = r"^[0-9a-fA-F]{64}$"


class InspectorIn(Input):
    name: str = Field(min_length=1, max_length=100)
    agency: str = Field(min_length=1, max_length=100,
                        description="e.g. 公安局治安总队, 市保安协会, 市场监管局")


class InspectorOut(BaseModel):
    id: int
    name: str
    agency: str
    active: bool
    created_at: dt.datetime


class InspectorsOut(BaseModel):
    items: list[InspectorOut]


class CandidateIn(Input):
    company_id: int = Field(ge=1, le=2**62)
    weight: int = Field(ge=1, le=1000)


class PlanIn(Input):
    title: str = Field(min_length=1, max_length=200)
    targets: int = Field(ge=1, le=10_000)
    inspectors_per_target: int = Field(default=2, ge=1, le=20)
    parties: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        min_length=2, max_length=10,
        description="who commits and reveals a secret, e.g. bureau, association, market")
    candidates: list[CandidateIn] | None = Field(
        default=None, max_length=100_000,
        description="default: every active company, weighted by credit grade (A 1 .. E 5)")
    inspectors: list[Annotated[int, Field(ge=1, le=2**62)]] | None = Field(
        default=None, max_length=10_000, description="default: the whole active roster")


class CommitIn(Input):
    party: str = Field(min_length=1, max_length=60)
    commitment: str = Field(pattern=_HEX32,
                            description="hex SHA-256 over tag, plan hash and the secret")


class RevealIn(Input):
    party: str = Field(min_length=1, max_length=60)
    secret: str = Field(pattern=_HEX32, description="the 32-byte secret, hex")


class PlanPartyOut(BaseModel):
    party: str
    commitment: str | None
    committed_at: dt.datetime | None
    secret: str | None
    revealed: bool


class PlanInspectionOut(BaseModel):
    id: int
    company_id: int
    company_name: str
    inspectors: list[int]
    status: str
    outcome: str | None


class PublicPlanOut(BaseModel):
    id: int
    title: str
    state: str
    plan: dict[str, Any]
    plan_canonical: str = Field(description="the exact bytes hashed into plan_hash")
    plan_hash: str
    parties: list[PlanPartyOut]
    seed: str | None
    draw: dict[str, Any] | None
    drawn_at: dt.datetime | None
    inspections: list[PlanInspectionOut]


class ResultIn(Input):
    outcome: str = Field(pattern=r"^(pass|minor-findings|major-findings)$")
    findings: str = Field(min_length=1, max_length=5000,
                          description="published: write no personal data")
    inspected_on: dt.date
    credit_points: int | None = Field(default=None, ge=-1000, le=1000)


class InspectionOut(BaseModel):
    id: int
    plan_id: int
    company_id: int
    company_name: str
    status: str
    outcome: str | None
    findings: str | None
    inspected_on: dt.date | None
    credit_entry_id: int | None


class InspectionsOut(BaseModel):
    items: list[InspectionOut]


@router.post("/v1/inspectors", status_code=201, response_model=InspectorOut,
             summary="Add an inspector to the roster (regulator)")
def add_inspector(body: InspectorIn, request: Request, principal: Regulator, now: Now
                  ) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return inspections.add_inspector(cur, actor=actor_of(principal), now=now,
                                         name=body.name, agency=body.agency)


@router.get("/v1/inspectors", response_model=InspectorsOut,
            summary="The inspectors' roster (regulator)")
def list_inspectors(request: Request, principal: Regulator) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": inspections.roster(cur)}


@router.post("/v1/inspection-plans", status_code=201, response_model=PublicPlanOut,
             summary="Freeze and publish an inspection plan (regulator)")
def create_plan(body: PlanIn, request: Request, principal: Regulator, now: Now
                ) -> dict[str, Any]:
    req = inspections.PlanRequest(
        title=body.title, targets=body.targets, inspectors_per_target=body.inspectors_per_target,
        parties=tuple(body.parties),
        candidates=None if body.candidates is None else tuple(
            (c.company_id, c.weight) for c in body.candidates),
        inspectors=None if body.inspectors is None else tuple(body.inspectors))
    with runtime(request).db.transaction() as cur:
        return inspections.create_plan(cur, actor=actor_of(principal), now=now, req=req)


@router.post("/v1/inspection-plans/{plan_id}/commitments", response_model=PublicPlanOut,
             summary="Record a party's commitment (regulator, on the party's behalf)")
def commit(plan_id: PlanId, body: CommitIn, request: Request, principal: Regulator,
           now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return inspections.commit(cur, actor=actor_of(principal), now=now, plan_id=plan_id,
                                  party=body.party, commitment_hex=body.commitment)


@router.post("/v1/inspection-plans/{plan_id}/reveals", response_model=PublicPlanOut,
             summary="Record a party's revealed secret; the last one makes the draw")
def reveal(plan_id: PlanId, body: RevealIn, request: Request, principal: Regulator,
           now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return inspections.reveal(cur, actor=actor_of(principal), now=now, plan_id=plan_id,
                                  party=body.party, secret_hex=body.secret)


@router.get("/v1/public/inspection-plans/{plan_id}", response_model=PublicPlanOut,
            summary="A published plan with everything needed to recompute its draw (public)")
def public_plan(plan_id: PlanId, request: Request) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return inspections.public_plan(cur, plan_id)


@router.post("/v1/inspections/{inspection_id}/result", response_model=InspectionOut,
             summary="Record an inspection's outcome (regulator); points go to the ledger")
def record_result(inspection_id: Annotated[int, Path(ge=1, le=2**62)], body: ResultIn,
                  request: Request, principal: Regulator, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return inspections.record_result(
            cur, actor=actor_of(principal), now=now, inspection_id=inspection_id,
            outcome=body.outcome, findings=body.findings, inspected_on=body.inspected_on,
            credit_points=body.credit_points)


@router.get("/v1/public/inspections", response_model=InspectionsOut,
            summary="Published inspection results, newest first (public)")
def published(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100
              ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": inspections.published_results(cur, limit=limit)}


# -- supervision policy and annual reports (§13) ---------------------------------------------
class SupervisionPolicyOut(BaseModel):
    version: int
    settings: annual_reports.SupervisionPolicy


@router.get("/v1/supervision-policy", response_model=SupervisionPolicyOut,
            summary="The supervision policy in force (public)")
def get_supervision_policy(request: Request) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        version, pol = annual_reports.policy(cur)
    return {"version": version, "settings": pol}


@router.put("/v1/supervision-policy", response_model=SupervisionPolicyOut,
            summary="A new version of the supervision policy (regulator)")
def put_supervision_policy(body: annual_reports.SupervisionPolicy, request: Request,
                           principal: Regulator, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        version = annual_reports.set_policy(cur, actor=actor_of(principal), now=now,
                                            settings=body.model_dump())
    return {"version": version, "settings": body}


class AnnualReportIn(Input):
    year: int = Field(ge=2000, le=2100)
    headcount: int = Field(ge=0, le=1_000_000)
    labour_contracts: int = Field(ge=0, le=1_000_000)
    insured: int = Field(ge=0, le=1_000_000, description="guards with social insurance")
    training_hours: int = Field(ge=0, le=100_000_000)
    incidents: int = Field(ge=0, le=1_000_000)
    notes: str | None = Field(default=None, max_length=5000)


class AnnualReportOut(BaseModel):
    id: int
    company_id: int
    year: int
    status: str
    headcount: int
    labour_contracts: int
    insured: int
    training_hours: int
    incidents: int
    notes: str | None
    filed_at: dt.datetime
    reviewed_at: dt.datetime | None
    review_note: str | None


class CurrentReportOut(BaseModel):
    year: int = Field(description="the year the company reports on now (last year)")
    due: dt.date
    status: Literal["due", "overdue", "filed", "accepted", "rejected"]


class AnnualReportsOut(BaseModel):
    items: list[AnnualReportOut]
    current: CurrentReportOut | None = None


class ReviewIn(Input):
    accepted: bool
    note: str | None = Field(default=None, max_length=2000)


class MissingCompanyOut(BaseModel):
    id: int
    name: str
    district: str
    abnormal_operations: bool


class MissingReportsOut(BaseModel):
    year: int
    due: dt.date
    overdue: bool
    companies: list[MissingCompanyOut]


@router.post("/v1/companies/{company_id}/annual-reports", status_code=201,
             response_model=AnnualReportOut,
             summary="File the company's annual report (the company, or the regulator)")
def file_annual_report(company_id: CompanyId, body: AnnualReportIn, request: Request,
                       principal: RegulatorOrCompany, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        return annual_reports.file_report(
            cur, actor=actor_of(principal), now=now, company_id=company_id,
            report=annual_reports.ReportIn(**body.model_dump()))


@router.get("/v1/companies/{company_id}/annual-reports", response_model=AnnualReportsOut,
            summary="The company's annual reports")
def list_annual_reports(company_id: CompanyId, request: Request,
                        principal: RegulatorOrCompany, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return annual_reports.company_reports(cur, company_id=company_id, now=now)


@router.post("/v1/annual-reports/{report_id}/review", response_model=AnnualReportOut,
             summary="Accept or reject a report (regulator); a rejection lists the company")
def review_annual_report(report_id: Annotated[int, Path(ge=1, le=2**62)], body: ReviewIn,
                         request: Request, principal: Regulator, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return annual_reports.review_report(cur, actor=actor_of(principal), now=now,
                                            report_id=report_id, accepted=body.accepted,
                                            note=body.note)


@router.get("/v1/annual-reports/missing", response_model=MissingReportsOut,
            summary="Companies that have not filed the year's report (regulator)")
def missing_annual_reports(request: Request, principal: Regulator, now: Now,
                           year: Annotated[int, Query(ge=2000, le=2100)]) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return annual_reports.missing(cur, year=year, now=now)


# -- complaints and reports (§2 §4 §11) -------------------------------------------------------
def complaint_keys(request: Request) -> complaints.ComplaintKeys:
    settings = runtime(request).settings
    return complaints.ComplaintKeys(
        hmac_key=settings.derive_key("apikey_pepper", "complaint-tracking"),
        seal_key=settings.derive_key("biometric_secret", "complaint-seal"))


class TrackingOut(BaseModel):
    tracking_code: str = Field(description="shown once: the only way to follow the case")
    status: str


class StepOut(BaseModel):
    kind: str
    at: dt.datetime
    detail: str | None


class ComplaintStatusOut(BaseModel):
    status: str
    category: str
    received_at: dt.datetime
    closed_at: dt.datetime | None
    outcome: str | None
    summary: str | None
    steps: list[StepOut]


class ComplaintSummaryOut(BaseModel):
    id: int
    category: str
    company_id: int | None
    status: str
    priority: str
    assigned_to: str | None
    outcome: str | None
    created_at: dt.datetime
    closed_at: dt.datetime | None


class ComplaintsOut(BaseModel):
    items: list[ComplaintSummaryOut]
    next_cursor: str | None


class ComplaintEventOut(BaseModel):
    kind: str
    public: bool
    detail: str | None
    ref_type: str | None
    ref_id: int | None
    actor: str
    created_at: dt.datetime


class AttachmentOut(BaseModel):
    id: int
    media_type: str
    size: int
    sha256: str


class ComplaintOut(ComplaintSummaryOut):
    company_text: str | None
    certificate_number: str | None
    description: str | None
    contact: str | None
    public_summary: str | None
    purged_at: dt.datetime | None
    events: list[ComplaintEventOut]
    attachments: list[AttachmentOut]


class TriageIn(Input):
    priority: str = Field(pattern=r"^(low|normal|high)$")
    category: str | None = Field(default=None, max_length=40)
    company_id: int | None = Field(default=None, ge=1, le=2**62)


class AssignIn(Input):
    assignee: str = Field(min_length=1, max_length=100)


class NoteIn(Input):
    note: str = Field(min_length=1, max_length=5000)


class BanIn(Input):
    id_number: str = Field(min_length=15, max_length=18)
    until_on: dt.date | None = None
    reason: str = Field(min_length=2, max_length=500)


class CloseIn(Input):
    outcome: str = Field(pattern=r"^(upheld|not-upheld|referred)$")
    summary: str = Field(min_length=2, max_length=2000,
                         description="what the complainant reads; no personal data")
    credit_points: int | None = Field(default=None, ge=-1000, le=-1)
    list: str | None = Field(default=None, pattern=r"^(black|abnormal)$")
    ban: BanIn | None = None
    suspend_guard_id: GuardIdIn | None = None


class ClosedOut(BaseModel):
    id: int
    status: str
    outcome: str
    actions: list[ComplaintEventOut]


@router.post("/v1/public/complaints", status_code=201, response_model=TrackingOut,
             summary="File a complaint or report, anonymously if you wish (public)")
def submit_complaint(
        request: Request, now: Now,
        category: Annotated[str, Form(max_length=40)],
        description: Annotated[str, Form(max_length=5000)],
        company_id: Annotated[int | None, Form(ge=1, le=2**62)] = None,
        company: Annotated[str | None, Form(max_length=200)] = None,
        certificate_number: Annotated[str | None, Form(max_length=40)] = None,
        contact: Annotated[str | None, Form(max_length=200)] = None,
        attachments: Annotated[list[UploadFile] | None, File()] = None) -> dict[str, Any]:
    from api.biometric_context import read_upload
    from api.deps import rate_limit_client

    rate_limit_client(request, "complaint")
    limit = runtime(request).settings.max_image_bytes
    files = [complaints.Attachment(read_upload(f, max_bytes=limit, field="attachments"))
             for f in (attachments or [])[:complaints.MAX_ATTACHMENTS + 1]]
    sub = complaints.Submission(category=category, description=description,
                                company_id=company_id, company_text=company,
                                certificate_number=certificate_number, contact=contact,
                                attachments=tuple(files))
    with runtime(request).db.transaction() as cur:
        code = complaints.submit(cur, now=now, keys=complaint_keys(request), sub=sub)
    return {"tracking_code": code, "status": "received"}


@router.get("/v1/public/complaints/{tracking_code}", response_model=ComplaintStatusOut,
            summary="Follow a complaint with its tracking code (public)")
def track_complaint(tracking_code: Annotated[str, Path(min_length=1, max_length=40)],
                    request: Request) -> dict[str, Any]:
    from api.deps import rate_limit_client

    rate_limit_client(request, "complaint-track")
    with runtime(request).db.transaction(readonly=True) as cur:
        return complaints.track(cur, keys=complaint_keys(request), code=tracking_code)


ComplaintId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/v1/complaints", response_model=ComplaintsOut,
            summary="Complaints, oldest first (regulator)")
def list_complaints(request: Request, principal: Regulator,
                    cursor: Annotated[PageAt, page_cursor("complaints")],
                    status: Annotated[str | None, Query(
                        pattern=r"^(received|triaged|investigating|closed)$")] = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = complaints.list_cases(cur, status=status, after_id=cursor.last, limit=limit)
    return {"items": rows, "next_cursor": cursor.next_of(rows, limit)}


@router.get("/v1/complaints/{complaint_id}", response_model=ComplaintOut,
            summary="A complaint with its contact, notes and attachments (regulator)")
def get_complaint(complaint_id: ComplaintId, request: Request, principal: Regulator
                  ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return complaints.case(cur, keys=complaint_keys(request), complaint_id=complaint_id)


@router.get("/v1/complaints/{complaint_id}/attachments/{attachment_id}",
            response_class=Response, summary="An attachment (regulator)",
            responses={200: {"content": {"image/jpeg": {}, "image/png": {},
                                         "application/pdf": {}}}})
def get_attachment(complaint_id: ComplaintId,
                   attachment_id: Annotated[int, Path(ge=1, le=2**62)], request: Request,
                   principal: Regulator) -> Response:
    with runtime(request).db.transaction(readonly=True) as cur:
        media, data = complaints.attachment(cur, keys=complaint_keys(request),
                                            complaint_id=complaint_id,
                                            attachment_id=attachment_id)
    return Response(data, media_type=media, headers={
        "Cache-Control": "no-store", "Content-Disposition": "attachment",
        "X-Content-Type-Options": "nosniff"})


@router.post("/v1/complaints/{complaint_id}/triage", status_code=204,
             summary="Set priority, category and the company concerned (regulator)")
def triage_complaint(complaint_id: ComplaintId, body: TriageIn, request: Request,
                     principal: Regulator, now: Now) -> None:
    with runtime(request).db.transaction() as cur:
        complaints.triage(cur, actor=actor_of(principal), now=now, complaint_id=complaint_id,
                          priority=body.priority, category=body.category,
                          company_id=body.company_id)


@router.post("/v1/complaints/{complaint_id}/assign", status_code=204,
             summary="Assign an investigator (regulator)")
def assign_complaint(complaint_id: ComplaintId, body: AssignIn, request: Request,
                     principal: Regulator, now: Now) -> None:
    with runtime(request).db.transaction() as cur:
        complaints.assign(cur, actor=actor_of(principal), now=now, complaint_id=complaint_id,
                          assignee=body.assignee)


@router.post("/v1/complaints/{complaint_id}/notes", status_code=204,
             summary="An investigation note, never shown to the complainant (regulator)")
def note_complaint(complaint_id: ComplaintId, body: NoteIn, request: Request,
                   principal: Regulator, now: Now) -> None:
    with runtime(request).db.transaction() as cur:
        complaints.add_note(cur, actor=actor_of(principal), now=now,
                            complaint_id=complaint_id, note=body.note)


@router.post("/v1/complaints/{complaint_id}/close", response_model=ClosedOut,
             summary="Close with an outcome; an upheld one may act in the same transaction")
def close_complaint(complaint_id: ComplaintId, body: CloseIn, request: Request,
                    principal: Regulator, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        actions = complaints.Actions(
            credit_points=body.credit_points, list_name=body.list,
            ban=complaints.Ban(body.ban.id_number, body.ban.until_on, body.ban.reason)
            if body.ban else None,
            suspend_guard_id=(guard_id_in(cur, body.suspend_guard_id)
                              if body.suspend_guard_id is not None else None))
        return complaints.close(cur, actor=actor_of(principal), now=now,
                                complaint_id=complaint_id, outcome=body.outcome,
                                summary=body.summary, actions=actions)
