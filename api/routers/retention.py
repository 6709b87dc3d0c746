"""The person's archive for the guard (``GET /v1/me/archive``) and the retention report
for the regulator (``GET /v1/retention/report``). Parse -> use case -> view."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.access import NO_GUARD, public_guard_ids
from api.cursors import PageAt, page_cursor
from api.deps import require, runtime
from api.usecases import archive as archive_usecase
from api.usecases import retention
from registry import queries
from registry.auth import Principal, Role

router = APIRouter(tags=["career"])
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
GuardSelf = Annotated[Principal, Depends(require(Role.GUARD))]


class ArchiveCertificateOut(BaseModel):
    number: str
    status: str
    skill_level: int
    employer_id: int | None
    employer_name: str | None
    issued_at: dt.datetime
    expires_at: dt.datetime
    status_reason: str | None
    status_changed_at: dt.datetime | None


class ArchiveEmploymentOut(BaseModel):
    company_id: int
    company_name: str
    started_on: dt.date
    ended_on: dt.date | None
    end_reason: str | None


class ArchiveTrainingOut(BaseModel):
    course: str
    title: str
    starts_on: dt.date
    ends_on: dt.date
    hours: int
    training_unit: str
    completed: bool
    certificate_no: str | None


class ArchiveLevelOut(BaseModel):
    kind: str
    passed: bool
    level_before: int
    level_after: int
    evaluated_on: dt.date


class ArchiveOut(BaseModel):
    guard_id: str  # the public id
    name: str
    skill_level: int
    employer: str | None
    exams: list[dict[str, Any]]
    training: list[ArchiveTrainingOut]
    level_history: list[ArchiveLevelOut]
    certificates: list[ArchiveCertificateOut]
    employment: list[ArchiveEmploymentOut]
    more: dict[str, list[dict[str, Any]]]


@router.get("/v1/me/archive", response_model=ArchiveOut,
            summary="My archive: exams, training, level history, certificates, employment "
                    "(guard)")
@public_guard_ids
def my_archive(request: Request, principal: GuardSelf) -> dict[str, Any]:
    return archive_usecase.archive(runtime(request).db, int(principal.guard_id or 0))


class RetentionRuleOut(BaseModel):
    table: str
    what: str
    purge: str
    while_barred: str
    keeps: str | None
    why_kept: str | None


class RetentionTotalsOut(BaseModel):
    purged: int
    kept_for_bar: int


class RetentionRecordOut(BaseModel):
    id: int
    guard_id: str  # the public id
    outcome: str
    out_since: dt.date | None
    bars: list[str]
    purged: dict[str, int]
    kept: list[dict[str, str]]
    decided_at: dt.datetime


class RetentionReportOut(BaseModel):
    retention_years: int
    keeping_bars: list[str]
    totals: RetentionTotalsOut
    rules: list[RetentionRuleOut]
    items: list[RetentionRecordOut]
    next_after: str | None = Field(
        description="opaque; pass as after for the next page (null: the last)")


@router.get("/v1/retention/report", response_model=RetentionReportOut,
            summary="Retention: what is purged, what is kept and why (regulator)")
@public_guard_ids
def retention_report(request: Request, principal: Regulator,
                     after: Annotated[PageAt, page_cursor("retention-records", param="after")],
                     guard_id: Annotated[str | None, Query(
                         max_length=64, description="the guard's public id")] = None,
                     outcome: Annotated[str | None,
                                        Query(pattern=r"^(purged|kept-for-bar|released)$")
                                        ] = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    rt = runtime(request)
    internal: int | None = None
    if guard_id is not None:
        with rt.db.snapshot() as cur:
            found = queries.guard_id_of(cur, guard_id)
        internal = found if found is not None else NO_GUARD  # unknown: no record
    answer = retention.report(rt.db, rt.settings, guard_id=internal, outcome=outcome,
                              after_id=after.last, limit=limit)
    return {**answer, "next_after": after.next_cursor(answer["next_after"])}
