"""In-transaction domain events.

``registry`` is the bottom layer and must not import ``certificates``; yet a failed
background check or a new ban has to revoke certificates in the same transaction.
Services here ``emit`` an event with the open cursor; handlers that ``api`` registers
at start-up (for example certificate revocation) run synchronously in that
transaction, so either everything commits or nothing does.

The handlers belong to the database, not to the process (issue 19: no hidden process
state): every :class:`registry.db.Database` owns an :class:`EventBus`, and the cursors of
its units of work carry it (``RegistryCursor.events``), so two runtimes on two databases
in one process never see each other's handlers, and nothing looks a database up by the
address of a cursor's connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.db import Cursor

Handler = Callable[..., None]

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


class EventBus:
    """The handlers of one database's events. A handler is registered under a name;
    registering the same name again replaces it (a runtime wired twice on one database
    does not run its reactions twice)."""

    def __init__(self) -> None:
        self._handlers: dict[str, dict[str, Handler]] = {}
        self._lock = threading.Lock()

    def subscribe(self, event: str, handler: Handler, *, name: str | None = None) -> str:
        key = name or f"{id(handler)}"
        with self._lock:
            handlers = dict(self._handlers.get(event, {}))
            handlers[key] = handler
            self._handlers[event] = handlers
        return key

    def unsubscribe(self, event: str, name: str) -> None:
        with self._lock:
            handlers = dict(self._handlers.get(event, {}))
            handlers.pop(name, None)
            self._handlers[event] = handlers

    def emit(self, cur: Cursor, event: str, payload: dict[str, Any]) -> None:
        for handler in list(self._handlers.get(event, {}).values()):
            handler(cur, **payload)


def bus_of(cur: Cursor) -> EventBus:
    """The event bus of ``cur``'s database (see ``RegistryCursor.events``)."""
    bus: EventBus | None = getattr(cur, "events", None)
    if bus is None:
        raise RuntimeError("this cursor does not come from Database.transaction: it has no"
                           " event bus, and an event's reactions must not be skipped")
    return bus


def emit(cur: Cursor, event: str, **payload: Any) -> None:
    bus_of(cur).emit(cur, event, payload)


@contextmanager
def collected(cur: Cursor, event: str) -> Iterator[list[dict[str, Any]]]:
    """The payloads of ``event`` emitted on ``cur`` while the block runs, in order: how a
    use case learns what the effects of its calls were (other transactions' events,
    emitted on their own cursors, are not collected)."""
    payloads: list[dict[str, Any]] = []

    def collect(on: Cursor, **payload: Any) -> None:
        if on is cur:
            payloads.append(payload)

    bus = bus_of(cur)
    name = bus.subscribe(event, collect)
    try:
        yield payloads
    finally:
        bus.unsubscribe(event, name)
