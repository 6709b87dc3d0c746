"""The unified guard exam (notice §4 §6; national regulation Art. 8, 17): sessions,
registration, the rules that apply before the exam, attendance and results.

- A person applies online (``applied_by='self'``: identified by the ID number, the name and
  the phone on record) or a company applies for them (``'company'``). Someone the registry
  has never seen becomes a person record (a ``registry_guard`` row with no employment).
- The online application and a company's (:func:`apply_with_consent`, issue 14) are
  confirmed by the person: without a valid code the caller gets the one answer
  :class:`ApplicationReceived`, the same bytes whether the ID number is on record or
  not, with the recorded name or another, eligible, registered already or not; nothing is
  registered, created, refused or counted against a seat. A code goes by text message to
  the phone on the person's record, or, for a person new to the registry, to the phone
  given once the telecom real-name check confirms it is theirs (the SMS outbox job asks:
  api/sms.py), so nobody squats an ID number with their own name and phone (which would
  also make their phone the one enrollment codes go to). With the code the application
  goes on as below. The regulator applies without one.
- The rules before the exam: 18 or older on the exam day, no ban in force, no revocation
  bar (twice, or within 3 years), no criminal record or too many detentions. A refused
  applicant is told only "not eligible, contact the bureau", in the same words whatever
  the reason; the reasons are kept for the regulator (``registry_exam_refusal``).
- Seats are taken by one conditional UPDATE, so a session never exceeds its capacity.
- The registration code is shown once; only its keyed hash is stored.
- A pass needs an attendance check on record (the candidate was matched at the venue);
  a fail or an absence can be recorded without one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from registry import audit, enroll_consent, repository
from registry import exams_repository as repo
from registry.audit import Actor
from registry.db import Cursor, savepoint
from registry.errors import Conflict, GuardregError, InvalidInput, NotFound
from registry.validation import parse_resident_id

MIN_AGE = 18
MIN_SESSIONS_PER_YEAR = 2
# The bars that stop an application (the others, such as the background check, come
# after the exam and before the certificate).
PRE_EXAM_BARS = frozenset({"under-age", "banned", "criminal-record",
                           "administrative-detentions", "revoked-twice", "recently-revoked"})
NOT_ELIGIBLE = ("not eligible for the guard exam at present; please contact the public "
                "security bureau")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
REFUSAL_MESSAGES = {
    "under-age": f"under {MIN_AGE} on the exam day",
    "banned": "under an industry ban",
    "criminal-record": "criminally punished for an intentional crime",
    "administrative-detentions": "three or more administrative detentions",
    "revoked-twice": "a certificate was revoked twice",
    "recently-revoked": "a certificate was revoked less than 3 years ago",
    "identity-mismatch": "the name or phone does not match the person's record",
}


CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def _today(now: dt.datetime) -> dt.date:
    """Exam days are dates in China time (a session "today" is today at the venue)."""
    return now.astimezone(CHINA).date()


def new_code() -> str:
    """A registration code: 10 characters (50 bits) in two groups, no look-alikes."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


# -- sessions ----------------------------------------------------------------------------
def create_session(cur: Cursor, *, actor: Actor, now: dt.datetime, sits_on: dt.date,
                   venue: str, district: str, capacity: int) -> dict[str, Any]:
    if sits_on < _today(now):
        raise InvalidInput("the exam day is in the past", field="sits_on")
    row = repo.insert_session(cur, {"sits_on": sits_on, "venue": venue.strip(),
                                    "district": district.strip(), "capacity": capacity,
                                    "created_by": actor.label, "created_at": now})
    audit.record(cur, actor=actor, action="exam.session.create", target_type="exam_session",
                 target_id=row["id"], data={"sits_on": sits_on.isoformat(),
                                            "capacity": capacity}, now=now)
    return row


def schedule(cur: Cursor, *, year: int, limit: int = 200) -> dict[str, Any]:
    """The sessions of a year and the notice's check: at least two a year."""
    items = repo.sessions(cur, year=year, limit=limit)
    count = repo.sessions_in_year(cur, year)
    warning = None
    if count < MIN_SESSIONS_PER_YEAR:
        warning = (f"{count} exam session(s) scheduled in {year}; the notice asks for at "
                   f"least {MIN_SESSIONS_PER_YEAR} a year")
    return {"year": year, "sessions_in_year": count, "warning": warning, "items": items}


# -- applications ------------------------------------------------------------------------
@dataclass(frozen=True)
class Application:
    """The outcome: a registration and its code (shown once), or a refusal (the reasons
    are recorded; the caller answers :data:`NOT_ELIGIBLE` after committing)."""

    registration: dict[str, Any] | None
    code: str | None
    refusal_id: int | None = None


APPLICATION_RECEIVED = (
    "application received: if you can apply, a confirmation code is sent by text message to "
    "the phone on the registry's record for this ID number or, if you are new to the "
    "registry, to the phone given here once the telecom real-name check confirms it is "
    "yours; apply again within {minutes} minutes with confirmation_code set to it to get "
    "your registration code; a wrong or expired code gets this same answer, and an "
    "application without a code sends a new one")
REGISTRATION_RECEIVED = (
    "registration received: to register this person, register again with "
    "confirmation_code set to the code the person received by text message (sent now to "
    "the phone on the person's record or, for a person new to the registry, to the phone "
    "given here once the telecom real-name check confirms it is the person's; it is valid "
    "for {minutes} minutes); a wrong or expired code gets this same answer, and a request "
    "without a code sends a new one")
PUBLIC = Actor("public")


@dataclass(frozen=True)
class ApplicationReceived:
    """The one answer to an application without a valid code (online, or by a company
    for a person): nothing about the person, nothing of the request but the session."""

    session_id: int
    expires_in_s: int
    by_company: bool = False

    def view(self) -> dict[str, Any]:
        detail = REGISTRATION_RECEIVED if self.by_company else APPLICATION_RECEIVED
        return {"status": "application-received",
                "detail": detail.format(minutes=self.expires_in_s // 60),
                "session_id": self.session_id, "code_expires_in_s": self.expires_in_s}


def _open_session(cur: Cursor, session_id: int, now: dt.datetime) -> dict[str, Any]:
    session = repo.get_session(cur, session_id)
    if session is None:
        raise NotFound("no such exam session")
    if session["sits_on"] < _today(now):
        raise Conflict("this exam session is over", reason="session-over")
    return session


def apply_with_consent(cur: Cursor, *, actor: Actor, now: dt.datetime, session_id: int,
                       id_number: str, name: str, phone: str | None, code: str | None,
                       policy: enroll_consent.Policy, company_id: int | None = None
                       ) -> Application | ApplicationReceived:
    """An application confirmed by the person (issue 14): online (``company_id`` None,
    ``applied_by='self'``) or by a company operator for them. Without a valid ``code``: a
    new code is texted (to the phone on record, or to ``phone`` once checked) and the one
    answer is given, the same work whatever the person; only the session and the ID
    number's form (the caller's own input) are checked first. With it: :func:`apply`."""
    rid = parse_resident_id(id_number, today=_today(now))
    session = _open_session(cur, session_id, now)
    company = repository.get_company(cur, company_id) if company_id is not None else None
    if company_id is not None and company is None:
        raise NotFound("no such company")
    existing = repository.get_guard_by_id_number(cur, rid.number)
    target = enroll_consent.CodeFor("exam", company_id, str(session_id))
    received = ApplicationReceived(session_id, int(policy.code_ttl.total_seconds()),
                                   by_company=company is not None)
    if code:
        if enroll_consent.check_code(cur, now=now, target=target, id_number=rid.number,
                                     name=name, phone=phone, existing=existing, code=code,
                                     policy=policy):
            return apply(cur, actor=actor, now=now, session_id=session_id,
                         id_number=rid.number, name=name, phone=phone,
                         applied_by="self" if company is None else "company",
                         company_id=company_id)
        return received  # a wrong or expired code: the same answer, nothing sent
    day, venue = session["sits_on"], session["venue"]

    def message(sent: str, minutes: int) -> str:
        if company is not None:
            return (f"【保安员管理】{company['name']}为您报名{day}保安员考试（{venue}）。"
                    f"确认码 {sent}，{minutes}分钟内有效；您同意报名时才告诉对方。"
                    f" {company['name']} registers you for the guard exam on {day}: "
                    f"confirmation code {sent}, valid {minutes} min. Give it only if you "
                    "agree.")
        return (f"【保安员管理】有人以您的身份证号报名{day}保安员考试（{venue}）。"
                f"确认码 {sent}，{minutes}分钟内有效；不是您本人报名请忽略。"
                f" Someone applied for the guard exam on {day} with your ID number: "
                f"confirmation code {sent}, valid {minutes} min. If it was not you, ignore "
                "this message.")

    enroll_consent.send_code(cur, now=now, target=target, id_number=rid.number, name=name,
                             phone=phone, existing=existing, policy=policy, message=message)
    return received


def apply(cur: Cursor, *, actor: Actor, now: dt.datetime, session_id: int, id_number: str,
          name: str, phone: str | None, applied_by: str,
          company_id: int | None = None) -> Application:
    if applied_by not in ("self", "company", "regulator"):
        raise InvalidInput("unknown applicant kind", field="applied_by")
    rid = parse_resident_id(id_number, today=_today(now))
    session = _open_session(cur, session_id, now)
    name = name.strip()
    guard = repository.get_guard_by_id_number(cur, rid.number)
    if guard is not None and guard["id_number"] is None:
        # Purged at the end of the retention period (only the blind index was kept): the
        # person comes back with their ID card, so the record takes their identity again.
        repository.restore_purged_guard(cur, int(guard["id"]), id_number=rid.number,
                                        birth_date=rid.birth_date, sex=rid.sex)
        repository.update_guard(cur, int(guard["id"]), {"name": name, "phone": phone})
        guard = repository.get_guard(cur, int(guard["id"]))
    reasons: list[str] = []
    if guard is not None:
        if guard["name"] != name or (applied_by == "self" and guard["phone"] is not None
                                     and guard["phone"] != phone):
            reasons.append("identity-mismatch")
        bars = repository.guard_bars(cur, int(guard["id"]), session["sits_on"]) or []
        reasons += [b for b in bars if b in PRE_EXAM_BARS]
    else:
        if rid.age_on(session["sits_on"]) < MIN_AGE:
            reasons.append("under-age")
        if repository.active_bans(cur, rid.number, session["sits_on"]):
            reasons.append("banned")
    if reasons:
        refusal = repo.insert_refusal(cur, {
            "session_id": session_id, "id_number": rid.number, "name": name,
            "guard_id": guard["id"] if guard else None, "applied_by": applied_by,
            "reasons": reasons, "created_at": now})
        audit.record(cur, actor=actor, action="exam.application.refused",
                     target_type="exam_session", target_id=session_id,
                     data={"refusal_id": refusal, "reasons": reasons}, now=now)
        return Application(None, None, refusal)
    if guard is None:
        guard_id = repository.insert_guard(cur, {
            "name": name, "id_number": rid.number, "birth_date": rid.birth_date,
            "sex": rid.sex, "phone": phone})
        audit.record(cur, actor=actor, action="person.create", target_type="guard",
                     target_id=guard_id, data={"via": "exam-application"}, now=now)
    else:
        guard_id = int(guard["id"])
        # A known person's phone is never set from an application (issue 14): anyone can
        # apply with an ID number and a name, and the phone on record is where the
        # enrollment confirmation codes go (registry/enroll_consent.py); only the
        # regulator sets it for a person on record.
        if guard["phone"] is None and phone and applied_by == "regulator":
            repository.update_guard(cur, guard_id, {"phone": phone})
    if repo.active_registration(cur, session_id, guard_id) is not None:
        raise Conflict("already registered for this exam session", reason="already-registered")
    if not repo.take_seat(cur, session_id):
        raise Conflict("this exam session is full", reason="session-full")
    code = new_code()
    registration_id = repo.insert_registration(cur, {
        "session_id": session_id, "guard_id": guard_id, "code_hmac": repo.code_index(cur, code),
        "applied_by": applied_by, "company_id": company_id, "created_at": now})
    if registration_id is None:
        raise Conflict("already registered for this exam session", reason="already-registered")
    audit.record(cur, actor=actor, action="exam.register", target_type="exam_registration",
                 target_id=registration_id, data={"session_id": session_id,
                                                  "guard_id": guard_id,
                                                  "applied_by": applied_by}, now=now)
    row = repo.get_registration(cur, registration_id)
    assert row is not None
    return Application(row, code)


def by_code(cur: Cursor, *, id_number: str, code: str, now: dt.datetime) -> dict[str, Any]:
    """The applicant's own registration, from the ID number and the code; one answer for
    a wrong code and a wrong number."""
    rid = parse_resident_id(id_number, today=_today(now))
    row = repo.registration_by_code(cur, code)
    if row is not None:
        guard = repository.get_guard(cur, int(row["guard_id"]))
        if guard is not None and guard["id_number"] == rid.number \
                and row["status"] == "registered":
            return row
    raise NotFound("no registration with this ID number and code")


def registration(cur: Cursor, registration_id: int, *, for_update: bool = False
                 ) -> dict[str, Any]:
    row = repo.get_registration(cur, registration_id, for_update=for_update)
    if row is None or row["status"] != "registered":
        raise NotFound("no such exam registration")
    return row


def registered_guard(cur: Cursor, registration_id: int, *, for_update: bool = False
                     ) -> dict[str, Any]:
    """The person record of a live registration (what the registration point captures)."""
    reg = registration(cur, registration_id, for_update=for_update)
    guard = repository.get_guard(cur, int(reg["guard_id"]), for_update=for_update)
    if guard is None:
        raise NotFound("no such exam registration")
    return guard


def session_registrations(cur: Cursor, session_id: int, *, after_id: int, limit: int
                          ) -> list[dict[str, Any]]:
    if repo.get_session(cur, session_id) is None:
        raise NotFound("no such exam session")
    return repo.registrations_in_session(cur, session_id, after_id=after_id, limit=limit)


def refusals(cur: Cursor, *, session_id: int | None, after_id: int, limit: int
             ) -> list[dict[str, Any]]:
    """Refused applications with their reasons in words (for the regulator)."""
    return [{**r, "messages": [REFUSAL_MESSAGES.get(c, c) for c in r["reasons"]]}
            for r in repo.refusals(cur, session_id=session_id, after_id=after_id,
                                   limit=limit)]


def lookup(cur: Cursor, *, id_number: str, session_id: int | None,
           now: dt.datetime) -> list[dict[str, Any]]:
    """A person's registrations from the ID card shown at the registration point."""
    rid = parse_resident_id(id_number, today=_today(now))
    guard = repository.get_guard_by_id_number(cur, rid.number)
    if guard is None:
        return []
    return [r for r in repo.registrations_of_person(cur, int(guard["id"]))
            if r["status"] == "registered" and (session_id is None
                                                 or r["session_id"] == session_id)]


# -- attendance ----------------------------------------------------------------------------
def record_attendance(cur: Cursor, *, actor: Actor, now: dt.datetime, registration_id: int,
                      admitted: bool, fused_llr: float, threshold: float,
                      face_distance: float, finger_score: float) -> int:
    reg = registration(cur, registration_id, for_update=True)
    if reg["sits_on"] != _today(now):
        raise Conflict(f"this registration is for the session on {reg['sits_on']}",
                       reason="wrong-day")
    check_id = repo.insert_attendance(cur, {
        "registration_id": registration_id, "admitted": admitted, "fused_llr": fused_llr,
        "threshold": threshold, "face_distance": face_distance, "finger_score": finger_score,
        "checked_by": actor.label, "checked_at": now})
    if admitted:
        repo.mark_attended(cur, registration_id, now)
    audit.record(cur, actor=actor, action="exam.attendance", target_type="exam_registration",
                 target_id=registration_id, data={"admitted": admitted, "check_id": check_id},
                 now=now)
    return check_id


# -- results ---------------------------------------------------------------------------
def _score(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        score = Decimal(str(value))
    except ArithmeticError:
        raise InvalidInput("score must be a number", field="score") from None
    if not score.is_finite() or not 0 <= score <= 1000:
        raise InvalidInput("score must be between 0 and 1000", field="score")
    return score.quantize(Decimal("0.1"))


def record_result(cur: Cursor, *, actor: Actor, now: dt.datetime, session_id: int,
                  id_number: str, passed: bool, score: Any = None) -> dict[str, Any]:
    """The result of one candidate of a session, by the ID number on the sheet."""
    rid = parse_resident_id(id_number, today=_today(now))
    guard = repository.get_guard_by_id_number(cur, rid.number)
    reg = (repo.registration_in_session_by_guard(cur, session_id, int(guard["id"]))
           if guard is not None else None)
    if reg is None:
        raise NotFound("no registration for this ID number in this session")
    if reg["sits_on"] > _today(now):
        raise Conflict("the exam has not taken place yet", reason="exam-not-held")
    if passed and reg["attended_at"] is None:
        raise InvalidInput("a pass needs an attendance check at the venue on record",
                           field="passed", reason="no-attendance")
    row = repo.upsert_result(cur, {"guard_id": reg["guard_id"], "registration_id": reg["id"],
                                   "passed": passed, "score": _score(score),
                                   "recorded_by": actor.label, "recorded_at": now})
    audit.record(cur, actor=actor, action="exam.result", target_type="exam_registration",
                 target_id=reg["id"], data={"passed": passed}, now=now)
    return {"registration_id": reg["id"], "guard_id": reg["guard_id"], "passed": row["passed"],
            "score": row["score"]}


PASS_WORDS = frozenset({"pass", "passed", "true", "1", "y", "yes", "合格", "通过"})
FAIL_WORDS = frozenset({"fail", "failed", "false", "0", "n", "no", "不合格", "未通过", "absent",
                        "缺考"})
MAX_LISTED_ERRORS = 1000


class SheetRow(Protocol):
    """One line of a results sheet (api/csv_import.py's rows)."""

    @property
    def line(self) -> int: ...

    @property
    def values(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class ResultsImported:
    recorded: int
    passed: int


def import_results(cur: Cursor, *, actor: Actor, now: dt.datetime, session_id: int,
                   rows: Iterable[SheetRow]) -> ResultsImported:
    """A session's results sheet (id_number, result, optional score), all or nothing:
    each line in its own savepoint so that every refused line is reported; any refused
    line raises, and the caller's transaction rolls back what the others recorded."""
    if repo.get_session(cur, session_id) is None:
        raise NotFound("no such exam session")
    errors: list[dict[str, Any]] = []
    recorded = passed = 0
    for row in rows:
        v = row.values
        try:
            if "__width__" in v:
                raise InvalidInput("expected as many fields as the header")
            result = v["result"].strip().lower()
            if result not in PASS_WORDS | FAIL_WORDS:
                raise InvalidInput("result must be pass or fail", field="result")
            with savepoint(cur):
                record_result(cur, actor=actor, now=now, session_id=session_id,
                              id_number=v["id_number"], passed=result in PASS_WORDS,
                              score=v.get("score") or None)
        except GuardregError as exc:
            errors.append({"line": row.line, "reason": exc.detail})
            continue
        recorded += 1
        passed += result in PASS_WORDS
    if errors:
        raise InvalidInput(
            f"{len(errors)} line(s) refused; nothing was recorded: "
            + ", ".join(f"line {e['line']}" for e in errors[:20]),
            reason="invalid-lines", errors=errors[:MAX_LISTED_ERRORS])
    return ResultsImported(recorded=recorded, passed=passed)


def record_external(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
                    passed: bool, evidence: str, score: Any = None) -> dict[str, Any]:
    """A result from outside this registry's sittings (another city's exam), recorded by
    the regulator with its evidence."""
    if repository.get_guard(cur, guard_id) is None:
        raise NotFound("no such guard")
    row = repo.insert_result(cur, {"guard_id": guard_id, "passed": passed,
                                   "score": _score(score), "source": "external",
                                   "evidence": evidence, "recorded_by": actor.label,
                                   "recorded_at": now})
    audit.record(cur, actor=actor, action="exam.result.external", target_type="guard",
                 target_id=guard_id, data={"passed": passed, "result_id": row["id"]}, now=now)
    return row


def archive(cur: Cursor, guard_id: int) -> dict[str, Any]:
    regs = repo.registrations_of_person(cur, guard_id)
    results = repo.results_of(cur, guard_id)
    return {
        "registrations": [{k: r[k] for k in ("id", "session_id", "sits_on", "venue",
                                             "district", "status", "applied_by",
                                             "attended_at", "passed", "score")}
                          for r in regs],
        "results": results,
        "passed": any(r["passed"] for r in results),
    }
