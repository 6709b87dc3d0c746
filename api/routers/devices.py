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
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.access import GuardRef
from api.deps import clock, require, runtime
from api.schemas import Input
from api.usecases import devices
from certificates.presentation import DeviceKey
from registry.auth import Principal, Role
from registry.errors import BadRequest

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
          now: dt.datetime) -> DeviceKeyOut:
    key = _key_of(body)
    rt = runtime(request)
    bound = devices.bind_device(rt.db, rt.certs, principal, guard_id, key, now)
    return DeviceKeyOut(guard_id=bound.guard_public_id, device_key=DeviceJwk(**key.to_json()),
                        bound_at=bound.bound_at, replaced_previous=bound.replaced_previous,
                        certificate=ReissueOut(**bound.reissue))


@router.post("/me/device-key", response_model=DeviceKeyOut,
             summary="Bind this phone's key to my certificate (guard); re-issues it")
def bind_my_device(body: DeviceKeyIn, request: Request, principal: GuardSelf,
                   now: Now) -> DeviceKeyOut:
    return _bind(request, principal, int(principal.guard_id or 0), body, now)


@router.post("/guards/{guard_id}/device-key", response_model=DeviceKeyOut,
             summary="Re-bind a guard's device key (regulator, e.g. a lost phone)")
def bind_guard_device(guard_id: GuardRef, body: DeviceKeyIn, request: Request,
                      principal: Regulator, now: Now) -> DeviceKeyOut:
    return _bind(request, principal, guard_id, body, now)
