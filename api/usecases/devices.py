"""Binding a guard's phone key (issue 18): record the key, then re-issue the live
certificate so that it carries the key as ``cnf`` (certificates/presentation.py).

Re-binding ends the previous key; the certificate that carried it is revoked
("superseded") by the re-issue. Who may call is the router's (the guard, the regulator);
what the guard may do is here: bind a first phone, or the same phone again. Moving the
certificate to another phone (a lost or new phone) is the regulator's: guards have no
second factor, and a password alone must not move a certificate away from the phone it
is bound to (issue 18: "re-binding only by the regulator or through the guard's own
account with its second factor").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from api.access import actor_of, guard_for
from api.cert_context import CertContext
from api.usecases.issuing import issue_for
from certificates import repository as cert_repo
from certificates.presentation import DeviceKey
from registry import audit
from registry.auth import Principal, Role
from registry.db import Database
from registry.errors import Conflict, NotEligible

REBIND_BY_REGULATOR = (
    "this certificate is bound to another phone; to move it to this phone (a lost or "
    "new phone), ask the public security bureau, which re-binds it after checking who "
    "you are")


@dataclass(frozen=True)
class Binding:
    guard_public_id: str
    bound_at: dt.datetime
    replaced_previous: bool
    # {"done": True, "number": ...} or {"done": False[, "detail": why not re-issued]}
    reissue: dict[str, Any]


def bind_device(db: Database, ctx: CertContext, principal: Principal, guard_id: int,
                key: DeviceKey, now: dt.datetime) -> Binding:
    """Bind ``key`` to the guard (audited), then re-issue a live certificate with it. A
    guard no longer eligible keeps the binding; the answer says why nothing was issued."""
    with db.transaction() as cur:
        guard = guard_for(cur, principal, guard_id, for_update=True)
        if principal.role == Role.GUARD:
            bound = cert_repo.active_device_key(cur, guard_id)
            if bound is not None and (bytes(bound["x"]), bytes(bound["y"])) != (key.x, key.y):
                raise Conflict(REBIND_BY_REGULATOR, reason="rebind-by-regulator")
        new, old = cert_repo.bind_device_key(cur, guard_id=guard_id, x=key.x, y=key.y, at=now,
                                             by=principal.label)
        audit.record(cur, actor=actor_of(principal), action="certificate.device.bind",
                     target_type="guard", target_id=guard_id,
                     data={"device_key_id": new["id"],
                           "replaced_device_key_id": old["id"] if old else None}, now=now)
        live = cert_repo.live_certificate(cur, guard_id)
    reissue: dict[str, Any] = {"done": False}
    if live is not None:
        try:
            _, cert = issue_for(db, ctx, principal, guard_id, now)
            reissue = {"done": True, "number": cert["number"]}
        except (NotEligible, Conflict) as exc:
            reissue = {"done": False, "detail": exc.detail}
    return Binding(str(guard["public_id"]), new["bound_at"], old is not None, reissue)
