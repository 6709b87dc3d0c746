"""Career events that reach across packages: a level change re-issues the certificate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.access import actor_of
from api.cert_context import CertContext
from api.usecases.issuing import issue_for
from certificates import repository as cert_repo
from registry import career
from registry.auth import Principal
from registry.db import Database
from registry.errors import GuardregError


def evaluate(db: Database, ctx: CertContext, principal: Principal, now: dt.datetime,
             **fields: Any) -> dict[str, Any]:
    """Record the evaluation (one transaction); when the level changed and the guard holds
    a valid certificate, re-issue it with the new level (audited as the system's act).
    A re-issue that cannot be made (the guard is no longer eligible) leaves the
    evaluation recorded and says why."""
    with db.transaction() as cur:
        done = career.evaluate(cur, actor=actor_of(principal), principal=principal, now=now,
                               **fields)
        live = cert_repo.live_certificate(cur, done.guard_id) if done.level_changed else None
    out: dict[str, Any] = {**done.evaluation, "reissued": None, "reissue_error": None}
    if live is not None and live["status"] == "valid":
        try:
            _, cert = issue_for(db, ctx, principal, done.guard_id, now, automatic=True)
            out["reissued"] = cert["number"]
        except GuardregError as exc:
            out["reissue_error"] = exc.detail
    return out
