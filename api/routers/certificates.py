"""Issuance, requests and decisions, status changes, QR codes, printed cards.

The checkpoint's routes (verification, trust and status lists) are in
api/routers/checkpoint.py, a signing key's compromise in api/routers/keys.py.

Parse -> call -> view: the use cases live in api/usecases (issuing, certs, keys,
checkpoint) and in the certificates package; the views here are built from what they
return.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.access import GuardRef, RequestRef
from api.cursors import PageAt, page_cursor
from api.deps import certs, clock, require, runtime
from api.schemas import Input, Page
from api.schemas_certificates import (
    CertificateListOut,
    CertificateOut,
    CertificateRequestOut,
    DecisionOut,
    MyCertificateOut,
    StatusChangeOut,
)
from api.usecases import certs as certs_uc
from api.usecases import issuing
from certificates import qr
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
    return JSONResponse(jsonable_encoder(certificate_view(cert)),
                        status_code=201 if created else 200)


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
    return jsonable_encoder(request_view(row))


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
                  cursor: Annotated[PageAt, page_cursor("certificate-requests")],
                  status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")]
                  = "pending",
                  limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Any:
    limit = min(limit, runtime(request).settings.max_page_size)
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = issuing.list_requests(cur, principal, status=status, after_id=cursor.last,
                                     limit=limit)
    return jsonable_encoder({"items": [request_view(r) for r in rows],
                             "next_cursor": cursor.next_of(rows, limit)})


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
    return jsonable_encoder({"request_id": decided.request_id, "approved": decided.approved,
                      "certificate": certificate_view(cert) if cert else None})


@router.get("/guards/{guard_id}/certificates", response_model=CertificateListOut,
            summary="A guard's certificates, newest last")
def guard_certificates(guard_id: GuardRef, request: Request, principal: StaffOrSelf) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = certs_uc.certificates_of(cur, principal, guard_id)
    return jsonable_encoder({"items": [certificate_view(r) for r in rows]})


@router.get("/certificates/{number}", response_model=CertificateOut, summary="One certificate")
def get_certificate(number: str, request: Request, principal: StaffOrSelf) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return jsonable_encoder(certificate_view(certs_uc.certificate_for(cur, principal, number)))


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
    return jsonable_encoder(out)


@router.get("/me/certificate/qr.{fmt}", summary="My certificate's QR (guard)",
            response_class=Response, responses=QR_MEDIA)
def my_certificate_qr(fmt: str, request: Request, principal: GuardSelf,
                      scale: Annotated[int, Query(ge=2, le=20)] = 8) -> Response:
    with runtime(request).db.transaction(readonly=True) as cur:
        cert = certs_uc.own_certificate(cur, principal)
    return _qr_response(cert, fmt, scale)


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
