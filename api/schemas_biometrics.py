"""Response bodies of the biometric and exam-capture routes (issue 19): what clients read
is declared; what a body carries beyond it passes through (``Output``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from api.schemas import Output

Responses = dict[int | str, dict[str, Any]]
JPEG: Responses = {200: {"content": {"image/jpeg": {}}, "description": "a JPEG image"}}
PDF: Responses = {200: {"content": {"application/pdf": {}}, "description": "a PDF document"}}


# -- captures ------------------------------------------------------------------------
class ComparisonOut(Output):
    modality: str | None = Field(default=None, description="face or finger")
    score: float | None = None
    llr: float | None = Field(default=None, description="log-likelihood ratio")


class CandidateOut(Output):
    """Another identity a capture was held against (shown to the regulator)."""

    guard_id: str | None = Field(description="the other guard's public id")
    score: float
    banned: bool
    metric: str
    threshold: float | None = None
    fused_llr: float | None = None
    chance: float | None = None
    words: str | None = None
    comparisons: list[ComparisonOut] = Field(default_factory=list)


class HoldOut(Output):
    """Set when a capture is held (202) as a possible duplicate."""

    review_id: int | None = Field(default=None, description="the review that decides it")
    detail: str | None = None
    candidates: list[CandidateOut] | None = Field(default=None, description="regulator only")
    banned_match: bool | None = Field(default=None, description="regulator only")


class FaceCaptureOut(HoldOut):
    guard_id: str = Field(description="the guard's public id")
    status: str = Field(description="enrolled (201) or held (202)")
    replaced: bool
    model: str
    quality: dict[str, float]


class FingerCaptureOut(HoldOut):
    guard_id: str = Field(description="the guard's public id")
    position: int
    status: str = Field(description="enrolled (201) or held (202)")
    replaced: bool
    quality: int
    minutiae: int
    source: str = Field(description="image, or the template format")
    image_kept: bool


HELD = "held for a regulator's review"
FACE_HELD: Responses = {202: {"model": FaceCaptureOut, "description": HELD}}
FINGER_HELD: Responses = {202: {"model": FingerCaptureOut, "description": HELD}}


class FingerStatusOut(Output):
    position: int
    status: str
    quality: int
    minutiae: int


class CaptureStatusOut(Output):
    guard_id: str = Field(description="the guard's public id")
    face: str | None
    face_quality: dict[str, Any] | None
    fingers: list[FingerStatusOut]
    complete: bool = Field(description="an enrolled face and at least two enrolled fingers")


# -- 1:1 matches ---------------------------------------------------------------------
class FaceMatchOut(Output):
    distance: float = Field(description="lower = closer")
    threshold: float
    match: bool
    model: str


class GuardFaceMatchOut(FaceMatchOut):
    guard_id: str = Field(description="the guard's public id")


class CertificateFaceMatchOut(FaceMatchOut):
    number: str


class FingerMatchOut(Output):
    score: float = Field(description="0..1, higher = more alike")
    threshold: float
    match: bool
    best_position: int | None
    scale: str


class GuardFingerMatchOut(FingerMatchOut):
    guard_id: str = Field(description="the guard's public id")


class CertificateFingerMatchOut(FingerMatchOut):
    number: str


# -- the review queue ----------------------------------------------------------------
class BanOut(BaseModel):
    reason: str
    until_on: dt.date | None


class IdentityOut(BaseModel):
    guard_id: str = Field(description="the guard's public id")
    name: str
    id_number_masked: str | None = Field(description="null once purged (retention)")
    employer: str | None
    employer_id: int | None
    banned_now: bool
    bans: list[BanOut]


class ReviewCandidateOut(Output):
    guard_id: str | None = Field(description="the other guard's public id")
    score: float
    banned: bool
    metric: str
    threshold: float | None
    fused_llr: float | None
    chance: float | None
    words: str | None
    comparisons: list[ComparisonOut]
    identity: IdentityOut | None = None


class ReviewOut(Output):
    id: int
    modality: str
    status: str
    guard_id: str | None = Field(description="the held guard's public id")
    guard_name: str | None
    candidates: list[ReviewCandidateOut]
    banned_match: bool
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None


# -- the evidence of one held duplicate (regulator only) ------------------------------
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
