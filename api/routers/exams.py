"""The unified guard exam (notice §4 §6): sessions, online application, capture at the
registration point, admission tickets, attendance at the venue, results. Parse -> use
case -> view."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api import csv_import
from api.access import GuardRef, actor_of, guard_for, public_guard_ids
from api.capture_views import capture_face, capture_finger
from api.cursors import PageAt, page_cursor
from api.deps import clock, rate_limit_client, require, runtime
from api.schemas import Input, Name
from api.schemas_biometrics import FACE_HELD, FINGER_HELD, PDF, FaceCaptureOut, FingerCaptureOut
from api.usecases import exams as exam_usecase
from api.usecases.captures import GuardLoader
from registry import enroll_consent, exams
from registry.auth import Principal, Role
from registry.db import Cursor
from registry.errors import NotEligible

router = APIRouter(prefix="/v1", tags=["exams"])
Now = Annotated[dt.datetime, Depends(clock)]
ExamStaff = Annotated[Principal, Depends(require(Role.REGULATOR, Role.EXAM_STAFF))]
Applicant = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR))]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
StaffOrSelf = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR,
                                                   Role.GUARD))]
Id = Annotated[int, Path(ge=1, le=2**62)]
_ID_NUMBER = Field(min_length=15, max_length=18, description="from the ID card")
_PHONE = Field(pattern=r"^\+?[0-9]{5,20}$")


class SessionIn(Input):
    sits_on: dt.date
    venue: str = Field(min_length=1, max_length=200)
    district: str = Field(min_length=1, max_length=64)
    capacity: int = Field(ge=1, le=100000)


class SessionOut(BaseModel):
    id: int
    sits_on: dt.date
    venue: str
    district: str
    capacity: int
    registered: int
    seats_left: int


class ScheduleOut(BaseModel):
    year: int
    sessions_in_year: int
    warning: str | None = Field(description="set when fewer than two sessions are "
                                            "scheduled in the year (notice §4)")
    items: list[SessionOut]


class ApplicationIn(Input):
    id_number: str = _ID_NUMBER
    name: Name = Field(min_length=1, max_length=50)
    phone: str = _PHONE
    confirmation_code: str | None = Field(
        default=None, max_length=20,
        description="the code texted after the first application (issue 14)")


class ApplicationReceivedOut(BaseModel):
    """An online application without a valid code: the same answer whatever the person."""

    status: Literal["application-received"]
    detail: str
    session_id: int
    code_expires_in_s: int


class CompanyApplicationIn(Input):
    id_number: str = _ID_NUMBER
    name: Name = Field(min_length=1, max_length=50)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{5,20}$")
    confirmation_code: str | None = Field(
        default=None, max_length=20,
        description="a company operator's: the code texted to the person (issue 14)")


class AppliedOut(BaseModel):
    registration_code: str = Field(description="shown once; only its keyed hash is kept")
    session_id: int
    sits_on: dt.date
    venue: str


class RegisteredOut(AppliedOut):
    registration_id: int


class RegistrationOut(BaseModel):
    id: int
    session_id: int
    guard_id: str  # the public id
    name: str
    sits_on: dt.date
    venue: str
    district: str
    applied_by: str
    attended_at: dt.datetime | None
    passed: bool | None
    score: float | None
    face: str | None = None
    fingers_enrolled: int | None = None


class RegistrationsOut(BaseModel):
    items: list[RegistrationOut]
    next_cursor: str | None = None


class LookupIn(Input):
    id_number: str = _ID_NUMBER
    session_id: int | None = Field(default=None, ge=1, le=2**62)


class RefusalOut(BaseModel):
    id: int
    session_id: int
    name: str
    id_number: str
    guard_id: str | None  # the public id
    applied_by: str
    reasons: list[str]
    messages: list[str]
    created_at: dt.datetime


class RefusalsOut(BaseModel):
    items: list[RefusalOut]
    next_cursor: str | None = None


class TicketIn(Input):
    id_number: str = _ID_NUMBER
    registration_code: str = Field(min_length=8, max_length=20)


class AttendanceOut(BaseModel):
    registration_id: int
    name: str
    admitted: bool
    fused_llr: float
    threshold: float
    face_distance: float
    finger_score: float
    chance: str = Field(description="how often two different people score this high")


class ResultIn(Input):
    id_number: str = _ID_NUMBER
    passed: bool
    score: float | None = Field(default=None, ge=0, le=1000)


class ResultOut(BaseModel):
    registration_id: int
    guard_id: str  # the public id
    passed: bool
    score: float | None


class ImportOut(BaseModel):
    recorded: int
    passed: int


class ExternalResultIn(Input):
    passed: bool
    evidence: str = Field(min_length=1, max_length=1000,
                          description="where and when the exam was passed")
    score: float | None = Field(default=None, ge=0, le=1000)


class ExternalResultOut(BaseModel):
    id: int
    guard_id: str  # the public id
    passed: bool
    source: str


class ArchiveRegistrationOut(BaseModel):
    id: int
    session_id: int
    sits_on: dt.date
    venue: str
    district: str
    applied_by: str
    attended_at: dt.datetime | None
    passed: bool | None
    score: float | None


class ArchiveResultOut(BaseModel):
    id: int
    registration_id: int | None
    passed: bool
    score: float | None
    source: str
    evidence: str | None
    recorded_at: dt.datetime
    sits_on: dt.date | None
    venue: str | None


class ArchiveOut(BaseModel):
    passed: bool
    registrations: list[ArchiveRegistrationOut]
    results: list[ArchiveResultOut]


def _session_view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "seats_left": int(row["capacity"]) - int(row["registered"])}


# -- sessions ----------------------------------------------------------------------------
@router.post("/exam-sessions", status_code=201, response_model=SessionOut,
             summary="Schedule an exam session (regulator or exam staff)")
def create_session(body: SessionIn, request: Request, principal: ExamStaff, now: Now
                   ) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return _session_view(exams.create_session(
            cur, actor=actor_of(principal), now=now, sits_on=body.sits_on, venue=body.venue,
            district=body.district, capacity=body.capacity))


@router.get("/exam-sessions", response_model=ScheduleOut,
            summary="Exam sessions of a year (public), with the two-a-year check")
def list_sessions(request: Request, now: Now,
                  year: Annotated[int | None, Query(ge=2000, le=2200)] = None
                  ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        out = exams.schedule(cur, year=year or now.year)
    out["items"] = [_session_view(r) for r in out["items"]]
    return out


def _refused() -> NotEligible:
    # The same words, whatever the reason: the reason stays with the regulator.
    return NotEligible(exams.NOT_ELIGIBLE, reason="not-eligible")


@router.post("/exam-sessions/{session_id}/applications", status_code=201,
             response_model=AppliedOut,
             summary="Apply online for the exam (public: ID number, name and phone), "
                     "confirmed with a texted code; the registration code is shown once",
             responses={202: {"model": ApplicationReceivedOut,
                              "description": "without a valid confirmation_code: the same "
                              "answer whatever the person; a code is texted"}})
def apply_online(session_id: Id, body: ApplicationIn, request: Request, now: Now) -> Any:
    rate_limit_client(request, "exam")
    rt = runtime(request)
    with rt.db.transaction() as cur:
        done = exams.apply_with_consent(
            cur, actor=exams.PUBLIC, now=now, session_id=session_id, id_number=body.id_number,
            name=body.name, phone=body.phone, code=body.confirmation_code,
            policy=enroll_consent.Policy.from_settings(rt.settings))
    if isinstance(done, exams.ApplicationReceived):
        return JSONResponse(done.view(), status_code=202)
    if done.registration is None:
        raise _refused()
    reg = done.registration
    return {"registration_code": done.code, "session_id": reg["session_id"],
            "sits_on": reg["sits_on"], "venue": reg["venue"]}


@router.post("/exam-sessions/{session_id}/registrations", status_code=201,
             response_model=RegisteredOut,
             summary="Register a person for the exam on their behalf (company, confirmed by "
                     "the person with a texted code; or regulator)",
             responses={202: {"model": ApplicationReceivedOut,
                              "description": "a company operator's registration without a "
                              "valid confirmation_code: the same answer whatever the person; "
                              "a code is texted to the person"}})
def register(session_id: Id, body: CompanyApplicationIn, request: Request,
             principal: Applicant, now: Now) -> Any:
    rt = runtime(request)
    with rt.db.transaction() as cur:
        if principal.role is Role.COMPANY_OPERATOR:
            done = exams.apply_with_consent(
                cur, actor=actor_of(principal), now=now, session_id=session_id,
                id_number=body.id_number, name=body.name, phone=body.phone,
                code=body.confirmation_code, company_id=int(principal.company_id or 0),
                policy=enroll_consent.Policy.from_settings(rt.settings))
        else:
            done = exams.apply(cur, actor=actor_of(principal), now=now, session_id=session_id,
                               id_number=body.id_number, name=body.name, phone=body.phone,
                               applied_by="regulator")
    if isinstance(done, exams.ApplicationReceived):
        return JSONResponse(done.view(), status_code=202)
    if done.registration is None:
        raise _refused()
    reg = done.registration
    return {"registration_code": done.code, "registration_id": reg["id"],
            "session_id": reg["session_id"],
            "sits_on": reg["sits_on"], "venue": reg["venue"]}


def _registration_view(cur: Cursor, row: dict[str, Any], *, capture: bool) -> dict[str, Any]:
    view = {k: row[k] for k in ("id", "session_id", "guard_id", "name", "sits_on", "venue",
                                "district", "applied_by", "attended_at", "passed")}
    view["score"] = float(row["score"]) if row["score"] is not None else None
    if capture:
        status = exam_usecase.capture_status(cur, str(row["biometric_subject"]))
        view.update(face=status.face, fingers_enrolled=status.fingers_enrolled)
    return view


@router.get("/exam-sessions/{session_id}/registrations", response_model=RegistrationsOut,
            summary="Candidates of a session (exam staff)")
@public_guard_ids
def list_registrations(session_id: Id, request: Request, principal: ExamStaff,
                       cursor: Annotated[PageAt, page_cursor("exam-registrations")],
                       limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = exams.session_registrations(cur, session_id, after_id=cursor.last, limit=limit)
        items = [_registration_view(cur, r, capture=True) for r in rows]
    return {"items": items, "next_cursor": cursor.next_of(rows, limit)}


@router.get("/exam-refusals", response_model=RefusalsOut,
            summary="Refused applications and their reasons (regulator only)")
@public_guard_ids
def list_refusals(request: Request, principal: Regulator,
                  cursor: Annotated[PageAt, page_cursor("exam-refusals")],
                  session_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = exams.refusals(cur, session_id=session_id, after_id=cursor.last, limit=limit)
    return {"items": rows, "next_cursor": cursor.next_of(rows, limit)}


# -- the registration point (station) ------------------------------------------------------
@router.post("/exam-registrations/lookup", response_model=RegistrationsOut,
             summary="Find a candidate's registrations by the ID card shown (exam staff)")
@public_guard_ids
def lookup(body: LookupIn, request: Request, principal: ExamStaff, now: Now
           ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = exams.lookup(cur, id_number=body.id_number, session_id=body.session_id,
                            now=now)
        return {"items": [_registration_view(cur, r, capture=True) for r in rows]}


@router.get("/exam-registrations/{registration_id}", response_model=RegistrationOut,
            summary="One registration with its capture status (exam staff)")
@public_guard_ids
def get_registration(registration_id: Id, request: Request, principal: ExamStaff
                     ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return _registration_view(cur, exams.registration(cur, registration_id),
                                  capture=True)


def _registered_person(registration_id: int) -> GuardLoader:
    return lambda cur, lock: exams.registered_guard(cur, registration_id, for_update=lock)


@router.post("/exam-registrations/{registration_id}/face", status_code=201,
             response_model=FaceCaptureOut, responses=FACE_HELD,
             summary="Capture the candidate's photo at the registration point (1:N search)")
def capture_candidate_face(registration_id: Id, request: Request, principal: ExamStaff,
                           now: Now, photo: Annotated[UploadFile, File()]) -> Any:
    return capture_face(request, principal, now, photo, _registered_person(registration_id))


@router.post("/exam-registrations/{registration_id}/fingers/{position}", status_code=201,
             response_model=FingerCaptureOut, responses=FINGER_HELD,
             summary="Capture one of the candidate's fingers at the registration point")
def capture_candidate_finger(registration_id: Id, request: Request, principal: ExamStaff,
                             now: Now,
                             position: Annotated[int, Path(ge=1, le=10)],
                             image: Annotated[UploadFile | None, File()] = None,
                             template: Annotated[UploadFile | None, File()] = None,
                             dpi: Annotated[float | None, Form(ge=250, le=1200)] = None
                             ) -> Any:
    return capture_finger(request, principal, now, position, image, template, dpi,
                          _registered_person(registration_id))


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, media_type="application/pdf",
                    headers={"Cache-Control": "no-store",
                             "Content-Disposition": f'inline; filename="{name}"'})


@router.get("/exam-registrations/{registration_id}/ticket.pdf", response_class=Response,
            responses=PDF,
            summary="Print the admission ticket (exam staff), with the captured portrait")
def staff_ticket(registration_id: Id, request: Request, principal: ExamStaff, now: Now
                 ) -> Response:
    pdf = exam_usecase.ticket_pdf(runtime(request), registration_id=registration_id, now=now,
                                  with_photo=True)
    return _pdf(pdf, f"exam-ticket-{registration_id}.pdf")


@router.post("/public/exam-ticket", response_class=Response, responses=PDF,
             summary="Download one's admission ticket (public: ID number and registration "
                     "code); no photo")
def public_ticket(body: TicketIn, request: Request, now: Now) -> Response:
    rate_limit_client(request, "exam")
    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        reg = exams.by_code(cur, id_number=body.id_number, code=body.registration_code,
                            now=now)
    pdf = exam_usecase.ticket_pdf(rt, registration_id=int(reg["id"]), now=now,
                                  with_photo=False)
    return _pdf(pdf, "exam-ticket.pdf")


@router.post("/exam-attendance", response_model=AttendanceOut,
             summary="Attendance at the venue: the ticket, a live photo and one finger, "
                     "decided by the fused face + finger score")
def attendance(request: Request, principal: ExamStaff, now: Now,
               ticket: Annotated[str, Form(min_length=5, max_length=4096)],
               photo: Annotated[UploadFile, File()],
               finger: Annotated[UploadFile, File()],
               position: Annotated[int | None, Form(ge=1, le=10)] = None) -> Any:
    return exam_usecase.attendance(runtime(request), actor=actor_of(principal), now=now,
                                   ticket=ticket, photo=photo,
                                   finger=finger, position=position)


# -- results -------------------------------------------------------------------------------
@router.post("/exam-sessions/{session_id}/results", response_model=ResultOut,
             summary="Record one candidate's result (exam staff)")
@public_guard_ids
def record_result(session_id: Id, body: ResultIn, request: Request, principal: ExamStaff,
                  now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        out = exams.record_result(cur, actor=actor_of(principal), now=now,
                                  session_id=session_id, id_number=body.id_number,
                                  passed=body.passed, score=body.score)
    out["score"] = float(out["score"]) if out["score"] is not None else None
    return out


@router.post("/exam-sessions/{session_id}/results/import", response_model=ImportOut,
             summary="Import a session's results as CSV (id_number,result[,score]); all or "
                     "nothing, errors by line number")
async def import_results(session_id: Id, request: Request, principal: ExamStaff, now: Now,
                         file: Annotated[UploadFile | None, File()] = None) -> Any:
    from starlette.concurrency import run_in_threadpool

    data = await csv_import.read_body(request, file)
    return await run_in_threadpool(_import, request, principal, now, session_id, data)


def _import(request: Request, principal: Principal, now: dt.datetime, session_id: int,
            data: bytes) -> dict[str, int]:
    with runtime(request).db.transaction() as cur:
        done = exams.import_results(cur, actor=actor_of(principal), now=now,
                                    session_id=session_id,
                                    rows=csv_import.rows(data, required=("id_number", "result"),
                                                         optional=("score", "name")))
    return {"recorded": done.recorded, "passed": done.passed}


@router.post("/guards/{guard_id}/exam-results", status_code=201,
             response_model=ExternalResultOut,
             summary="Record an exam result from elsewhere, with its evidence (regulator)")
@public_guard_ids
def external_result(guard_id: GuardRef, body: ExternalResultIn, request: Request,
                    principal: Regulator, now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return exams.record_external(cur, actor=actor_of(principal), now=now,
                                     guard_id=guard_id, passed=body.passed,
                                     evidence=body.evidence, score=body.score)


@router.get("/guards/{guard_id}/exams", response_model=ArchiveOut,
            summary="The person's exam record (archive)")
def archive(guard_id: GuardRef, request: Request, principal: StaffOrSelf) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
        return exams.archive(cur, guard_id)
