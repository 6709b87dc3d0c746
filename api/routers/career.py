"""Training and skill levels (notice §6 §7). Parse -> use case -> view."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from api.access import GuardRef, actor_of, company_for, guard_for, publicise_guards
from api.deps import clock, require, runtime
from api.schemas import Input
from api.usecases import career as career_usecase
from registry import career
from registry.auth import Principal, Role

router = APIRouter(tags=["career"])
Now = Annotated[dt.datetime, Depends(clock)]
Trainer = Annotated[Principal, Depends(require(Role.REGULATOR, Role.TRAINING_UNIT))]
Assessor = Annotated[Principal, Depends(require(Role.REGULATOR, Role.SKILL_ASSESSOR))]
Staff = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR))]
StaffOrSelf = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR,
                                                   Role.GUARD))]
Id = Annotated[int, Path(ge=1, le=2**62)]
_ID_NUMBER = Field(min_length=15, max_length=18, description="from the ID card shown")
_NAME = Field(min_length=1, max_length=50, description="as on the ID card")


class CourseOut(BaseModel):
    code: str
    title: str
    rotation: bool


class CoursesOut(BaseModel):
    items: list[CourseOut]


class SessionIn(Input):
    company_id: int = Field(ge=1, le=2**62, description="the training unit")
    course: str = Field(min_length=1, max_length=40)
    starts_on: dt.date
    ends_on: dt.date
    hours: int = Field(ge=1, le=2000)
    location: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    id: int
    company_id: int
    company_name: str
    course: str
    starts_on: dt.date
    ends_on: dt.date
    hours: int
    location: str


class SessionsOut(BaseModel):
    items: list[SessionOut]


class AttendanceIn(Input):
    id_number: str = _ID_NUMBER
    name: str = _NAME
    completed: bool
    certificate_no: str | None = Field(default=None, max_length=60)


class AttendanceOut(BaseModel):
    session_id: int
    completed: bool


class TrainingRecordOut(BaseModel):
    session_id: int
    course: str
    title: str
    starts_on: dt.date
    ends_on: dt.date
    hours: int
    training_unit: str
    completed: bool
    certificate_no: str | None


class TrainingOut(BaseModel):
    items: list[TrainingRecordOut]


class DueOut(BaseModel):
    guard_id: str
    name: str
    company_id: int
    company_name: str
    district: str
    trained_on: dt.date | None
    started_on: dt.date
    due_on: dt.date


class DueListOut(BaseModel):
    months: int
    items: list[DueOut]


class EvaluationIn(Input):
    id_number: str = _ID_NUMBER
    name: str = _NAME
    kind: str = Field(pattern=r"^(exam|appraisal|competition)$")
    passed: bool
    level: int | None = Field(default=None, ge=1, le=5,
                              description="the level awarded (5 entry .. 1 highest)")
    evidence: str = Field(min_length=1, max_length=2000)
    evaluated_on: dt.date


class EvaluationOut(BaseModel):
    id: int
    kind: str
    passed: bool
    level_before: int
    level_after: int
    evidence: str
    evaluated_on: dt.date


class EvaluatedOut(EvaluationOut):
    reissued: str | None = Field(description="the new certificate's number, when re-issued")
    reissue_error: str | None


class EvaluationsOut(BaseModel):
    items: list[EvaluationOut]


@router.get("/v1/training/courses", response_model=CoursesOut,
            summary="Training courses (public)")
def courses(request: Request) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": career.courses(cur)}


@router.post("/v1/training/sessions", status_code=201, response_model=SessionOut,
             summary="Record a training session (a training unit for itself, or the regulator)")
def add_session(body: SessionIn, request: Request, principal: Trainer, now: Now
                ) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return career.add_session(
            cur, actor=actor_of(principal), principal=principal, now=now,
            company_id=body.company_id,
            session=career.SessionIn(course=body.course, starts_on=body.starts_on,
                                     ends_on=body.ends_on, hours=body.hours,
                                     location=body.location))


@router.get("/v1/training/sessions", response_model=SessionsOut,
            summary="Training sessions (a training unit sees its own)")
def list_sessions(request: Request, principal: Trainer,
                  company_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": career.sessions(cur, principal=principal, company_id=company_id,
                                         limit=limit)}


@router.post("/v1/training/sessions/{session_id}/attendance", response_model=AttendanceOut,
             summary="Record a trainee by the ID card shown, and whether they completed")
def attendance(session_id: Id, body: AttendanceIn, request: Request, principal: Trainer,
               now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        return career.record_attendance(
            cur, actor=actor_of(principal), principal=principal, now=now,
            session_id=session_id, id_number=body.id_number, name=body.name,
            completed=body.completed, certificate_no=body.certificate_no)


@router.get("/v1/guards/{guard_id}/training", response_model=TrainingOut,
            summary="A guard's training record (archive)")
def guard_training(guard_id: GuardRef, request: Request, principal: StaffOrSelf) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
        return {"items": career.training_of(cur, guard_id)}


@router.get("/v1/training/rotation-due", response_model=DueListOut,
            summary="Guards whose rotation training is due (a company sees its own)")
def rotation_due(request: Request, principal: Staff, now: Now,
                 company_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                 district: Annotated[str | None, Query(max_length=64)] = None
                 ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        if principal.role is Role.COMPANY_OPERATOR:
            company_id = principal.company_id
        elif company_id is not None:
            company_for(cur, principal, company_id)
        due = career.rotation_due(cur, now=now, company_id=company_id, district=district)
        items = publicise_guards(cur, due.guards)
    return {"months": due.months, "items": items}


@router.post("/v1/skill-evaluations", status_code=201, response_model=EvaluatedOut,
             summary="Record a skill evaluation (assessor or regulator); a level change "
                     "re-issues the certificate")
def evaluate(body: EvaluationIn, request: Request, principal: Assessor, now: Now
             ) -> dict[str, Any]:
    rt = runtime(request)
    return career_usecase.evaluate(
        rt.db, rt.certs, principal, now, id_number=body.id_number, name=body.name,
        kind=body.kind, passed=body.passed, level=body.level, evidence=body.evidence,
        evaluated_on=body.evaluated_on)


@router.get("/v1/guards/{guard_id}/skill-evaluations", response_model=EvaluationsOut,
            summary="A guard's level history")
def guard_evaluations(guard_id: GuardRef, request: Request, principal: StaffOrSelf
                      ) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
        return {"items": career.evaluations_of(cur, guard_id)}
