"""In-transaction domain events.

``registry`` is the bottom layer and must not import ``certificates``; yet a failed
background check or a new ban has to revoke certificates in the same transaction.
Services here ``emit`` an event with the open cursor; handlers that ``api`` registers
at start-up (for example certificate revocation) run synchronously in that
transaction, so either everything commits or nothing does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from registry.db import Cursor

Handler = Callable[..., None]
_handlers: dict[str, list[Handler]] = {}

BACKGROUND_CHECK_FAILED = "background_check.failed"
PERSON_BANNED = "person.banned"
COMPANY_LICENCE_REVOKED = "company.licence_revoked"
EMPLOYMENT_ENDED = "employment.ended"
# An upheld complaint (or another supervision finding) orders the guard's live
# certificate suspended pending investigation.
CERTIFICATE_SUSPENSION_ORDERED = "certificate.suspension_ordered"
# A certificate (or a printed card) was revoked: certificates/revocation.py emits it with
# the number, the guard, the kind and the reason, whatever caused the revocation.
CERTIFICATE_REVOKED = "certificate.revoked"


def subscribe(event: str, handler: Handler) -> None:
    handlers = _handlers.setdefault(event, [])
    if handler not in handlers:
        handlers.append(handler)


def emit(cur: Cursor, event: str, **payload: Any) -> None:
    for handler in list(_handlers.get(event, ())):
        handler(cur, **payload)


def unsubscribe(event: str, handler: Handler) -> None:
    handlers = _handlers.get(event, [])
    if handler in handlers:
        handlers.remove(handler)


@contextmanager
def collected(cur: Cursor, event: str) -> Iterator[list[dict[str, Any]]]:
    """The payloads of ``event`` emitted on ``cur`` while the block runs, in order: how a
    use case learns what the effects of its calls were (other transactions' events,
    emitted on their own cursors, are not collected)."""
    payloads: list[dict[str, Any]] = []

    def collect(on: Cursor, **payload: Any) -> None:
        if on is cur:
            payloads.append(payload)

    subscribe(event, collect)
    try:
        yield payloads
    finally:
        unsubscribe(event, collect)
