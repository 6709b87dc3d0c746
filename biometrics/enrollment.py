"""Biometric enrollment use cases: store protected templates, search 1:N, hold duplicates.

A match within the threshold that belongs to another subject (another guard, hence
another ID number) holds the enrollment for the regulator, with candidates and
scores; a candidate under an industry ban is flagged. Approving releases the hold;
rejecting marks the capture rejected (it no longer counts as captured).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from biometrics import dedup_repository, fusion, repository
from biometrics.errors import QualityRejected
from biometrics.face.protection import FaceVectorKey
from biometrics.records import CaptureStatus
from biometrics.sealing import Sealer
from registry import audit, service
from registry.audit import Actor
from registry.db import Cursor, Database
from registry.errors import Conflict, NotFound

PHOTO_MAX_SIDE = 800


@dataclass
class Candidate:
    """Another identity the capture was held against, with the evidence: ``score`` is
    the fused log-likelihood ratio (``metric="fused_llr"``, higher = more alike) and
    ``threshold`` the fused LLR the hold needed; ``comparisons`` the per-modality
    scores and LLRs; ``words`` the chance in words (docs/dedup.md)."""

    subject: str
    score: float
    guard_id: int | None
    banned: bool
    metric: str = "fused_llr"
    threshold: float | None = None
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    chance: float | None = None
    words: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "score": round(self.score, 4), "guard_id": self.guard_id,
                "banned": self.banned, "metric": self.metric, "threshold": self.threshold,
                "fused_llr": round(self.score, 3), "comparisons": self.comparisons,
                "chance": self.chance, "words": self.words}


@dataclass
class EnrollmentOutcome:
    status: str  # "enrolled" or "held"
    replaced: bool
    candidates: list[Candidate] = field(default_factory=list)
    review_id: int | None = None

    @property
    def banned_match(self) -> bool:
        return any(c.banned for c in self.candidates)


def photo_aad(subject: str) -> bytes:
    return f"face-photo:{subject}".encode()


def display_aad(subject: str) -> bytes:
    return f"face-display:{subject}".encode()


# The checkpoint portrait: 4:5 like an ID photo, a little more than a Chinese ID card
# chip's 102x126 so that it stays sharp on a phone screen.
DISPLAY_SIZE = (240, 300)


def display_jpeg(pixels: np.ndarray, box: tuple[int, int, int, int] | None) -> bytes:
    """A small portrait for checkpoint screens: head and shoulders around the face box
    ``(top, right, bottom, left)``, or the centre of the photo when there is none."""
    h, w = pixels.shape[:2]
    out_w, out_h = DISPLAY_SIZE
    if box is not None:
        top, right, bottom, left = box
        cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
        crop_w = 2.2 * max(1, right - left)
    else:
        cx, cy = w / 2.0, h / 2.0
        crop_w = float(w)
    crop_w = min(crop_w, float(w), h * out_w / out_h)
    crop_h = crop_w * out_h / out_w
    # The face a little above the middle, as on an ID photo; stay inside the image.
    x0 = round(min(max(cx - crop_w / 2, 0.0), w - crop_w))
    y0 = round(min(max(cy - 0.45 * crop_h, 0.0), h - crop_h))
    img = Image.fromarray(pixels[y0:y0 + int(crop_h), x0:x0 + int(crop_w)])
    img = img.resize(DISPLAY_SIZE, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=80)
    return out.getvalue()


def normalised_jpeg(pixels: np.ndarray) -> bytes:
    """Re-encode the photo from its pixels: drops EXIF (GPS, device) and caps the size."""
    img = Image.fromarray(pixels)
    img.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


# -- the fused duplicate check (docs/dedup.md) ------------------------------------------
FACE_CANDIDATES = 20  # nearest faces taken as candidates
FINGER_CANDIDATES = 10  # best fingers per probe finger taken as candidates


@dataclass
class Probe:
    """What the new identity has so far: its face (protected vector and model) and its
    fingers by position (0 = unknown position)."""

    face: np.ndarray | None = None
    face_model: str | None = None
    fingers: dict[int, Any] = field(default_factory=dict)  # position -> PreparedTemplate


def stored_probe(cur: Cursor, subject: str, *, sealer: Sealer,
                 skip_position: int | None = None, skip_face: bool = False) -> Probe:
    """The subject's stored, not rejected, face and fingers."""
    from biometrics.finger_search import finger_aad
    from biometrics.fingerprint.matcher import prepare

    probe = Probe()
    row = None if skip_face else repository.get_face(cur, subject)
    if row is not None and row["status"] != "rejected":
        probe.face = repository.parse_vector(row["embedding"])
        probe.face_model = str(row["model"])
    for f in repository.get_fingers(cur, subject):
        pos = int(f["position"])
        if f["status"] == "rejected" or pos == skip_position:
            continue
        probe.fingers[pos] = prepare(sealer.open(bytes(f["template_sealed"]),
                                                 aad=finger_aad(subject, pos)))
    return probe


def find_duplicates(cur: Cursor, *, subject: str, probe: Probe, today: dt.date,
                    sealer: Sealer, policy: fusion.Policy, finger_model: str,
                    db: Database | None = None, cache: Any = None) -> list[Candidate]:
    """Gather candidates from the face and finger indexes, score each on every modality
    both identities have, fuse, and return those that pass the hold threshold (the
    banned ones at the more sensitive one), most alike first. Call under
    :func:`dedup_repository.lock_dedup`."""
    from biometrics.finger_search import prepared_template, search_fingers
    from biometrics.fingerprint.matcher import match

    face_model = probe.face_model or ""
    fuse = fusion.fusion_for(policy, face_model=face_model, finger_model=finger_model)
    distances: dict[str, float] = {}
    if probe.face is not None:
        for s, d in repository.search_faces(cur, probe.face, model=face_model,
                                            exclude_subject=subject, k=FACE_CANDIDATES, db=db):
            distances[s] = d
    subjects = dict.fromkeys(distances)
    for prepared in probe.fingers.values():
        for hit in search_fingers(cur, prepared, sealer=sealer, exclude_subject=subject,
                                  limit=FINGER_CANDIDATES, db=db, cache=cache):
            subjects.setdefault(hit.subject)
    if not subjects:
        return []
    names = list(subjects)
    if probe.face is not None:
        for row in dedup_repository.faces_of(cur, [n for n in names if n not in distances]):
            if row["model"] == face_model:
                distances[row["subject"]] = float(np.linalg.norm(
                    repository.parse_vector(row["embedding"]) - probe.face))
    their_fingers: dict[str, list[tuple[int, str, Any]]] = {}
    if probe.fingers:
        # the fingers the search just scored come from the cache it filled
        for row in dedup_repository.fingers_of(cur, names):
            their_fingers.setdefault(row["subject"], []).append(
                (int(row["position"]), str(row["model"]),
                 prepared_template(row, sealer, cache)))
    out: list[Candidate] = []
    for name in names:
        comps: list[fusion.Comparison] = []
        if name in distances:
            comps.append(fuse.face_comparison(distances[name]))
        theirs = their_fingers.get(name, [])
        for pos, prepared in sorted(probe.fingers.items()):
            # The same finger position, or (a position unknown on either side) any.
            pool = ([t for t in theirs if t[0] in (pos, 0)] if pos else theirs)
            if pos and any(t[0] == pos for t in pool):
                pool = [t for t in pool if t[0] == pos]
            if not pool:
                continue
            scored = [(match(prepared, t[2]), t) for t in pool]
            score, best = max(scored, key=lambda x: x[0])
            comps.append(fuse.finger_comparison(score, position=pos or None,
                                                candidate_position=best[0] or None,
                                                positions_compared=len(pool),
                                                template_model=best[1]))
        verdicts = {b: fuse.decide(comps, banned=b) for b in (False, True)}
        if not (verdicts[False].hold or verdicts[True].hold):
            continue  # held under neither threshold: whose it is and bans change nothing
        guard = service.guard_of_subject(cur, name)
        banned = guard is not None and service.is_banned(cur, guard.id, today)
        verdict = verdicts[banned]
        if verdict.hold:
            out.append(Candidate(name, verdict.fused_llr, guard.id if guard else None,
                                 banned, "fused_llr", verdict.threshold,
                                 [c.as_dict() for c in comps], verdict.chance, verdict.words))
    return sorted(out, key=lambda c: -c.score)


def enroll_face(cur: Cursor, *, actor: Actor, now: dt.datetime, subject: str, guard_id: int,
                encoding: np.ndarray, model: str, quality: dict[str, Any], pixels: np.ndarray,
                sealer: Sealer, vector_key: FaceVectorKey, transform_kid: str,
                policy: fusion.Policy, finger_model: str,
                face_box: tuple[int, int, int, int] | None = None,
                db: Database | None = None, cache: Any = None) -> EnrollmentOutcome:
    """Protect, search 1:N on the face and on the fingers already captured (``db`` lets
    the face search use one connection per index shard; ``cache`` keeps prepared finger
    templates), fuse, store, and hold the enrollment for review when another identity
    passes the fused threshold."""
    protected = vector_key.protect(np.asarray(encoding, dtype=np.float64))
    dedup_repository.lock_dedup(cur)
    probe = stored_probe(cur, subject, sealer=sealer, skip_face=True)
    probe.face, probe.face_model = protected, model
    candidates = find_duplicates(cur, subject=subject, probe=probe, today=now.date(),
                                 sealer=sealer, policy=policy, finger_model=finger_model, db=db,
                                 cache=cache)
    status = "held" if candidates else "enrolled"
    photo = normalised_jpeg(pixels)
    replaced = repository.upsert_face(
        cur, subject=subject, status=status, model=model, embedding=protected,
        photo_sealed=sealer.seal(photo, aad=photo_aad(subject)),
        photo_sha256=hashlib.sha256(photo).digest(), quality=_jsonable(quality),
        transform_kid=transform_kid,
        display_sealed=sealer.seal(display_jpeg(pixels, face_box), aad=display_aad(subject)))
    outcome = EnrollmentOutcome(status, replaced, candidates)
    if candidates:
        outcome.review_id = repository.open_review(
            cur, subject=subject, modality="face", candidates=[c.as_dict() for c in candidates],
            banned_match=outcome.banned_match)
    audit.record(cur, actor=actor, action="biometrics.face." + ("replace" if replaced else
                                                                 "enroll"),
                 target_type="guard", target_id=guard_id,
                 data={"status": status, "model": model, "candidates": len(candidates),
                       "banned_match": outcome.banned_match, "review_id": outcome.review_id},
                 now=now)
    return outcome


def face_distance(cur: Cursor, *, subject: str, encoding: np.ndarray,
                  vector_key: FaceVectorKey, model: str) -> float:
    row = repository.get_face(cur, subject)
    if row is None or row["status"] == "rejected":
        raise NotFound("no face enrolled for this guard", code="no-face-enrolled")
    if row["model"] != model:
        raise Conflict("the enrolled face was made by another model; re-enroll it",
                       code="model-mismatch")
    stored = repository.parse_vector(row["embedding"])
    probe = vector_key.protect(np.asarray(encoding, dtype=np.float64))
    return float(np.linalg.norm(stored - probe))


def load_photo(cur: Cursor, *, subject: str, sealer: Sealer) -> bytes | None:
    row = repository.get_face(cur, subject)
    if row is None:
        return None
    return open_photo(row["photo_sealed"], subject=subject, sealer=sealer)


def load_portrait(cur: Cursor, *, subject: str, sealer: Sealer) -> bytes | None:
    """The upright portrait cropped around the face (migration 0102), else the photo."""
    row = repository.get_portrait(cur, subject)
    if row is None:
        return None
    if row["display_sealed"] is not None:
        return open_photo(row["display_sealed"], subject=subject, sealer=sealer, display=True)
    return open_photo(row["photo_sealed"], subject=subject, sealer=sealer)


# The photo column of a face kept after the retention period for a person still barred
# (api/retention_repository.py): the template stays, the photo is gone.
PURGED_PHOTO = b""


def photo_purged(sealed: bytes | memoryview | None) -> bool:
    return sealed is None or len(bytes(sealed)) == 0


def open_photo(sealed: bytes | memoryview, *, subject: str, sealer: Sealer,
               display: bool = False) -> bytes:
    """Decrypt a sealed photo (or, with ``display``, the checkpoint portrait) read by
    another query; each is bound to its subject. A purged photo is not found."""
    if photo_purged(sealed):
        raise NotFound("the photo was deleted at the end of the retention period",
                       code="photo-purged")
    return sealer.open(bytes(sealed), aad=(display_aad if display else photo_aad)(subject))


def backfill_portraits(cur: Cursor, *, sealer: Sealer, limit: int = 100) -> int:
    """Make the checkpoint portrait of up to ``limit`` faces enrolled before portraits
    existed (migration 0102); returns how many were made. The face box comes from the
    detector (the largest face), or the portrait is the centre of the photo."""
    from biometrics.face.pipeline import get_analyzer
    from biometrics.imaging import decode_image

    rows = repository.faces_without_portrait(cur, limit=limit)
    for row in rows:
        photo = open_photo(row["photo_sealed"], subject=row["subject"], sealer=sealer)
        pixels = decode_image(photo).pixels
        boxes, _ = get_analyzer().detect(pixels)
        box = max(boxes, key=lambda b: b.width * b.height).as_tuple() if boxes else None
        repository.set_portrait(cur, row["subject"], sealer.seal(
            display_jpeg(pixels, box), aad=display_aad(row["subject"])))
    return len(rows)


@dataclass
class ReencodeReport:
    done: int = 0
    failed: list[str] = field(default_factory=list)  # subjects whose photo no longer passes


def reencode_faces(cur: Cursor, *, actor: Actor, now: dt.datetime, sealer: Sealer,
                   vector_key: FaceVectorKey, limit: int = 50,
                   skip: Sequence[str] = ()) -> ReencodeReport:
    """Re-encode up to ``limit`` stored faces made by another model from their sealed
    photos with the current one, so that 1:N search and 1:1 checks see them again
    (the search only compares templates of the same model). The status and any
    review stay as they are: the photo was already checked when it was enrolled.
    Photos the current pipeline finds no face in are reported and left alone (pass
    them in ``skip`` to go on past them)."""
    from biometrics.face.pipeline import get_analyzer
    from biometrics.imaging import decode_image

    analyzer = get_analyzer()
    report = ReencodeReport()
    rows = repository.faces_of_other_models(cur, model=analyzer.model_id, limit=limit,
                                            skip=skip)
    for row in rows:
        photo = open_photo(row["photo_sealed"], subject=row["subject"], sealer=sealer)
        try:
            result = analyzer.analyse(decode_image(photo).pixels, purpose="evaluate")
        except QualityRejected:
            report.failed.append(row["subject"])
            continue
        repository.replace_face_template(
            cur, row["subject"], model=result.model_id,
            embedding=vector_key.protect(np.asarray(result.encoding, dtype=np.float64)),
            transform_kid=vector_key.key_id)
        report.done += 1
    if rows:
        audit.record(cur, actor=actor, action="biometrics.face.reencode", target_type="model",
                     target_id=None, data={"model": analyzer.model_id, "reencoded": report.done,
                                           "failed": len(report.failed)}, now=now)
    return report


def decide_review(cur: Cursor, *, actor: Actor, now: dt.datetime, review_id: int,
                  approve: bool, note: str | None) -> dict[str, Any]:
    review = repository.get_review(cur, review_id, for_update=True)
    if review is None:
        raise NotFound("no such review")
    status = "approved" if approve else "rejected"
    if not repository.decide_review(cur, review_id, status=status, decided_by=actor.label,
                                    note=note):
        raise Conflict(f"the review was already {review['status']}", reason="already-decided")
    capture_status = "enrolled" if approve else "rejected"
    if review["modality"] == "face":
        repository.set_face_status(cur, review["subject"], capture_status)
    else:
        repository.set_finger_status(cur, review["subject"], capture_status)
    guard = service.guard_of_subject(cur, review["subject"])
    audit.record(cur, actor=actor, action=f"biometrics.review.{status}", target_type="guard",
                 target_id=guard.id if guard else None,
                 data={"review_id": review_id, "modality": review["modality"]}, now=now)
    result = repository.get_review(cur, review_id)
    assert result is not None
    return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return round(float(value), 4)
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    return value


# -- fingerprints ------------------------------------------------------------------------
def enroll_finger(cur: Cursor, *, actor: Actor, now: dt.datetime, subject: str, guard_id: int,
                  position: int, record: bytes, prepared: Any, model: str, quality: int,
                  minutiae: int, sealer: Sealer, policy: fusion.Policy,
                  db: Database | None = None, cache: Any = None) -> EnrollmentOutcome:
    """Store one finger (sealed ISO record); decide again on everything the identity has
    now (its face, the fingers captured before and this one) against the candidates of
    the face and finger indexes."""
    from biometrics.finger_search import finger_aad, index_finger
    from biometrics.fingerprint.matcher import prepare

    dedup_repository.lock_dedup(cur)
    probe = stored_probe(cur, subject, sealer=sealer, skip_position=position)
    probe.fingers[position] = prepared
    candidates = find_duplicates(cur, subject=subject, probe=probe, today=now.date(),
                                 sealer=sealer, policy=policy, finger_model=model, db=db,
                                 cache=cache)
    status = "held" if candidates else "enrolled"
    replaced = repository.upsert_finger(
        cur, subject=subject, position=position, status=status, model=model,
        template_sealed=sealer.seal(record, aad=finger_aad(subject, position)),
        quality=quality, minutiae=minutiae)
    # indexed from the stored record, as `guardreg biometrics finger-index` does
    index_finger(cur, subject=subject, position=position, prepared=prepare(record))
    outcome = EnrollmentOutcome(status, replaced, candidates)
    if candidates:
        outcome.review_id = repository.open_review(
            cur, subject=subject, modality="finger",
            candidates=[c.as_dict() for c in candidates], banned_match=outcome.banned_match)
    audit.record(cur, actor=actor, action="biometrics.finger." + ("replace" if replaced
                                                                   else "enroll"),
                 target_type="guard", target_id=guard_id,
                 data={"position": position, "status": status, "model": model,
                       "candidates": len(candidates), "banned_match": outcome.banned_match,
                       "review_id": outcome.review_id}, now=now)
    return outcome


def finger_score(cur: Cursor, *, subject: str, probe: Any, sealer: Sealer,
                 position: int | None) -> tuple[float, int]:
    """Best score of ``probe`` against the subject's enrolled fingers (or one position)."""
    from biometrics.finger_search import finger_aad
    from biometrics.fingerprint.matcher import match, prepare

    rows = [r for r in repository.get_fingers(cur, subject)
            if r["status"] != "rejected" and (position is None or r["position"] == position)]
    if not rows:
        raise NotFound("no fingerprint enrolled for this guard", code="no-finger-enrolled")
    best, best_pos = -1.0, 0
    for row in rows:
        record = sealer.open(bytes(row["template_sealed"]),
                             aad=finger_aad(subject, int(row["position"])))
        score = float(match(probe, prepare(record)))
        if score > best:
            best, best_pos = score, int(row["position"])
    return best, best_pos


def capture_status(cur: Cursor, subject: str) -> CaptureStatus:
    """The person's capture status as a typed record (what other packages read)."""
    return CaptureStatus.from_row(repository.capture_status(cur, subject))


def capture_summary(cur: Cursor, subject: str) -> dict[str, Any]:
    """What is captured of a person: the face, each finger, and whether that is enough
    for a certificate (an enrolled face and two enrolled fingers)."""
    status = capture_status(cur, subject)
    fingers = [{"position": f["position"], "status": f["status"], "quality": f["quality"],
                "minutiae": f["minutiae"]} for f in repository.get_fingers(cur, subject)]
    face = repository.get_face_status(cur, subject)
    return {"face": face["status"] if face else None,
            "face_quality": face["quality"] if face else None, "fingers": fingers,
            "complete": status.complete}
