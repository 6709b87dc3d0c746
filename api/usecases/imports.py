"""Bulk CSV imports: background-check results (the regulator) and guard enrollments
(a company, or the regulator for one).

Each data line is applied in its own savepoint of the caller's transaction, so a bad
line is reported and skipped without undoing the others; re-runs of the same file
change nothing. A failed check revokes the guard's certificate through the registry
event (api/wiring.py); the import learns which certificates a line revoked from the
revocation event, not by reading the certificates before and after.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from api import csv_import
from registry import enroll_consent, events, service
from registry import repository as registry_repo
from registry.audit import Actor
from registry.db import Cursor, savepoint
from registry.errors import Conflict, GuardregError, InvalidInput, NotFound
from registry.validation import normalise_name, parse_resident_id

CHECK_COLUMNS = ("id_number", "result", "reason", "checked_on")
CHECK_OPTIONAL = ("intentional_crime", "administrative_detentions")
GUARD_COLUMNS = ("name", "id_number")
GUARD_OPTIONAL = ("phone", "education", "started_on", "consent_code")


class NothingCommitted(Exception):
    """An all-or-nothing import had rejected lines: raised inside the caller's
    transaction so that it rolls back, carrying the report to answer with."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__("the import was rolled back")
        self.report = report


def row_error(line: int, exc: Exception) -> dict[str, Any]:
    detail = exc.detail if isinstance(exc, GuardregError) else "invalid value"
    return {"line": line, "reason": detail}


def parse_date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a date (YYYY-MM-DD)", field=field) from None


def _count(value: str, field: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise InvalidInput(f"{field} must be a whole number", field=field) from None
    if not 0 <= n <= 100:
        raise InvalidInput(f"{field} out of range", field=field)
    return n


# -- background checks -----------------------------------------------------------------------
def apply_checks(cur: Cursor, *, actor: Actor, now: dt.datetime, data: bytes
                 ) -> dict[str, Any]:
    """Record each line's check unless the same one is on record; the certificates a
    failed check revoked are listed per line and in total."""
    applied, unchanged = 0, 0
    rejected: list[dict[str, Any]] = []
    revoked: list[str] = []
    # webreg: one entry per data line, so a page can show what became of each line
    # (no ID number in it: the uploader has the file).
    lines: list[dict[str, Any]] = []
    for row in csv_import.rows(data, required=CHECK_COLUMNS, optional=CHECK_OPTIONAL):
        try:
            with savepoint(cur), events.collected(cur, events.CERTIFICATE_REVOKED) as seen:
                recorded = _apply_check_row(cur, actor, now, row)
        except GuardregError as exc:
            rejected.append(row_error(row.line, exc))
            lines.append({"line": row.line, "status": "rejected",
                          "reason": rejected[-1]["reason"]})
            continue
        if not recorded:
            unchanged += 1
            lines.append({"line": row.line, "status": "unchanged"})
            continue
        numbers = [str(e["number"]) for e in seen if e["kind"] == "certificate"]
        applied += 1
        revoked.extend(numbers)
        lines.append({"line": row.line, "status": "applied", "revoked_certificates": numbers})
    return {"applied": applied, "unchanged": unchanged, "rejected": rejected,
            "revoked_certificates": revoked, "lines": lines}


def _apply_check_row(cur: Cursor, actor: Actor, now: dt.datetime,
                     row: csv_import.CsvRow) -> bool:
    """True when the line's check was recorded, False when it was already on record."""
    v = row.values
    if "__width__" in v:
        raise InvalidInput(f"line {row.line}: expected as many fields as the header")
    rid = parse_resident_id(v["id_number"], today=now.date())
    result = v["result"].lower()
    if result not in ("clear", "failed"):
        raise InvalidInput("result must be clear or failed", field="result")
    checked_on = parse_date(v["checked_on"], "checked_on")
    guard = registry_repo.get_guard_by_id_number(cur, rid.number)
    if guard is None:
        raise NotFound("no guard with this ID number")
    reason = v.get("reason") or None
    if registry_repo.find_background_check(cur, int(guard["id"]), result, checked_on,
                                           reason) is not None:
        return False
    detentions = v.get("administrative_detentions") or None
    crime = v.get("intentional_crime") or None
    service.record_background_check(
        cur, actor=actor, now=now, guard_id=int(guard["id"]), result=result, reason=reason,
        checked_on=checked_on, source="csv-import",
        intentional_crime=None if crime is None else crime.lower() in ("1", "true", "yes"),
        administrative_detentions=None if detentions is None else _count(
            detentions, "administrative_detentions"))
    return True


# -- guards ------------------------------------------------------------------------------------
def enroll_guards(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                  data: bytes, all_or_nothing: bool,
                  policy: enroll_consent.Policy) -> dict[str, Any]:
    """Enroll each line's guard with the company; a person already enrolled there is
    reported as existing; a company operator's line without a valid code waits for the
    person's confirmation (issue 14: ``awaiting_confirmation``, one answer whoever the
    person is). ``all_or_nothing``: any rejected line raises :class:`NothingCommitted`
    (the caller's transaction rolls back)."""
    enrolled: list[dict[str, Any]] = []
    existing: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    awaiting: list[dict[str, Any]] = []
    for row in csv_import.rows(data, required=GUARD_COLUMNS, optional=GUARD_OPTIONAL):
        try:
            with savepoint(cur):
                guard_id = _import_guard_row(cur, actor, now, company_id, row, policy)
            if guard_id is None:
                awaiting.append({"line": row.line})
            else:
                enrolled.append({"line": row.line, "guard_id": guard_id})
        except Conflict as exc:
            if exc.extra.get("reason") == "already-enrolled":
                existing.append({"line": row.line, "guard_id": exc.extra["guard_id"]})
            else:
                rejected.append(row_error(row.line, exc))
        except GuardregError as exc:
            rejected.append(row_error(row.line, exc))
    if all_or_nothing and rejected:
        raise NothingCommitted({"enrolled": [], "existing": [], "unchanged": 0,
                                "rejected": rejected, "committed": False,
                                "awaiting_confirmation": []})
    return {"enrolled": enrolled, "existing": existing, "unchanged": len(existing),
            "rejected": rejected, "committed": True, "awaiting_confirmation": awaiting}


def _import_guard_row(cur: Cursor, actor: Actor, now: dt.datetime, company_id: int,
                      row: csv_import.CsvRow, policy: enroll_consent.Policy) -> str | None:
    v = row.values
    if "__width__" in v:
        raise InvalidInput("expected as many fields as the header")
    started = parse_date(v["started_on"], "started_on") if v.get("started_on") else None
    phone = v.get("phone") or None
    if phone is not None and not (phone.lstrip("+").isdigit() and 5 <= len(phone) <= 21):
        raise InvalidInput("phone must be digits", field="phone")
    name = normalise_name(v["name"] or "")
    if len(name) > 100:
        raise InvalidInput("name must be 1-100 characters", field="name")
    guard = service.enroll_guard(cur, actor=actor, now=now, company_id=company_id,
                                 name=name, id_number=v["id_number"], phone=phone,
                                 education=(v.get("education") or "unknown")[:50],
                                 started_on=started,
                                 consent_code=(v.get("consent_code") or None),
                                 consent_policy=policy)
    if isinstance(guard, enroll_consent.AwaitingConfirmation):
        return None
    return str(guard["public_id"])
