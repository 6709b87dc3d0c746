"""Exam work that reaches across packages: capture status (biometrics), the signed
admission ticket (certificates) and the attendance check (biometrics fusion)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import UploadFile

from api.biometric_context import read_upload, sealer, vector_key
from api.exam_ticket_pdf import render_ticket
from api.runtime import Runtime
from api.schemas import mask_id_number
from api.usecases.captures import analyse_face, dedup_policy, read_finger
from biometrics import enrollment, fusion
from biometrics.records import CaptureStatus
from certificates.errors import VerificationError
from certificates.exam_ticket import TicketClaims, seal_ticket, verify_ticket
from registry import exams
from registry import repository as registry_repo
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotFound

CHINA = exams.CHINA


def capture_status(cur: Cursor, subject: str) -> CaptureStatus:
    return enrollment.capture_status(cur, subject)


def ticket_text(rt: Runtime, reg: dict[str, Any], now: dt.datetime) -> str:
    """A fresh ``SGX1:`` ticket for a registration, valid to the end of the exam day
    (China time)."""
    ctx = rt.certs
    end = dt.datetime.combine(reg["sits_on"] + dt.timedelta(days=1), dt.time(), CHINA)
    claims = TicketClaims(issuer=ctx.issuance.issuer, issued_at=now.replace(microsecond=0),
                          expires_at=end.astimezone(dt.UTC), registration_id=int(reg["id"]),
                          name=reg["name"], sits_on=reg["sits_on"], venue=reg["venue"],
                          session_id=int(reg["session_id"]))
    return seal_ticket(claims, ctx.signer("certificate"))


def ticket_pdf(rt: Runtime, *, registration_id: int, now: dt.datetime,
               with_photo: bool) -> bytes:
    with rt.db.transaction(readonly=True) as cur:
        reg = exams.registration(cur, registration_id)
        guard = registry_repo.get_guard(cur, int(reg["guard_id"]))
        assert guard is not None
        photo = (enrollment.load_portrait(cur, subject=str(guard["biometric_subject"]),
                                          sealer=sealer(rt.settings)) if with_photo else None)
    text = ticket_text(rt, reg, now)
    return render_ticket(ticket={**reg, "registration_id": reg["id"],
                                 "id_number_masked": mask_id_number(guard["id_number"])},
                         text=text, photo=photo, issuer=rt.settings.issuer)


def _ticket_registration(rt: Runtime, text: str, now: dt.datetime) -> int:
    trust, _ = rt.certs.trust(now)
    try:
        claims = verify_ticket(text.strip(), now=now, trust=trust)
    except VerificationError as exc:
        raise InvalidInput(f"the admission ticket does not verify ({exc.reason.value})",
                           field="ticket", reason="ticket-invalid") from None
    return claims.registration_id


def attendance(rt: Runtime, *, actor: Actor, now: dt.datetime, ticket: str,
               photo: UploadFile, finger: UploadFile, position: int | None) -> dict[str, Any]:
    """Verify the ticket, then match a live photo and one live finger against the
    captures made at registration; admit when the fused LLR reaches the threshold for
    ``exam_attendance_fmr`` (a 1:1 decision on the dedup calibration, docs/LIFECYCLE.md).
    Every attempt is recorded, admitted or not."""
    from biometrics import finger_capture

    registration_id = _ticket_registration(rt, ticket, now)
    with rt.db.transaction(readonly=True) as cur:
        reg = exams.registration(cur, registration_id)
        if reg["sits_on"] != now.astimezone(CHINA).date():
            raise Conflict(f"this ticket is for the session on {reg['sits_on']}",
                           reason="wrong-day")
        subject = str(reg["biometric_subject"])
        status = enrollment.capture_status(cur, subject)
        if not status.face_enrolled or status.fingers_enrolled < 1:
            raise NotFound("no photo and fingerprints captured at registration for this "
                           "candidate", code="not-captured")
    data = read_upload(photo, max_bytes=rt.settings.max_image_bytes, field="photo")
    face = analyse_face(rt, data, purpose="verify").result
    live = read_finger(rt, finger, None, None, purpose="verify", position=position or 0)
    with rt.db.transaction(readonly=True) as cur:
        distance = enrollment.face_distance(cur, subject=subject, encoding=face.encoding,
                                            vector_key=vector_key(rt.settings),
                                            model=face.model_id)
        score, matched = enrollment.finger_score(cur, subject=subject, probe=live.prepared,
                                                 sealer=sealer(rt.settings),
                                                 position=position)
    fuse = fusion.fusion_for(dedup_policy(rt.settings), face_model=face.model_id,
                             finger_model=finger_capture.MODEL_ID)
    comps = [fuse.face_comparison(distance, template_model=face.model_id),
             fuse.finger_comparison(score, position=position, candidate_position=matched,
                                    positions_compared=1 if position else
                                    status.fingers_enrolled,
                                    template_model=finger_capture.MODEL_ID)]
    fused = float(sum(c.llr for c in comps))
    imp = fuse.impostor_pmf(comps)
    threshold = fusion.threshold_for(imp, rt.settings.exam_attendance_fmr)
    if threshold is None:  # pragma: no cover - face + finger always reach 1e-4
        raise Conflict("the captures cannot reach the attendance target", reason="weak")
    admitted = fused >= threshold
    chance = float(fusion.survival(imp)[int(fusion._bin(fused))])
    with rt.db.transaction() as cur:
        exams.record_attendance(cur, actor=actor, now=now,
                                registration_id=registration_id, admitted=admitted,
                                fused_llr=fused, threshold=threshold, face_distance=distance,
                                finger_score=score)
    return {"registration_id": registration_id, "name": reg["name"], "admitted": admitted,
            "fused_llr": round(fused, 3), "threshold": round(threshold, 3),
            "face_distance": round(distance, 4), "finger_score": round(score, 4),
            "chance": fusion.chance_in_words(chance, comps)}

