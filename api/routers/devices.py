"""Device binding (issue 18): a guard's phone registers its P-256 public key; the
certificate is re-issued carrying it as ``cnf``, so only that phone can present it live
(certificates/presentation.py).

Who may bind: the guard's own account (``POST /v1/me/device-key``) and the regulator
(``POST /v1/guards/{guard_id}/device-key``, e.g. after a lost phone). Never an employer.
Re-binding ends the previous key and re-issues the live certificate: the certificate
that carried the old key is revoked ("superseded") in the signed status list.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.access import GuardRef, actor_of, guard_for
from api.cert_context import CertContext
from api.deps import clock, require, runtime
from api.schemas import Input
from certificates import repository as cert_repo
from certificates.presentation import DeviceKey
from registry import audit
from registry.auth import Principal, Role
from registry.errors import BadRequest, Conflict, NotEligible

router = APIRouter(prefix="/v1", tags=["devices"])
Now = Annotated[dt.datetime, Depends(clock)]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
GuardSelf = Annotated[Principal, Depends(require(Role.GUARD))]
B64URL_32 = "^[A-Za-z0-9_-]{43}$"


class DeviceKeyIn(Input):
    kty: str = Field(default="EC", pattern="^EC$")
    crv: str = Field(default="P-256", pattern="^P-256$")
    x: str = Field(pattern=B64URL_32, description="x coordinate, base64url (JWK)")
    y: str = Field(pattern=B64URL_32, description="y coordinate, base64url (JWK)")


class DeviceJwk(BaseModel):
    kty: str
    crv: str
    x: str
    y: str


class ReissueOut(BaseModel):
    done: bool
    number: str | None = None
    detail: str | None = None


class DeviceKeyOut(BaseModel):
    guard_id: str
    device_key: DeviceJwk
    bound_at: dt.datetime
    replaced_previous: bool
    certificate: ReissueOut


def _key_of(body: DeviceKeyIn) -> DeviceKey:
    try:
        x = base64.urlsafe_b64decode(body.x + "=")
        y = base64.urlsafe_b64decode(body.y + "=")
        return DeviceKey(x, y)
    except (ValueError, binascii.Error):
        raise BadRequest("the device key is not a P-256 public key",
                         code="invalid-device-key") from None


def _bind(request: Request, principal: Principal, guard_id: int, body: DeviceKeyIn,
          now: dt.datetime) -> dict[str, Any]:
    from api.routers.certificates import certs
    from api.usecases.issuing import issue_for

    key = _key_of(body)
    db = runtime(request).db
    with db.transaction() as cur:
        guard = guard_for(cur, principal, guard_id, for_update=True)
        new, old = cert_repo.bind_device_key(cur, guard_id=guard_id, x=key.x, y=key.y, at=now,
                                             by=principal.label)
        audit.record(cur, actor=actor_of(principal), action="certificate.device.bind",
                     target_type="guard", target_id=guard_id,
                     data={"device_key_id": new["id"],
                           "replaced_device_key_id": old["id"] if old else None}, now=now)
        live = cert_repo.live_certificate(cur, guard_id)
    reissue: dict[str, Any] = {"done": False}
    if live is not None:
        ctx: CertContext = certs(request)
        try:
            _, cert = issue_for(db, ctx, principal, guard_id, now)
            reissue = {"done": True, "number": cert["number"]}
        except (NotEligible, Conflict) as exc:
            reissue = {"done": False, "detail": exc.detail}
    return {"guard_id": str(guard["public_id"]), "device_key": key.to_json(),
            "bound_at": new["bound_at"],
            "replaced_previous": old is not None, "certificate": reissue}


@router.post("/me/device-key", response_model=DeviceKeyOut,
             summary="Bind this phone's key to my certificate (guard); re-issues it")
def bind_my_device(body: DeviceKeyIn, request: Request, principal: GuardSelf,
                   now: Now) -> Any:
    return _bind(request, principal, int(principal.guard_id or 0), body, now)


@router.post("/guards/{guard_id}/device-key", response_model=DeviceKeyOut,
             summary="Re-bind a guard's device key (regulator, e.g. a lost phone)")
def bind_guard_device(guard_id: GuardRef, body: DeviceKeyIn, request: Request,
                      principal: Regulator, now: Now) -> Any:
    return _bind(request, principal, guard_id, body, now)
