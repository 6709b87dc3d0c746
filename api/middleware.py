"""ASGI middleware: request ids and a body-size cap that also holds for chunked bodies."""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import traceback
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.context import reset_request_id, set_request_id

log = logging.getLogger("guardreg.api")
_RID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Request ids must be unique, not secret: a random per-process prefix and a counter
# (uuid4 per request showed up in the verification profile).
_RID_PREFIX = os.urandom(8).hex()
_rid_counter = itertools.count(1)


def _new_request_id() -> str:
    return f"{_RID_PREFIX}{next(_rid_counter):016x}"


async def _send_problem(send: Send, status: int, code: str, title: str, detail: str,
                        rid: str | None) -> None:
    body: dict[str, Any] = {"type": "/problems/" + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if rid:
        body["request_id"] = rid
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(raw)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": raw})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _RID_OK.match(candidate):
                    rid = candidate
        rid = rid or _new_request_id()
        token = set_request_id(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            reset_request_id(token)


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` by Content-Length or while streaming (chunked).

    JSON bodies have their own, smaller cap (``max_json_bytes``): they are parsed and
    validated on the event loop, so their size bounds how long one request can hold it.
    Files go as multipart and keep the larger cap."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_json_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_bytes = min(max_json_bytes or max_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from registry.context import current_request_id

        limit = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-type" and b"json" in value.lower():
                limit = self.max_json_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_problem(send, 400, "bad-request", "Bad request",
                                        "invalid Content-Length", current_request_id())
                    return
                if declared > limit:
                    await _send_problem(send, 413, "payload-too-large", "Payload too large",
                                        f"the body limit is {limit} bytes",
                                        current_request_id())
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _send_problem(send, 413, "payload-too-large", "Payload too large",
                                    f"the body limit is {limit} bytes",
                                    current_request_id())


class _BodyTooLarge(StarletteHTTPException):
    # An HTTPException so that FastAPI's body parsing re-raises it as it is (413)
    # instead of wrapping it into a generic 400.
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="Payload too large")


class ContainErrorsMiddleware:
    """The last net for unexpected exceptions: a bare 500 problem, and a log line with the
    exception's type and stack but never its message.

    Without it Starlette's outermost middleware re-raises after answering, and the
    server logs the full traceback: a database error's message quotes the values it
    refused (an ID number in a unique-key violation)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from registry.context import current_request_id

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except StarletteHTTPException:
            raise  # an answer already decided (the body cap's 413), not a failure
        except Exception as exc:
            stack = "".join(traceback.format_tb(exc.__traceback__))
            log.error("unexpected %s (message withheld)\n%s", type(exc).__name__, stack)
            if not started:
                await _send_problem(send, 500, "internal", "Internal error", "",
                                    current_request_id())
