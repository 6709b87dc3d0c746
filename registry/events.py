"""In-transaction domain events.

``registry`` is the bottom layer and must not import ``certificates``; yet a failed
background check or a new ban has to revoke certificates in the same transaction.
Services here ``emit`` an event with the open cursor; handlers that ``api`` registers
at start-up (for example certificate revocation) run synchronously in that
transaction, so either everything commits or nothing does.
"""

from __future__ import annotations

from collections.abc import Callable
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


def subscribe(event: str, handler: Handler) -> None:
    handlers = _handlers.setdefault(event, [])
    if handler not in handlers:
        handlers.append(handler)


def emit(cur: Cursor, event: str, **payload: Any) -> None:
    for handler in list(_handlers.get(event, ())):
        handler(cur, **payload)
