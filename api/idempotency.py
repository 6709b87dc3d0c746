"""Idempotency-Key handling for POSTs that create things.

The key is scoped to the caller. Within the request's transaction we take an advisory
lock on (caller, key): if another request holds it, that one is still running (409).
A stored result with the same request hash is replayed; a different hash is 422. The
result is stored in the same transaction as the change, so it exists exactly when the
change committed.

Records expire after ``settings.idempotency_ttl_s`` (default 24 h): an expired record is
ignored (the key may be used afresh) and each stored result purges up to
:data:`PURGE_BATCH` expired ones, so the table holds about a day of responses, not all
of them forever.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.deps import current_time, runtime
from registry import repository
from registry.auth import Principal
from registry.db import Cursor
from registry.errors import BadRequest, Conflict, InvalidInput

MAX_KEY_LENGTH = 200
PURGE_BATCH = 100


def request_hash(request: Request, body: Any) -> bytes:
    canon = json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.url.path}\n{canon}".encode()).digest()


def run(cur: Cursor, request: Request, principal: Principal, body: Any,
        action: Callable[[], tuple[int, Any]]) -> JSONResponse:
    key = request.headers.get("idempotency-key")
    if key is None:
        status, result = action()
        return JSONResponse(jsonable_encoder(result), status_code=status)
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest("Idempotency-Key must be 1-200 printable characters",
                         code="bad-idempotency-key")
    digest = request_hash(request, body)
    now = current_time(request)
    expired_before = now - dt.timedelta(seconds=runtime(request).settings.idempotency_ttl_s)
    if not repository.try_idempotency_lock(cur, principal.id, key):
        raise Conflict("a request with this Idempotency-Key is still in progress",
                       code="idempotency-in-progress")
    stored = repository.get_idempotency(cur, principal.id, key, newer_than=expired_before)
    if stored is not None:
        if bytes(stored["request_hash"]) != digest:
            raise InvalidInput("this Idempotency-Key was used with a different request",
                               code="idempotency-key-reused")
        return JSONResponse(stored["response_body"], status_code=stored["response_status"],
                            headers={"Idempotent-Replayed": "true"})
    status, result = action()
    encoded = jsonable_encoder(result)
    repository.insert_idempotency(cur, principal.id, key, digest, status, encoded, now=now)
    repository.purge_idempotency(cur, older_than=expired_before, limit=PURGE_BATCH)
    return JSONResponse(encoded, status_code=status)
