"""Capture quality of a fingerprint image: a 0-100 score with reasons.

The score combines five measurements taken by the extractor (each mapped to 0..1):
foreground area, mean orientation coherence of the foreground (clear ridge flow),
grey-level contrast of the foreground, plausibility of the ridge period (5-14 pixels
at 500 dpi) together with how well oriented filters explain the image, and the number of
minutiae found. The score is ``100 x`` the weighted geometric mean, so one very bad
measurement pulls the score down. :func:`check_quality` raises
``QualityRejected(check="quality", value=score, limit=threshold, reasons=[...])``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from biometrics.errors import QualityRejected
from biometrics.fingerprint.extraction import ExtractionResult, extract

ENROL_THRESHOLD = 40
VERIFY_THRESHOLD = 25

_WEIGHTS = {"area": 1.0, "coherence": 1.5, "contrast": 1.0, "ridges": 1.0, "minutiae": 1.0}


@dataclass
class QualityReport:
    score: int
    components: dict[str, float]
    reasons: list[str] = field(default_factory=list)


def _ramp(v: float, lo: float, hi: float) -> float:
    return float(np.clip((v - lo) / (hi - lo), 0.0, 1.0))


def assess(result: ExtractionResult) -> QualityReport:
    """Quality of an extraction (see module docstring)."""
    st = result.stats
    n = len(result.minutiae)
    comp = {
        "area": _ramp(st.get("foreground", 0.0), 0.08, 0.35),
        "coherence": _ramp(st.get("coherence", 0.0), 0.25, 0.55),
        "contrast": _ramp(st.get("contrast", 0.0), 6.0, 25.0),
        "ridges": _ramp(st.get("filter_fit", 0.0), 0.05, 0.2)
        * (1.0 if 5.0 <= result.ridge_period <= 14.0 else 0.0),
        "minutiae": _ramp(float(n), 6.0, 20.0),
    }
    wsum = sum(_WEIGHTS.values())
    logq = sum(w * np.log(max(comp[k], 0.02)) for k, w in _WEIGHTS.items()) / wsum
    score = round(100 * float(np.exp(logq)))
    reasons: list[str] = []
    if comp["area"] < 0.5:
        reasons.append(f"finger covers only {100 * st.get('foreground', 0):.0f}% of the image")
    if comp["coherence"] < 0.5:
        reasons.append("ridge flow is unclear (smudged, noisy or not a fingerprint)")
    if comp["contrast"] < 0.5:
        reasons.append("contrast is too low (press harder or clean the sensor)")
    if comp["ridges"] < 0.5:
        reasons.append("no regular ridge pattern was found")
    if comp["minutiae"] < 0.5:
        reasons.append(f"only {n} minutiae were found")
    return QualityReport(score=max(0, min(100, score)), components=comp, reasons=reasons)


def assess_image(image: np.ndarray, dpi: float = 500.0) -> tuple[QualityReport, ExtractionResult]:
    """Extract and assess an image in one go."""
    res = extract(image, dpi)
    return assess(res), res


def check_quality(report: QualityReport, threshold: int = ENROL_THRESHOLD) -> None:
    """Raise ``QualityRejected`` when ``report.score`` is below ``threshold``."""
    if report.score < threshold:
        raise QualityRejected(
            f"fingerprint quality {report.score} is below {threshold}: "
            + ("; ".join(report.reasons) or "overall quality too low"),
            check="quality",
            value=report.score,
            limit=threshold,
            reasons=report.reasons or ["overall quality too low"],
        )
