"""A signing key's compromise (regulator, issue 14): declare it, re-issue what it signed
in batches, report what it may have signed. The use cases are api/usecases/keys.py and
certificates/compromise.py."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import Field

from api.access import public_guard_ids
from api.deps import certs, clock, require, runtime
from api.schemas import Input
from api.schemas_certificates import CompromiseOut, CompromiseReportOut, ReissueBatchOut
from api.usecases import keys
from certificates import compromise
from registry.auth import Principal, Role

router = APIRouter(prefix="/v1", tags=["certificates"])
Now = Annotated[dt.datetime, Depends(clock)]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]


KidPath = Annotated[str, Path(pattern="^[0-9a-fA-F]{16}$", description="key id (hex)")]


class CompromiseIn(Input):
    compromised_since: dt.datetime = Field(
        description="from when the key may have leaked (ISO 8601 with a time zone)")


@router.post("/keys/{kid}/compromise", response_model=CompromiseOut,
             response_model_exclude_unset=True,
             summary="Declare a signing key compromised (regulator, audited)")
def declare_compromise(kid: KidPath, body: CompromiseIn, request: Request,
                       principal: Regulator, now: Now) -> Any:
    out = keys.declare_compromise(runtime(request).db, certs(request), principal,
                                  kid=bytes.fromhex(kid), since=body.compromised_since, now=now)
    return jsonable_encoder(out)


@router.post("/keys/{kid}/reissue", response_model=ReissueBatchOut,
             summary="Re-issue one batch of live certificates of a compromised key")
def reissue_batch(kid: KidPath, request: Request, principal: Regulator, now: Now,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Any:
    with runtime(request).db.transaction() as cur:
        result = keys.reissue_batch(cur, certs(request), principal, kid=bytes.fromhex(kid),
                                    now=now, limit=limit)
    return result.as_dict()


@router.get("/keys/{kid}/compromise-report", response_model=CompromiseReportOut,
            response_model_exclude_unset=True,
            summary="What a compromised key signed since it may have leaked (regulator)")
@public_guard_ids
def compromise_report(kid: KidPath, request: Request, principal: Regulator, now: Now,
                      limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> Any:
    ctx = certs(request)
    with runtime(request).db.transaction(readonly=True) as cur:
        rep = compromise.report(cur, ring=ctx.keyring, kid=bytes.fromhex(kid), now=now,
                                limit=limit)
    return jsonable_encoder(rep)
