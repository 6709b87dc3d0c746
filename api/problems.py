"""RFC 9457 problem responses: the one place errors become HTTP."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg2.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.context import current_request_id
from registry.errors import GuardregError

log = logging.getLogger("guardreg.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/problems/"


def problem(status: int, code: str, title: str, detail: str | None = None,
            **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    rid = current_request_id()
    if rid:
        body["request_id"] = rid
    for key, value in extra.items():
        if key not in body:
            body[key] = value
    retry = body.get("retry_after_s")
    headers = ({"Retry-After": str(retry if isinstance(retry, int) and retry > 0 else 1)}
               if status in (429, 503) else None)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


MAX_VALIDATION_ERRORS = 20
MAX_ERROR_TEXT = 200


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT - 1] + "\u2026"


def capped_errors(raw: Sequence[Any]) -> list[dict[str, str]]:
    """At most :data:`MAX_VALIDATION_ERRORS` errors, each field path and message clipped,
    never the offending input: a hostile body must not get a response (or a log line)
    larger than itself."""
    out = []
    for err in raw[:MAX_VALIDATION_ERRORS]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        out.append({"field": _clip(loc), "message": _clip(str(err.get("msg", ""))),
                    "type": _clip(str(err.get("type", "")))})
    return out


def _safe_extra(extra: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in extra.items():
        if isinstance(value, (str, int, float, bool, type(None), list, dict)):
            out[key] = value
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(GuardregError)
    async def _guardreg(_: Request, exc: GuardregError) -> JSONResponse:
        if exc.status >= 500 and exc.status != 503:
            log.error("internal error: %s", exc.code)
            return problem(500, "internal", "Internal error")
        return problem(exc.status, exc.code, exc.title, exc.detail, **_safe_extra(exc.extra))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        raw = exc.errors()
        if any(err.get("type") == "json_invalid" for err in raw):
            return problem(400, "malformed-json", "Malformed JSON",
                           "the request body is not valid JSON")
        return problem(422, "validation", "Request validation failed",
                       f"{len(raw)} field(s) failed validation", errors=capped_errors(raw),
                       errors_total=len(raw))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated",
                403: "forbidden", 413: "payload-too-large",
                415: "unsupported-media-type"}.get(exc.status_code, f"http-{exc.status_code}")
        title = str(exc.detail) if isinstance(exc.detail, str) else "Error"
        resp = problem(exc.status_code, code, title)
        if exc.headers:
            resp.headers.update(exc.headers)
        return resp

    @app.exception_handler(psycopg2.errors.UniqueViolation)
    async def _duplicate(_: Request, exc: psycopg2.errors.UniqueViolation) -> JSONResponse:
        # Two requests created the same thing at once (two companies enrolling one ID
        # number): the loser is a conflict, not a bug. Only the constraint's name is
        # logged: the error's own text quotes the duplicate value (an ID number).
        constraint = getattr(getattr(exc, "diag", None), "constraint_name", None)
        log.warning("concurrent duplicate refused (constraint %s)", constraint)
        return problem(409, "concurrent-duplicate", "Conflict with a concurrent request",
                       "another request created the same record at the same time; "
                       "retry to see the current state")

    @app.exception_handler(ValueError)
    async def _value(_: Request, exc: ValueError) -> JSONResponse:
        # psycopg2 refuses NUL characters in text parameters before anything is sent.
        if "NUL (0x00)" in str(exc):
            return problem(422, "invalid-input", "Invalid input",
                           "text must not contain NUL (U+0000) characters")
        log.error("unexpected %s", type(exc).__name__)
        return problem(500, "internal", "Internal error")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # The type only: messages of unexpected errors may carry data we must not log.
        log.error("unexpected %s", type(exc).__name__)
        return problem(500, "internal", "Internal error")
