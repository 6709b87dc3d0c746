"""One fingerprint capture, from a 500-dpi image or a scanner's minutiae template.

Images are decoded with the shared intake, checked to look like a friction-ridge image
(the fingerprint-ness gate, before any extraction), resampled to 500 dpi, quality-gated
and reduced to minutiae; only an ISO/IEC 19794-2:2005 record is kept (national guidance:
keep templates, not raw samples). Templates from scanners are validated and kept as
they came.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from biometrics.errors import QualityRejected
from biometrics.fingerprint import gate, matcher
from biometrics.fingerprint.extraction import extract, image_dpi
from biometrics.fingerprint.quality import ENROL_THRESHOLD, VERIFY_THRESHOLD, assess, check_quality
from biometrics.fingerprint.templates import (
    FORMAT_ISO_2005,
    build_record,
    encode_template,
    minutiae_array,
    parse_template,
)
from biometrics.imaging import FINGER_FORMATS, decode_image

# extractor + matcher version stored with every finger record. @1: first extractor;
# @2 (2026-12-01): segmentation floor follows low-contrast sensors, parameters chosen by
# leave-one-set-out. Records of @1 stay matchable (same minutiae format and matcher).
MODEL_ID = "guardreg-mcc@2"
MIN_TEMPLATE_MINUTIAE = 8


@dataclass
class Capture:
    record: bytes  # ISO/ANSI minutiae record to store
    prepared: Any  # matcher.PreparedTemplate
    quality: int
    minutiae: int
    source: str  # "image" or the template format
    reasons: list[str]


def from_image(data: bytes, *, dpi: float | None, purpose: str, position: int,
               max_bytes: int, max_pixels: int) -> Capture:
    img = decode_image(data, mode="L", formats=FINGER_FORMATS, max_bytes=max_bytes,
                       max_pixels=max_pixels)
    use_dpi = dpi or image_dpi(img.width, img.height, img.dpi)
    if not 250 <= use_dpi <= 1200:
        raise QualityRejected(f"resolution {use_dpi:.0f} dpi is outside 250-1200",
                              check="resolution", value=use_dpi, limit=500)
    gate.require_fingerprint(img.pixels, use_dpi, gate.colour_pixels(
        data, max_bytes=max_bytes, max_pixels=max_pixels))
    result = extract(img.pixels, use_dpi)
    report = assess(result)
    check_quality(report, ENROL_THRESHOLD if purpose == "enroll" else VERIFY_THRESHOLD)
    record = build_record(result.minutiae, width=result.width, height=result.height,
                          dpi=500.0, quality=report.score, fmt=FORMAT_ISO_2005,
                          position=position)
    return Capture(encode_template(record), matcher.prepare(result), report.score,
                   len(result.minutiae), "image", report.reasons)


def from_template(data: bytes, *, purpose: str) -> Capture:
    record = parse_template(data)
    arr, _ = minutiae_array(record)
    n = len(arr)
    if n < MIN_TEMPLATE_MINUTIAE:
        raise QualityRejected(f"the template holds {n} minutiae; at least "
                              f"{MIN_TEMPLATE_MINUTIAE} are needed", check="minutiae", value=n,
                              limit=MIN_TEMPLATE_MINUTIAE)
    view_quality = record.views[0].quality if record.views else 0
    return Capture(bytes(data), matcher.prepare(record), int(view_quality), n, record.format, [])
