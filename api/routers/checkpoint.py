"""The checkpoint's routes: online verification (text, photo of a QR, live face check),
the public trust and status lists offline verifiers sync, the verifier policy.

Parse -> call -> view: the use cases are api/usecases/checkpoint.py and the
certificates package (publication, trust).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.biometric_context import read_upload
from api.deps import certs, clock, rate_limit, require, runtime
from api.schemas import Input
from api.schemas_certificates import StatusListsOut, TrustListOut, VerificationOut
from api.usecases import checkpoint
from certificates import publication
from registry.auth import Principal, Role
from registry.errors import NotFound

router = APIRouter(prefix="/v1", tags=["checkpoint"])
Now = Annotated[dt.datetime, Depends(clock)]
Officer = Annotated[Principal, Depends(require(Role.CHECKPOINT_OFFICER, Role.REGULATOR))]


# -- public lists --------------------------------------------------------------------------
@router.get("/trust-list", summary="Signed trust list of public keys (public)",
            response_class=Response,
            responses={200: {"content": {"application/cose": {}},
                             "description": "the trust list, a signed COSE_Sign1 token"}})
def trust_list(request: Request, now: Now) -> Response:
    _, token = certs(request).trust(now)
    return Response(token, media_type="application/cose",
                    headers={"Cache-Control": "public, max-age=3600"})


@router.get("/trust-list.json", response_model=TrustListOut,
            summary="The trust list, readable (public, unsigned view)")
def trust_list_json(request: Request, now: Now) -> Any:
    tl, _ = certs(request).trust(now)
    return {"issuer": tl.issuer, "issued_at": tl.issued_at, "expires_at": tl.expires_at,
            "keys": [{"kid": k.kid.hex(), "alg": k.alg, "purpose": k.purpose,
                      "spki": base64.b64encode(k.spki).decode(), "not_before": k.not_before,
                      "not_after": k.not_after, "retired_at": k.retired_at,
                      "compromised_since": k.compromised_since} for k in tl.keys],
            "next_trust_list_key_sha256": [h.hex() for h in tl.successors]}


@router.get("/status-lists", response_model=StatusListsOut,
            summary="Index of status list shards (public)")
def status_lists(request: Request) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return {"items": publication.shards(cur)}


@router.get("/status-lists/{shard}", summary="A signed status list token (public)",
            response_class=Response,
            responses={200: {"content": {"application/statuslist+cwt": {}},
                             "description": "the shard's signed status list (CWT)"}})
def status_list(shard: int, request: Request, now: Now) -> Response:
    ctx = certs(request)
    with runtime(request).db.transaction() as cur:
        found = publication.current_token(cur, shard=shard, signer=ctx.signer("status-list"),
                                          config=ctx.issuance.status, now=now)
    if found is None:
        raise NotFound("no such status list")
    token, published = found
    ttl = int(ctx.issuance.status.ttl.total_seconds())
    etag = '"' + base64.urlsafe_b64encode(hashlib.sha256(token).digest()[:12]).decode() + '"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(token, media_type="application/statuslist+cwt",
                    headers={"Cache-Control": f"public, max-age={ttl}", "ETag": etag,
                             "Last-Modified": published.strftime("%a, %d %b %Y %H:%M:%S GMT")})


# -- online verification ------------------------------------------------------------------
class VerificationIn(Input):
    text: str = Field(min_length=1, max_length=8192,
                      description="QR text: a certificate (SG1:...) or a guard phone's "
                                  "rotating presentation (SGP1:...)")
    location: str | None = Field(default=None, max_length=200)
    include_photo: bool = True
    challenge: str | None = Field(
        default=None, min_length=1, max_length=32, pattern="^[0-9A-Za-z]+$",
        description="the challenge this checkpoint showed the guard's phone, if any")


def _verify_text(request: Request, principal: Principal, text: str, location: str | None,
                 include_photo: bool, now: dt.datetime, channel: str,
                 challenge: str | None = None) -> dict[str, Any]:
    rate_limit(request, principal, "verify")
    return checkpoint.verify_text(runtime(request), principal, text, location=location,
                                  include_photo=include_photo, now=now, channel=channel,
                                  challenge=challenge)


@router.post("/verifications", response_model=VerificationOut,
             summary="Verify a certificate online (checkpoint officer)")
async def verify_online(body: VerificationIn, request: Request, principal: Officer,
                        now: Now) -> Response:
    # A coroutine with one explicit hop to a worker thread for the blocking part, and a
    # response serialised once (FastAPI would walk the result with jsonable_encoder; the
    # model documents the answer).
    result = await run_in_threadpool(_verify_text, request, principal, body.text,
                                     body.location, body.include_photo, now, "online-text",
                                     body.challenge)
    return Response(_dumps(result), media_type="application/json")


@router.post("/verifications/image", response_model=VerificationOut,
             response_model_exclude_unset=True,
             summary="Verify from a photo of the QR code")
def verify_image(request: Request, principal: Officer, now: Now,
                 image: Annotated[UploadFile, File()],
                 location: Annotated[str | None, Form(max_length=200)] = None) -> Any:
    rt = runtime(request)
    # The limit is taken before any decoding: a refused caller costs no image work.
    rate_limit(request, principal, "verify-image")
    data = read_upload(image, max_bytes=rt.settings.max_image_bytes, field="image")
    text = checkpoint.qr_text(rt, data)
    return jsonable_encoder(_verify_text(request, principal, text, location, True, now,
                                  "online-image"))


def _json_default(value: Any) -> str:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=_json_default, ensure_ascii=False,
                      separators=(",", ":")).encode()


class VerifierPolicyOut(BaseModel):
    accept_cards: bool = Field(description="do checkpoints accept a printed card")
    proof_window_s: int
    proof_skew_s: int
    face_check: bool = Field(description="the live face check is offered (online)")


@router.get("/verifier-policy", response_model=VerifierPolicyOut,
            summary="The checkpoint policy the scanner page applies (public)")
def verifier_policy(request: Request) -> VerifierPolicyOut:
    policy = certs(request).policy
    return VerifierPolicyOut(accept_cards=policy.accept_cards,
                             proof_window_s=int(policy.proof_window.total_seconds()),
                             proof_skew_s=int(policy.proof_skew.total_seconds()),
                             face_check=True)


# -- the live face check at the checkpoint (issue 18) ---------------------------------------
class FaceCheckOut(BaseModel):
    result: Literal["match", "no-match", "poor-photo"]
    strength: Literal["strong", "moderate", "weak", "none"] | None = Field(
        description="how strongly the photo resembles the enrolled face, in plain words")
    message: str
    retake: str | None = Field(default=None, description="poor photo: what to fix")
    retake_check: str | None = Field(default=None, description="poor photo: the failed check")
    threshold: float
    liveness_checked: bool = Field(
        default=False, description="always false: no liveness detection is performed")
    note: str
    photo_kept: bool = Field(default=False, description="the photo is discarded")


_LIVENESS_NOTE = ("no liveness detection: a printed photo or a screen can match; look at "
                  "the person")


@router.post("/verifications/face-check", response_model=FaceCheckOut,
             summary="Live face check: a photo of the person presenting vs the enrolled face "
                     "(1:1; no liveness detection; the photo is discarded)")
def face_check(request: Request, principal: Officer, now: Now,
               number: Annotated[str, Form(min_length=16, max_length=24,
                                           description="the certificate or card number "
                                                       "just verified")],
               photo: Annotated[UploadFile, File(description="JPEG or PNG")],
               location: Annotated[str | None, Form(max_length=200)] = None) -> FaceCheckOut:
    rt = runtime(request)
    # Per officer, taken before any image work (a refused caller costs nothing).
    rate_limit(request, principal, "face-check")
    n = number.strip().upper()
    with rt.db.transaction(readonly=True) as cur:
        subject = checkpoint.face_subject(cur, n)
    data = read_upload(photo, max_bytes=rt.settings.max_image_bytes, field="photo")
    checked = checkpoint.face_check(rt, principal, number=n, subject=subject, data=data,
                                    location=location, now=now)
    del data  # the photo is discarded
    return FaceCheckOut(result=checked.result, strength=checked.strength,
                        message=checked.message, retake=checked.retake,
                        retake_check=checked.retake_check, threshold=checked.threshold,
                        note=_LIVENESS_NOTE)
