"""Biometric capture and 1:1 matching: the upload analysed in the image pool, the
enrollment with its 1:N duplicate search (biometrics), the other identities named by
their public ids (registry).

A capture spans two transactions with the image work between them (no transaction is
held while a worker decodes a photo): the caller checks access first; ``load`` finds the
person again under lock when storing, so a capture reaches only whom the caller may.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import UploadFile

from api import image_work
from api.biometric_context import read_upload, sealer, vector_key
from api.runtime import Runtime
from biometrics import enrollment, fusion
from biometrics import repository as bio_repo
from biometrics.enrollment import Candidate, EnrollmentOutcome
from biometrics.face.pipeline import THRESHOLDS
from biometrics.imaging import FACE_FORMATS, FINGER_FORMATS, inspect_image
from registry import repository as registry_repo
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import InvalidInput, NotFound
from registry.settings import Settings

if TYPE_CHECKING:
    # The fingerprint stack (OpenCV) loads on the first finger request, not with the app.
    from biometrics.finger_capture import Capture

# Finds the person under capture: (cursor, lock for update) -> the guard row.
GuardLoader = Callable[[Cursor, bool], dict[str, Any]]


def dedup_policy(settings: Settings) -> fusion.Policy:
    return fusion.Policy(fpir=settings.dedup_fpir, fpir_banned=settings.dedup_fpir_banned,
                         gallery=settings.dedup_gallery_size)


def analyse_face(rt: Runtime, data: bytes, *, purpose: Literal["enroll", "verify"]
                 ) -> image_work.FaceWork:
    """Header limits here (cheap, no worker taken), then decoding and analysis in the
    image pool under the CPU budget."""
    s = rt.settings
    inspect_image(data, formats=FACE_FORMATS, max_bytes=s.max_image_bytes,
                  max_pixels=s.max_image_pixels)
    return rt.image_pool().run(image_work.analyse_face, data, purpose=purpose,
                               max_bytes=s.max_image_bytes, max_pixels=s.max_image_pixels,
                               keep_pixels=purpose == "enroll")


def read_finger(rt: Runtime, image: UploadFile | None, template: UploadFile | None,
                dpi: float | None, *, purpose: str, position: int) -> Capture:
    """One finger from exactly one of: an image (analysed in the image pool) or a
    minutiae template."""
    from biometrics import finger_capture

    s = rt.settings
    if (image is None) == (template is None):
        raise InvalidInput("send exactly one of: image (PNG/TIFF/BMP, 500 dpi) or template "
                           "(ISO 19794-2 / ANSI 378)", field="image")
    if image is not None:
        data = read_upload(image, max_bytes=s.max_image_bytes, field="image")
        inspect_image(data, formats=FINGER_FORMATS, max_bytes=s.max_image_bytes,
                      max_pixels=s.max_finger_image_pixels)
        capture: Capture = rt.image_pool().run(
            image_work.capture_finger, data, dpi=dpi, purpose=purpose, position=position,
            max_bytes=s.max_image_bytes, max_pixels=s.max_finger_image_pixels)
        return capture
    data = read_upload(template, max_bytes=64 * 1024, field="template")
    return finger_capture.from_template(data, purpose=purpose)


# -- captures ------------------------------------------------------------------------
@dataclass(frozen=True)
class FaceCaptured:
    guard: dict[str, Any]
    outcome: EnrollmentOutcome
    model: str
    quality: dict[str, float]  # rounded to 3 places


@dataclass(frozen=True)
class FingerCaptured:
    guard: dict[str, Any]
    outcome: EnrollmentOutcome
    capture: Capture


def capture_face(rt: Runtime, *, actor: Actor, now: dt.datetime, photo: UploadFile,
                 load: GuardLoader) -> FaceCaptured:
    """Analyse the photo, then store it with the 1:N duplicate search (enrolled, or held
    for a regulator's review)."""
    data = read_upload(photo, max_bytes=rt.settings.max_image_bytes, field="photo")
    work = analyse_face(rt, data, purpose="enroll")
    result = work.result
    assert work.pixels is not None
    from biometrics import finger_capture

    key = vector_key(rt.settings)
    with rt.db.transaction() as cur:
        guard = load(cur, True)
        outcome = enrollment.enroll_face(
            cur, actor=actor, now=now, subject=str(guard["biometric_subject"]),
            guard_id=int(guard["id"]), encoding=result.encoding, model=result.model_id,
            quality=result.quality, pixels=work.pixels, sealer=sealer(rt.settings),
            vector_key=key, transform_kid=key.key_id, policy=dedup_policy(rt.settings),
            finger_model=finger_capture.MODEL_ID, face_box=result.box.as_tuple(), db=rt.db,
            cache=rt.finger_cache)
    return FaceCaptured(guard=guard, outcome=outcome, model=result.model_id,
                        quality={k: round(float(v), 3) for k, v in result.quality.items()})


def capture_finger(rt: Runtime, *, actor: Actor, now: dt.datetime, position: int,
                   image: UploadFile | None, template: UploadFile | None, dpi: float | None,
                   load: GuardLoader) -> FingerCaptured:
    """Read one finger, then store it with the 1:N search (face shortlist, then all)."""
    from biometrics import finger_capture

    capture = read_finger(rt, image, template, dpi, purpose="enroll", position=position)
    with rt.db.transaction() as cur:
        guard = load(cur, True)
        outcome = enrollment.enroll_finger(
            cur, actor=actor, now=now, subject=str(guard["biometric_subject"]),
            guard_id=int(guard["id"]), position=position, record=capture.record,
            prepared=capture.prepared, model=finger_capture.MODEL_ID, quality=capture.quality,
            minutiae=capture.minutiae, sealer=sealer(rt.settings),
            policy=dedup_policy(rt.settings), db=rt.db, cache=rt.finger_cache)
    return FingerCaptured(guard=guard, outcome=outcome, capture=capture)


def public_candidates(cur: Cursor, candidates: list[Candidate]) -> list[dict[str, Any]]:
    """Candidates of a held enrollment with the other guards' public ids."""
    items = [c.as_dict() for c in candidates]
    public = registry_repo.public_ids_of(
        cur, [int(i["guard_id"]) for i in items if i.get("guard_id") is not None])
    for item in items:
        if item.get("guard_id") is not None:
            item["guard_id"] = public.get(int(item["guard_id"]))
    return items


# -- 1:1 matches ---------------------------------------------------------------------
def match_face(rt: Runtime, *, subject: str, photo: UploadFile) -> dict[str, Any]:
    """One 1:1 face comparison against the enrolled face (refused before the upload is
    read when there is none)."""
    with rt.db.transaction(readonly=True) as cur:
        if bio_repo.get_face_status(cur, subject) is None:
            raise NotFound("no face enrolled for this guard", code="no-face-enrolled")
    data = read_upload(photo, max_bytes=rt.settings.max_image_bytes, field="photo")
    result = analyse_face(rt, data, purpose="verify").result
    with rt.db.transaction(readonly=True) as cur:
        dist = enrollment.face_distance(cur, subject=subject, encoding=result.encoding,
                                        vector_key=vector_key(rt.settings),
                                        model=result.model_id)
    threshold = THRESHOLDS[result.model_id]
    return {"distance": round(dist, 4), "threshold": threshold,
            "match": dist <= threshold, "model": result.model_id}


def match_finger(rt: Runtime, *, subject: str, image: UploadFile | None,
                 template: UploadFile | None, dpi: float | None,
                 position: int | None) -> dict[str, Any]:
    """One 1:1 finger comparison: against the finger at ``position``, or the best of
    the enrolled fingers."""
    from biometrics.fingerprint.matcher import THRESHOLD_FMR_01

    capture = read_finger(rt, image, template, dpi, purpose="verify", position=position or 0)
    with rt.db.transaction(readonly=True) as cur:
        score, matched_position = enrollment.finger_score(
            cur, subject=subject, probe=capture.prepared, sealer=sealer(rt.settings),
            position=position)
    return {"score": round(score, 4), "threshold": THRESHOLD_FMR_01,
            "match": score >= THRESHOLD_FMR_01, "best_position": matched_position,
            "scale": "0..1; threshold at FMR 0.1%"}

