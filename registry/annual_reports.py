"""Annual reports of security-service companies (notice §13).

A company files its report for year Y by the policy's due date in Y+1 (default 30 June).
Overdue, or rejected by the regulator, puts the company on the abnormal-operations list
with the reason; filing (for an overdue one) or an accepted refiling lifts it. The list
entries this module makes carry the marker ``[annual-report:Y]`` in their reason, so that
it lifts only what it put there, never a listing the regulator made for another cause.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from registry import audit, notifications, regulation, repository
from registry import supervision_repository as repo
from registry.audit import SYSTEM, Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotFound

_MONTH_DAY = r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
_GRADE = r"^[A-E]$"
CLIENT_KINDS = ("school", "hospital", "bank", "entertainment_venue", "property_management",
                "public_transport", "large_event", "key_unit", "other")


class EventGradeRule(BaseModel):
    """Events expecting at least ``min_attendance`` people need a company graded
    ``lowest_grade`` or better (A is best)."""

    min_attendance: int = Field(ge=0, le=10_000_000)
    lowest_grade: str = Field(pattern=_GRADE)


def _default_event_rules() -> list[EventGradeRule]:
    return [EventGradeRule(min_attendance=10_000, lowest_grade="A"),
            EventGradeRule(min_attendance=1_000, lowest_grade="B"),
            EventGradeRule(min_attendance=0, lowest_grade="C")]


class SupervisionPolicy(BaseModel):
    """Numbers the notice does not give; versioned, edited by the regulator."""

    annual_report_due: str = Field(default="06-30", pattern=_MONTH_DAY,
                                   description="MM-DD in the year after the reported year")
    annual_report_reminder_days: int = Field(default=30, ge=0, le=365)
    complaint_retention_days: int = Field(default=3 * 365, ge=30, le=30 * 365,
                                          description="closed complaints are purged after")
    rotation_training_months: int = Field(default=12, ge=1, le=60,
                                          description="rotation training is due this long "
                                          "after the last one (or the start of employment)")
    # Credit consequences and clients (§3 §12).
    large_event_grades: list[EventGradeRule] = Field(
        default_factory=_default_event_rules, max_length=20,
        description="grade a large event needs by expected attendance (largest rule that "
                    "applies wins)")
    high_grade_client_kinds: list[str] = Field(
        default_factory=lambda: ["key_unit", "school", "hospital", "bank"], max_length=9,
        description="client kinds that prefer (or require) a high-grade company")
    high_grade_lowest: str = Field(default="B", pattern=_GRADE,
                                   description="the lowest grade that counts as high")
    high_grade_required: bool = Field(
        default=False, description="refuse (true) or only warn (false) below high grade")
    service_lowest_grade: dict[str, str] = Field(
        default_factory=lambda: {"armed-escort": "B", "key-target-protection": "B"},
        max_length=50, description="the lowest company grade allowed per kind of work")
    venue_m2_per_guard: int = Field(
        default=200, ge=1, le=100_000,
        description="an entertainment venue needs one deployed guard per this floor area")
    psych_assessment_interval_days: int = Field(
        default=365, ge=30, le=3 * 365,
        description="armed-escort guards are reassessed this often; later is overdue")

    @field_validator("high_grade_client_kinds")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(CLIENT_KINDS))
        if unknown:
            raise ValueError(f"unknown client kinds: {', '.join(unknown)}")
        return value

    @field_validator("service_lowest_grade")
    @classmethod
    def _grades(cls, value: dict[str, str]) -> dict[str, str]:
        for service_name, grade in value.items():
            if grade not in ("A", "B", "C", "D", "E") or not 0 < len(service_name) <= 60:
                raise ValueError(f"bad grade threshold {service_name!r}: {grade!r}")
        return value

    def event_grade(self, attendance: int) -> str | None:
        """The lowest grade a large event of ``attendance`` people allows (None: any)."""
        rules = [r for r in self.large_event_grades if attendance >= r.min_attendance]
        if not rules:
            return None
        return max(rules, key=lambda r: r.min_attendance).lowest_grade

    def due_date(self, year: int) -> dt.date:
        month, day = (int(x) for x in self.annual_report_due.split("-"))
        try:
            return dt.date(year + 1, month, day)
        except ValueError as exc:  # 02-30 and the like
            raise InvalidInput("annual_report_due is not a date", field="annual_report_due"
                               ) from exc


def policy(cur: Cursor) -> tuple[int, SupervisionPolicy]:
    row = repo.current_policy(cur)
    return int(row["version"]), SupervisionPolicy.model_validate(row["settings"])


def set_policy(cur: Cursor, *, actor: Actor, now: dt.datetime, settings: dict[str, Any]
               ) -> int:
    try:
        checked = SupervisionPolicy.model_validate(settings)
    except ValidationError as exc:
        raise InvalidInput(f"invalid supervision policy: {exc.errors()[0]['msg']}") from exc
    checked.due_date(2000)  # a real date
    version = repo.insert_policy(cur, checked.model_dump(), actor.label)
    audit.record(cur, actor=actor, action="policy.supervision", target_type="policy",
                 target_id=version, data=checked.model_dump(), now=now)
    return version


def _marker(year: int) -> str:
    return f"[annual-report:{year}]"


@dataclass(frozen=True)
class ReportIn:
    year: int
    headcount: int
    labour_contracts: int
    insured: int
    training_hours: int
    incidents: int
    notes: str | None = None


def file_report(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int,
                report: ReportIn) -> dict[str, Any]:
    company = repository.get_company(cur, company_id, for_update=True)
    if company is None:
        raise NotFound("no such company")
    if company["kind"] != "security_service":
        raise InvalidInput("annual reports are filed by security-service companies",
                           field="company_id")
    if not 2000 <= report.year < now.year:
        raise InvalidInput("a report covers a past year", field="year")
    if report.labour_contracts > report.headcount or report.insured > report.headcount:
        raise InvalidInput("contracts and insured guards cannot exceed the headcount",
                           field="headcount")
    if repo.live_report(cur, company_id, report.year) is not None:
        raise Conflict(f"the {report.year} report is already filed", reason="already-filed")
    row = repo.insert_report(cur, {
        "company_id": company_id, "year": report.year, "headcount": report.headcount,
        "labour_contracts": report.labour_contracts, "insured": report.insured,
        "training_hours": report.training_hours, "incidents": report.incidents,
        "notes": report.notes, "filed_by": actor.label, "filed_at": now})
    audit.record(cur, actor=actor, action="annual-report.file", target_type="company",
                 target_id=company_id, data={"year": report.year, "report_id": row["id"]},
                 now=now)
    _lift(cur, actor=actor, now=now, company_id=company_id, year=report.year,
          why=f"annual report {report.year} filed")
    return row


def _lift(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int, year: int,
          why: str) -> None:
    entry = repository.open_list_entry(cur, company_id, "abnormal")
    if entry is not None and _marker(year) in str(entry["reason"]):
        regulation.remove_from_list(cur, actor=actor, now=now, company_id=company_id,
                                    lst="abnormal", reason=why)


def _list(cur: Cursor, *, actor: Actor, now: dt.datetime, company_id: int, year: int,
          why: str) -> bool:
    if repository.open_list_entry(cur, company_id, "abnormal") is not None:
        return False  # already listed (for this or another cause): nothing to add
    regulation.put_on_list(cur, actor=actor, now=now, company_id=company_id, lst="abnormal",
                           reason=f"{_marker(year)} {why}")
    return True


def review_report(cur: Cursor, *, actor: Actor, now: dt.datetime, report_id: int,
                  accepted: bool, note: str | None) -> dict[str, Any]:
    row = repo.get_report(cur, report_id, for_update=True)
    if row is None:
        raise NotFound("no such report")
    if row["status"] != "filed":
        raise Conflict(f"the report was already {row['status']}", reason="already-reviewed")
    if not accepted and not note:
        raise InvalidInput("a rejection says why", field="note")
    repo.review(cur, report_id, status="accepted" if accepted else "rejected",
                by=actor.label, note=note, now=now)
    year, company_id = int(row["year"]), int(row["company_id"])
    if not accepted:
        _list(cur, actor=actor, now=now, company_id=company_id, year=year,
              why=f"annual report {year} rejected: {note}")
    audit.record(cur, actor=actor, action="annual-report.review", target_type="company",
                 target_id=company_id, data={"report_id": report_id, "accepted": accepted},
                 now=now)
    done = repo.get_report(cur, report_id)
    assert done is not None
    return done


def list_overdue(cur: Cursor, *, now: dt.datetime, actor: Actor = SYSTEM) -> dict[str, Any]:
    """Put every company whose last-year report is overdue on the abnormal list (the
    daily job ``supervision.annual-reports``); returns what it did."""
    _, pol = policy(cur)
    year = now.year - 1
    due = pol.due_date(year)
    if now.date() <= due:
        return {"year": year, "due": due.isoformat(), "listed": 0}
    listed = 0
    for company in repo.companies_without_report(cur, year):
        listed += _list(cur, actor=actor, now=now, company_id=int(company["id"]), year=year,
                        why=f"annual report {year} overdue (due {due.isoformat()})")
    return {"year": year, "due": due.isoformat(), "listed": listed}


def reminder_stage(pol: SupervisionPolicy, year: int, today: dt.date) -> str | None:
    """``due-soon`` from ``annual_report_reminder_days`` before the due date to the due
    date, ``overdue`` after it, otherwise None (no reminder yet)."""
    due = pol.due_date(year)
    if today > due:
        return "overdue"
    if pol.annual_report_reminder_days and today >= due - dt.timedelta(
            days=pol.annual_report_reminder_days):
        return "due-soon"
    return None


def send_reminders(cur: Cursor, *, now: dt.datetime) -> dict[str, Any]:
    """Tell each company whose last-year report is missing that it is due soon or
    overdue (job ``supervision.annual-report-reminders``): one ``annual-report.due``
    notification per company, year and stage, however often the job runs."""
    _, pol = policy(cur)
    year = now.year - 1
    due = pol.due_date(year)
    stage = reminder_stage(pol, year, now.date())
    if stage is None:
        return {"year": year, "due": due.isoformat(), "stage": None, "sent": 0}
    sent = 0
    for company in repo.companies_without_report(cur, year):
        company_id = int(company["id"])
        if not repo.claim_reminder(cur, company_id=company_id, year=year, stage=stage,
                                   due_on=due, now=now):
            continue
        subject = (f"{year} 年度报告已逾期（截止 {due.isoformat()}） annual report {year} "
                   f"overdue (due {due.isoformat()})" if stage == "overdue" else
                   f"{year} 年度报告将于 {due.isoformat()} 到期 annual report {year} due "
                   f"{due.isoformat()}")
        nid = notifications.notify(cur, company_id=company_id, kind="annual-report.due",
                                   subject=subject, now=now,
                                   data={"year": year, "stage": stage,
                                         "due_on": due.isoformat()})
        repo.set_reminder_notification(cur, company_id=company_id, year=year, stage=stage,
                                       notification_id=nid)
        audit.record(cur, actor=SYSTEM, action="annual-report.reminder", target_type="company",
                     target_id=company_id, data={"year": year, "stage": stage}, now=now)
        sent += 1
    return {"year": year, "due": due.isoformat(), "stage": stage, "sent": sent}


def missing(cur: Cursor, *, year: int, now: dt.datetime) -> dict[str, Any]:
    _, pol = policy(cur)
    due = pol.due_date(year)
    return {"year": year, "due": due.isoformat(), "overdue": now.date() > due,
            "companies": repo.companies_without_report(cur, year)}


def current(cur: Cursor, *, company_id: int, now: dt.datetime) -> dict[str, Any]:
    """The report a company owes now: last year's, its due date and where it stands
    ("due", "overdue", "filed", "accepted" or "rejected" with nothing refiled)."""
    _, pol = policy(cur)
    year = now.year - 1
    due = pol.due_date(year)
    live = repo.live_report(cur, company_id, year)
    if live is not None:
        status = str(live["status"])
    elif any(r["year"] == year for r in repo.reports_of(cur, company_id)):
        status = "rejected"
    else:
        status = "overdue" if now.date() > due else "due"
    return {"year": year, "due": due, "status": status}


def company_reports(cur: Cursor, *, company_id: int, now: dt.datetime) -> dict[str, Any]:
    """The company's reports, newest first, and the one it owes now (:func:`current`)."""
    return {"items": repo.reports_of(cur, company_id),
            "current": current(cur, company_id=company_id, now=now)}
