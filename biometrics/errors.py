"""Errors of the biometrics package (all map to 4xx problems in ``api``)."""

from __future__ import annotations

from registry.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType


class ImageRejected(InvalidInput):
    """An uploaded image cannot be used: corrupt, hostile, too large in pixels."""

    code = "image-rejected"
    title = "Image rejected"


class ImageTooLarge(PayloadTooLarge):
    code = "image-too-large"
    title = "Image too large"


class ImageTypeUnsupported(UnsupportedMediaType):
    code = "image-type-unsupported"
    title = "Image type not supported"


class QualityRejected(InvalidInput):
    """A capture failed the quality gate; ``extra`` names the check and measured value."""

    code = "quality-rejected"
    title = "Capture quality too low"


class TemplateRejected(InvalidInput):
    """A biometric template is malformed, truncated, inconsistent or oversized."""

    code = "template-rejected"
    title = "Template rejected"


class NotAFingerprint(QualityRejected):
    """An image sent as a fingerprint does not look like a friction-ridge image."""

    code = "not-a-fingerprint"
    title = "Not a fingerprint"
