"""API keys, audit log and health probes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from api import idempotency
from api.access import actor_of, guard_for, guard_id_in, public_guard_ids
from api.deps import clock, require, runtime
from api.schemas import ApiKeyIn
from registry import audit, auth, repository
from registry.auth import Principal, Role
from registry.errors import NotFound

router = APIRouter(tags=["admin"])
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
Now = Annotated[dt.datetime, Depends(clock)]


@router.get("/healthz", summary="Liveness (public)")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers (public)")
def readyz(request: Request) -> Any:
    if runtime(request).db.ping():
        return {"status": "ready", "database": "ok"}
    return JSONResponse(
        {"type": "/problems/unavailable", "title": "Not ready", "status": 503,
         "detail": "the database is not reachable"},
        status_code=503, media_type="application/problem+json", headers={"Retry-After": "1"})


@router.post("/v1/apikeys", status_code=201, tags=["admin"],
             summary="Create a principal and its API key (shown once; regulator)")
def create_api_key(body: ApiKeyIn, request: Request, principal: Regulator, now: Now) -> Any:
    rt = runtime(request)
    with rt.db.transaction() as cur:
        if body.company_id is not None and repository.get_company(cur, body.company_id) is None:
            raise NotFound("no such company")
        guard_id = guard_id_in(cur, body.guard_id) if body.guard_id is not None else None
        if guard_id is not None:
            guard_for(cur, principal, guard_id)

        def action() -> tuple[int, Any]:
            created, key = auth.create_api_key(
                cur, pepper=rt.settings.derive_key("apikey_pepper", "apikey-hmac"),
                name=body.name, role=body.role, company_id=body.company_id,
                guard_id=guard_id)
            audit.record(cur, actor=actor_of(principal), action="apikey.create",
                         target_type="principal", target_id=created.id,
                         data={"role": created.role.value}, now=now)
            return 201, {**dataclasses.asdict(created), "api_key": key,
                         "guard_id": body.guard_id}
        # Never store the key itself in the idempotency table: replay without the secret.
        if request.headers.get("idempotency-key"):
            resp = idempotency.run(cur, request, principal, body, lambda: (
                lambda r: (r[0], {k: v for k, v in r[1].items() if k != "api_key"}))(action()))
            return resp
        status, result = action()
        return JSONResponse(result, status_code=status)


@router.get("/v1/apikeys", summary="List principals (regulator)")
@public_guard_ids
def list_api_keys(request: Request, principal: Regulator) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": repository.list_principals(cur)}


@router.delete("/v1/apikeys/{principal_id}", status_code=204, summary="Revoke a key (regulator)")
def revoke_api_key(principal_id: int, request: Request, principal: Regulator, now: Now) -> None:
    with runtime(request).db.transaction() as cur:
        if not repository.revoke_principal(cur, principal_id):
            raise NotFound("no such active key")
        audit.record(cur, actor=actor_of(principal), action="apikey.revoke",
                     target_type="principal", target_id=principal_id, now=now)
    # This worker at once; the others when the database's notification reaches them.
    runtime(request).principal_cache().invalidate(principal_id)


@router.get("/v1/jobs", summary="Scheduled jobs and their last runs (regulator)")
def list_jobs(request: Request, principal: Regulator) -> Any:
    from registry import jobs

    return {"items": [dataclasses.asdict(j) for j in jobs.status(runtime(request).db)]}


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@router.get("/v1/audit/events", summary="Audit events (regulator)")
def audit_events(request: Request, principal: Regulator,
                 target_type: Annotated[str | None, Query(max_length=40)] = None,
                 target_id: Annotated[str | None, Query(max_length=40)] = None,
                 cursor: Annotated[int, Query(ge=0)] = 0,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
    limit = min(limit, runtime(request).settings.max_page_size)
    with runtime(request).db.transaction(readonly=True) as cur:
        if target_type == "guard" and target_id is not None and not target_id.isdigit():
            # URLs and responses name guards by their public id; the log keeps the row id.
            internal = repository.guard_id_of(cur, target_id) if _is_uuid(target_id) else None
            target_id = str(internal) if internal is not None else "0"
        rows = audit.list_events(cur, after_seq=cursor, limit=limit, target_type=target_type,
                                 target_id=target_id)
    return {"items": rows, "next_cursor": rows[-1]["seq"] if len(rows) == limit else None}


@router.get("/v1/audit/verify", summary="Verify the audit hash chain (regulator)")
def audit_verify(request: Request, principal: Regulator) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return dataclasses.asdict(audit.verify_chain(cur))
