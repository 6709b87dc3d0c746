"""Face capture, 1:1 face verification and the duplicate-identity review queue. Parse ->
use case (api/usecases/captures.py, api/usecases/biometric_reviews.py) -> view."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from api.access import GuardRef, actor_of, certificate_holder, guard_for
from api.biometric_context import sealer
from api.capture_views import capture_face, capture_finger
from api.cursors import PageAt, page_cursor
from api.deps import clock, rate_limit, require, runtime
from api.schemas import Input, Page, mask_id_number
from api.schemas_biometrics import (
    FACE_HELD,
    FINGER_HELD,
    JPEG,
    CaptureStatusOut,
    CertificateFaceMatchOut,
    CertificateFingerMatchOut,
    FaceCaptureOut,
    FingerCaptureOut,
    GuardFaceMatchOut,
    GuardFingerMatchOut,
    ReviewEvidenceOut,
    ReviewOut,
)
from api.usecases import biometric_reviews as reviews
from api.usecases import captures
from biometrics import enrollment
from registry.auth import Principal, Role
from registry.errors import NotFound

router = APIRouter(prefix="/v1", tags=["biometrics"])
Now = Annotated[dt.datetime, Depends(clock)]
Staff = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR))]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
Verifier = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR,
                                                Role.CHECKPOINT_OFFICER))]
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _jpeg(photo: bytes) -> Response:
    return Response(photo, media_type="image/jpeg", headers=NO_STORE)


@router.post("/guards/{guard_id}/face", status_code=201, response_model=FaceCaptureOut,
             responses=FACE_HELD,
             summary="Capture (or replace) a guard's face photo; 1:N duplicate search")
def enroll_face(guard_id: GuardRef, request: Request, principal: Staff, now: Now,
                photo: Annotated[UploadFile, File(description="JPEG or PNG")],
                ) -> JSONResponse:
    return capture_face(request, principal, now, photo,
                        lambda cur, lock: guard_for(cur, principal, guard_id, for_update=lock))


@router.get("/guards/{guard_id}/face/photo", summary="The enrolled photo (JPEG)",
            response_class=Response, responses=JPEG)
def face_photo(guard_id: GuardRef, request: Request, principal: Staff) -> Response:
    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        guard = guard_for(cur, principal, guard_id)
        photo = enrollment.load_photo(cur, subject=str(guard["biometric_subject"]),
                                      sealer=sealer(rt.settings))
    if photo is None:
        raise NotFound("no photo on file for this guard", code="no-face-enrolled")
    return _jpeg(photo)


@router.post("/guards/{guard_id}/face/verify", response_model=GuardFaceMatchOut,
             summary="1:1: does a live photo match the guard's enrolled face? (staff)")
def verify_face(guard_id: GuardRef, request: Request, principal: Staff,
                photo: Annotated[UploadFile, File()]) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard = guard_for(cur, principal, guard_id)
    body = _face_match(request, principal, guard, photo)
    return {"guard_id": str(guard["public_id"]), **body}


@router.post("/certificates/{number}/face/verify", response_model=CertificateFaceMatchOut,
             summary="1:1 at a checkpoint: does a live photo match the holder of this "
                     "certificate number (scanned or typed)?")
def verify_face_by_certificate(number: Annotated[str, Path(max_length=40)], request: Request,
                               principal: Verifier,
                               photo: Annotated[UploadFile, File()]) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        cert, guard = certificate_holder(cur, principal, number)
    body = _face_match(request, principal, guard, photo)
    return {"number": cert["number"], **body}


def _face_match(request: Request, principal: Principal, guard: dict[str, Any],
                photo: UploadFile) -> dict[str, Any]:
    """Counted against the caller's biometric-check budget before the upload is read."""
    rate_limit(request, principal, "biometric-verify")
    return captures.match_face(runtime(request), subject=str(guard["biometric_subject"]),
                               photo=photo)


@router.get("/guards/{guard_id}/biometrics", response_model=CaptureStatusOut,
            summary="Capture status of a guard")
def capture_status(guard_id: GuardRef, request: Request, principal: Staff) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard = guard_for(cur, principal, guard_id)
        summary = enrollment.capture_summary(cur, str(guard["biometric_subject"]))
    return {"guard_id": str(guard["public_id"]), **summary}


# -- review queue ---------------------------------------------------------------------
def _identity_view(who: reviews.Identity) -> dict[str, Any]:
    """Who an identity is, for the reviewer: name, masked ID number, employer, bans."""
    guard = who.guard
    return {"guard_id": str(guard["public_id"]), "name": guard["name"],
            "id_number_masked": mask_id_number(guard["id_number"]),
            "employer": guard.get("company_name"), "employer_id": guard.get("company_id"),
            "banned_now": bool(who.bans),
            "bans": [{"reason": b["reason"], "until_on": b["until_on"]} for b in who.bans]}


def _candidate_view(c: dict[str, Any], other: reviews.Identity | None) -> dict[str, Any]:
    """One candidate of a held enrollment: who the other identity is (name, masked ID
    number, employer, ban status now), the fused score and the per-modality evidence.
    Reviews opened before fused decisions keep their single score and metric."""
    view: dict[str, Any] = {
        "guard_id": str(other.guard["public_id"]) if other is not None else None,
        "score": c["score"], "banned": c["banned"],
        "metric": c.get("metric", "distance"), "threshold": c.get("threshold"),
        "fused_llr": c.get("fused_llr"), "chance": c.get("chance"), "words": c.get("words"),
        "comparisons": c.get("comparisons", []),
    }
    if other is not None:
        view["identity"] = _identity_view(other)
    return view


def _review_view(review: reviews.Review) -> dict[str, Any]:
    row, guard = review.row, review.held
    return {
        "id": row["id"], "modality": row["modality"], "status": row["status"],
        "guard_id": str(guard["public_id"]) if guard else None,
        "guard_name": guard["name"] if guard else None,
        "candidates": [_candidate_view(c, other)
                       for c, other in zip(row["candidates"], review.others, strict=True)],
        "banned_match": row["banned_match"], "created_at": row["created_at"],
        "decided_by": row["decided_by"], "decided_at": row["decided_at"],
        "decision_note": row["decision_note"],
    }


@router.get("/biometrics/reviews", response_model=Page[ReviewOut],
            summary="Enrollments held as possible duplicates")
def list_reviews(request: Request, principal: Regulator, now: Now,
                 cursor: Annotated[PageAt, page_cursor("biometric-reviews")],
                 status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")]
                 = "pending",
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    limit = min(limit, runtime(request).settings.max_page_size)
    with runtime(request).db.transaction(readonly=True) as cur:
        page = reviews.reviews(cur, status=status, after_id=cursor.last, limit=limit,
                               today=now.date())
    return {"items": [_review_view(r) for r in page],
            "next_cursor": cursor.next_of([r.row for r in page], limit)}


class ReviewDecision(Input):
    approve: bool
    note: str | None = Field(default=None, max_length=500)


@router.post("/biometrics/reviews/{review_id}/decision", response_model=ReviewOut,
             summary="Approve (distinct people) or reject (same person) a held enrollment")
def decide_review(review_id: int, body: ReviewDecision, request: Request, principal: Regulator,
                  now: Now) -> dict[str, Any]:
    with runtime(request).db.transaction() as cur:
        review = reviews.decide(cur, actor=actor_of(principal), now=now, review_id=review_id,
                                approve=body.approve, note=body.note)
    return _review_view(review)


# -- fingerprints ---------------------------------------------------------------------
@router.post("/guards/{guard_id}/fingers/verify", response_model=GuardFingerMatchOut,
             summary="1:1: does a live fingerprint (image or template) match the guard? (staff)")
def verify_finger(guard_id: GuardRef, request: Request, principal: Staff,
                  image: Annotated[UploadFile | None, File()] = None,
                  template: Annotated[UploadFile | None, File()] = None,
                  dpi: Annotated[float | None, Form(ge=250, le=1200)] = None,
                  position: Annotated[int | None, Form(ge=1, le=10)] = None) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard = guard_for(cur, principal, guard_id)
    body = _finger_match(request, principal, guard, image, template, dpi, position)
    return {"guard_id": str(guard["public_id"]), **body}


@router.post("/certificates/{number}/fingers/verify", response_model=CertificateFingerMatchOut,
             summary="1:1 at a checkpoint: does a live fingerprint match the holder of this "
                     "certificate number (scanned or typed)?")
def verify_finger_by_certificate(
        number: Annotated[str, Path(max_length=40)], request: Request, principal: Verifier,
        image: Annotated[UploadFile | None, File()] = None,
        template: Annotated[UploadFile | None, File()] = None,
        dpi: Annotated[float | None, Form(ge=250, le=1200)] = None,
        position: Annotated[int | None, Form(ge=1, le=10)] = None) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        cert, guard = certificate_holder(cur, principal, number)
    body = _finger_match(request, principal, guard, image, template, dpi, position)
    return {"number": cert["number"], **body}


def _finger_match(request: Request, principal: Principal, guard: dict[str, Any],
                  image: UploadFile | None, template: UploadFile | None, dpi: float | None,
                  position: int | None) -> dict[str, Any]:
    rate_limit(request, principal, "biometric-verify")
    return captures.match_finger(runtime(request), subject=str(guard["biometric_subject"]),
                                 image=image, template=template, dpi=dpi, position=position)


@router.post("/guards/{guard_id}/fingers/{position}", status_code=201,
             response_model=FingerCaptureOut, responses=FINGER_HELD,
             summary="Capture (or replace) one finger; 1:N search (face shortlist, then all)")
def enroll_finger(guard_id: GuardRef, request: Request, principal: Staff, now: Now,
                  position: Annotated[int, Path(ge=1, le=10,
                                                description="ISO finger position 1-10")],
                  image: Annotated[UploadFile | None, File()] = None,
                  template: Annotated[UploadFile | None, File()] = None,
                  dpi: Annotated[float | None, Form(ge=250, le=1200)] = None) -> JSONResponse:
    return capture_finger(request, principal, now, position, image, template, dpi,
                          lambda cur, lock: guard_for(cur, principal, guard_id,
                                                      for_update=lock))


# -- the evidence of one held duplicate (regulator only) ------------------------------
@router.get("/biometrics/reviews/{review_id}/evidence", response_model=ReviewEvidenceOut,
            summary="Every modality's evidence of a held duplicate: face crops, minutiae "
            "with the mated pairs, the odds in words, the other identity named")
def review_evidence(review_id: int, request: Request, principal: Regulator, now: Now
                    ) -> dict[str, Any]:
    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        found = reviews.evidence_of(cur, rt.settings, review_id=review_id, today=now.date())
    row, held = found.row, found.held
    base = f"/v1/biometrics/reviews/{review_id}/portraits/"
    return {"id": row["id"], "modality": row["modality"], "status": row["status"],
            "created_at": row["created_at"], "banned_match": row["banned_match"],
            "held": _identity_view(held) if held else None,
            "candidates": [_evidence_view(c, held, base) for c in found.candidates],
            "images_kept": {"face": True, "finger": False}}


def _evidence_view(c: reviews.CandidateEvidence, held: reviews.Identity | None, base: str
                   ) -> dict[str, Any]:
    other, face = c.other, c.face
    return {
        "identity": _identity_view(other) if other else None,
        "banned_at_hold": bool(c.candidate["banned"]),
        "fused_llr": c.candidate.get("fused_llr"), "threshold": c.candidate.get("threshold"),
        "chance": c.chance, "one_in": c.one_in, "words": c.words,
        "modalities": [str(x.get("modality")) for x in c.comparisons],
        "face": None if face is None else {
            "distance": face.get("score"), "llr": face.get("llr"),
            "held_portrait": base + str(held.guard["public_id"]) if held else None,
            "candidate_portrait": base + str(other.guard["public_id"]) if other else None},
        "fingers": [f.as_dict() for f in c.fingers],
    }


@router.get("/biometrics/reviews/{review_id}/portraits/{guard_id}",
            summary="The face crop of an identity of a held duplicate (JPEG)",
            response_class=Response, responses=JPEG)
def review_portrait(review_id: int, guard_id: GuardRef, request: Request,
                    principal: Regulator) -> Response:
    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        photo = reviews.portrait(cur, rt.settings, review_id=review_id, guard_id=guard_id)
    return _jpeg(photo)
