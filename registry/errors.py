"""One error hierarchy for all of guardreg.

Every package raises subclasses of :class:`GuardregError`; only ``api`` maps them to
HTTP (RFC 9457 problem responses). ``code`` is the stable machine-readable part of
the problem ``type``; ``detail`` is for people and must never carry secrets,
biometric bytes or internals.
"""

from __future__ import annotations

from typing import Any


class GuardregError(Exception):
    status: int = 500
    code: str = "internal"
    title: str = "Internal error"

    def __init__(self, detail: str = "", *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        self.extra: dict[str, Any] = extra


class InvalidInput(GuardregError):
    """The request is well-formed but a value in it is wrong (bad checksum, bad image...)."""

    status = 422
    code = "invalid-input"
    title = "Invalid input"


class BadRequest(GuardregError):
    status = 400
    code = "bad-request"
    title = "Bad request"


class Unauthenticated(GuardregError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(GuardregError):
    status = 403
    code = "forbidden"
    title = "Not allowed for this role"


class NotFound(GuardregError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(GuardregError):
    status = 409
    code = "conflict"
    title = "Conflict with the current state"


class PayloadTooLarge(GuardregError):
    status = 413
    code = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(GuardregError):
    status = 415
    code = "unsupported-media-type"
    title = "Unsupported media type"


class NotEligible(GuardregError):
    """A business rule refuses the action (ban, age, background check...)."""

    status = 422
    code = "not-eligible"
    title = "Not eligible"


class RateLimited(GuardregError):
    status = 429
    code = "rate-limited"
    title = "Too many requests"


class Unavailable(GuardregError):
    status = 503
    code = "unavailable"
    title = "Service temporarily unavailable"
