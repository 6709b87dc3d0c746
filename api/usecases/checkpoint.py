"""The checkpoint: online verification of a certificate (the service's hot path), reading
a QR code from a photo, and the live 1:1 face check (issue 18).

These span the certificates and biometrics packages, so they live in the composition
root. The router parses, takes the rate limit, calls, and shapes the answer.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from api.biometric_context import sealer
from api.cert_context import CertContext
from api.runtime import Runtime
from biometrics import enrollment
from certificates import qr
from certificates.cwt import GuardClaims
from certificates.errors import CertificateError, Reason, VerificationError
from certificates.verification import CallableStatusProvider, StatusBinding, parse_any, verify
from registry import regulation
from registry import repository as registry_repo
from registry.auth import Principal
from registry.db import Cursor
from registry.errors import BadRequest, NotFound

# Verdicts whose certificate (or presentation) signature was checked before the failure,
# so that its claims may be shown.
_SIGNED_FAILURES = frozenset({Reason.REVOKED, Reason.SUSPENDED, Reason.EXPIRED,
                              Reason.NOT_YET_VALID, Reason.NO_DEVICE_PROOF,
                              Reason.PROOF_EXPIRED, Reason.CHALLENGE_MISMATCH,
                              Reason.CARD_NOT_ACCEPTED})


def verify_text(rt: Runtime, principal: Principal, text: str, *, location: str | None,
                include_photo: bool, now: dt.datetime, channel: str,
                challenge: str | None = None) -> dict[str, Any]:
    """The service's hot path (the caller has taken the rate limit). A verification is a
    read: ONE prepared statement in autocommit mode (no BEGIN/COMMIT round trips) fetches
    the certificate's live status with everything the answer shows, the sealed photo
    included. The check-log row is queued and written in batches
    (api/verification_log.py), off the request path."""
    from api import reporting_repository
    from certificates.publication import STATUS_VALUES
    from certificates.statuslist import REVOKED

    ctx: CertContext = rt.certs
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
            if exc.reason in _SIGNED_FAILURES:
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


def _live_context(cur: Cursor, rt: Runtime, guard: dict[str, Any], employer_id: Any,
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
        regulation.permitted_services(cur, guard=guard, now=now, policy=rt.policy_cache().get(cur),
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


def qr_text(rt: Runtime, data: bytes) -> str:
    """The text of the QR code in a photo, decoded by the image workers. A photo with no
    readable code is a 400 (``qr-unreadable``); a size or format limit, checked before
    any decoding, is answered as it is (413, 415)."""
    from api import image_work

    limits = {"max_bytes": rt.settings.max_image_bytes,
              "max_pixels": rt.settings.max_image_pixels}
    try:
        qr.check_image(data, **limits)
        text: str = rt.image_pool().run(image_work.read_qr, data, **limits)
    except CertificateError as exc:
        if exc.status in (413, 415):  # a limit before decoding: answered as it is
            raise
        raise BadRequest(f"no readable QR code in the image: {exc.detail}",
                         code="qr-unreadable", **exc.extra) from exc
    return text


# -- the live face check (issue 18) ----------------------------------------------------------
FaceResultWord = Literal["match", "no-match", "poor-photo"]
StrengthWord = Literal["strong", "moderate", "weak", "none"]

_RETAKE = {"face-count": "no single face found: one person, facing the camera",
           "inter-eye-distance": "face too small: come closer",
           "roll": "head tilted: hold the head straight", "yaw": "head turned: face the camera",
           "exposure": "too dark or too bright: change the light",
           "sharpness": "blurred: hold still"}


@dataclass(frozen=True)
class FaceCheck:
    """The outcome of a face check, in plain words (no photo, template or distance)."""

    result: FaceResultWord
    strength: StrengthWord | None
    message: str
    threshold: float
    retake: str | None = None
    retake_check: str | None = None


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


def face_subject(cur: Cursor, number: str) -> str:
    """The biometric subject of the certificate (or card) ``number``: 404 for an unknown
    or unissued number, or when no face is enrolled."""
    from biometrics import repository as bio_repo
    from certificates import repository as cert_repo

    cert = cert_repo.get_by_number(cur, number)
    if cert is None or cert["status"] in ("pending", "failed"):
        raise NotFound("no such certificate")
    guard = registry_repo.get_guard(cur, int(cert["guard_id"]))
    assert guard is not None
    subject = str(guard["biometric_subject"])
    face = bio_repo.get_face_status(cur, subject)
    if face is None or face["status"] == "rejected":
        raise NotFound("no face enrolled for this guard: check the ID card",
                       code="no-face-enrolled")
    return subject


def face_check(rt: Runtime, principal: Principal, *, number: str, subject: str, data: bytes,
               location: str | None, now: dt.datetime) -> FaceCheck:
    """Compare a photo of the person presenting with the enrolled face of ``subject``.
    The photo is discarded: nothing of it is stored; the check log holds the outcome only
    (no photo, template, distance or score)."""
    from api import image_work
    from api.biometric_context import vector_key
    from biometrics.errors import QualityRejected
    from biometrics.face.pipeline import MODEL_ID, checkpoint_threshold
    from biometrics.imaging import FACE_FORMATS, inspect_image

    out: FaceCheck
    try:
        limits = {"max_bytes": rt.settings.max_image_bytes,
                  "max_pixels": rt.settings.max_image_pixels}
        inspect_image(data, formats=FACE_FORMATS, **limits)
        result = rt.image_pool().run(image_work.analyse_face, data, purpose="verify",
                                     keep_pixels=False, **limits).result
    except QualityRejected as exc:
        check = str(exc.extra.get("check", ""))
        out = FaceCheck(result="poor-photo", strength=None,
                        message="poor photo: no comparison was made",
                        retake=_RETAKE.get(check, "retake the photo"),
                        retake_check=check or None, threshold=checkpoint_threshold(MODEL_ID))
    else:
        with rt.db.transaction(readonly=True) as cur:
            dist = enrollment.face_distance(cur, subject=subject, encoding=result.encoding,
                                            vector_key=vector_key(rt.settings),
                                            model=result.model_id)
        threshold = checkpoint_threshold(result.model_id)
        verdict, strength, message = face_strength(dist, threshold)
        out = FaceCheck(result=verdict, strength=strength, message=message,
                        threshold=threshold)
        del result
    rt.verification_log.add(at=now, principal_id=principal.id, number=number,
                            verdict=f"face-{out.result}", location=location,
                            channel="face-check")
    return out
