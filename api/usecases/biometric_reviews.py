"""The duplicate-identity review queue: held enrollments (biometrics) with the identities
they were held against (registry), the regulator's decision, and the evidence of one
hold (face crops, minutiae, the odds)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from api.biometric_context import sealer
from api.usecases.captures import dedup_policy
from biometrics import enrollment, evidence
from biometrics import repository as bio_repo
from biometrics.evidence import FingerEvidence
from registry import repository as registry_repo
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import NotFound
from registry.settings import Settings


@dataclass(frozen=True)
class Identity:
    """A guard as the reviewer sees it: the record and the bans in force today."""

    guard: dict[str, Any]
    bans: list[dict[str, Any]]


@dataclass(frozen=True)
class Review:
    row: dict[str, Any]
    held: dict[str, Any] | None  # the guard whose capture is held
    others: list[Identity | None]  # one per candidate, in the same order


def identity(cur: Cursor, guard: dict[str, Any], today: dt.date) -> Identity:
    # By blind index: a record purged at the end of retention has no ID number left.
    return Identity(guard=guard,
                    bans=registry_repo.active_bans_of_guard(cur, int(guard["id"]), today))


def _guards(cur: Cursor, row: dict[str, Any]
            ) -> tuple[dict[str, Any] | None, list[dict[str, Any] | None]]:
    held = registry_repo.get_guard_by_subject(cur, row["subject"])
    others = [registry_repo.get_guard(cur, int(c["guard_id"])) if c.get("guard_id") is not None
              else None for c in row["candidates"]]
    return held, others


def _review(cur: Cursor, row: dict[str, Any], today: dt.date) -> Review:
    held, others = _guards(cur, row)
    return Review(row=row, held=held,
                  others=[identity(cur, g, today) if g is not None else None for g in others])


def reviews(cur: Cursor, *, status: str | None, after_id: int, limit: int, today: dt.date
            ) -> list[Review]:
    return [_review(cur, r, today)
            for r in bio_repo.list_reviews(cur, status=status, after_id=after_id, limit=limit)]


def decide(cur: Cursor, *, actor: Actor, now: dt.datetime, review_id: int, approve: bool,
           note: str | None) -> Review:
    """Approve (distinct people: the capture is enrolled) or reject (the same person)."""
    row = enrollment.decide_review(cur, actor=actor, now=now, review_id=review_id,
                                   approve=approve, note=note)
    return _review(cur, row, now.date())


# -- the evidence of one hold -----------------------------------------------------------
@dataclass(frozen=True)
class CandidateEvidence:
    candidate: dict[str, Any]  # as stored with the hold
    other: Identity | None
    chance: float | None
    one_in: float | None
    words: str | None
    comparisons: list[dict[str, Any]]
    face: dict[str, Any] | None  # the face comparison, when the face was compared
    fingers: list[FingerEvidence]


@dataclass(frozen=True)
class Evidence:
    row: dict[str, Any]
    held: Identity | None
    candidates: list[CandidateEvidence]


def evidence_of(cur: Cursor, settings: Settings, *, review_id: int, today: dt.date
                ) -> Evidence:
    """Every modality's evidence of a hold. Holds from before fused decisions carry one
    score: their chance is worked out from the calibration now."""
    from biometrics import finger_capture

    row = bio_repo.get_review(cur, review_id)
    if row is None:
        raise NotFound("no such review")
    held, others = _guards(cur, row)
    face_row = bio_repo.get_face_status(cur, row["subject"])
    out: list[CandidateEvidence] = []
    for c, other in zip(row["candidates"], others, strict=True):
        comps: list[dict[str, Any]] = list(c.get("comparisons") or [])
        chance, words = c.get("chance"), c.get("words")
        if chance is None and not comps:  # a hold from before fused decisions
            chance, words = evidence.legacy_chance(
                modality=row["modality"], score=float(c["score"]),
                policy=dedup_policy(settings),
                face_model=str(face_row["model"]) if face_row and face_row.get("model")
                else "", finger_model=finger_capture.MODEL_ID, banned=bool(c["banned"]))
            comps = [{"modality": row["modality"], "score": c["score"], "llr": None}]
        fingers = (evidence.finger_evidence(
            cur, held_subject=row["subject"], candidate_subject=str(c["subject"]),
            comparisons=comps, sealer=sealer(settings)) if c.get("subject") else [])
        out.append(CandidateEvidence(
            candidate=c, other=identity(cur, other, today) if other else None,
            chance=chance, one_in=evidence.one_in(chance), words=words, comparisons=comps,
            face=next((x for x in comps if x.get("modality") == "face"), None),
            fingers=fingers))
    return Evidence(row=row, held=identity(cur, held, today) if held else None,
                    candidates=out)


def portrait(cur: Cursor, settings: Settings, *, review_id: int, guard_id: int) -> bytes:
    """The face crop of one identity of a hold (the held one or a candidate)."""
    row = bio_repo.get_review(cur, review_id)
    if row is None:
        raise NotFound("no such review")
    held, others = _guards(cur, row)
    guard = next((g for g in [held, *others] if g and int(g["id"]) == guard_id), None)
    if guard is None:
        raise NotFound("this guard is not part of the review")
    photo = enrollment.load_portrait(cur, subject=str(guard["biometric_subject"]),
                                     sealer=sealer(settings))
    if photo is None:
        raise NotFound("no photo on file for this guard", code="no-face-enrolled")
    return photo
