"""Issuance, status changes, QR codes, trust and status lists, online verification."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.access import (
    GuardRef,
    RequestRef,
    actor_of,
    guard_for,
    may_see_certificate,
    public_guard_ids,
)
from api.biometric_context import read_upload, sealer
from api.cert_context import CertContext
from api.deps import clock, rate_limit, require, runtime
from api.schemas import Input
from api.usecases import issuing
from api.usecases.issuing import issue_for
from biometrics import enrollment
from certificates import publication, qr, revocation
from certificates import repository as cert_repo
from certificates.cwt import GuardClaims
from certificates.errors import CertificateError, Reason, VerificationError
from certificates.verification import (
    CallableStatusProvider,
    StatusBinding,
    parse_any,
    verify,
)
from registry import notifications, regulation
from registry import repository as registry_repo
from registry.auth import Principal, Role
from registry.db import Cursor
from registry.errors import BadRequest, NotFound

router = APIRouter(prefix="/v1", tags=["certificates"])
Now = Annotated[dt.datetime, Depends(clock)]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
Staff = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR))]
StaffOrSelf = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR,
                                                   Role.GUARD))]
Officer = Annotated[Principal, Depends(require(Role.CHECKPOINT_OFFICER, Role.REGULATOR))]

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


@router.post("/guards/{guard_id}/certificate", status_code=201,
             summary="Issue (or re-issue) the guard's certificate (regulator); idempotent")
def issue_certificate(guard_id: GuardRef, request: Request, principal: Regulator, now: Now) -> Any:
    created, cert = issue_for(runtime(request).db, certs(request), principal, guard_id, now)
    return JSONResponse(_jsonable(certificate_view(cert)), status_code=201 if created else 200)


class RequestIn(Input):
    note: str | None = Field(default=None, max_length=500)


@router.post("/guards/{guard_id}/certificate-requests", status_code=201,
             summary="A company asks the regulator to issue its guard's certificate; an "
                     "ineligible guard is refused (422 with the reasons)")
def request_certificate(guard_id: GuardRef, body: RequestIn, request: Request, principal: Staff,
                        now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        row = issuing.request_certificate(cur, principal, guard_id, body.note, now)
        return request_view(row)


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
        reasons = issuing.guard_eligibility(cur, principal, guard_id, now)
        public = repository_public_id(cur, guard_id)
    return EligibilityOut(guard_id=public, eligible=not reasons,
                          reasons=[ReasonOut(**r) for r in reasons])


def repository_public_id(cur: Any, guard_id: int) -> str:
    from registry import repository as registry_repo

    return str(registry_repo.public_ids_of(cur, [guard_id])[guard_id])


@router.get("/certificate-requests", summary="Issuance requests (regulator: all; company: own)")
def list_requests(request: Request, principal: Staff,
                  status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")]
                  = "pending",
                  cursor: Annotated[int, Query(ge=0)] = 0,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Any:
    company = principal.company_id if principal.role is Role.COMPANY_OPERATOR else None
    limit = min(limit, runtime(request).settings.max_page_size)
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = cert_repo.list_requests(cur, status=status, company_id=company, after_id=cursor,
                                       limit=limit)
    return {"items": [request_view(r) for r in rows],
            "next_cursor": rows[-1]["id"] if len(rows) == limit else None}


class DecisionIn(Input):
    approve: bool
    note: str | None = Field(default=None, max_length=500)


@router.post("/certificate-requests/{request_id}/decision",
             summary="Approve (issue) or reject a company's request (regulator)")
def decide_request(request_id: RequestRef, body: DecisionIn, request: Request, principal: Regulator,
                   now: Now) -> Any:
    from registry import audit
    from registry.errors import Conflict

    db = runtime(request).db
    with db.transaction(readonly=True) as cur:
        row = cert_repo.get_request(cur, request_id)
    if row is None:
        raise NotFound("no such request")
    public_request_id = str(row["public_id"])
    if row["status"] != "pending":
        raise Conflict(f"the request was already {row['status']}", reason="already-decided")
    cert = None
    if body.approve:
        _, cert = issue_for(db, certs(request), principal, int(row["guard_id"]), now)
    with db.transaction() as cur:
        cert_id = None
        if cert is not None:
            found = cert_repo.get_by_number(cur, cert["number"])
            cert_id = found["id"] if found else None
        if not cert_repo.decide_request(cur, request_id, status="approved" if body.approve
                                        else "rejected", decided_by=principal.label,
                                        certificate_id=cert_id):
            raise Conflict("the request was decided meanwhile", reason="already-decided")
        audit.record(cur, actor=actor_of(principal), action="certificate.request.decide",
                     target_type="guard", target_id=row["guard_id"],
                     data={"request_id": request_id, "approve": body.approve}, now=now)
        notifications.notify_employer(
            cur, guard_id=int(row["guard_id"]), kind="request.decided", now=now,
            subject=f"签发申请 {public_request_id[:8]}: " + ("已批准 approved" if body.approve
                                                            else "未批准 declined"),
            data={"request_id": public_request_id, "approved": body.approve,
                  "number": cert["number"] if cert else None})
    return _jsonable({"request_id": public_request_id, "approved": body.approve,
                      "certificate": certificate_view(cert) if cert else None})


@router.get("/guards/{guard_id}/certificates", summary="A guard's certificates, newest last")
def guard_certificates(guard_id: GuardRef, request: Request, principal: StaffOrSelf) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
        rows = cert_repo.certificates_of_guard(cur, guard_id)
    return _jsonable({"items": [certificate_view(r) for r in rows if r["status"] != "failed"
                                and may_see_certificate(principal, r)]})


def _cert_for(cur: Cursor, principal: Principal, number: str) -> dict[str, Any]:
    cert = cert_repo.get_by_number(cur, number.strip().upper())
    if cert is None:
        raise NotFound("no such certificate")
    guard_for(cur, principal, int(cert["guard_id"]))  # 404 outside the caller's reach
    if not may_see_certificate(principal, cert):
        raise NotFound("no such certificate")
    return cert


@router.get("/certificates/{number}", summary="One certificate")
def get_certificate(number: str, request: Request, principal: StaffOrSelf) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return _jsonable(certificate_view(_cert_for(cur, principal, number)))


@router.get("/certificates/{number}/qr.{fmt}", summary="The certificate's QR code (PNG or SVG)",
            response_class=Response)
def certificate_qr(number: str, fmt: str, request: Request, principal: StaffOrSelf,
                   scale: Annotated[int, Query(ge=2, le=20)] = 8) -> Response:
    with runtime(request).db.transaction(readonly=True) as cur:
        cert = _cert_for(cur, principal, number)
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
                   op: str, reason: str | None) -> Any:
    ctx = certs(request)
    with runtime(request).db.transaction() as cur:
        cert = _cert_for(cur, principal, number)
        kwargs: dict[str, Any] = {"actor": actor_of(principal), "now": now,
                                  "number": cert["number"],
                                  "status_signer": ctx.signer("status-list"),
                                  "config": ctx.issuance.status}
        if op == "revoke":
            result = revocation.revoke(cur, reason=str(reason), **kwargs)
        elif op == "suspend":
            result = revocation.suspend(cur, reason=str(reason), **kwargs)
        else:
            result = revocation.reinstate(cur, **kwargs)
    return result.as_dict()


@router.post("/certificates/{number}/revoke", summary="Revoke (reasons allowed per role)")
def revoke_certificate(number: str, body: StatusChangeIn, request: Request, principal: Staff,
                       now: Now) -> Any:
    return _status_change(request, principal, number, now, "revoke", body.reason)


@router.post("/certificates/{number}/suspend", summary="Suspend (reasons allowed per role)")
def suspend_certificate(number: str, body: StatusChangeIn, request: Request, principal: Staff,
                        now: Now) -> Any:
    return _status_change(request, principal, number, now, "suspend", body.reason)


@router.post("/certificates/{number}/reinstate", summary="Reinstate a suspended certificate")
def reinstate_certificate(number: str, request: Request, principal: Regulator, now: Now) -> Any:
    return _status_change(request, principal, number, now, "reinstate", None)


# -- the guard's own certificate ----------------------------------------------------------
GuardSelf = Annotated[Principal, Depends(require(Role.GUARD))]


def _own_certificate(request: Request, principal: Principal) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = [r for r in cert_repo.certificates_of_guard(cur, int(principal.guard_id or 0))
                if r["status"] in ("valid", "suspended", "revoked") and r["text"]]
    if not rows:
        raise NotFound("no certificate has been issued to you")
    return rows[-1]


@router.get("/me/certificate", summary="My current certificate (guard)")
def my_certificate(request: Request, principal: GuardSelf) -> Any:
    cert = _own_certificate(request, principal)
    out = certificate_view(cert)
    with runtime(request).db.transaction(readonly=True) as cur:
        old = cert_repo.replaced_by(cur, int(cert["id"]))
    # A re-issued certificate (e.g. after a signing-key compromise) says what it replaced,
    # so the holder knows the old QR no longer verifies.
    out["replaces"] = ({"number": old["number"], "reason": old["status_reason"]}
                       if old is not None else None)
    return _jsonable(out)


@router.get("/me/certificate/qr.{fmt}", summary="My certificate's QR (guard)",
            response_class=Response)
def my_certificate_qr(fmt: str, request: Request, principal: GuardSelf,
                      scale: Annotated[int, Query(ge=2, le=20)] = 8) -> Response:
    return _qr_response(_own_certificate(request, principal), fmt, scale)


# -- key compromise (regulator) ------------------------------------------------------------
KidPath = Annotated[str, Path(pattern="^[0-9a-fA-F]{16}$", description="key id (hex)")]


class CompromiseIn(Input):
    compromised_since: dt.datetime = Field(
        description="from when the key may have leaked (ISO 8601 with a time zone)")


@router.post("/keys/{kid}/compromise",
             summary="Declare a signing key compromised (regulator, audited)")
def declare_compromise(kid: KidPath, body: CompromiseIn, request: Request,
                       principal: Regulator, now: Now) -> Any:
    from certificates import compromise

    ctx = certs(request)
    raw = bytes.fromhex(kid)
    with runtime(request).db.transaction() as cur:
        declared = compromise.declare(cur, ring=ctx.keyring, actor=actor_of(principal),
                                      kid=raw, since=body.compromised_since, now=now)
    ctx.forget()  # the trust list is rebuilt at once (other workers: within a second)
    out = declared.as_dict()
    if declared.purpose == "status-list":
        with runtime(request).db.transaction() as cur:
            out["status_lists_resigned"] = compromise.republish_all(
                cur, signer=ctx.signer("status-list"), config=ctx.issuance.status, now=now)
    return _jsonable(out)


@router.post("/keys/{kid}/reissue",
             summary="Re-issue one batch of live certificates of a compromised key")
def reissue_batch(kid: KidPath, request: Request, principal: Regulator, now: Now,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Any:
    from certificates import compromise
    from certificates.errors import KeyringError

    ctx = certs(request)
    raw = bytes.fromhex(kid)
    try:
        rec = ctx.keyring.get(raw)
    except KeyringError:
        raise NotFound("no such key") from None
    if rec.compromised_since is None or rec.purpose != "certificate":
        raise BadRequest("only a compromised certificate key has certificates to re-issue",
                         code="not-compromised")
    with runtime(request).db.transaction() as cur:
        result = compromise.reissue_batch(
            cur, actor=actor_of(principal), now=now, kid=raw,
            signer=ctx.signer("certificate"), status_signer=ctx.signer("status-list"),
            config=ctx.issuance, limit=limit)
    return result.as_dict()


@router.get("/keys/{kid}/compromise-report",
            summary="What a compromised key signed since it may have leaked (regulator)")
@public_guard_ids
def compromise_report(kid: KidPath, request: Request, principal: Regulator, now: Now,
                      limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> Any:
    from certificates import compromise

    ctx = certs(request)
    with runtime(request).db.transaction(readonly=True) as cur:
        rep = compromise.report(cur, ring=ctx.keyring, kid=bytes.fromhex(kid), now=now,
                                limit=limit)
    return _jsonable(rep)


# -- public lists --------------------------------------------------------------------------
@router.get("/trust-list", summary="Signed trust list of public keys (public)",
            response_class=Response)
def trust_list(request: Request, now: Now) -> Response:
    _, token = certs(request).trust(now)
    return Response(token, media_type="application/cose",
                    headers={"Cache-Control": "public, max-age=3600"})


@router.get("/trust-list.json", summary="The trust list, readable (public, unsigned view)")
def trust_list_json(request: Request, now: Now) -> Any:
    tl, _ = certs(request).trust(now)
    return {"issuer": tl.issuer, "issued_at": tl.issued_at, "expires_at": tl.expires_at,
            "keys": [{"kid": k.kid.hex(), "alg": k.alg, "purpose": k.purpose,
                      "spki": base64.b64encode(k.spki).decode(), "not_before": k.not_before,
                      "not_after": k.not_after, "retired_at": k.retired_at,
                      "compromised_since": k.compromised_since} for k in tl.keys],
            "next_trust_list_key_sha256": [h.hex() for h in tl.successors]}


@router.get("/status-lists", summary="Index of status list shards (public)")
def status_lists(request: Request) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = cert_repo.list_shards(cur)
    return {"items": [{"shard": r["shard"], "uri": r["uri"], "capacity": r["capacity"],
                       "version": r["version"], "published_at": r["published_at"]}
                      for r in rows]}


@router.get("/status-lists/{shard}", summary="A signed status list token (public)",
            response_class=Response)
def status_list(shard: int, request: Request, now: Now) -> Response:
    ctx = certs(request)
    with runtime(request).db.transaction() as cur:
        found = publication.current_token(cur, shard=shard, signer=ctx.signer("status-list"),
                                          config=ctx.issuance.status, now=now)
    if found is None:
        raise NotFound("no such status list")
    token, published = found
    ttl = int(ctx.issuance.status.ttl.total_seconds())
    etag = '"' + base64.urlsafe_b64encode(__import__("hashlib").sha256(token).digest()[:12]
                                          ).decode() + '"'
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
    """The service's hot path. A verification is a read: ONE prepared statement in
    autocommit mode (no BEGIN/COMMIT round trips) fetches the certificate's live status
    with everything the answer shows, the sealed photo included. The check-log row is
    queued and written in batches (api/verification_log.py), off the request path."""
    from api import reporting_repository
    from certificates.publication import STATUS_VALUES
    from certificates.statuslist import REVOKED

    rt = runtime(request)
    ctx = certs(request)
    rate_limit(request, principal, "verify")
    trust, _ = ctx.trust(now)

    # On a leased read replica when there is one (api/replicas.py), else the primary;
    # the whole answer is built inside, so that it can be built again on the primary.
    def answer(cur: Cursor) -> tuple[dict[str, Any], GuardClaims | None, str]:
        live: dict[str, Any] = {}

        def status_of(uri: str, idx: int) -> tuple[int, dt.datetime, StatusBinding]:
            shard = ctx.issuance.status.shard_of(uri)
            if shard is None:
                # A list named under an earlier public base URL (OPERATIONS.md).
                from certificates import repository as cert_repo

                shard = cert_repo.shard_by_uri(cur, uri)
            row = None if shard is None else reporting_repository.verification_context(
                cur, shard, idx, with_photo=include_photo)
            if row is None:
                raise LookupError("no such status entry")
            binding = StatusBinding(
                number=row["number"], kid=bytes(row["kid"]) if row["kid"] else None,
                payload_sha256=bytes(row["payload_sha256"]))
            # Shown only once verify() has checked the binding (it raises otherwise).
            live.update(row)
            return STATUS_VALUES.get(row["status"], REVOKED), now, binding

        verdict, claims, detail = "valid", None, None
        try:
            verified = verify(text, now=now, trust=trust,
                              status=CallableStatusProvider(status_of), policy=ctx.policy,
                              challenge=challenge.encode() if challenge else None)
            claims = verified.claims
            if verified.presentation == "card":
                # The printed card: valid, but nothing proves who holds it but the photo.
                verdict, detail = "card", "card: compare the photo"
        except VerificationError as exc:
            verdict, detail = exc.reason.value, exc.detail
            if exc.reason is Reason.STATUS_MISMATCH:
                live.clear()  # another certificate's row: never show its data
            if exc.reason in (Reason.REVOKED, Reason.SUSPENDED, Reason.EXPIRED,
                              Reason.NOT_YET_VALID, Reason.NO_DEVICE_PROOF,
                              Reason.PROOF_EXPIRED, Reason.CHALLENGE_MISMATCH,
                              Reason.CARD_NOT_ACCEPTED):
                # signature already verified at this point (certificate or presentation)
                claims = GuardClaims.decode(parse_any(text, ctx.policy)[0].payload)
        body: dict[str, Any] = {"verdict": verdict, "checked_at": now}
        if detail:
            body["detail"] = detail
        if claims is not None:
            body["certificate"] = {
                "number": claims.certificate_number, "guard_name": claims.guard_name,
                "skill_level": claims.skill_level, "employer_id": claims.employer_id,
                "employer_name": claims.employer_name, "issued_at": claims.issued_at,
                "expires_at": claims.expires_at, "card": claims.card}
            if live:
                body["live_status"] = live["status"]
                body["status_reason"] = live["status_reason"]
                body.update(_live_context(cur, rt, live, claims.employer_id, include_photo,
                                          now, verdict))
        return body, claims, verdict

    body, claims, verdict = rt.reads().read(answer)
    rt.verification_log.add(at=now, principal_id=principal.id,
                            number=claims.certificate_number if claims else None,
                            verdict=verdict, location=location, channel=channel)
    return body


def _live_context(cur: Cursor, rt: Any, guard: dict[str, Any], employer_id: Any,
                  include_photo: bool, now: dt.datetime, verdict: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    employer = None
    if guard["company_id"] is not None:
        employer = {"id": guard["company_id"], "name": guard["company_name"],
                    "licence_status": guard["company_status"],
                    "matches_certificate": guard["company_id"] == employer_id}
    out["employer"] = employer
    if employer is None:
        out["employer_note"] = "no active employer"
    out["skill_level"] = guard["skill_level"]
    out["permitted_services"] = (
        regulation.permitted_services(cur, guard=guard, now=now, policy=current_policy(cur),
                                      quals=guard["qualifications"])
        if verdict in ("valid", "card") and employer is not None else [])
    if guard["face_status"] in (None, "rejected"):
        out["photo"] = None
        out["photo_note"] = "no photo on file: check the ID card instead"
    elif include_photo:
        sealed = guard["photo_sealed"]
        photo = (enrollment.open_photo(sealed, subject=guard["subject"], sealer=sealer(rt.settings),
                                       display=bool(guard["photo_is_display"]))
                 if not enrollment.photo_purged(sealed) else None)
        out["photo"] = ("data:image/jpeg;base64," + base64.b64encode(photo).decode()
                        if photo else None)
    return out


_policy_cache: tuple[float, list[dict[str, Any]]] | None = None


def current_policy(cur: Cursor) -> list[dict[str, Any]]:
    """The service-scope policy, re-read at most every 5 s per worker (it changes rarely;
    a new version reaches verifications within 5 s)."""
    import time

    global _policy_cache
    tick = time.monotonic()
    if _policy_cache is None or tick - _policy_cache[0] > 5.0:
        _policy_cache = (tick, registry_repo.current_policy(cur))
    return _policy_cache[1]


@router.post("/verifications", summary="Verify a certificate online (checkpoint officer)")
async def verify_online(body: VerificationIn, request: Request, principal: Officer,
                        now: Now) -> Response:
    # A coroutine with one explicit hop to a worker thread for the blocking part, and a
    # response serialised once (FastAPI would walk the result with jsonable_encoder).
    result = await run_in_threadpool(_verify_text, request, principal, body.text,
                                     body.location, body.include_photo, now, "online-text",
                                     body.challenge)
    return Response(_dumps(result), media_type="application/json")


@router.post("/verifications/image", summary="Verify from a photo of the QR code")
def verify_image(request: Request, principal: Officer, now: Now,
                 image: Annotated[UploadFile, File()],
                 location: Annotated[str | None, Form(max_length=200)] = None) -> Any:
    from api import image_work

    rt = runtime(request)
    # The limit is taken before any decoding: a refused caller costs no image work.
    rate_limit(request, principal, "verify-image")
    data = read_upload(image, max_bytes=rt.settings.max_image_bytes, field="image")
    try:
        qr.check_image(data, max_bytes=rt.settings.max_image_bytes,
                       max_pixels=rt.settings.max_image_pixels)
        text = rt.image_pool().run(image_work.read_qr, data,
                                   max_bytes=rt.settings.max_image_bytes,
                                   max_pixels=rt.settings.max_image_pixels)
    except CertificateError as exc:
        if exc.status in (413, 415):  # a limit before decoding: answered as it is
            raise
        raise BadRequest(f"no readable QR code in the image: {exc.detail}",
                         code="qr-unreadable", **exc.extra) from exc
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
    from fastapi.encoders import jsonable_encoder

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


def card_view(card: dict[str, Any], certificate_number: str | None) -> CardOut:
    return CardOut(number=card["number"], certificate_number=certificate_number,
                   serial=int(card["card_serial"]), status=card["status"],
                   status_reason=card["status_reason"], guard_id=str(card["guard_public_id"]),
                   issued_at=card["issued_at"], expires_at=card["expires_at"])


@router.post("/guards/{guard_id}/cards", status_code=201, response_model=CardOut,
             summary="Print a new card (its own credential; the previous card is revoked)")
def issue_card(guard_id: GuardRef, request: Request, principal: Staff, now: Now) -> CardOut:
    from certificates import cards

    ctx = certs(request)
    with runtime(request).db.transaction() as cur:
        guard_for(cur, principal, guard_id, for_update=True)
        card = cards.issue_card(cur, actor=actor_of(principal), now=now, guard_id=guard_id,
                                signer=ctx.signer("certificate"),
                                status_signer=ctx.signer("status-list"),
                                config=ctx.issuance.status)
        if not may_see_certificate(principal, card):
            # Issued under a previous employer (takeover by re-hire): not this company's
            # to print; raising rolls the new card back.
            raise NotFound("no current certificate to print")
        cert = cert_repo.get_by_id(cur, int(card["card_of"]))
    return card_view(card, cert["number"] if cert else None)


@router.get("/guards/{guard_id}/cards", response_model=CardsOut,
            summary="A guard's printed cards, newest last")
def guard_cards(guard_id: GuardRef, request: Request, principal: StaffOrSelf) -> CardsOut:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
        rows = [r for r in cert_repo.cards_of_guard(cur, guard_id)
                if may_see_certificate(principal, r)]
        numbers = {int(r["card_of"]): r["number"].rpartition("-C")[0] for r in rows}
    return CardsOut(items=[card_view(r, numbers.get(int(r["card_of"]))) for r in rows])


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
_RETAKE = {"face-count": "no single face found: one person, facing the camera",
           "inter-eye-distance": "face too small: come closer",
           "roll": "head tilted: hold the head straight", "yaw": "head turned: face the camera",
           "exposure": "too dark or too bright: change the light",
           "sharpness": "blurred: hold still"}


FaceResultWord = Literal["match", "no-match", "poor-photo"]
StrengthWord = Literal["strong", "moderate", "weak", "none"]


def face_strength(distance: float, threshold: float
                  ) -> tuple[FaceResultWord, StrengthWord, str]:
    """(result, strength, message) of a distance, in plain words."""
    if distance <= threshold - 0.08:
        return "match", "strong", "strong match: the photo resembles the enrolled face closely"
    if distance <= threshold:
        return "match", "moderate", ("match, not strong: compare the face with the portrait "
                                     "yourself")
    if distance <= threshold + 0.12:
        return "no-match", "weak", ("no match: some resemblance, not enough to confirm; "
                                    "check the ID card")
    return "no-match", "none", "no match: the photo does not resemble the enrolled face"


@router.post("/verifications/face-check", response_model=FaceCheckOut,
             summary="Live face check: a photo of the person presenting vs the enrolled face "
                     "(1:1; no liveness detection; the photo is discarded)")
def face_check(request: Request, principal: Officer, now: Now,
               number: Annotated[str, Form(min_length=16, max_length=24,
                                           description="the certificate or card number "
                                                       "just verified")],
               photo: Annotated[UploadFile, File(description="JPEG or PNG")],
               location: Annotated[str | None, Form(max_length=200)] = None) -> FaceCheckOut:
    from api import image_work
    from api.biometric_context import vector_key
    from biometrics import repository as bio_repo
    from biometrics.errors import QualityRejected
    from biometrics.face.pipeline import MODEL_ID, checkpoint_threshold
    from biometrics.imaging import FACE_FORMATS, inspect_image

    rt = runtime(request)
    # Per officer, taken before any image work (a refused caller costs nothing).
    rate_limit(request, principal, "face-check")
    n = number.strip().upper()
    with rt.db.transaction(readonly=True) as cur:
        cert = cert_repo.get_by_number(cur, n)
        if cert is None or cert["status"] in ("pending", "failed"):
            raise NotFound("no such certificate")
        guard = registry_repo.get_guard(cur, int(cert["guard_id"]))
        assert guard is not None
        subject = str(guard["biometric_subject"])
        face = bio_repo.get_face_status(cur, subject)
        if face is None or face["status"] == "rejected":
            raise NotFound("no face enrolled for this guard: check the ID card",
                           code="no-face-enrolled")
    data = read_upload(photo, max_bytes=rt.settings.max_image_bytes, field="photo")
    out: FaceCheckOut
    try:
        limits = {"max_bytes": rt.settings.max_image_bytes,
                  "max_pixels": rt.settings.max_image_pixels}
        inspect_image(data, formats=FACE_FORMATS, **limits)
        result = rt.image_pool().run(image_work.analyse_face, data, purpose="verify",
                                     keep_pixels=False, **limits).result
    except QualityRejected as exc:
        check = str(exc.extra.get("check", ""))
        threshold = checkpoint_threshold(MODEL_ID)
        out = FaceCheckOut(result="poor-photo", strength=None,
                           message="poor photo: no comparison was made",
                           retake=_RETAKE.get(check, "retake the photo"),
                           retake_check=check or None, threshold=threshold,
                           note=_LIVENESS_NOTE)
    else:
        with rt.db.transaction(readonly=True) as cur:
            dist = enrollment.face_distance(cur, subject=subject, encoding=result.encoding,
                                            vector_key=vector_key(rt.settings),
                                            model=result.model_id)
        threshold = checkpoint_threshold(result.model_id)
        verdict, strength, message = face_strength(dist, threshold)
        out = FaceCheckOut(result=verdict, strength=strength, message=message,
                           threshold=threshold, note=_LIVENESS_NOTE)
        del result
    # The photo is discarded: nothing of it is stored; the check log holds the outcome
    # only (no photo, template, distance or score).
    del data
    rt.verification_log.add(at=now, principal_id=principal.id, number=n,
                            verdict=f"face-{out.result}", location=location,
                            channel="face-check")
    return out
