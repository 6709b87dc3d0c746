"""A company's enrollment is confirmed by the person (issue 14: takeover and enumeration).

A company operator who types an ID number must not learn from the answer whether the
registry knows that number: whether the person is or was a guard (here or elsewhere), is
on record under another name, or is banned. So, unless the request carries a valid code,
every enrollment by a company operator gets one answer, :class:`AwaitingConfirmation`
(HTTP 202 ``awaiting-confirmation``), the same bytes whatever the person's situation but
for the request's own fields; nothing about the person is compared, changed or shown.

Meanwhile a one-time code goes by text message to the phone on the person's record when
the registry knows the person (never to a phone the company typed: that would hand the
takeover to whoever types their own number), else (a number never seen, or a record
purged at the end of the retention period) to the phone the company gave, but only once
the phone-ownership check (the telecom real-name check, api/phone_owner.py, asked by the
outbox job) confirms that phone belongs to the holder of that ID number and name: else a
company typing its own phone for a stranger's ID number would receive a code exactly
when the registry does not know the number. A person
on record without a phone gets nothing (the answer is still the same): they can give the
hire code from their guard page (registry/hire_consent.py), or the regulator enrolls them.
The person reads the code to the company, which enrolls again with it; then the hire goes
on as before (re-hire, or a takeover that ends the employment elsewhere).

Codes: 6 digits, :attr:`Policy.code_ttl` (30 min), one use, bound to the ID number's blind
index, the company and the phone (and, for a person new to the registry, the name the
check confirmed), kept only as a keyed hash; :attr:`Policy.max_attempts` wrong codes
wear a code out. Each request for a code counts against the (ID number, company) pair and
the company (429 past the limits; the counts never depend on the person), and past
:attr:`Policy.sms_per_id_number_per_hour` codes to one ID number from all companies
nothing more is sent (silently: the answer stays the same), so a person's phone cannot
be flooded. Messages wait in an outbox (sealed at rest) for the job that hands them to
the SMS gateway (api/sms.py).

Exam applications, online and by a company, are confirmed the same way (:class:`CodeFor`
``"exam"``: registry/exams.py ``apply_with_consent``).
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry import enroll_consent_repository as repo
from registry import hire_consent
from registry.db import Cursor, pii_of
from registry.errors import RateLimited

if TYPE_CHECKING:
    from registry.settings import Settings

CODE_DIGITS = 6
HOUR = dt.timedelta(hours=1)

AWAITING_DETAIL = (
    "to enroll this person, enroll again with consent_code set to the confirmation code "
    "the person received by text message (sent now to the phone on the person's record, "
    "or, for a person new to the registry, to the phone given here; it is valid for "
    "{minutes} minutes), or to the hire code shown on the person's guard page; a wrong "
    "or expired code gets this same answer, and a request without a code sends a new one")


@dataclass(frozen=True)
class Policy:
    """Limits of confirmation codes (settings ``GUARDREG_ENROLL_CODE_*``)."""

    code_ttl: dt.timedelta = dt.timedelta(minutes=30)
    max_attempts: int = 5
    per_id_number_per_hour: int = 3     # per (ID number, company): 429 past it
    per_company_per_hour: int = 300     # per company: 429 past it
    sms_per_id_number_per_hour: int = 6  # from all companies: silently nothing more sent

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(code_ttl=dt.timedelta(minutes=settings.enroll_code_ttl_minutes),
                   max_attempts=settings.enroll_code_max_attempts,
                   per_id_number_per_hour=settings.enroll_code_per_id_number_per_hour,
                   per_company_per_hour=settings.enroll_code_per_company_per_hour,
                   sms_per_id_number_per_hour=settings.enroll_code_sms_per_id_number_per_hour)


@dataclass(frozen=True)
class AwaitingConfirmation:
    """The one answer to an unconfirmed enrollment: the request's own fields and how to
    go on, nothing about the person."""

    company_id: int
    name: str
    id_number: str
    expires_in_s: int

    def view(self) -> dict[str, Any]:
        return {"status": "awaiting-confirmation",
                "detail": AWAITING_DETAIL.format(minutes=self.expires_in_s // 60),
                "company_id": self.company_id, "name": self.name, "id_number": self.id_number,
                "code_expires_in_s": self.expires_in_s}


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch not in " -")


@dataclass(frozen=True)
class CodeFor:
    """What a code confirms: a company's enrollment (``purpose="enroll"``), or a public
    exam application (``"exam"``, no company, ``scope`` the session). Codes of different
    targets never replace or unlock one another."""

    purpose: str
    company_id: int | None
    scope: str = ""


def is_new(existing: dict[str, Any] | None) -> bool:
    """Whether the registry knows nobody by this ID number: never seen, or a record whose
    personal fields were purged at the end of the retention period (only the blind index
    is left, and the hire or application gives the record its identity back), which also
    keeps "purged" and "never seen" alike for the caller."""
    return existing is None or existing.get("id_number") is None


def _code_hash(cur: Cursor, bidx: bytes, target: CodeFor, recipient: str, name: str,
               code: str) -> bytes:
    """Bound to the ID number, the target and the phone the code went to; for a person
    new to the registry also to the name the phone-ownership check confirmed: the phone
    and name confirmed are those the record gets."""
    return pii_of(cur).keyed_hash(f"{target.purpose}-code", bidx,
                                  str(target.company_id or "").encode(), target.scope.encode(),
                                  recipient.encode(), name.encode(), _normalise(code).encode())


def check_code(cur: Cursor, *, now: dt.datetime, target: CodeFor, id_number: str, name: str,
               phone: str | None, existing: dict[str, Any] | None, code: str,
               policy: Policy) -> bool:
    """Whether ``code`` is the live 6-digit code of (ID number, target), now used up; a
    wrong one counts against the live code's attempts."""
    normal = _normalise(code)
    if len(normal) != CODE_DIGITS or not normal.isdigit():
        return False
    bidx = pii_of(cur).blind_index(id_number)
    recipient = _recipient(existing, phone)
    repo.lock_subject(cur, bidx)
    live = repo.current_code(cur, bidx=bidx, company_id=target.company_id, now=now,
                             max_attempts=policy.max_attempts, purpose=target.purpose)
    if live is None:
        return False
    bound_name = name.strip() if is_new(existing) else ""
    if recipient is not None and secrets.compare_digest(
            bytes(live["code_hash"]), _code_hash(cur, bidx, target, recipient, bound_name,
                                                 normal)):
        repo.use_code(cur, int(live["id"]), now)
        return True
    repo.count_wrong_attempt(cur, int(live["id"]))
    return False


def confirm(cur: Cursor, *, now: dt.datetime, company_id: int, id_number: str,
            phone: str | None, existing: dict[str, Any] | None, code: str | None,
            policy: Policy, name: str) -> str | None:
    """How the person confirmed this enrollment (``"phone-code"`` or ``"hire-code"``, the
    code now used up), or None. A wrong code counts against the live code's attempts."""
    if not code:
        return None
    normal = _normalise(code)
    if len(normal) == CODE_DIGITS and normal.isdigit():
        ok = check_code(cur, now=now, target=CodeFor("enroll", company_id),
                        id_number=id_number, name=name, phone=phone, existing=existing,
                        code=code, policy=policy)
        return "phone-code" if ok else None
    if existing is not None and hire_consent.consume(
            cur, guard_id=int(existing["id"]), public_id=str(existing["public_id"]),
            code=code, now=now):
        return "hire-code"
    return None


def send_code(cur: Cursor, *, now: dt.datetime, target: CodeFor, id_number: str, name: str,
              phone: str | None, existing: dict[str, Any] | None, policy: Policy,
              message: Callable[[str, int], str]) -> None:
    """A new code for (ID number, target), texted as ``message(code, minutes)``: to the
    phone on the person's record when the registry knows the person, else to ``phone``
    once the phone-ownership check confirms it is the person's (the outbox job asks it:
    api/sms.py). Raises 429 past the limits, which count requests, never anything about
    the person: per (ID number, target) and, for a company, per company."""
    bidx = pii_of(cur).blind_index(id_number)
    repo.lock_subject(cur, bidx)
    since = now - HOUR
    counts = [(repo.count_codes(cur, since=since, bidx=bidx, company_id=target.company_id,
                                public=target.company_id is None, purpose=target.purpose),
               policy.per_id_number_per_hour)]
    if target.company_id is not None:
        counts.append((repo.count_codes(cur, since=since, company_id=target.company_id,
                                        purpose=target.purpose),
                       policy.per_company_per_hour))
    for count, limit in counts:
        n, oldest = count
        if n >= limit:
            wait = (oldest + HOUR - now).total_seconds() if oldest is not None else 60.0
            raise RateLimited("too many confirmation codes requested; try again later",
                              retry_after_s=max(1, math.ceil(wait)))
    recipient = _recipient(existing, phone)
    sent_to_number, _ = repo.count_codes(cur, since=since, bidx=bidx)
    if sent_to_number >= policy.sms_per_id_number_per_hour:
        recipient = None  # the person's phone is not flooded; the answer stays the same
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    name = name.strip()
    new = is_new(existing)
    repo.insert_code(cur, bidx=bidx, company_id=target.company_id,
                     code_hash=(_code_hash(cur, bidx, target, recipient, name if new else "",
                                           code) if recipient is not None else None),
                     now=now, expires_at=now + policy.code_ttl, purpose=target.purpose)
    if recipient is not None:
        repo.queue_sms(cur, phone=recipient, now=now,
                       text=message(code, int(policy.code_ttl.total_seconds() // 60)),
                       owner=(id_number, name) if new else None)


def request_code(cur: Cursor, *, now: dt.datetime, company: dict[str, Any], id_number: str,
                 name: str, phone: str | None, existing: dict[str, Any] | None,
                 policy: Policy) -> AwaitingConfirmation:
    """Send a new code for (ID number, company) and give the one answer. Raises 429 past
    the limits, which count requests, never anything about the person."""
    company_id = int(company["id"])

    def message(code: str, minutes: int) -> str:
        return (f"【保安员管理】{company['name']}申请录用您为保安员。确认码 {code}，"
                f"{minutes}分钟内有效；您同意受雇时才告诉对方。"
                f" {company['name']} asks to hire you as a security guard: confirmation code "
                f"{code}, valid {minutes} min. Give it only if you agree.")

    send_code(cur, now=now, target=CodeFor("enroll", company_id), id_number=id_number,
              name=name, phone=phone, existing=existing, policy=policy, message=message)
    return AwaitingConfirmation(company_id=company_id, name=name, id_number=id_number,
                                expires_in_s=int(policy.code_ttl.total_seconds()))


def _recipient(existing: dict[str, Any] | None, phone: str | None) -> str | None:
    """The phone on the person's record when the registry knows the person, else the
    phone given (texted only once the phone-ownership check confirms it)."""
    if existing is not None and not is_new(existing):
        return existing.get("phone")
    return phone
