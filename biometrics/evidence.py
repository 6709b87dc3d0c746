"""The evidence a regulator looks at before deciding a held duplicate (issue 13).

Fingerprint images are never kept, so the finger evidence is drawn from the templates:
both identities' minutiae (at 500 dpi, image convention: x right, y down, direction
clockwise from the x axis) and the pairs the matcher mated in its best alignment
(``matcher.mated_pairs``). Templates are decrypted here, for the one request that asks,
and never logged or stored elsewhere. The odds come from the fusion calibration: the
chance that two different people score at least this high on these modalities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from biometrics import fusion, repository
from biometrics.sealing import Sealer
from registry.db import Cursor


@dataclass
class FingerEvidence:
    position: int | None  # the held identity's finger (None: position unknown)
    candidate_position: int | None
    score_at_hold: float | None
    llr: float | None
    score_now: float | None  # None: one of the fingers is no longer on file
    held_minutiae: list[list[float]] = field(default_factory=list)  # [x, y, angle_deg]
    candidate_minutiae: list[list[float]] = field(default_factory=list)
    pairs: list[list[float]] = field(default_factory=list)  # [held_i, candidate_j, sim]

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "candidate_position": self.candidate_position,
                "score_at_hold": self.score_at_hold, "llr": self.llr,
                "score_now": self.score_now, "held_minutiae": self.held_minutiae,
                "candidate_minutiae": self.candidate_minutiae, "pairs": self.pairs}


def one_in(chance: float | None) -> float | None:
    """``N`` of "about 1 in N", to two significant figures; None when two different
    people score this high more often than not (or nothing is known)."""
    if chance is None or chance >= 0.5:
        return None
    n = 1.0 / max(chance, 1e-300)
    digits = max(0, math.floor(math.log10(n)) - 1)
    return float(round(n / 10 ** digits) * 10 ** digits)


def _minutiae(prepared: Any) -> list[list[float]]:
    return [[round(float(x), 1), round(float(y), 1), round(math.degrees(float(t)) % 360, 1)]
            for x, y, t, _ in prepared.minutiae.tolist()]


def _templates(cur: Cursor, subject: str, sealer: Sealer) -> dict[int, Any]:
    from biometrics.finger_search import finger_aad
    from biometrics.fingerprint.matcher import prepare

    out: dict[int, Any] = {}
    for row in repository.get_fingers(cur, subject):
        if row["status"] == "rejected":
            continue
        pos = int(row["position"])
        out[pos] = prepare(sealer.open(bytes(row["template_sealed"]),
                                       aad=finger_aad(subject, pos)))
    return out


def finger_evidence(cur: Cursor, *, held_subject: str, candidate_subject: str,
                    comparisons: list[dict[str, Any]], sealer: Sealer) -> list[FingerEvidence]:
    """One plot's data per finger comparison recorded with the hold. The templates are
    the ones on file now (a finger replaced since the hold is shown as it is now)."""
    from biometrics.fingerprint.matcher import match, mated_pairs

    wanted = [c for c in comparisons if c.get("modality") == "finger"]
    if not wanted:
        return []
    mine = _templates(cur, held_subject, sealer)
    theirs = _templates(cur, candidate_subject, sealer)
    out: list[FingerEvidence] = []
    for c in wanted:
        pos, cpos = c.get("position"), c.get("candidate_position")
        ev = FingerEvidence(pos, cpos, c.get("score"), c.get("llr"), None)
        a, b = mine.get(int(pos or 0)), theirs.get(int(cpos or 0))
        if a is not None and b is not None:
            ev.score_now = round(float(match(a, b)), 4)
            ev.held_minutiae = _minutiae(a)
            ev.candidate_minutiae = _minutiae(b)
            ev.pairs = [[p.probe, p.candidate, round(p.similarity, 3)]
                        for p in mated_pairs(a, b)]
        out.append(ev)
    return out


def legacy_chance(*, modality: str, score: float, policy: fusion.Policy, face_model: str,
                  finger_model: str, banned: bool) -> tuple[float, str]:
    """The chance (and its words) for a hold opened before fused decisions, which kept
    one raw score of one modality: the same calibration read for that score alone."""
    fuse = fusion.fusion_for(policy, face_model=face_model, finger_model=finger_model)
    comp = (fuse.face_comparison(score) if modality == "face" else
            fuse.finger_comparison(score, position=None, candidate_position=None))
    verdict = fuse.decide([comp], banned=banned)
    return verdict.chance, verdict.words
