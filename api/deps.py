"""Typed dependencies: the runtime, the clock and authentication by role.

Every endpoint declares who may call it with ``Depends(require(...))``; an endpoint
without it is public on purpose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.runtime import Runtime
from registry import auth
from registry.auth import Principal, Role
from registry.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from api.cert_context import CertContext


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def certs(request: Request) -> CertContext:
    """The runtime's certificate context (keys, issuance and status configuration)."""
    ctx: CertContext = runtime(request).certs
    return ctx


def current_time(request: Request) -> dt.datetime:
    """The current time; tests replace ``app.state.clock``."""
    now: Callable[[], dt.datetime] = request.app.state.clock
    return now()


async def clock(request: Request) -> dt.datetime:
    """:func:`current_time` as a dependency (a coroutine: no worker-thread hop)."""
    return current_time(request)


def _extract_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value:
            return value.strip()
    return request.headers.get("x-api-key")


def _look_up(request: Request, key: str) -> Principal:
    """The key's principal from the database (blocking); cached until the database
    announces a change to it (api/principal_cache.py)."""
    rt = runtime(request)
    cache = rt.principal_cache()
    token = cache.token()
    pepper = rt.settings.derive_key("apikey_pepper", "apikey-hmac")
    with rt.db.transaction(readonly=True) as cur:
        principal = auth.authenticate(cur, key, pepper=pepper)
    if principal is None:
        raise Unauthenticated("the API key is unknown or revoked")
    cache.put(key, principal, token)
    return principal


async def _from_session(request: Request) -> Principal:
    """A person's session cookie (api/sessions.py), when no API key was sent."""
    from api.sessions import SESSION_COOKIE, session_of

    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthenticated("sign in, or send an API key (Authorization: Bearer <key>)")
    info = await run_in_threadpool(session_of, request, runtime(request), token,
                                   current_time(request))
    if info.must_change_password:
        raise Forbidden("change the one-time password first (POST /v1/session/password)",
                        reason="password-change-required")
    return info.principal


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        # A coroutine, so that FastAPI does not hop to a worker thread for it: a cached
        # key costs a dict lookup; only a miss goes to the database (in a thread).
        key = _extract_key(request)
        if key:
            principal = runtime(request).principal_cache().get(key)
            if principal is None:
                principal = await run_in_threadpool(_look_up, request, key)
        else:
            principal = await _from_session(request)
        if principal.role not in allowed:
            raise Forbidden(f"this endpoint is not available to the {principal.role.value} role")
        request.state.principal = principal
        return principal

    dependency.__name__ = "require_" + "_or_".join(sorted(r.value for r in allowed))
    dependency.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the role-matrix test
    return dependency


def rate_limit(request: Request, principal: Principal, kind: str) -> None:
    """Per-principal limits on the costly or abusable endpoints, shared by every API
    process and host (api/rate_limits.py)."""
    settings = runtime(request).settings
    per_minute = {"verify": settings.rate_limit_verify_per_min,
                  "verify-image": settings.rate_limit_verify_image_per_min,
                  "enroll": settings.rate_limit_enroll_per_min,
                  "face-check": settings.face_check_per_minute,
                  "biometric-verify": settings.rate_limit_biometric_verify_per_min,
                  "officer-lookup": settings.rate_limit_officer_lookup_per_min}[kind]
    runtime(request).rate_limits().check(kind, principal.id, per_minute)


def rate_limit_client(request: Request, kind: str) -> None:
    """Per-client-address limits on public endpoints that cost work or invite guessing
    (shared by every process, like ``rate_limit``)."""
    import zlib

    settings = runtime(request).settings
    per_minute = {"complaint": settings.rate_limit_complaint_per_min,
                  "complaint-track": settings.rate_limit_public_per_min,
                  "procurement": settings.rate_limit_public_per_min,
                  "exam": settings.rate_limit_public_per_min,
                  "public-certificate": settings.rate_limit_public_certificate_per_min}[kind]
    host = request.client.host if request.client else "-"
    runtime(request).rate_limits().check(kind, zlib.crc32(host.encode()), per_minute)
