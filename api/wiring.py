"""In-transaction reactions across packages: registry events -> certificate revocations.

``registry`` cannot import ``certificates``; ``api`` subscribes these handlers. They run
in the transaction that emitted the event, so a failed check or a ban and the
revocation it causes commit together or not at all. Handlers are subscribed on the
event bus of the runtime's own database, bound to that runtime's certificate context
(tests run several databases in one process; nothing is looked up by address).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.cert_context import CertContext
from certificates import revocation
from registry import events
from registry.audit import Actor
from registry.db import Cursor, Database


def register(db: Database, ctx: CertContext) -> None:
    """Subscribe the certificate reactions on ``db``'s event bus, bound to ``ctx`` (the
    certificate context of the runtime that owns ``db``; wiring again replaces them)."""
    db.events.subscribe(events.BACKGROUND_CHECK_FAILED,
                        lambda cur, **kw: on_background_check_failed(cur, ctx=ctx, **kw),
                        name="certificates.revoke-on-failed-check")
    db.events.subscribe(events.PERSON_BANNED,
                        lambda cur, **kw: on_person_banned(cur, ctx=ctx, **kw),
                        name="certificates.revoke-on-ban")
    db.events.subscribe(events.CERTIFICATE_SUSPENSION_ORDERED,
                        lambda cur, **kw: on_suspension_ordered(cur, ctx=ctx, **kw),
                        name="certificates.suspend-on-order")


def _revoke(cur: Cursor, ctx: CertContext, guard_id: int, reason: str, actor: Actor,
            now: dt.datetime) -> None:
    system = Actor("system", actor.id, actor.company_id)
    revocation.revoke_guard(cur, actor=system, now=now, guard_id=guard_id, reason=reason,
                            status_signer=ctx.signer("status-list"),
                            config=ctx.issuance.status)


def on_background_check_failed(cur: Cursor, *, ctx: CertContext, guard_id: int, actor: Actor,
                               now: dt.datetime, **_: Any) -> None:
    _revoke(cur, ctx, guard_id, revocation.RevocationReason.BACKGROUND_CHECK_FAILED, actor, now)


def on_person_banned(cur: Cursor, *, ctx: CertContext, guard_id: int, actor: Actor,
                     now: dt.datetime, **_: Any) -> None:
    _revoke(cur, ctx, guard_id, revocation.RevocationReason.INDUSTRY_BAN, actor, now)


def on_suspension_ordered(cur: Cursor, *, ctx: CertContext, guard_id: int, actor: Actor,
                          now: dt.datetime, **_: Any) -> None:
    """Suspend the guard's valid certificate, if any (pending investigation)."""
    from certificates import repository as cert_repo

    live = cert_repo.live_certificate(cur, guard_id)
    if live is None or live["status"] != "valid":
        return
    revocation.suspend(cur, actor=Actor("system", actor.id, actor.company_id), now=now,
                       number=live["number"], reason=revocation.SuspensionReason.INVESTIGATION,
                       status_signer=ctx.signer("status-list"), config=ctx.issuance.status)
