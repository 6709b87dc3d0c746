"""A compromised signing key (regulator): declare it, then re-issue what it signed.

The certificates package does the work (certificates/compromise.py); this module holds
the order of transactions and the process's keyring cache.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.access import actor_of
from api.cert_context import CertContext
from certificates import compromise
from certificates.compromise import BatchResult
from certificates.errors import KeyringError
from registry.auth import Principal
from registry.db import Cursor, Database
from registry.errors import BadRequest, NotFound


def declare_compromise(db: Database, ctx: CertContext, principal: Principal, *, kid: bytes,
                       since: dt.datetime, now: dt.datetime) -> dict[str, Any]:
    """Declare ``kid`` compromised from ``since`` (audited, idempotent). A compromised
    status-list key has every status list re-signed with its replacement at once."""
    with db.transaction() as cur:
        declared = compromise.declare(cur, ring=ctx.keyring, actor=actor_of(principal),
                                      kid=kid, since=since, now=now)
    ctx.forget()  # the trust list is rebuilt at once (other workers: within a second)
    out = declared.as_dict()
    if declared.purpose == "status-list":
        with db.transaction() as cur:
            out["status_lists_resigned"] = compromise.republish_all(
                cur, signer=ctx.signer("status-list"), config=ctx.issuance.status, now=now)
    return out


def reissue_batch(cur: Cursor, ctx: CertContext, principal: Principal, *, kid: bytes,
                  now: dt.datetime, limit: int) -> BatchResult:
    """Re-issue up to ``limit`` live certificates signed by the compromised certificate
    key ``kid``; only such a key has certificates to re-issue (400 otherwise)."""
    try:
        rec = ctx.keyring.get(kid)
    except KeyringError:
        raise NotFound("no such key") from None
    if rec.compromised_since is None or rec.purpose != "certificate":
        raise BadRequest("only a compromised certificate key has certificates to re-issue",
                         code="not-compromised")
    return compromise.reissue_batch(
        cur, actor=actor_of(principal), now=now, kid=kid, signer=ctx.signer("certificate"),
        status_signer=ctx.signer("status-list"), config=ctx.issuance, limit=limit)
