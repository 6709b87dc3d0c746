"""API keys, audit log and health probes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import idempotency
from api.access import actor_of, company_for, guard_for, guard_id_in, public_guard_ids
from api.cursors import PageAt, page_cursor
from api.deps import clock, require, runtime
from api.schemas import ApiKeyIn
from registry import auth, queries
from registry.auth import Principal, Role
from registry.errors import InvalidInput
from registry.jobs import JobStatus

router = APIRouter(tags=["admin"])
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
Now = Annotated[dt.datetime, Depends(clock)]


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    database: str


class PrincipalOut(BaseModel):
    id: int
    name: str
    role: Role
    company_id: int | None
    guard_id: str | None  # the public id
    key_prefix: str | None = None
    created_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class CreatedKeyOut(BaseModel):
    id: int
    name: str
    role: Role
    company_id: int | None
    guard_id: str | None  # the public id
    api_key: str | None = None  # absent from an idempotent replay: the secret is shown once


class PrincipalsOut(BaseModel):
    items: list[PrincipalOut]


class JobsOut(BaseModel):
    items: list[JobStatus]  # the runner's own record (registry/jobs.py), as the schema


class AuditEventOut(BaseModel):
    seq: int
    occurred_at: dt.datetime
    actor: str
    action: str
    target_type: str
    target_id: str | None
    request_id: str | None
    data: dict[str, Any] | None
    hash: str


class AuditEventsOut(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None


@router.get("/healthz", response_model=HealthOut, summary="Liveness (public)")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut,
            responses={503: {"description": "the database is not reachable"}},
            summary="Readiness: the database answers (public)")
def readyz(request: Request) -> Any:
    if runtime(request).db.ping():
        return {"status": "ready", "database": "ok"}
    return JSONResponse(
        {"type": "/problems/unavailable", "title": "Not ready", "status": 503,
         "detail": "the database is not reachable"},
        status_code=503, media_type="application/problem+json", headers={"Retry-After": "1"})


@router.post("/v1/apikeys", status_code=201, tags=["admin"], response_model=CreatedKeyOut,
             summary="Create a principal and its API key (shown once; regulator)")
def create_api_key(body: ApiKeyIn, request: Request, principal: Regulator, now: Now) -> Any:
    rt = runtime(request)
    with rt.db.transaction() as cur:
        if body.company_id is not None:
            company_for(cur, principal, body.company_id)
        guard_id = guard_id_in(cur, body.guard_id) if body.guard_id is not None else None
        if guard_id is not None:
            guard_for(cur, principal, guard_id)

        def action() -> tuple[int, Any]:
            created, key = auth.issue_api_key(
                cur, actor=actor_of(principal), now=now,
                pepper=rt.settings.derive_key("apikey_pepper", "apikey-hmac"),
                name=body.name, role=body.role, company_id=body.company_id,
                guard_id=guard_id)
            return 201, {**dataclasses.asdict(created), "api_key": key,
                         "guard_id": body.guard_id}
        # Never store the key itself in the idempotency table: replay without the secret.
        if request.headers.get("idempotency-key"):
            resp = idempotency.run(cur, request, principal, body, lambda: (
                lambda r: (r[0], {k: v for k, v in r[1].items() if k != "api_key"}))(action()))
            return resp
        status, result = action()
        return JSONResponse(result, status_code=status)


@router.get("/v1/apikeys", response_model=PrincipalsOut, summary="List principals (regulator)")
@public_guard_ids
def list_api_keys(request: Request, principal: Regulator) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": auth.principals(cur)}


@router.delete("/v1/apikeys/{principal_id}", status_code=204, summary="Revoke a key (regulator)")
def revoke_api_key(principal_id: int, request: Request, principal: Regulator, now: Now) -> None:
    with runtime(request).db.transaction() as cur:
        auth.revoke_api_key(cur, actor=actor_of(principal), now=now, principal_id=principal_id)
    # This worker at once; the others when the database's notification reaches them.
    runtime(request).principal_cache().invalidate(principal_id)


@router.get("/v1/jobs", response_model=JobsOut,
            summary="Scheduled jobs and their last runs (regulator)")
def list_jobs(request: Request, principal: Regulator) -> Any:
    from registry import jobs

    return {"items": [dataclasses.asdict(j) for j in jobs.status(runtime(request).db)]}


def _utc(value: dt.datetime | None, field: str) -> dt.datetime | None:
    """A time filter in UTC (no zone: UTC). The database takes offsets only up to 15:59,
    while ISO 8601 allows up to 23:59; and a time at the edge of the calendar has no UTC
    equivalent: a clear 422, never a 500."""
    if value is None:
        return None
    try:
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput("a time outside the calendar", field=field) from None


@router.get("/v1/audit/events", response_model=AuditEventsOut, summary="Audit events (regulator)")
def audit_events(request: Request, principal: Regulator,
                 cursor: Annotated[PageAt, page_cursor("audit-events")],
                 target_type: Annotated[str | None, Query(max_length=40)] = None,
                 target_id: Annotated[str | None, Query(max_length=40)] = None,
                 action: Annotated[str | None, Query(
                     max_length=80, description="action prefix, e.g. biometrics.")] = None,
                 actor: Annotated[str | None, Query(
                     max_length=80, description="part of the actor's label")] = None,
                 since: Annotated[dt.datetime | None, Query()] = None,
                 until: Annotated[dt.datetime | None, Query()] = None,
                 order: Annotated[str, Query(pattern="^(asc|desc)$", description=(
                     "desc: newest first; a cursor continues from its event in the order "
                     "asked"))] = "asc",
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
    limit = min(limit, runtime(request).settings.max_page_size)
    desc = order == "desc"
    since, until = _utc(since, "since"), _utc(until, "until")
    with runtime(request).db.transaction(readonly=True) as cur:
        page = queries.audit_events(cur, cursor=cursor.last, limit=limit, newest_first=desc,
                                    target_type=target_type, target_id=target_id,
                                    action_prefix=action or None, actor=actor or None,
                                    since=since, until=until)
    return {"items": page.items, "next_cursor": cursor.next_cursor(page.next_cursor)}


@router.get("/v1/audit/verify", response_model=queries.ChainReport,
            summary="Verify the audit hash chain (regulator)")
def audit_verify(request: Request, principal: Regulator) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return dataclasses.asdict(queries.audit_chain(cur))
