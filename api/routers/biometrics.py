"""Face capture, 1:1 face verification and the duplicate-identity review queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api import image_work
from api.access import GuardRef, actor_of, certificate_holder, guard_for
from api.biometric_context import read_upload, sealer, vector_key
from api.deps import clock, rate_limit, require, runtime
from api.schemas import Input, mask_id_number
from biometrics import enrollment, fusion
from biometrics import repository as bio_repo
from biometrics.face.pipeline import THRESHOLDS
from biometrics.imaging import FACE_FORMATS, FINGER_FORMATS, inspect_image
from registry import repository as registry_repo
from registry.auth import Principal, Role
from registry.db import Cursor
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


GuardLoader = Callable[[Cursor, bool], dict[str, Any]]


@router.post("/guards/{guard_id}/face", status_code=201,
             summary="Capture (or replace) a guard's face photo; 1:N duplicate search")
def enroll_face(guard_id: GuardRef, request: Request, principal: Staff, now: Now,
                photo: Annotated[UploadFile, File(description="JPEG or PNG")],
                ) -> Any:
    return capture_face(request, principal, now, photo,
                        lambda cur, lock: guard_for(cur, principal, guard_id, for_update=lock))


def capture_face(request: Request, principal: Principal, now: dt.datetime, photo: UploadFile,
                 load: GuardLoader) -> Any:
    """The face capture flow for whoever ``load`` lets the principal reach (the guard
    pages, or the exam registration point)."""
    rt = runtime(request)
    # Check access before reading anything, and again under lock when storing.
    with rt.db.transaction(readonly=True) as cur:
        load(cur, False)
    rate_limit(request, principal, "enroll")
    data = read_upload(photo, max_bytes=rt.settings.max_image_bytes, field="photo")
    work = _analyse_face(request, data, purpose="enroll")
    result = work.result
    assert work.pixels is not None
    from biometrics import finger_capture

    with rt.db.transaction() as cur:
        guard = load(cur, True)
        guard_id = int(guard["id"])
        outcome = enrollment.enroll_face(
            cur, actor=actor_of(principal), now=now, subject=str(guard["biometric_subject"]),
            guard_id=guard_id, encoding=result.encoding, model=result.model_id,
            quality=result.quality, pixels=work.pixels, sealer=sealer(rt.settings),
            vector_key=vector_key(rt.settings), transform_kid=vector_key(rt.settings).key_id,
            policy=dedup_policy(request), finger_model=finger_capture.MODEL_ID,
            face_box=result.box.as_tuple(), db=rt.db)
    body: dict[str, Any] = {
        "guard_id": str(guard["public_id"]), "status": outcome.status, "replaced": outcome.replaced,
        "model": result.model_id, "quality": {k: round(float(v), 3)
                                              for k, v in result.quality.items()},
    }
    if outcome.status == "held":
        body["review_id"] = outcome.review_id
        body["detail"] = ("held for regulator review: the face matches another enrolled "
                          "identity")
        if principal.role is Role.REGULATOR:
            body["candidates"] = _public_candidates(request, outcome.candidates)
            body["banned_match"] = outcome.banned_match
    return JSONResponse(body, status_code=201 if outcome.status == "enrolled" else 202)


@router.get("/guards/{guard_id}/face/photo", summary="The enrolled photo (JPEG)",
            response_class=Response)
def face_photo(guard_id: GuardRef, request: Request, principal: Staff) -> Response:
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
             summary="1:1: does a live photo match the guard's enrolled face? (staff)")
def verify_face(guard_id: GuardRef, request: Request, principal: Staff,
                photo: Annotated[UploadFile, File()]) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard = guard_for(cur, principal, guard_id)
    body = _face_match(request, principal, guard, photo)
    return {"guard_id": str(guard["public_id"]), **body}


@router.post("/certificates/{number}/face/verify",
             summary="1:1 at a checkpoint: does a live photo match the holder of this "
                     "certificate number (scanned or typed)?")
def verify_face_by_certificate(number: Annotated[str, Path(max_length=40)], request: Request,
                               principal: Verifier,
                               photo: Annotated[UploadFile, File()]) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        cert, guard = certificate_holder(cur, principal, number)
    body = _face_match(request, principal, guard, photo)
    return {"number": cert["number"], **body}


def _face_match(request: Request, principal: Principal, guard: dict[str, Any],
                photo: UploadFile) -> dict[str, Any]:
    """One 1:1 face comparison, counted against the caller's biometric-check budget
    before the upload is read."""
    rt = runtime(request)
    rate_limit(request, principal, "biometric-verify")
    subject = str(guard["biometric_subject"])
    with rt.db.transaction(readonly=True) as cur:
        if bio_repo.get_face_status(cur, subject) is None:
            raise NotFound("no face enrolled for this guard", code="no-face-enrolled")
    data = read_upload(photo, max_bytes=rt.settings.max_image_bytes, field="photo")
    result = _analyse_face(request, data, purpose="verify").result
    with rt.db.transaction(readonly=True) as cur:
        dist = enrollment.face_distance(cur, subject=subject, encoding=result.encoding,
                                        vector_key=vector_key(rt.settings),
                                        model=result.model_id)
    threshold = THRESHOLDS[result.model_id]
    return {"distance": round(dist, 4), "threshold": threshold,
            "match": dist <= threshold, "model": result.model_id}


@router.get("/guards/{guard_id}/biometrics", summary="Capture status of a guard")
def capture_status(guard_id: GuardRef, request: Request, principal: Staff) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard = guard_for(cur, principal, guard_id)
        subject = str(guard["biometric_subject"])
        status = bio_repo.capture_status(cur, subject)
        fingers = [{"position": f["position"], "status": f["status"], "quality": f["quality"],
                    "minutiae": f["minutiae"]} for f in bio_repo.get_fingers(cur, subject)]
        face = bio_repo.get_face_status(cur, subject)
    return {"guard_id": str(guard["public_id"]), "face": face["status"] if face else None,
            "face_quality": face["quality"] if face else None, "fingers": fingers,
            "complete": bool(face and face["status"] == "enrolled"
                             and status["fingers_enrolled"] >= 2)}


def _public_candidates(request: Request, candidates: list[Any]) -> list[dict[str, Any]]:
    """Candidates of a held enrollment with the other guards' public ids."""
    items = [c.as_dict() for c in candidates]
    with runtime(request).db.transaction(readonly=True) as cur:
        public = registry_repo.public_ids_of(
            cur, [int(i["guard_id"]) for i in items if i.get("guard_id") is not None])
    for item in items:
        if item.get("guard_id") is not None:
            item["guard_id"] = public.get(int(item["guard_id"]))
    return items


# -- review queue ---------------------------------------------------------------------
def _candidate_view(cur: Any, c: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """One candidate of a held enrollment: who the other identity is (name, masked ID
    number, employer, ban status now), the fused score and the per-modality evidence.
    Reviews opened before fused decisions keep their single score and metric."""
    other = (registry_repo.get_guard(cur, int(c["guard_id"])) if c.get("guard_id") is not None
             else None)
    view: dict[str, Any] = {
        "guard_id": str(other["public_id"]) if other is not None else None,
        "score": c["score"], "banned": c["banned"],
        "metric": c.get("metric", "distance"), "threshold": c.get("threshold"),
        "fused_llr": c.get("fused_llr"), "chance": c.get("chance"), "words": c.get("words"),
        "comparisons": c.get("comparisons", []),
    }
    if other is not None:
        view["identity"] = _identity(cur, other, today)
    return view


def _identity(cur: Any, guard: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """Who an identity is, for the reviewer: name, masked ID number, employer, bans."""
    # By blind index: a record purged at the end of retention has no ID number left.
    bans = registry_repo.active_bans_of_guard(cur, int(guard["id"]), today)
    return {"guard_id": str(guard["public_id"]), "name": guard["name"],
            "id_number_masked": mask_id_number(guard["id_number"]),
            "employer": guard.get("company_name"), "employer_id": guard.get("company_id"),
            "banned_now": bool(bans),
            "bans": [{"reason": b["reason"], "until_on": b["until_on"]} for b in bans]}


def _review_view(cur: Any, review: dict[str, Any], today: dt.date) -> dict[str, Any]:
    guard = registry_repo.get_guard_by_subject(cur, review["subject"])
    return {
        "id": review["id"], "modality": review["modality"], "status": review["status"],
        "guard_id": str(guard["public_id"]) if guard else None,
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
             summary="1:1: does a live fingerprint (image or template) match the guard? (staff)")
def verify_finger(guard_id: GuardRef, request: Request, principal: Staff,
                  image: Annotated[UploadFile | None, File()] = None,
                  template: Annotated[UploadFile | None, File()] = None,
                  dpi: Annotated[float | None, Form(ge=250, le=1200)] = None,
                  position: Annotated[int | None, Form(ge=1, le=10)] = None) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        guard = guard_for(cur, principal, guard_id)
    body = _finger_match(request, principal, guard, image, template, dpi, position)
    return {"guard_id": str(guard["public_id"]), **body}


@router.post("/certificates/{number}/fingers/verify",
             summary="1:1 at a checkpoint: does a live fingerprint match the holder of this "
                     "certificate number (scanned or typed)?")
def verify_finger_by_certificate(
        number: Annotated[str, Path(max_length=40)], request: Request, principal: Verifier,
        image: Annotated[UploadFile | None, File()] = None,
        template: Annotated[UploadFile | None, File()] = None,
        dpi: Annotated[float | None, Form(ge=250, le=1200)] = None,
        position: Annotated[int | None, Form(ge=1, le=10)] = None) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        cert, guard = certificate_holder(cur, principal, number)
    body = _finger_match(request, principal, guard, image, template, dpi, position)
    return {"number": cert["number"], **body}


def _finger_match(request: Request, principal: Principal, guard: dict[str, Any],
                  image: UploadFile | None, template: UploadFile | None, dpi: float | None,
                  position: int | None) -> dict[str, Any]:
    from biometrics.fingerprint.matcher import THRESHOLD_FMR_01

    rt = runtime(request)
    rate_limit(request, principal, "biometric-verify")
    capture = _finger_capture(request, image, template, dpi, "verify", position or 0)
    with rt.db.transaction(readonly=True) as cur:
        score, matched_position = enrollment.finger_score(
            cur, subject=str(guard["biometric_subject"]), probe=capture.prepared,
            sealer=sealer(rt.settings), position=position)
    return {"score": round(score, 4), "threshold": THRESHOLD_FMR_01,
            "match": score >= THRESHOLD_FMR_01, "best_position": matched_position,
            "scale": "0..1; threshold at FMR 0.1%"}


@router.post("/guards/{guard_id}/fingers/{position}", status_code=201,
             summary="Capture (or replace) one finger; 1:N search (face shortlist, then all)")
def enroll_finger(guard_id: GuardRef, request: Request, principal: Staff, now: Now,
                  position: Annotated[int, Path(ge=1, le=10,
                                                description="ISO finger position 1-10")],
                  image: Annotated[UploadFile | None, File()] = None,
                  template: Annotated[UploadFile | None, File()] = None,
                  dpi: Annotated[float | None, Form(ge=250, le=1200)] = None) -> Any:
    return capture_finger(request, principal, now, position, image, template, dpi,
                          lambda cur, lock: guard_for(cur, principal, guard_id,
                                                      for_update=lock))


def capture_finger(request: Request, principal: Principal, now: dt.datetime, position: int,
                   image: UploadFile | None, template: UploadFile | None, dpi: float | None,
                   load: GuardLoader) -> Any:
    """The finger capture flow for whoever ``load`` lets the principal reach."""
    from biometrics import finger_capture

    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        load(cur, False)
    rate_limit(request, principal, "enroll")
    capture = _finger_capture(request, image, template, dpi, "enroll", position)
    with rt.db.transaction() as cur:
        guard = load(cur, True)
        guard_id = int(guard["id"])
        outcome = enrollment.enroll_finger(
            cur, actor=actor_of(principal), now=now, subject=str(guard["biometric_subject"]),
            guard_id=guard_id, position=position, record=capture.record,
            prepared=capture.prepared, model=finger_capture.MODEL_ID, quality=capture.quality,
            minutiae=capture.minutiae, sealer=sealer(rt.settings),
            policy=dedup_policy(request), db=rt.db, cache=rt.finger_cache)
    body: dict[str, Any] = {"guard_id": str(guard["public_id"]), "position": position,
                            "status": outcome.status, "replaced": outcome.replaced,
                            "quality": capture.quality, "minutiae": capture.minutiae,
                            "source": capture.source, "image_kept": False}
    if outcome.status == "held":
        body["review_id"] = outcome.review_id
        body["detail"] = "held for regulator review: the finger matches another identity"
        if principal.role is Role.REGULATOR:
            body["candidates"] = _public_candidates(request, outcome.candidates)
            body["banned_match"] = outcome.banned_match
    return JSONResponse(body, status_code=201 if outcome.status == "enrolled" else 202)


# -- the evidence of one held duplicate (regulator only) ------------------------------
class BanOut(BaseModel):
    reason: str
    until_on: dt.date | None


class IdentityOut(BaseModel):
    guard_id: str = Field(description="the guard's public id")
    name: str
    id_number_masked: str
    employer: str | None
    employer_id: int | None
    banned_now: bool
    bans: list[BanOut]


class FaceEvidenceOut(BaseModel):
    distance: float | None = Field(description="face distance at the hold (lower = closer)")
    llr: float | None
    held_portrait: str | None = Field(description="URL of the held identity's face crop")
    candidate_portrait: str | None


class FingerEvidenceOut(BaseModel):
    position: int | None = Field(description="ISO position of the held identity's finger")
    candidate_position: int | None
    score_at_hold: float | None
    llr: float | None
    score_now: float | None = Field(description="the same two templates matched now; null "
                                    "when one of them is no longer on file")
    held_minutiae: list[list[float]] = Field(
        description="[x, y, direction in degrees] at 500 dpi (y down, clockwise)")
    candidate_minutiae: list[list[float]]
    pairs: list[list[float]] = Field(
        description="[held index, candidate index, relaxed similarity] of the mated "
        "minutiae of the best alignment")


class CandidateEvidenceOut(BaseModel):
    identity: IdentityOut | None
    banned_at_hold: bool
    fused_llr: float | None
    threshold: float | None
    chance: float | None = Field(
        description="chance that two different people score at least this high on these "
        "modalities")
    one_in: float | None = Field(description="N of 'about 1 in N' (2 significant figures)")
    words: str | None
    modalities: list[str]
    face: FaceEvidenceOut | None
    fingers: list[FingerEvidenceOut]


class ReviewEvidenceOut(BaseModel):
    id: int
    modality: str
    status: str
    created_at: dt.datetime
    banned_match: bool
    held: IdentityOut | None
    candidates: list[CandidateEvidenceOut]
    images_kept: dict[str, bool]


def _review_guards(cur: Any, review: dict[str, Any]) -> tuple[dict[str, Any] | None,
                                                            list[dict[str, Any] | None]]:
    held = registry_repo.get_guard_by_subject(cur, review["subject"])
    others = [registry_repo.get_guard(cur, int(c["guard_id"])) if c.get("guard_id") is not None
              else None for c in review["candidates"]]
    return held, others


@router.get("/biometrics/reviews/{review_id}/evidence", response_model=ReviewEvidenceOut,
            summary="Every modality's evidence of a held duplicate: face crops, minutiae "
            "with the mated pairs, the odds in words, the other identity named")
def review_evidence(review_id: int, request: Request, principal: Regulator, now: Now) -> Any:
    from biometrics import evidence, finger_capture

    rt = runtime(request)
    today = now.date()
    with rt.db.transaction(readonly=True) as cur:
        review = bio_repo.get_review(cur, review_id)
        if review is None:
            raise NotFound("no such review")
        held, others = _review_guards(cur, review)
        face_row = bio_repo.get_face_status(cur, review["subject"])
        base = f"/v1/biometrics/reviews/{review_id}/portraits/"
        out: list[dict[str, Any]] = []
        for c, other in zip(review["candidates"], others, strict=True):
            comps: list[dict[str, Any]] = list(c.get("comparisons") or [])
            chance, words = c.get("chance"), c.get("words")
            if chance is None and not comps:  # a hold from before fused decisions
                chance, words = evidence.legacy_chance(
                    modality=review["modality"], score=float(c["score"]),
                    policy=dedup_policy(request),
                    face_model=str(face_row["model"]) if face_row and face_row.get("model")
                    else "", finger_model=finger_capture.MODEL_ID, banned=bool(c["banned"]))
                comps = [{"modality": review["modality"], "score": c["score"], "llr": None}]
            face_comp = next((x for x in comps if x.get("modality") == "face"), None)
            fingers = (evidence.finger_evidence(
                cur, held_subject=review["subject"], candidate_subject=str(c["subject"]),
                comparisons=comps, sealer=sealer(rt.settings)) if c.get("subject") else [])
            out.append({
                "identity": _identity(cur, other, today) if other else None,
                "banned_at_hold": bool(c["banned"]),
                "fused_llr": c.get("fused_llr"), "threshold": c.get("threshold"),
                "chance": chance, "one_in": evidence.one_in(chance), "words": words,
                "modalities": [str(x.get("modality")) for x in comps],
                "face": None if face_comp is None else {
                    "distance": face_comp.get("score"), "llr": face_comp.get("llr"),
                    "held_portrait": base + str(held["public_id"]) if held else None,
                    "candidate_portrait": base + str(other["public_id"]) if other else None},
                "fingers": [f.as_dict() for f in fingers],
            })
        return {"id": review["id"], "modality": review["modality"], "status": review["status"],
                "created_at": review["created_at"], "banned_match": review["banned_match"],
                "held": _identity(cur, held, today) if held else None, "candidates": out,
                "images_kept": {"face": True, "finger": False}}


@router.get("/biometrics/reviews/{review_id}/portraits/{guard_id}",
            summary="The face crop of an identity of a held duplicate (JPEG)",
            response_class=Response)
def review_portrait(review_id: int, guard_id: GuardRef, request: Request,
                    principal: Regulator) -> Response:
    rt = runtime(request)
    with rt.db.transaction(readonly=True) as cur:
        review = bio_repo.get_review(cur, review_id)
        if review is None:
            raise NotFound("no such review")
        held, others = _review_guards(cur, review)
        guard = next((g for g in [held, *others] if g and int(g["id"]) == guard_id), None)
        if guard is None:
            raise NotFound("this guard is not part of the review")
        photo = enrollment.load_portrait(cur, subject=str(guard["biometric_subject"]),
                                         sealer=sealer(rt.settings))
    if photo is None:
        raise NotFound("no photo on file for this guard", code="no-face-enrolled")
    return Response(photo, media_type="image/jpeg",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
