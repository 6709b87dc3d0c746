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
from api.usecases.issuing import REISSUE_FIELDS, follow_change
from registry import enroll_consent, hire_consent, repository, service
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


@router.get("/companies", response_model=Page, summary="List companies")
def list_companies(request: Request, principal: Staff,
                   status: Annotated[str | None, Query(max_length=20)] = None,
                   district: Annotated[str | None, Query(max_length=64)] = None,
                   q: Annotated[str | None, Query(min_length=1, max_length=100,
                                                  description="name part or credit code")]
                   = None,
                   cursor: Annotated[int, Query(ge=0)] = 0,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Any:
    limit = _limit(request, limit)
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = repository.list_companies(cur, after_id=cursor, limit=limit, status=status,
                                         district=district, query=q,
                                         company_id=company_scope(principal, None))
    return {"items": [company_view(r) for r in rows],
            "next_cursor": rows[-1]["id"] if len(rows) == limit else None}


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


@router.get("/companies/{company_id}/history", summary="A company's change history")
def company_history(company_id: int, request: Request, principal: Staff) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return {"items": repository.company_history(cur, company_id)}


# -- guards --------------------------------------------------------------------------
@router.post("/guards", status_code=201, summary="Enroll a guard with a company",
             responses={202: {"model": AwaitingConfirmationOut,
                              "description": "a company operator's enrollment without a "
                              "valid code: the person confirms it with a texted code"}})
def enroll_guard(body: GuardIn, request: Request, principal: Staff, now: Now) -> Any:
    company_id = enrolling_company(principal, body.company_id)
    rt = runtime(request)
    with rt.db.transaction() as cur:
        def action() -> tuple[int, Any]:
            row = service.enroll_guard(
                cur, actor=actor_of(principal), now=now, company_id=company_id,
                consent_policy=enroll_consent.Policy.from_settings(rt.settings),
                **body.model_dump(exclude={"company_id"}))
            if isinstance(row, enroll_consent.AwaitingConfirmation):
                return 202, row.view()
            view = guard_view(row, principal, today=now.date())
            view["rehired"] = row["rehired"]
            view["enrollment_held"] = row["enrollment_hold_id"] is not None
            return 201, view
        answer = idempotency.run(cur, request, principal, body, action)
    if answer.status_code == 201 and "idempotent-replayed" not in answer.headers:
        view = json.loads(bytes(answer.body))
        if view.get("rehired"):
            # A new hire of a certified person: the certificate follows (issue 15).
            # The answer names the guard by public id; the use case takes the row id.
            with rt.db.snapshot() as cur:
                internal = repository.guard_id_of(cur, str(view["id"]))
            assert internal is not None
            view.update(follow_change(rt.db, rt.certs, principal, internal, now))
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


@router.get("/guards", response_model=Page, summary="List guards (filter and page)")
def list_guards(request: Request, principal: Staff, now: Now,
                company_id: Annotated[int | None, Query(ge=1)] = None,
                status: Annotated[str | None, Query(max_length=20)] = None,
                district: Annotated[str | None, Query(max_length=64)] = None,
                level: Annotated[int | None, Query(ge=1, le=5)] = None,
                include: Annotated[Literal["capture"] | None, Query(
                    description="capture: add face/finger/certificate status per guard")] = None,
                cursor: Annotated[int, Query(ge=0)] = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Any:
    from api import reporting_repository

    limit = _limit(request, limit)
    scope = company_scope(principal, company_id)
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = repository.list_guards(cur, after_id=cursor, limit=limit, company_id=scope,
                                      status=status, district=district, skill_level=level)
        capture = (reporting_repository.capture_summaries(cur, [int(r["id"]) for r in rows])
                   if include == "capture" else {})
    items = []
    for r in rows:
        item = guard_view(r, principal, today=now.date())
        if include == "capture":
            item["capture"] = capture.get(int(r["id"]))
        items.append(item)
    return {"items": items, "next_cursor": rows[-1]["id"] if len(rows) == limit else None}


@router.get("/guards/{guard_id}", summary="One guard (as the caller's role may see it)")
def get_guard(guard_id: GuardRef, request: Request, principal: StaffOrSelf, now: Now) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return guard_view(guard_for(cur, principal, guard_id), principal, today=now.date())


@router.patch("/guards/{guard_id}", summary="Change a guard's record")
def patch_guard(guard_id: GuardRef, body: GuardPatch, request: Request, principal: Staff,
                now: Now) -> Any:
    allowed = (service.GUARD_EDITABLE_BY_REGULATOR if principal.role is Role.REGULATOR
               else service.GUARD_EDITABLE_BY_COMPANY)
    changes = body.model_dump(exclude_none=True)
    rt = runtime(request)
    with rt.db.transaction() as cur:
        before = guard_for(cur, principal, guard_id, for_update=True)
        row = service.update_guard(cur, actor=actor_of(principal), now=now, guard_id=guard_id,
                                   changes=changes, allowed=frozenset(allowed))
        view = guard_view(row, principal, today=now.date())
    if any(k in REISSUE_FIELDS and before[k] != row[k] for k in changes):
        # The name or the level on the certificate changed: it is re-issued (issue 15).
        view.update(follow_change(rt.db, rt.certs, principal, guard_id, now))
    return view


@router.get("/guards/{guard_id}/employment", summary="Employment history")
def employment_history(guard_id: GuardRef, request: Request, principal: StaffOrSelf) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
        return {"items": repository.employment_history(cur, guard_id)}


@router.post("/guards/{guard_id}/employment/end", summary="End the guard's current employment")
def end_employment(guard_id: GuardRef, body: EmploymentEndIn, request: Request, principal: Staff,
                   now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        guard_for(cur, principal, guard_id, for_update=True)
        return service.end_employment(cur, actor=actor_of(principal), now=now,
                                      guard_id=guard_id, reason=body.reason,
                                      ended_on=body.ended_on)


@router.post("/guards/{guard_id}/background-checks", status_code=201,
             summary="Record a background check (regulator)")
def add_background_check(guard_id: GuardRef, body: BackgroundCheckIn, request: Request,
                         principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        guard_for(cur, principal, guard_id)
        return idempotency.run(cur, request, principal, body, lambda: (201, publicise_guards(
            cur, [service.record_background_check(cur, actor=actor_of(principal), now=now,
                                                  guard_id=guard_id, **body.model_dump())])[0]))


@router.get("/guards/{guard_id}/background-checks", summary="Background checks (regulator)")
def list_background_checks(guard_id: GuardRef, request: Request, principal: Regulator) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
        return {"items": publicise_guards(cur, repository.background_checks(cur, guard_id))}


# -- bans ----------------------------------------------------------------------------
@router.post("/bans", status_code=201, summary="Ban a person from the industry (regulator)")
def create_ban(body: BanIn, request: Request, principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        return idempotency.run(cur, request, principal, body, lambda: (201, service.ban_person(
            cur, actor=actor_of(principal), now=now, **body.model_dump())))


@router.get("/bans", response_model=Page, summary="List bans (regulator)")
def list_bans(request: Request, principal: Regulator,
              cursor: Annotated[int, Query(ge=0)] = 0,
              limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Any:
    limit = _limit(request, limit)
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = repository.list_bans(cur, after_id=cursor, limit=limit)
    return {"items": rows, "next_cursor": rows[-1]["id"] if len(rows) == limit else None}


@router.post("/bans/{ban_id}/lift", summary="Lift a ban (regulator)")
def lift_ban(ban_id: int, request: Request, principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        return service.lift_ban(cur, actor=actor_of(principal), now=now, ban_id=ban_id)
