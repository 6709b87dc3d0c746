"""Registry use cases: the rules of the national regulation and the municipal notice.

Keyword-only functions taking the request's cursor, an :class:`Actor` and the clock.
Each state change is audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from registry import audit, enroll_consent, events, holds, repository
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotEligible, NotFound
from registry.records import GuardRecord
from registry.validation import parse_resident_id, validate_credit_code

MIN_AGE = 18
COMPANY_KINDS = ("security_service", "self_recruiting", "training")
EMPLOYING_KINDS = ("security_service", "self_recruiting")
COMPANY_STATUSES = ("active", "suspended", "revoked")
REVOCATION_BAR_YEARS = 3
MAX_ADMIN_DETENTIONS = 2


def _today(now: dt.datetime) -> dt.date:
    return now.astimezone(dt.UTC).date()


# -- companies -----------------------------------------------------------------------
def create_company(cur: Cursor, *, actor: Actor, now: dt.datetime, name: str, credit_code: str,
                   kind: str, licence_number: str, district: str, armed_escort: bool = False,
                   entertainment_venue: bool = False) -> dict[str, Any]:
    code = validate_credit_code(credit_code)
    if kind not in COMPANY_KINDS:
        raise InvalidInput(f"unknown company kind {kind!r}", field="kind")
    if kind == "self_recruiting" and entertainment_venue:
        raise NotEligible(
            "an entertainment venue may not file as a self-recruiting security unit",
            reason="entertainment-venue",
        )
    if armed_escort and kind != "security_service":
        raise InvalidInput("only a security service company can hold the armed-escort endorsement",
                           field="armed_escort")
    if repository.get_company_by_credit_code(cur, code) is not None:
        raise Conflict("a company with this credit code is already registered",
                       reason="duplicate-credit-code")
    row = repository.insert_company(cur, {
        "name": name.strip(), "credit_code": code, "kind": kind, "licence_number": licence_number,
        "district": district.strip(), "armed_escort": armed_escort,
        "entertainment_venue": entertainment_venue,
    })
    repository.insert_company_history(cur, row["id"], actor.label, {"created": {
        k: row[k] for k in ("name", "kind", "status", "district", "credit_grade")}})
    audit.record(cur, actor=actor, action="company.create", target_type="company",
                 target_id=row["id"], data={"credit_code": code, "kind": kind}, now=now)
    return row


def get_company(cur: Cursor, company_id: int) -> dict[str, Any]:
    row = repository.get_company(cur, company_id)
    if row is None:
        raise NotFound("no such company")
    return row


COMPANY_EDITABLE = frozenset({"name", "licence_number", "district", "armed_escort",
                              "credit_grade", "red_list", "black_list", "abnormal_operations",
                              "status"})


def update_company(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                   changes: dict[str, Any], expected_version: int | None = None,
                   action: str = "company.update", reason: str | None = None) -> dict[str, Any]:
    unknown = set(changes) - COMPANY_EDITABLE
    if unknown:
        raise InvalidInput(f"fields not editable: {', '.join(sorted(unknown))}")
    current = repository.get_company(cur, company_id, for_update=True)
    if current is None:
        raise NotFound("no such company")
    if expected_version is not None and current["version"] != expected_version:
        raise Conflict("the company was changed by someone else; reload and retry",
                       reason="version-mismatch", current_version=current["version"])
    if "status" in changes and changes["status"] not in COMPANY_STATUSES:
        raise InvalidInput("unknown company status", field="status")
    if changes.get("armed_escort") and current["kind"] != "security_service":
        raise InvalidInput("only a security service company can hold the armed-escort endorsement",
                           field="armed_escort")
    diff = {k: {"from": current[k], "to": v} for k, v in changes.items() if current[k] != v}
    if not diff:
        return current
    row = repository.update_company(cur, company_id, {k: changes[k] for k in diff})
    data: dict[str, Any] = {"changes": diff}
    if reason:
        data["reason"] = reason
    ended: list[int] = []
    if "status" in diff and changes["status"] == "revoked":
        # Revoking a licence ends every employment there: one action, one audit event.
        ended = repository.end_company_employments(cur, company_id, _today(now),
                                                   "employer licence revoked")
        data["employments_ended"] = ended
    history: dict[str, Any] = dict(diff)
    if reason:
        history["reason"] = reason
    repository.insert_company_history(cur, company_id, actor.label, history)
    audit.record(cur, actor=actor, action=action, target_type="company", target_id=company_id,
                 data=data, now=now)
    if "status" in diff and changes["status"] == "revoked":
        events.emit(cur, events.COMPANY_LICENCE_REVOKED, company_id=company_id, guard_ids=ended,
                    actor=actor, now=now)
    return row


# -- guards --------------------------------------------------------------------------
def _check_not_banned(cur: Cursor, id_number: str, now: dt.datetime) -> None:
    bans = repository.active_bans(cur, id_number, _today(now))
    if bans:
        until = bans[0]["until_on"]
        raise NotEligible(
            "this person is under an industry ban"
            + (f" until {until.isoformat()}" if until else " for life"),
            reason="banned",
        )


NOT_ELIGIBLE = ("this person cannot be hired as a guard at present; the person may contact "
                "the public security bureau")


def enroll_guard(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int, name: str,
                 id_number: str, phone: str | None = None, education: str = "unknown",
                 skill_level: int = 5, started_on: dt.date | None = None,
                 consent_code: str | None = None,
                 consent_policy: enroll_consent.Policy | None = None,
                 ) -> dict[str, Any] | enroll_consent.AwaitingConfirmation:
    """Register a person as a guard employed by ``company_id`` (or re-hire a known one).

    A company operator's enrollment is confirmed by the person (registry/enroll_consent.py):
    without a valid ``consent_code`` (the code texted to the person, or the hire code of
    their guard page) the answer is always :class:`~registry.enroll_consent.
    AwaitingConfirmation`, and nothing about the person is compared, changed or said; only
    the age (computed from the number itself), the company's own standing and the
    company's own current staff are checked first. With it, a takeover of someone
    employed elsewhere ends that employment. The regulator enrolls without a code.

    Re-hiring never changes the person's identity fields (name, phone): a mismatch is a
    409 ``identity-mismatch``. A company is never told why a person is barred (a ban, a
    police record): one 422 ``not-eligible``."""
    rid = parse_resident_id(id_number, today=_today(now))
    age = rid.age_on(_today(now))
    if age < MIN_AGE:
        raise NotEligible(f"a guard must be {MIN_AGE} or older (this person is {age})",
                          reason="under-age", field="id_number")
    confirmed_by_person = actor.kind == "company_operator"
    if not confirmed_by_person:
        _check_not_banned(cur, rid.number, now)
    company = repository.get_company(cur, company_id, for_update=True)
    if company is None:
        raise NotFound("no such company")
    if company["status"] != "active":
        raise NotEligible(f"the company's licence is {company['status']}; it cannot enroll guards",
                          reason="company-not-active")
    if company["kind"] not in EMPLOYING_KINDS:
        raise NotEligible("a training unit does not employ guards", reason="company-kind")
    existing = repository.get_guard_by_id_number(cur, rid.number)
    if existing is not None and existing["company_id"] == company_id:
        # The company's own current staff: it sees them anyway.
        if existing["name"] != name.strip():
            # Not "unchanged": the row names someone else, or the record is wrong.
            raise Conflict("this ID number is enrolled with this company under "
                           "another name; correct the name on the guard's record or "
                           "in the file", reason="name-mismatch",
                           guard_id=str(existing["public_id"]))
        raise Conflict("this person is already enrolled with this company",
                       reason="already-enrolled", guard_id=str(existing["public_id"]))
    start = started_on or _today(now)
    data: dict[str, Any] = {"company_id": company_id}
    if confirmed_by_person:
        policy = consent_policy or enroll_consent.Policy()
        consent = enroll_consent.confirm(cur, now=now, company_id=company_id,
                                         id_number=rid.number, phone=phone,
                                         existing=existing, code=consent_code,
                                         policy=policy, name=name)
        if consent is None:
            if consent_code:  # a wrong or expired code: the same answer, nothing sent
                return enroll_consent.AwaitingConfirmation(
                    company_id=company_id, name=name.strip(), id_number=rid.number,
                    expires_in_s=int(policy.code_ttl.total_seconds()))
            return enroll_consent.request_code(cur, now=now, company=company,
                                               id_number=rid.number, name=name.strip(),
                                               phone=phone, existing=existing, policy=policy)
        data["consent"] = consent
        if repository.active_bans(cur, rid.number, _today(now)):
            # The person is present now, yet the reason stays with the regulator.
            raise NotEligible(NOT_ELIGIBLE, reason="not-eligible")
    if existing is not None:
        guard_id = int(existing["id"])
        transfer = False
        if confirmed_by_person:
            transfer = existing["company_id"] is not None
        elif existing["company_id"] is not None:
            # The regulator sees every company: it ends the employment first.
            raise Conflict("this person is employed by another company; that employment must "
                           "end first", reason="employed-elsewhere")
        if existing["id_number"] is not None and not _same_identity(existing, name, phone):
            raise Conflict("the name or phone does not match the person's record, which is "
                           "not changed by a hire; the person can have it corrected by the "
                           "public security bureau", reason="identity-mismatch")
        if _cleared_and_still_barred(cur, guard_id, now):
            # The company is told no more than this; the reason stays with the regulator.
            raise NotEligible(NOT_ELIGIBLE, reason="not-eligible")
        if transfer:
            ended = repository.end_employment(cur, guard_id, start,
                                              "moved to another employer with consent")
            if ended is not None:
                data["previous_company_id"] = ended["company_id"]
                events.emit(cur, events.EMPLOYMENT_ENDED, guard_id=guard_id,
                            company_id=ended["company_id"], actor=actor, now=now)
        if existing["id_number"] is None:  # purged at the end of the retention period
            repository.restore_purged_guard(cur, guard_id, id_number=rid.number,
                                            birth_date=rid.birth_date, sex=rid.sex)
            # Nothing of the person was left to compare: the hire gives it back.
            repository.update_guard(cur, guard_id, {"name": name.strip(), "phone": phone,
                                                    "status": "active"})
        elif existing["status"] != "active":
            repository.update_guard(cur, guard_id, {"status": "active"})
        action = "guard.rehire"
    else:
        guard_id = repository.insert_guard(cur, {
            "name": name.strip(), "id_number": rid.number, "birth_date": rid.birth_date,
            "sex": rid.sex, "phone": phone, "education": education,
            "skill_level": skill_level,
        })
        action = "guard.enroll"
    repository.insert_employment(cur, guard_id, company_id, start)
    audit.record(cur, actor=actor, action=action, target_type="guard", target_id=guard_id,
                 data=data, now=now)
    # Notice §12: a black-listed employer's new enrollments wait for the regulator.
    hold_id = holds.hold_if_black_listed(cur, actor=actor, now=now, company=company,
                                         guard_id=guard_id)
    row = repository.get_guard(cur, guard_id)
    assert row is not None
    row["rehired"] = existing is not None
    row["enrollment_hold_id"] = hold_id
    return row


def _same_identity(existing: dict[str, Any], name: str, phone: str | None) -> bool:
    """A re-hire names the same person: the same name, and the same phone when both the
    record and the request have one. Nothing is copied from the request to the record."""
    if existing["name"] != name.strip():
        return False
    return phone is None or existing.get("phone") is None or existing["phone"] == phone


def _cleared_and_still_barred(cur: Cursor, guard_id: int, now: dt.datetime) -> bool:
    """A person cleared out stays out until eligible again: a later clear background
    check lifts a failed one; bans are checked before this; revocation bars (Art. 17)
    follow the certificate eligibility rules."""
    result = guard_eligibility(cur, guard_id=guard_id, now=now)
    barring = {"background-check-failed", "banned", "criminal-record",
               "administrative-detentions", "revoked-twice", "recently-revoked"}
    return any(r["code"] in barring for r in result.reasons)


GUARD_EDITABLE_BY_COMPANY = frozenset({"name", "phone", "education"})
GUARD_EDITABLE_BY_REGULATOR = GUARD_EDITABLE_BY_COMPANY | {
    "skill_level", "status", "intentional_crime", "administrative_detentions"}


def update_guard(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
                 changes: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    bad = set(changes) - allowed
    if bad:
        raise InvalidInput(f"fields not editable by this role: {', '.join(sorted(bad))}")
    current = repository.get_guard(cur, guard_id, for_update=True)
    if current is None:
        raise NotFound("no such guard")
    diff = {k: v for k, v in changes.items() if current[k] != v}
    if diff:
        repository.update_guard(cur, guard_id, diff)
        # Field names only: values may be personal data (phone) and the audit log is long-lived.
        audit.record(cur, actor=actor, action="guard.update", target_type="guard",
                     target_id=guard_id, data={"fields": sorted(diff)}, now=now)
    row = repository.get_guard(cur, guard_id)
    assert row is not None
    return row


def end_employment(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
                   reason: str, ended_on: dt.date | None = None) -> dict[str, Any]:
    ended = repository.end_employment(cur, guard_id, ended_on or _today(now), reason)
    if ended is None:
        raise Conflict("the guard has no active employment", reason="not-employed")
    audit.record(cur, actor=actor, action="guard.employment_end", target_type="guard",
                 target_id=guard_id, data={"company_id": ended["company_id"], "reason": reason},
                 now=now)
    events.emit(cur, events.EMPLOYMENT_ENDED, guard_id=guard_id,
                company_id=ended["company_id"], actor=actor, now=now)
    return {"guard_id": guard_id, "company_id": ended["company_id"], "reason": reason}


# -- background checks and bans ---------------------------------------------------------
def record_background_check(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
                            result: str, reason: str | None, checked_on: dt.date,
                            intentional_crime: bool | None = None,
                            administrative_detentions: int | None = None,
                            source: str | None = None) -> dict[str, Any]:
    if result not in ("clear", "failed"):
        raise InvalidInput("result must be 'clear' or 'failed'", field="result")
    if result == "failed" and not reason:
        raise InvalidInput("a failed check needs a reason", field="reason")
    if checked_on > _today(now):
        raise InvalidInput("the check date is in the future", field="checked_on")
    guard = repository.get_guard(cur, guard_id, for_update=True)
    if guard is None:
        raise NotFound("no such guard")
    row = repository.insert_background_check(cur, {
        "guard_id": guard_id, "result": result, "reason": reason, "checked_on": checked_on,
        "recorded_by": actor.label, "source": source,
    })
    facts: dict[str, Any] = {}
    if intentional_crime is not None:
        facts["intentional_crime"] = intentional_crime
    if administrative_detentions is not None:
        facts["administrative_detentions"] = administrative_detentions
    if facts:
        repository.update_guard(cur, guard_id, facts)
    audit.record(cur, actor=actor, action="guard.background_check", target_type="guard",
                 target_id=guard_id, data={"result": result, "check_id": row["id"]}, now=now)
    latest = repository.latest_background_check(cur, guard_id)
    if result == "failed" and latest is not None and latest["id"] == row["id"]:
        events.emit(cur, events.BACKGROUND_CHECK_FAILED, guard_id=guard_id, actor=actor, now=now,
                    reason=reason)
        clear_out(cur, actor=actor, now=now, guard_id=guard_id,
                  reason="background-check-failed")
    return row


def ban_person(cur: Cursor, *, actor: Actor, now: dt.datetime, id_number: str, reason: str,
               until_on: dt.date | None, company_id: int | None = None) -> dict[str, Any]:
    rid = parse_resident_id(id_number, today=_today(now))
    if until_on is not None and until_on < _today(now):
        raise InvalidInput("the ban would already be over", field="until_on")
    if company_id is not None and repository.get_company(cur, company_id) is None:
        raise NotFound("no such company")
    row = repository.insert_ban(cur, {"id_number": rid.number, "reason": reason,
                                      "until_on": until_on, "company_id": company_id,
                                      "created_by": actor.label})
    guard = repository.get_guard_by_id_number(cur, rid.number)
    audit.record(cur, actor=actor, action="ban.create", target_type="ban", target_id=row["id"],
                 data={"guard_id": guard["id"] if guard else None, "company_id": company_id},
                 now=now)
    if guard is not None:
        events.emit(cur, events.PERSON_BANNED, guard_id=int(guard["id"]), actor=actor, now=now,
                    reason=reason)
        clear_out(cur, actor=actor, now=now, guard_id=int(guard["id"]), reason="industry-ban")
    return row


def lift_ban(cur: Cursor, *, actor: Actor, now: dt.datetime, ban_id: int) -> dict[str, Any]:
    row = repository.lift_ban(cur, ban_id)
    if row is None:
        raise NotFound("no such active ban")
    audit.record(cur, actor=actor, action="ban.lift", target_type="ban", target_id=ban_id,
                 now=now)
    return row


CLEAR_OUT_REASONS = {
    "background-check-failed": "背景审查未通过 background check failed",
    "industry-ban": "行业禁入 industry ban",
    "misconduct": "证件因违规被吊销 certificate revoked for misconduct",
    "deceased": "死亡 deceased",
}


def clear_out(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
              reason: str) -> bool:
    """Clearing out (清退, notice §6): end the person's employment in the caller's
    transaction, keep the reason in the archive, and tell the company. Idempotent: a
    person with no active employment is left as is (False)."""
    from registry import notifications

    if reason not in CLEAR_OUT_REASONS:
        raise InvalidInput(f"unknown clearing-out reason {reason!r}", field="reason")
    employment = repository.active_employment(cur, guard_id)
    if employment is None:
        return False
    company_id = int(employment["company_id"])
    repository.end_employment(cur, guard_id, _today(now), f"cleared-out:{reason}")
    guard = repository.get_guard(cur, guard_id)
    audit.record(cur, actor=actor, action="guard.clear_out", target_type="guard",
                 target_id=guard_id, data={"company_id": company_id, "reason": reason},
                 now=now)
    notifications.notify(
        cur, company_id=company_id, kind="guard.cleared-out", guard_id=guard_id, now=now,
        subject=f"{guard['name'] if guard else guard_id}: 已清退 cleared out "
                f"({CLEAR_OUT_REASONS[reason]})", data={"reason": reason})
    events.emit(cur, events.EMPLOYMENT_ENDED, guard_id=guard_id, company_id=company_id,
                actor=actor, now=now)
    return True


def record_revocation(cur: Cursor, *, guard_id: int, revoked_at: dt.datetime, reason: str,
                      certificate_number: str | None) -> None:
    """Keep a certificate revocation for cause forever (Art. 17 bars)."""
    repository.insert_revocation_record(cur, guard_id, revoked_at, reason, certificate_number)


# -- eligibility -----------------------------------------------------------------------
@dataclass
class Eligibility:
    eligible: bool
    reasons: list[dict[str, str]] = field(default_factory=list)

    def add(self, code: str, message: str) -> None:
        self.eligible = False
        self.reasons.append({"code": code, "message": message})


BAR_MESSAGES = {
    "under-age": f"the guard is under {MIN_AGE}",
    "banned": "the person is under an industry ban",
    "no-exam-pass": "no passed guard exam on record",
    "no-background-check": "no background check on record",
    "background-check-failed": "the latest background check failed",
    "criminal-record": "criminally punished for an intentional crime",
    "administrative-detentions": "three or more administrative detentions",
    "revoked-twice": "the certificate was revoked twice",
    "recently-revoked": f"a certificate was revoked less than {REVOCATION_BAR_YEARS} years ago",
    "no-employer": "no active employer",
    "employer-not-active": "the employer's licence is not active",
    "guard-inactive": "the guard is not active",
    "enrollment-held": "the enrollment awaits the regulator's approval (black-listed employer)",
}


def guard_eligibility(cur: Cursor, *, guard_id: int, now: dt.datetime) -> Eligibility:
    """The registry's part of certificate eligibility (biometrics are added by the caller),
    from the one SQL function that the statistics use too (migration 0031)."""
    bars = repository.guard_bars(cur, guard_id, _today(now))
    if bars is None:
        raise NotFound("no such guard")
    result = Eligibility(True)
    for code in bars:
        result.add(code, BAR_MESSAGES[code])
    return result


# -- typed reads for the other packages (issue 19) ------------------------------------------
def guard_record(cur: Cursor, guard_id: int, *, for_update: bool = False) -> GuardRecord | None:
    """The guard as a typed record (``for_update`` locks the person's row)."""
    row = repository.get_guard(cur, guard_id, for_update=for_update)
    return GuardRecord.from_row(row) if row is not None else None


def guard_of_subject(cur: Cursor, subject: str) -> GuardRecord | None:
    """The guard whose biometric subject is ``subject`` (biometrics names people so)."""
    row = repository.get_guard_by_subject(cur, subject)
    return GuardRecord.from_row(row) if row is not None else None


def is_banned(cur: Cursor, guard_id: int, today: dt.date) -> bool:
    """Whether an industry ban is in force against the person today."""
    return bool(repository.active_bans_of_guard(cur, guard_id, today))
