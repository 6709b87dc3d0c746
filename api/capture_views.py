"""The capture views the guard pages (api/routers/biometrics.py) and the exam
registration point (api/routers/exams.py) share: access first, then the capture use case
(api/usecases/captures.py), then one answer (201 enrolled, 202 held for review). Not a
router: routers import it, it imports no router."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request, UploadFile
from fastapi.responses import JSONResponse

from api.access import actor_of
from api.deps import rate_limit, runtime
from api.usecases import captures
from api.usecases.captures import GuardLoader
from biometrics import enrollment
from registry.auth import Principal, Role


def _held_view(request: Request, principal: Principal, outcome: enrollment.EnrollmentOutcome,
               body: dict[str, Any], detail: str) -> JSONResponse:
    """201 when enrolled; 202 when held, with the other identities for a regulator."""
    if outcome.status == "held":
        body["review_id"] = outcome.review_id
        body["detail"] = detail
        if principal.role is Role.REGULATOR:
            with runtime(request).db.transaction(readonly=True) as cur:
                body["candidates"] = captures.public_candidates(cur, outcome.candidates)
            body["banned_match"] = outcome.banned_match
    return JSONResponse(body, status_code=201 if outcome.status == "enrolled" else 202)


def _check_access(request: Request, principal: Principal, load: GuardLoader) -> None:
    """Access before anything is read (checked again under lock when storing), then the
    caller's enrollment budget."""
    with runtime(request).db.transaction(readonly=True) as cur:
        load(cur, False)
    rate_limit(request, principal, "enroll")


def capture_face(request: Request, principal: Principal, now: dt.datetime, photo: UploadFile,
                 load: GuardLoader) -> JSONResponse:
    """The face capture for whoever ``load`` lets the principal reach (the guard pages,
    or the exam registration point)."""
    _check_access(request, principal, load)
    done = captures.capture_face(runtime(request), actor=actor_of(principal), now=now,
                                 photo=photo, load=load)
    body: dict[str, Any] = {"guard_id": str(done.guard["public_id"]),
                            "status": done.outcome.status, "replaced": done.outcome.replaced,
                            "model": done.model, "quality": done.quality}
    return _held_view(request, principal, done.outcome, body,
                      "held for regulator review: the face matches another enrolled identity")


def capture_finger(request: Request, principal: Principal, now: dt.datetime, position: int,
                   image: UploadFile | None, template: UploadFile | None, dpi: float | None,
                   load: GuardLoader) -> JSONResponse:
    """The finger capture for whoever ``load`` lets the principal reach."""
    _check_access(request, principal, load)
    done = captures.capture_finger(runtime(request), actor=actor_of(principal), now=now,
                                   position=position, image=image, template=template, dpi=dpi,
                                   load=load)
    capture = done.capture
    body: dict[str, Any] = {"guard_id": str(done.guard["public_id"]), "position": position,
                            "status": done.outcome.status, "replaced": done.outcome.replaced,
                            "quality": capture.quality, "minutiae": capture.minutiae,
                            "source": capture.source, "image_kept": False}
    return _held_view(request, principal, done.outcome, body,
                      "held for regulator review: the finger matches another identity")


