"""Issuing a guard's certificate: the registry's eligibility rules, the capture part
(biometrics), then the certificates package's two transactions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from api.access import actor_of, guard_for
from api.cert_context import CertContext
from biometrics import enrollment
from biometrics.records import FINGERS_NEEDED
from certificates import issuance
from certificates import repository as cert_repo
from registry import audit, notifications, service
from registry import repository as registry_repo
from registry.audit import Actor
from registry.auth import Principal, Role
from registry.db import Cursor, Database
from registry.errors import Conflict, NotEligible, NotFound

# What a company is told. Reasons that come from police records (bans, convictions,
# detentions, failed checks, revocations for cause) stay with the regulator: the company
# learns only that the person is barred and whom the person may ask.
REGULATOR_ONLY = frozenset({"banned", "criminal-record", "administrative-detentions",
                            "background-check-failed", "revoked-twice", "recently-revoked"})
REGULATOR_BAR = {"code": "regulator-bar",
                 "message": "the public security bureau's records bar this person from a "
                            "certificate at present; the person may contact the bureau"}
COMPANY_MESSAGES = {
    "under-age": "the guard is under 18",
    "no-exam-pass": "no passed guard exam on record (the person registers for the unified "
                    "exam; a company may register them)",
    "no-background-check": "the background check has not been recorded yet (the bureau "
                           "runs it; no action by the company)",
    "no-employer": "the guard has no active employment with the company",
    "employer-not-active": "the company's licence is not active",
    "guard-inactive": "the guard's record is not active",
    "enrollment-held": "the enrollment awaits the regulator's approval",
    "no-face": "no enrolled face photo: capture one",
    "fingerprints-missing": "fewer than two enrolled fingerprints: capture more",
}


def biometric_reasons(cur: Cursor, guard: dict[str, Any]) -> list[dict[str, str]]:
    """The capture part of eligibility: an enrolled face and at least two enrolled fingers."""
    status = enrollment.capture_status(cur, str(guard["biometric_subject"]))
    reasons = []
    if not status.face_enrolled:
        reasons.append({"code": "no-face", "message": "no enrolled face photo"
                        + (f" (capture is {status.face})" if status.face else "")})
    if status.fingers_enrolled < FINGERS_NEEDED:
        reasons.append({"code": "fingerprints-missing",
                        "message": f"{status.fingers_enrolled} enrolled fingerprints; "
                        f"at least {FINGERS_NEEDED} are needed"})
    return reasons


def eligibility_reasons(cur: Cursor, guard: dict[str, Any], now: dt.datetime
                        ) -> list[dict[str, str]]:
    """Every reason that bars the guard's certificate today: the registry's rules (one
    SQL function, migration 0031) and the capture part; empty when eligible."""
    registry_part = service.guard_eligibility(cur, guard_id=int(guard["id"]), now=now)
    return registry_part.reasons + biometric_reasons(cur, guard)


def reasons_for(principal: Principal, reasons: list[dict[str, str]]) -> list[dict[str, str]]:
    """The reasons as ``principal`` may read them: the regulator sees them all; anyone
    else sees company wording, regulator-only reasons folded into one."""
    if principal.role is Role.REGULATOR:
        return reasons
    out: list[dict[str, str]] = []
    for r in reasons:
        if r["code"] in REGULATOR_ONLY:
            if REGULATOR_BAR not in out:
                out.append(dict(REGULATOR_BAR))
        else:
            out.append({"code": r["code"],
                        "message": COMPANY_MESSAGES.get(r["code"], r["message"])})
    return out


def guard_eligibility(cur: Cursor, principal: Principal, guard_id: int, now: dt.datetime
                      ) -> tuple[str, list[dict[str, str]]]:
    """The eligibility pre-check a company runs before it asks for a certificate: the
    guard's public id and the reasons the principal may read (none: eligible)."""
    guard = guard_for(cur, principal, guard_id)
    return str(guard["public_id"]), reasons_for(principal, eligibility_reasons(cur, guard, now))


def request_certificate(cur: Cursor, principal: Principal, guard_id: int, note: str | None,
                        now: dt.datetime) -> dict[str, Any]:
    """A company asks the regulator to issue its guard's certificate. An ineligible guard
    is refused here (422, with the reasons the caller may read), not at approval."""
    guard = guard_for(cur, principal, guard_id)
    if guard["company_id"] is None:
        raise NotFound("the guard has no active employer")
    reasons = eligibility_reasons(cur, guard, now)
    if reasons:
        shown = reasons_for(principal, reasons)
        raise NotEligible("the guard is not eligible for a certificate: "
                          + "; ".join(r["message"] for r in shown),
                          reason="not-eligible", reasons=shown)
    row = cert_repo.insert_request(cur, guard_id=guard_id, company_id=guard["company_id"],
                                   requested_by=principal.label, note=note)
    audit.record(cur, actor=actor_of(principal), action="certificate.request",
                 target_type="guard", target_id=guard_id, data={"request_id": row["id"]},
                 now=now)
    return row


def list_requests(cur: Cursor, principal: Principal, *, status: str | None, after_id: int,
                  limit: int) -> list[dict[str, Any]]:
    """Issuance requests in id order: the regulator's are all, a company's its own."""
    company = principal.company_id if principal.role is Role.COMPANY_OPERATOR else None
    return cert_repo.list_requests(cur, status=status, company_id=company, after_id=after_id,
                                   limit=limit)


@dataclass(frozen=True)
class Decision:
    request_id: str  # the request's public id
    approved: bool
    certificate: dict[str, Any] | None  # the certificate issued on approval


def decide_request(db: Database, ctx: CertContext, principal: Principal, request_id: int, *,
                   approve: bool, now: dt.datetime) -> Decision:
    """The regulator approves (issues the certificate: two transactions of its own) or
    rejects a pending request; then the decision is recorded, audited and the employer
    told, in a third. A request decided meanwhile is a 409 (``already-decided``)."""
    with db.transaction(readonly=True) as cur:
        row = cert_repo.get_request(cur, request_id)
    if row is None:
        raise NotFound("no such request")
    public_request_id = str(row["public_id"])
    if row["status"] != "pending":
        raise Conflict(f"the request was already {row['status']}", reason="already-decided")
    cert = None
    if approve:
        _, cert = issue_for(db, ctx, principal, int(row["guard_id"]), now)
    with db.transaction() as cur:
        cert_id = None
        if cert is not None:
            found = cert_repo.get_by_number(cur, cert["number"])
            cert_id = found["id"] if found else None
        if not cert_repo.decide_request(cur, request_id, status="approved" if approve
                                        else "rejected", decided_by=principal.label,
                                        certificate_id=cert_id):
            raise Conflict("the request was decided meanwhile", reason="already-decided")
        audit.record(cur, actor=actor_of(principal), action="certificate.request.decide",
                     target_type="guard", target_id=row["guard_id"],
                     data={"request_id": request_id, "approve": approve}, now=now)
        notifications.notify_employer(
            cur, guard_id=int(row["guard_id"]), kind="request.decided", now=now,
            subject=f"签发申请 {public_request_id[:8]}: " + ("已批准 approved" if approve
                                                            else "未批准 declined"),
            data={"request_id": public_request_id, "approved": approve,
                  "number": cert["number"] if cert else None})
    return Decision(public_request_id, approve, cert)


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
