"""Issuance, status changes, QR codes, trust and status lists, online verification.

Parse -> call -> view: the use cases live in api/usecases (issuing, certs, keys,
checkpoint) and in the certificates package; the views here are built from what they
return.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.access import GuardRef, RequestRef, public_guard_ids
from api.biometric_context import read_upload
from api.cert_context import CertContext
from api.deps import clock, rate_limit, require, runtime
from api.schemas import Input, Page
from api.schemas_certificates import (
    CertificateListOut,
    CertificateOut,
    CertificateRequestOut,
    CompromiseOut,
    CompromiseReportOut,
    DecisionOut,
    MyCertificateOut,
    ReissueBatchOut,
    StatusChangeOut,
    StatusListsOut,
    TrustListOut,
    VerificationOut,
)
from api.usecases import certs as certs_uc
from api.usecases import checkpoint, issuing, keys
from certificates import compromise, publication, qr
from registry.auth import Principal, Role
from registry.errors import NotFound

router = APIRouter(prefix="/v1", tags=["certificates"])
Now = Annotated[dt.datetime, Depends(clock)]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
Staff = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR))]
StaffOrSelf = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR,
                                                   Role.GUARD))]
Officer = Annotated[Principal, Depends(require(Role.CHECKPOINT_OFFICER, Role.REGULATOR))]

# What the binary routes return, for the OpenAPI document.
QR_MEDIA: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}, "image/svg+xml": {}},
          "description": "the QR code of the certificate's text"}}


def certs(request: Request) -> CertContext:
    ctx: CertContext = runtime(request).certs
    return ctx


# -- issuance ------------------------------------------------------------------------------
def certificate_view(cert: dict[str, Any], *, with_text: bool = True) -> dict[str, Any]:
    claims = cert["claims"]
    out = {
        "number": cert["number"], "status": cert["status"],
        "guard_id": (str(cert["guard_public_id"]) if cert.get("guard_public_id") is not None
                     else None),
        "guard_name": claims.get("guard_name"), "skill_level": cert["skill_level"],
        "employer_id": cert["employer_id"], "employer_name": claims.get("employer_name"),
        "issued_at": cert["issued_at"], "expires_at": cert["expires_at"],
        "status_reason": cert["status_reason"], "status_changed_at": cert["status_changed_at"],
        "status_ref": claims.get("status"),
    }
    if with_text:
        out["text"] = cert["text"]
    return out


@router.post("/guards/{guard_id}/certificate", status_code=201, response_model=CertificateOut,
             responses={200: {"model": CertificateOut,
                              "description": "the live certificate, unchanged (idempotent)"}},
             summary="Issue (or re-issue) the guard's certificate (regulator); idempotent")
def issue_certificate(guard_id: GuardRef, request: Request, principal: Regulator,
                      now: Now) -> Response:
    created, cert = issuing.issue_for(runtime(request).db, certs(request), principal,
                                      guard_id, now)
    return JSONResponse(_jsonable(certificate_view(cert)), status_code=201 if created else 200)


class RequestIn(Input):
    note: str | None = Field(default=None, max_length=500)


@router.post("/guards/{guard_id}/certificate-requests", status_code=201,
             response_model=CertificateRequestOut,
             summary="A company asks the regulator to issue its guard's certificate; an "
                     "ineligible guard is refused (422 with the reasons)")
def request_certificate(guard_id: GuardRef, body: RequestIn, request: Request, principal: Staff,
                        now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        row = issuing.request_certificate(cur, principal, guard_id, body.note, now)
    return _jsonable(request_view(row))


def request_view(row: dict[str, Any]) -> dict[str, Any]:
    """An issuance request as callers see it: public ids only."""
    out = {"id": str(row["public_id"]), "guard_id": str(row["guard_public_id"])}
    for key in ("company_id", "requested_by", "status", "note", "decided_by", "decided_at",
                "created_at", "certificate_number"):
        if key in row:
            out[key] = row[key]
    return out


class ReasonOut(BaseModel):
    code: str
    message: str


class EligibilityOut(BaseModel):
    guard_id: str = Field(description="the guard's public id")
    eligible: bool
    reasons: list[ReasonOut] = Field(
        description="what bars the certificate; a company reads its own wording, and "
                    "reasons from police records only as 'regulator-bar'")


@router.get("/guards/{guard_id}/eligibility", response_model=EligibilityOut,
            summary="Can this guard get a certificate now, and if not why (the company's "
                    "pre-check before a request)")
def guard_eligibility(guard_id: GuardRef, request: Request,
                      principal: Staff, now: Now) -> EligibilityOut:
    with runtime(request).db.transaction(readonly=True) as cur:
        public, reasons = issuing.guard_eligibility(cur, principal, guard_id, now)
    return EligibilityOut(guard_id=public, eligible=not reasons,
                          reasons=[ReasonOut(**r) for r in reasons])


@router.get("/certificate-requests", response_model=Page[CertificateRequestOut],
            summary="Issuance requests (regulator: all; company: own)")
def list_requests(request: Request, principal: Staff,
                  status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")]
                  = "pending",
                  cursor: Annotated[int, Query(ge=0)] = 0,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Any:
    limit = min(limit, runtime(request).settings.max_page_size)
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = issuing.list_requests(cur, principal, status=status, after_id=cursor,
                                     limit=limit)
    return _jsonable({"items": [request_view(r) for r in rows],
                      "next_cursor": rows[-1]["id"] if len(rows) == limit else None})


class DecisionIn(Input):
    approve: bool
    note: str | None = Field(default=None, max_length=500)


@router.post("/certificate-requests/{request_id}/decision", response_model=DecisionOut,
             summary="Approve (issue) or reject a company's request (regulator)")
def decide_request(request_id: RequestRef, body: DecisionIn, request: Request, principal: Regulator,
                   now: Now) -> Any:
    decided = issuing.decide_request(runtime(request).db, certs(request), principal, request_id,
                                     approve=body.approve, now=now)
    cert = decided.certificate
    return _jsonable({"request_id": decided.request_id, "approved": decided.approved,
                      "certificate": certificate_view(cert) if cert else None})


@router.get("/guards/{guard_id}/certificates", response_model=CertificateListOut,
            summary="A guard's certificates, newest last")
def guard_certificates(guard_id: GuardRef, request: Request, principal: StaffOrSelf) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = certs_uc.certificates_of(cur, principal, guard_id)
    return _jsonable({"items": [certificate_view(r) for r in rows]})


@router.get("/certificates/{number}", response_model=CertificateOut, summary="One certificate")
def get_certificate(number: str, request: Request, principal: StaffOrSelf) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return _jsonable(certificate_view(certs_uc.certificate_for(cur, principal, number)))


@router.get("/certificates/{number}/qr.{fmt}", summary="The certificate's QR code (PNG or SVG)",
            response_class=Response, responses=QR_MEDIA)
def certificate_qr(number: str, fmt: str, request: Request, principal: StaffOrSelf,
                   scale: Annotated[int, Query(ge=2, le=20)] = 8) -> Response:
    with runtime(request).db.transaction(readonly=True) as cur:
        cert = certs_uc.certificate_for(cur, principal, number)
    return _qr_response(cert, fmt, scale)


def _qr_response(cert: dict[str, Any], fmt: str, scale: int) -> Response:
    if not cert["text"]:
        raise NotFound("the certificate is not signed yet")
    if fmt == "png":
        return Response(qr.render_png(cert["text"], box_size=scale), media_type="image/png")
    if fmt == "svg":
        return Response(qr.render_svg(cert["text"], box_size=scale), media_type="image/svg+xml")
    raise NotFound("QR formats: png, svg")


class StatusChangeIn(Input):
    reason: str = Field(min_length=1, max_length=60)


def _status_change(request: Request, principal: Principal, number: str, now: dt.datetime,
                   op: certs_uc.StatusOp, reason: str | None) -> Any:
    with runtime(request).db.transaction() as cur:
        result = certs_uc.change_status(cur, certs(request), principal, number, op=op,
                                        reason=reason, now=now)
    return result.as_dict()


@router.post("/certificates/{number}/revoke", response_model=StatusChangeOut,
             summary="Revoke (reasons allowed per role)")
def revoke_certificate(number: str, body: StatusChangeIn, request: Request, principal: Staff,
                       now: Now) -> Any:
    return _status_change(request, principal, number, now, "revoke", body.reason)


@router.post("/certificates/{number}/suspend", response_model=StatusChangeOut,
             summary="Suspend (reasons allowed per role)")
def suspend_certificate(number: str, body: StatusChangeIn, request: Request, principal: Staff,
                        now: Now) -> Any:
    return _status_change(request, principal, number, now, "suspend", body.reason)


@router.post("/certificates/{number}/reinstate", response_model=StatusChangeOut,
             summary="Reinstate a suspended certificate")
def reinstate_certificate(number: str, request: Request, principal: Regulator, now: Now) -> Any:
    return _status_change(request, principal, number, now, "reinstate", None)


# -- the guard's own certificate ----------------------------------------------------------
GuardSelf = Annotated[Principal, Depends(require(Role.GUARD))]


@router.get("/me/certificate", response_model=MyCertificateOut,
            summary="My current certificate (guard)")
def my_certificate(request: Request, principal: GuardSelf) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        own = certs_uc.own_certificate_with_history(cur, principal)
    out = certificate_view(own.certificate)
    old = own.replaces
    out["replaces"] = ({"number": old["number"], "reason": old["status_reason"]}
                       if old is not None else None)
    return _jsonable(out)


@router.get("/me/certificate/qr.{fmt}", summary="My certificate's QR (guard)",
            response_class=Response, responses=QR_MEDIA)
def my_certificate_qr(fmt: str, request: Request, principal: GuardSelf,
                      scale: Annotated[int, Query(ge=2, le=20)] = 8) -> Response:
    with runtime(request).db.transaction(readonly=True) as cur:
        cert = certs_uc.own_certificate(cur, principal)
    return _qr_response(cert, fmt, scale)


# -- key compromise (regulator) ------------------------------------------------------------
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
    return _jsonable(out)


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
    return _jsonable(rep)


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
    return _jsonable(_verify_text(request, principal, text, location, True, now,
                                  "online-image"))


def _json_default(value: Any) -> str:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=_json_default, ensure_ascii=False,
                      separators=(",", ":")).encode()


def _jsonable(value: Any) -> Any:
    return jsonable_encoder(value)


# -- the printed card (its own credential, certificates/cards.py) ---------------------------
class CardOut(BaseModel):
    number: str = Field(description="<certificate number>-C<n>")
    certificate_number: str | None
    serial: int
    status: str
    status_reason: str | None
    guard_id: str = Field(description="the guard's public id")
    issued_at: dt.datetime
    expires_at: dt.datetime


class CardsOut(BaseModel):
    items: list[CardOut]


def card_view(found: certs_uc.Card) -> CardOut:
    card = found.card
    return CardOut(number=card["number"], certificate_number=found.certificate_number,
                   serial=int(card["card_serial"]), status=card["status"],
                   status_reason=card["status_reason"], guard_id=str(card["guard_public_id"]),
                   issued_at=card["issued_at"], expires_at=card["expires_at"])


@router.post("/guards/{guard_id}/cards", status_code=201, response_model=CardOut,
             summary="Print a new card (its own credential; the previous card is revoked)")
def issue_card(guard_id: GuardRef, request: Request, principal: Staff, now: Now) -> CardOut:
    with runtime(request).db.transaction() as cur:
        card = certs_uc.issue_card(cur, certs(request), principal, guard_id, now)
    return card_view(card)


@router.get("/guards/{guard_id}/cards", response_model=CardsOut,
            summary="A guard's printed cards, newest last")
def guard_cards(guard_id: GuardRef, request: Request, principal: StaffOrSelf) -> CardsOut:
    with runtime(request).db.transaction(readonly=True) as cur:
        found = certs_uc.cards_of(cur, principal, guard_id)
    return CardsOut(items=[card_view(c) for c in found])


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
