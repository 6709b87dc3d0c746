"""Face capture, 1:1 face verification and the duplicate-identity review queue."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from api import image_work
from api.access import actor_of, guard_for
from api.biometric_context import read_upload, sealer, vector_key
from api.deps import clock, rate_limit, require, runtime
from api.schemas import Input, mask_id_number
from biometrics import enrollment, fusion
from biometrics import repository as bio_repo
from biometrics.face.pipeline import THRESHOLDS
from biometrics.imaging import FACE_FORMATS, FINGER_FORMATS, inspect_image
from registry import repository as registry_repo
from registry.auth import Principal, Role
from registry.errors import NotFound

router = APIRouter(prefix="/v1", tags=["biometrics"])
Now = Annotated[dt.datetime, Depends(clock)]
Staff = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR))]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]
Verifier = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR,
                                                Role.CHECKPOINT_OFFICER))]


def dedup_policy(request: Request) -> fusion.Policy:
    s = runtime(request).settings
    return fusion.Policy(fpir=s.dedup_fpir, fpir_banned=s.dedup_fpir_banned,
                         gallery=s.dedup_gallery_size)


def _analyse_face(request: Request, data: bytes, *, purpose: Literal["enroll", "verify"]
                  ) -> image_work.FaceWork:
    """Header limits here (cheap, no worker taken), then decoding and analysis in the
    image pool under the CPU budget."""
    rt = runtime(request)
    s = rt.settings
    inspect_image(data, formats=FACE_FORMATS, max_bytes=s.max_image_bytes,
                  max_pixels=s.max_image_pixels)
    return rt.image_pool().run(image_work.analyse_face, data, purpose=purpose,
                               max_bytes=s.max_image_bytes, max_pixels=s.max_image_pixels,
                               keep_pixels=purpose == "enroll")


@router.post("/guards/{guard_id}/face", status_code=201,
             summary="Capture (or replace) a guard's face photo; 1:N duplicate search")
def enroll_face(guard_id: int, request: Request, principal: Staff, now: Now,
                photo: Annotated[UploadFile, File(description="JPEG or PNG")],
                ) -> Any:
    rt = runtime(request)
    # Check access before reading anything, and again under lock when storing.
    with rt.db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
    rate_limit(request, principal, "enroll")
    data = read_upload(photo, max_bytes=rt.settings.max_image_bytes, field="photo")
    work = _analyse_face(request, data, purpose="enroll")
    result = work.result
    assert work.pixels is not None
    from biometrics import finger_capture

    with rt.db.transaction() as cur:
        guard = guard_for(cur, principal, guard_id, for_update=True)
        outcome = enrollment.enroll_face(
            cur, actor=actor_of(principal), now=now, subject=str(guard["biometric_subject"]),
            guard_id=guard_id, encoding=result.encoding, model=result.model_id,
            quality=result.quality, pixels=work.pixels, sealer=sealer(rt.settings),
            vector_key=vector_key(rt.settings), transform_kid=vector_key(rt.settings).key_id,
            policy=dedup_policy(request), finger_model=finger_capture.MODEL_ID,
            face_box=result.box.as_tuple(), db=rt.db)
    body: dict[str, Any] = {
        "guard_id": guard_id, "status": outcome.status, "replaced": outcome.replaced,
        "model": result.model_id, "quality": {k: round(float(v), 3)
                                              for k, v in result.quality.items()},
    }
    if outcome.status == "held":
        body["review_id"] = outcome.review_id
        body["detail"] = ("held for regulator review: the face matches another enrolled "
                          "identity")
        if principal.role is Role.REGULATOR:
            body["candidates"] = [c.as_dict() for c in outcome.candidates]
            body["banned_match"] = outcome.banned_match
    return JSONResponse(body, status_code=201 if outcome.status == "enrolled" else 202)


@router.get("/guards/{guard_id}/face/photo", summary="The enrolled photo (JPEG)",
            response_class=Response)
def face_photo(guard_id: int, request: Request, principal: Staff) -> Response:
    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        guard = guard_for(cur, principal, guard_id)
        photo = enrollment.load_photo(cur, subject=str(guard["biometric_subject"]),
                                      sealer=sealer(rt.settings))
    if photo is None:
        raise NotFound("no photo on file for this guard", code="no-face-enrolled")
    return Response(photo, media_type="image/jpeg",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@router.post("/guards/{guard_id}/face/verify",
             summary="1:1: does a live photo match the guard's enrolled face?")
def verify_face(guard_id: int, request: Request, principal: Verifier,
                photo: Annotated[UploadFile, File()]) -> Any:
    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        guard = registry_repo.get_guard(cur, guard_id)
        if guard is None:
            raise NotFound("no such guard")
        if principal.role is not Role.CHECKPOINT_OFFICER:
            guard_for(cur, principal, guard_id)
        subject = str(guard["biometric_subject"])
        if bio_repo.get_face_status(cur, subject) is None:
            raise NotFound("no face enrolled for this guard", code="no-face-enrolled")
    data = read_upload(photo, max_bytes=rt.settings.max_image_bytes, field="photo")
    result = _analyse_face(request, data, purpose="verify").result
    with rt.db.transaction(readonly=True) as cur:
        dist = enrollment.face_distance(cur, subject=subject, encoding=result.encoding,
                                        vector_key=vector_key(rt.settings),
                                        model=result.model_id)
    threshold = THRESHOLDS[result.model_id]
    return {"guard_id": guard_id, "distance": round(dist, 4), "threshold": threshold,
            "match": dist <= threshold, "model": result.model_id}


@router.get("/guards/{guard_id}/biometrics", summary="Capture status of a guard")
def capture_status(guard_id: int, request: Request, principal: Staff) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard = guard_for(cur, principal, guard_id)
        subject = str(guard["biometric_subject"])
        status = bio_repo.capture_status(cur, subject)
        fingers = [{"position": f["position"], "status": f["status"], "quality": f["quality"],
                    "minutiae": f["minutiae"]} for f in bio_repo.get_fingers(cur, subject)]
        face = bio_repo.get_face_status(cur, subject)
    return {"guard_id": guard_id, "face": face["status"] if face else None,
            "face_quality": face["quality"] if face else None, "fingers": fingers,
            "complete": bool(face and face["status"] == "enrolled"
                             and status["fingers_enrolled"] >= 2)}


# -- review queue ---------------------------------------------------------------------
def _candidate_view(cur: Any, c: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """One candidate of a held enrollment: who the other identity is (name, masked ID
    number, employer, ban status now), the fused score and the per-modality evidence.
    Reviews opened before fused decisions keep their single score and metric."""
    other = (registry_repo.get_guard(cur, int(c["guard_id"])) if c.get("guard_id") is not None
             else None)
    view: dict[str, Any] = {
        "guard_id": c.get("guard_id"), "score": c["score"], "banned": c["banned"],
        "metric": c.get("metric", "distance"), "threshold": c.get("threshold"),
        "fused_llr": c.get("fused_llr"), "chance": c.get("chance"), "words": c.get("words"),
        "comparisons": c.get("comparisons", []),
    }
    if other is not None:
        view["identity"] = {
            "name": other["name"], "id_number_masked": mask_id_number(other["id_number"]),
            "employer": other.get("company_name"), "employer_id": other.get("company_id"),
            "banned_now": bool(registry_repo.active_bans_of_guard(cur, int(other["id"]),
                                                                  today)),
        }
    return view


def _review_view(cur: Any, review: dict[str, Any], today: dt.date) -> dict[str, Any]:
    guard = registry_repo.get_guard_by_subject(cur, review["subject"])
    return {
        "id": review["id"], "modality": review["modality"], "status": review["status"],
        "guard_id": guard["id"] if guard else None,
        "guard_name": guard["name"] if guard else None,
        "candidates": [_candidate_view(cur, c, today) for c in review["candidates"]],
        "banned_match": review["banned_match"], "created_at": review["created_at"],
        "decided_by": review["decided_by"], "decided_at": review["decided_at"],
        "decision_note": review["decision_note"],
    }


@router.get("/biometrics/reviews", summary="Enrollments held as possible duplicates")
def list_reviews(request: Request, principal: Regulator, now: Now,
                 status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")]
                 = "pending",
                 cursor: Annotated[int, Query(ge=0)] = 0,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Any:
    limit = min(limit, runtime(request).settings.max_page_size)
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = bio_repo.list_reviews(cur, status=status, after_id=cursor, limit=limit)
        items = [_review_view(cur, r, now.date()) for r in rows]
    return {"items": items, "next_cursor": rows[-1]["id"] if len(rows) == limit else None}


class ReviewDecision(Input):
    approve: bool
    note: str | None = Field(default=None, max_length=500)


@router.post("/biometrics/reviews/{review_id}/decision",
             summary="Approve (distinct people) or reject (same person) a held enrollment")
def decide_review(review_id: int, body: ReviewDecision, request: Request, principal: Regulator,
                  now: Now) -> Any:
    with runtime(request).db.transaction() as cur:
        review = enrollment.decide_review(cur, actor=actor_of(principal), now=now,
                                          review_id=review_id, approve=body.approve,
                                          note=body.note)
        return _review_view(cur, review, now.date())


# -- fingerprints ---------------------------------------------------------------------
def _finger_capture(request: Request, image: UploadFile | None, template: UploadFile | None,
                    dpi: float | None, purpose: str, position: int) -> Any:
    from biometrics import finger_capture
    from registry.errors import InvalidInput

    s = runtime(request).settings
    if (image is None) == (template is None):
        raise InvalidInput("send exactly one of: image (PNG/TIFF/BMP, 500 dpi) or template "
                           "(ISO 19794-2 / ANSI 378)", field="image")
    if image is not None:
        data = read_upload(image, max_bytes=s.max_image_bytes, field="image")
        inspect_image(data, formats=FINGER_FORMATS, max_bytes=s.max_image_bytes,
                      max_pixels=s.max_finger_image_pixels)
        return runtime(request).image_pool().run(
            image_work.capture_finger, data, dpi=dpi, purpose=purpose, position=position,
            max_bytes=s.max_image_bytes, max_pixels=s.max_finger_image_pixels)
    data = read_upload(template, max_bytes=64 * 1024, field="template")
    return finger_capture.from_template(data, purpose=purpose)


@router.post("/guards/{guard_id}/fingers/verify",
             summary="1:1: does a live fingerprint (image or template) match the guard?")
def verify_finger(guard_id: int, request: Request, principal: Verifier,
                  image: Annotated[UploadFile | None, File()] = None,
                  template: Annotated[UploadFile | None, File()] = None,
                  dpi: Annotated[float | None, Form(ge=250, le=1200)] = None,
                  position: Annotated[int | None, Form(ge=1, le=10)] = None) -> Any:
    from biometrics.fingerprint.matcher import THRESHOLD_FMR_01

    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        guard = registry_repo.get_guard(cur, guard_id)
        if guard is None:
            raise NotFound("no such guard")
        if principal.role is not Role.CHECKPOINT_OFFICER:
            guard_for(cur, principal, guard_id)
    capture = _finger_capture(request, image, template, dpi, "verify", position or 0)
    with rt.db.transaction(readonly=True) as cur:
        score, matched_position = enrollment.finger_score(
            cur, subject=str(guard["biometric_subject"]), probe=capture.prepared,
            sealer=sealer(rt.settings), position=position)
    return {"guard_id": guard_id, "score": round(score, 4), "threshold": THRESHOLD_FMR_01,
            "match": score >= THRESHOLD_FMR_01, "best_position": matched_position,
            "scale": "0..1; threshold at FMR 0.1%"}


@router.post("/guards/{guard_id}/fingers/{position}", status_code=201,
             summary="Capture (or replace) one finger; 1:N search (face shortlist, then all)")
def enroll_finger(guard_id: int, request: Request, principal: Staff, now: Now,
                  position: Annotated[int, Path(ge=1, le=10,
                                                description="ISO finger position 1-10")],
                  image: Annotated[UploadFile | None, File()] = None,
                  template: Annotated[UploadFile | None, File()] = None,
                  dpi: Annotated[float | None, Form(ge=250, le=1200)] = None) -> Any:
    from biometrics import finger_capture

    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        guard_for(cur, principal, guard_id)
    rate_limit(request, principal, "enroll")
    capture = _finger_capture(request, image, template, dpi, "enroll", position)
    with rt.db.transaction() as cur:
        guard = guard_for(cur, principal, guard_id, for_update=True)
        outcome = enrollment.enroll_finger(
            cur, actor=actor_of(principal), now=now, subject=str(guard["biometric_subject"]),
            guard_id=guard_id, position=position, record=capture.record,
            prepared=capture.prepared, model=finger_capture.MODEL_ID, quality=capture.quality,
            minutiae=capture.minutiae, sealer=sealer(rt.settings),
            policy=dedup_policy(request), db=rt.db, cache=rt.finger_cache)
    body: dict[str, Any] = {"guard_id": guard_id, "position": position,
                            "status": outcome.status, "replaced": outcome.replaced,
                            "quality": capture.quality, "minutiae": capture.minutiae,
                            "source": capture.source, "image_kept": False}
    if outcome.status == "held":
        body["review_id"] = outcome.review_id
        body["detail"] = "held for regulator review: the finger matches another identity"
        if principal.role is Role.REGULATOR:
            body["candidates"] = [c.as_dict() for c in outcome.candidates]
            body["banned_match"] = outcome.banned_match
    return JSONResponse(body, status_code=201 if outcome.status == "enrolled" else 202)
