"""Issuing a guard's certificate: the registry's eligibility rules, the capture part
(biometrics), then the certificates package's two transactions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.access import actor_of, guard_for
from api.cert_context import CertContext
from biometrics import repository as bio_repo
from certificates import issuance
from registry import notifications
from registry import repository as registry_repo
from registry.audit import Actor
from registry.auth import Principal
from registry.db import Cursor, Database
from registry.errors import NotFound


def biometric_reasons(cur: Cursor, guard: dict[str, Any]) -> list[dict[str, str]]:
    """The capture part of eligibility: an enrolled face and at least two enrolled fingers."""
    status = bio_repo.capture_status(cur, str(guard["biometric_subject"]))
    reasons = []
    if status["face"] != "enrolled":
        reasons.append({"code": "no-face", "message": "no enrolled face photo"
                        + (f" (capture is {status['face']})" if status["face"] else "")})
    if status["fingers_enrolled"] < 2:
        reasons.append({"code": "fingerprints-missing",
                        "message": f"{status['fingers_enrolled']} enrolled fingerprints; "
                        "at least 2 are needed"})
    return reasons


def issue_for(db: Database, ctx: CertContext, principal: Principal, guard_id: int,
              now: dt.datetime, *, automatic: bool = False) -> tuple[bool, dict[str, Any]]:
    """Two transactions: record the intent, then sign and record the result. Returns
    (created, the certificate row); an unchanged valid certificate is the answer as is.
    ``automatic``: a re-issue that a rule triggers (a level change by an assessor): the
    system acts, on behalf of ``principal``, whoever could reach the guard."""
    actor = Actor("system", principal.id) if automatic else actor_of(principal)
    with db.transaction() as cur:
        if automatic:
            guard = registry_repo.get_guard(cur, guard_id, for_update=True)
            if guard is None:
                raise NotFound("no such guard")
        else:
            guard = guard_for(cur, principal, guard_id, for_update=True)
        prepared = issuance.prepare(cur, actor=actor, now=now, guard_id=guard_id,
                                    config=ctx.issuance,
                                    extra_reasons=biometric_reasons(cur, guard))
    with db.transaction() as cur:
        cert = issuance.complete(cur, actor=actor, now=now, prepared=prepared,
                                 signer=ctx.signer("certificate"),
                                 status_signer=ctx.signer("status-list"), config=ctx.issuance)
        if automatic and not prepared.existing:
            notifications.notify_employer(
                cur, guard_id=guard_id, kind="certificate.reissued", now=now,
                subject=f"{cert['number']}: 保安员证已换发 certificate re-issued",
                data={"number": cert["number"], "supersedes": prepared.supersedes})
    return not prepared.existing, cert


REISSUE_FIELDS = frozenset({"name", "skill_level"})


def follow_change(db: Database, ctx: CertContext, principal: Principal, guard_id: int,
                  now: dt.datetime) -> dict[str, Any]:
    """After a change the certificate shows (a new hire, a name or a level): re-issue the
    valid certificate with the new content, as the system's act (audited, the employer
    told). Nothing happens without a valid certificate or when its content is unchanged
    (``issue_for`` answers the live one). Losing an employer never calls this: the
    credential is personal and online verification shows "no active employer".
    Returns ``{"reissued": number | None, "reissue_error": detail | None}``."""
    from certificates import repository as cert_repo
    from registry.errors import GuardregError

    with db.transaction(readonly=True) as cur:
        live = cert_repo.live_certificate(cur, guard_id)
    if live is None or live["status"] != "valid":
        return {"reissued": None, "reissue_error": None}
    try:
        created, cert = issue_for(db, ctx, principal, guard_id, now, automatic=True)
    except GuardregError as exc:
        return {"reissued": None, "reissue_error": exc.detail}
    return {"reissued": cert["number"] if created else None, "reissue_error": None}
