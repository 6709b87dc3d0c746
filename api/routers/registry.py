"""Companies, guards, employment, background checks and bans."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from api import idempotency
from api.access import (
    GuardRef,
    actor_of,
    company_for,
    company_scope,
    enrolling_company,
    guard_for,
    publicise_guards,
)
from api.cursors import PageAt, page_cursor
from api.deps import clock, require, runtime
from api.schemas import (
    AwaitingConfirmationOut,
    BackgroundCheckIn,
    BanIn,
    CompanyIn,
    CompanyOut,
    CompanyPatch,
    EmploymentEndIn,
    GuardIn,
    GuardPatch,
    HireCodeOut,
    Page,
    company_view,
    guard_view,
)
from api.schemas_registry import (
    BackgroundCheckOut,
    BackgroundChecksOut,
    BanLiftedOut,
    BanOut,
    CompanyHistoryOut,
    EmploymentEndedOut,
    EmploymentsOut,
    GuardChangedOut,
    GuardEnrolledOut,
    GuardOut,
)
from api.usecases import guards
from api.usecases.issuing import follow_change
from registry import enroll_consent, hire_consent, queries, service
from registry.auth import Principal, Role

router = APIRouter(prefix="/v1", tags=["registry"])

Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
Staff = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR))]
StaffOrSelf = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR,
                                                   Role.GUARD))]
Guard = Annotated[Principal, Depends(require(Role.GUARD))]
Now = Annotated[dt.datetime, Depends(clock)]


def _limit(request: Request, limit: int) -> int:
    return min(limit, runtime(request).settings.max_page_size)


# -- companies -----------------------------------------------------------------------
@router.post("/companies", status_code=201, response_model=CompanyOut,
             summary="Register a company (regulator)")
def create_company(body: CompanyIn, request: Request, principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        return idempotency.run(cur, request, principal, body, lambda: (201, company_view(
            service.create_company(cur, actor=actor_of(principal), now=now,
                                   **body.model_dump()))))


@router.get("/companies", response_model=Page[CompanyOut], summary="List companies")
def list_companies(request: Request, principal: Staff,
                   cursor: Annotated[PageAt, page_cursor("companies")],
                   status: Annotated[str | None, Query(max_length=20)] = None,
                   district: Annotated[str | None, Query(max_length=64)] = None,
                   q: Annotated[str | None, Query(min_length=1, max_length=100,
                                                  description="name part or credit code")]
                   = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Any:
    limit = _limit(request, limit)
    with runtime(request).db.transaction(readonly=True) as cur:
        page = queries.companies(cur, company_id=company_scope(principal, None),
                                 after_id=cursor.last, limit=limit, status=status,
                                 district=district, query=q)
    return {"items": [company_view(r) for r in page.items],
            "next_cursor": cursor.next_cursor(page.next_cursor)}


@router.get("/companies/{company_id}", response_model=CompanyOut, summary="One company")
def get_company(company_id: int, request: Request, principal: Staff) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return company_view(company_for(cur, principal, company_id))


@router.patch("/companies/{company_id}", response_model=CompanyOut,
              summary="Change a company's details (regulator)")
def patch_company(company_id: int, body: CompanyPatch, request: Request, principal: Regulator,
                  now: Now) -> Any:
    changes = body.model_dump(exclude_none=True, exclude={"expected_version"})
    with runtime(request).db.transaction() as cur:
        return company_view(service.update_company(
            cur, actor=actor_of(principal), now=now, company_id=company_id, changes=changes,
            expected_version=body.expected_version))


@router.get("/companies/{company_id}/history", response_model=CompanyHistoryOut,
            summary="A company's change history")
def company_history(company_id: int, request: Request, principal: Staff) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return {"items": queries.company_history(cur, company_id)}


# -- guards --------------------------------------------------------------------------
@router.post("/guards", status_code=201, response_model=GuardEnrolledOut,
             response_model_exclude_unset=True, summary="Enroll a guard with a company",
             responses={202: {"model": AwaitingConfirmationOut,
                              "description": "a company operator's enrollment without a "
                              "valid code: the person confirms it with a texted code"}})
def enroll_guard(body: GuardIn, request: Request, principal: Staff, now: Now) -> Any:
    company_id = enrolling_company(principal, body.company_id)
    rt = runtime(request)
    enrolled: list[int] = []  # the row id, when this request enrolled (not a replay)
    with rt.db.transaction() as cur:
        def action() -> tuple[int, Any]:
            row = service.enroll_guard(
                cur, actor=actor_of(principal), now=now, company_id=company_id,
                consent_policy=enroll_consent.Policy.from_settings(rt.settings),
                **body.model_dump(exclude={"company_id"}))
            if isinstance(row, enroll_consent.AwaitingConfirmation):
                return 202, row.view()
            enrolled.append(int(row["id"]))
            view = guard_view(row, principal, today=now.date())
            view["rehired"] = row["rehired"]
            view["enrollment_held"] = row["enrollment_hold_id"] is not None
            return 201, view
        answer = idempotency.run(cur, request, principal, body, action)
    if answer.status_code == 201 and "idempotent-replayed" not in answer.headers:
        view = json.loads(bytes(answer.body))
        if view.get("rehired"):
            # A new hire of a certified person: the certificate follows (issue 15).
            view.update(follow_change(rt.db, rt.certs, principal, enrolled[0], now))
            return JSONResponse(view, status_code=201)
    return answer


@router.post("/me/hire-code", response_model=HireCodeOut,
             summary="A guard's one-time hire code, to give a new employer (consent to be "
                     "hired by another company); a new code replaces the previous one")
def my_hire_code(request: Request, principal: Guard, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        guard = guard_for(cur, principal, int(principal.guard_id or 0), for_update=True)
        code, expires = hire_consent.issue(cur, actor=actor_of(principal), now=now,
                                           guard_id=int(guard["id"]),
                                           public_id=str(guard["public_id"]))
    return {"code": code, "expires_at": expires}


@router.get("/guards", response_model=Page[GuardOut], response_model_exclude_unset=True,
            summary="List guards (filter and page)")
def list_guards(request: Request, principal: Staff, now: Now,
                cursor: Annotated[PageAt, page_cursor("guards")],
                company_id: Annotated[int | None, Query(ge=1)] = None,
                status: Annotated[str | None, Query(max_length=20)] = None,
                district: Annotated[str | None, Query(max_length=64)] = None,
                level: Annotated[int | None, Query(ge=1, le=5)] = None,
                include: Annotated[Literal["capture"] | None, Query(
                    description="capture: add face/finger/certificate status per guard")] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Any:
    limit = _limit(request, limit)
    scope = company_scope(principal, company_id)
    with runtime(request).db.transaction(readonly=True) as cur:
        found = guards.roster(cur, company_id=scope, after_id=cursor.last, limit=limit,
                              status=status, district=district, skill_level=level,
                              with_capture=include == "capture")
    items = []
    for r in found.page.items:
        item = guard_view(r, principal, today=now.date())
        if include == "capture":
            item["capture"] = found.capture.get(int(r["id"]))
        items.append(item)
    return {"items": items, "next_cursor": cursor.next_cursor(found.page.next_cursor)}


@router.get("/guards/{guard_id}", response_model=GuardOut, response_model_exclude_unset=True,
            summary="One guard (as the caller's role may see it)")
def get_guard(guard_id: GuardRef, request: Request, principal: StaffOrSelf, now: Now) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return guard_view(guard_for(cur, principal, guard_id), principal, today=now.date())


@router.patch("/guards/{guard_id}", response_model=GuardChangedOut,
              response_model_exclude_unset=True, summary="Change a guard's record")
def patch_guard(guard_id: GuardRef, body: GuardPatch, request: Request, principal: Staff,
                now: Now) -> Any:
    rt = runtime(request)
    changed = guards.change(rt.db, rt.certs, principal, guard_id,
                            body.model_dump(exclude_none=True), now)
    return {**guard_view(changed.guard, principal, today=now.date()), **(changed.reissue or {})}


@router.get("/guards/{guard_id}/employment", response_model=EmploymentsOut,
            summary="Employment history")
def employment_history(guard_id: GuardRef, request: Request, principal: StaffOrSelf) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
        return {"items": queries.employment_history(cur, guard_id)}


@router.post("/guards/{guard_id}/employment/end", response_model=EmploymentEndedOut,
             summary="End the guard's current employment")
def end_employment(guard_id: GuardRef, body: EmploymentEndIn, request: Request, principal: Staff,
                   now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        guard_for(cur, principal, guard_id, for_update=True)
        # The guard is named by its public id, as everywhere in the API (issue 14).
        return publicise_guards(cur, [service.end_employment(
            cur, actor=actor_of(principal), now=now, guard_id=guard_id, reason=body.reason,
            ended_on=body.ended_on)])[0]


@router.post("/guards/{guard_id}/background-checks", status_code=201,
             response_model=BackgroundCheckOut, summary="Record a background check (regulator)")
def add_background_check(guard_id: GuardRef, body: BackgroundCheckIn, request: Request,
                         principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        guard_for(cur, principal, guard_id)
        return idempotency.run(cur, request, principal, body, lambda: (201, publicise_guards(
            cur, [service.record_background_check(cur, actor=actor_of(principal), now=now,
                                                  guard_id=guard_id, **body.model_dump())])[0]))


@router.get("/guards/{guard_id}/background-checks", response_model=BackgroundChecksOut,
            summary="Background checks (regulator)")
def list_background_checks(guard_id: GuardRef, request: Request, principal: Regulator) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
        return {"items": publicise_guards(cur, queries.background_checks(cur, guard_id))}


# -- bans ----------------------------------------------------------------------------
@router.post("/bans", status_code=201, response_model=BanOut,
             summary="Ban a person from the industry (regulator)")
def create_ban(body: BanIn, request: Request, principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        return idempotency.run(cur, request, principal, body, lambda: (201, service.ban_person(
            cur, actor=actor_of(principal), now=now, **body.model_dump())))


@router.get("/bans", response_model=Page[BanOut], summary="List bans (regulator)")
def list_bans(request: Request, principal: Regulator,
              cursor: Annotated[PageAt, page_cursor("bans")],
              limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Any:
    limit = _limit(request, limit)
    with runtime(request).db.transaction(readonly=True) as cur:
        page = queries.bans(cur, after_id=cursor.last, limit=limit)
    return {"items": page.items, "next_cursor": cursor.next_cursor(page.next_cursor)}


@router.post("/bans/{ban_id}/lift", response_model=BanLiftedOut, summary="Lift a ban (regulator)")
def lift_ban(ban_id: int, request: Request, principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        return service.lift_ban(cur, actor=actor_of(principal), now=now, ban_id=ban_id)
