"""In-transaction reactions across packages: registry events -> certificate revocations.

``registry`` cannot import ``certificates``; ``api`` subscribes these handlers. They run
in the transaction that emitted the event, so a failed check or a ban and the
revocation it causes commit together or not at all. Handlers find the certificate
context of the database they run on (tests run several databases in one process).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from api.cert_context import CertContext
from certificates import revocation
from registry import events
from registry.audit import Actor
from registry.db import Cursor

_contexts: dict[str, CertContext] = {}
_lock = threading.Lock()


def _key_of_dsn(dsn: str) -> str:
    from psycopg2.extensions import parse_dsn

    p = parse_dsn(dsn)
    return f"{p.get('host') or ''}|{p.get('port') or 5432}|{p.get('dbname') or p.get('user')}"


def _key_of_cursor(cur: Cursor) -> str:
    info = cur.connection.info
    return f"{info.host or ''}|{info.port or 5432}|{info.dbname}"


def register(dsn: str, ctx: CertContext) -> None:
    with _lock:
        _contexts[_key_of_dsn(dsn)] = ctx
    events.subscribe(events.BACKGROUND_CHECK_FAILED, on_background_check_failed)
    events.subscribe(events.PERSON_BANNED, on_person_banned)
    events.subscribe(events.CERTIFICATE_SUSPENSION_ORDERED, on_suspension_ordered)


def _context(cur: Cursor) -> CertContext:
    with _lock:
        ctx = _contexts.get(_key_of_cursor(cur))
    if ctx is None:
        raise RuntimeError("no certificate context for this database")
    return ctx


def _revoke(cur: Cursor, guard_id: int, reason: str, actor: Actor, now: dt.datetime) -> None:
    ctx = _context(cur)
    system = Actor("system", actor.id, actor.company_id)
    revocation.revoke_guard(cur, actor=system, now=now, guard_id=guard_id, reason=reason,
                            status_signer=ctx.signer("status-list"),
                            config=ctx.issuance.status)


def on_background_check_failed(cur: Cursor, *, guard_id: int, actor: Actor, now: dt.datetime,
                               **_: Any) -> None:
    _revoke(cur, guard_id, revocation.RevocationReason.BACKGROUND_CHECK_FAILED, actor, now)


def on_person_banned(cur: Cursor, *, guard_id: int, actor: Actor, now: dt.datetime,
                     **_: Any) -> None:
    _revoke(cur, guard_id, revocation.RevocationReason.INDUSTRY_BAN, actor, now)


def on_suspension_ordered(cur: Cursor, *, guard_id: int, actor: Actor, now: dt.datetime,
                          **_: Any) -> None:
    """Suspend the guard's valid certificate, if any (pending investigation)."""
    from certificates import repository as cert_repo

    live = cert_repo.live_certificate(cur, guard_id)
    if live is None or live["status"] != "valid":
        return
    ctx = _context(cur)
    revocation.suspend(cur, actor=Actor("system", actor.id, actor.company_id), now=now,
                       number=live["number"], reason=revocation.SuspensionReason.INVESTIGATION,
                       status_signer=ctx.signer("status-list"), config=ctx.issuance.status)
