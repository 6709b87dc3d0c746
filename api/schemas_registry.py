"""Response bodies of the registry routes (companies, guards, employment, background
checks, bans) and of the console's export. Declared fields are what clients read; a row's
other fields pass through unchanged (``Output``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from api.schemas import Output


class CompanyChangeOut(Output):
    id: int
    changed_at: dt.datetime
    actor: str
    changes: dict[str, Any] = Field(description="the changed fields, before and after")


class CompanyHistoryOut(Output):
    items: list[CompanyChangeOut]


class CaptureOut(Output):
    face: str | None = Field(description="the face's status; none captured: null")
    fingers_enrolled: int
    complete: bool = Field(description="face enrolled and at least two fingers")
    certificate: str | None = Field(description="the live certificate's status")


class GuardOut(Output):
    """A guard as the caller's role may see it: which fields appear depends on the role
    (the regulator and the guard see the ID number, a company only its masked form), so
    routes answering it leave out what the role does not see (``exclude_unset``)."""

    id: str = Field(description="the guard's public id")
    name: str
    skill_level: int = Field(description="5 entry .. 1 highest")
    company_name: str | None = None
    id_number: str | None = None
    id_number_masked: str | None = None
    birth_date: dt.date | None = None
    age: int | None = None
    sex: str | None = None
    phone: str | None = None
    education: str | None = None
    status: str | None = None
    intentional_crime: bool | None = None
    administrative_detentions: int | None = None
    company_id: int | None = None
    district: str | None = None
    employed_since: dt.date | None = None
    version: int | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    capture: CaptureOut | None = Field(default=None, description="with include=capture")


class Reissue(Output):
    reissued: str | None = Field(default=None,
                                 description="the new certificate's number, when re-issued")
    reissue_error: str | None = Field(default=None,
                                      description="why a due re-issue could not be made")


class GuardChangedOut(GuardOut, Reissue):
    """The record after the change; ``reissued`` when the certificate followed it."""


class GuardEnrolledOut(GuardChangedOut):
    rehired: bool = Field(description="a new hire of someone already on the register")
    enrollment_held: bool = Field(description="held as a possible duplicate for review")


class EmploymentOut(Output):
    id: int
    company_id: int
    company_name: str
    started_on: dt.date
    ended_on: dt.date | None
    end_reason: str | None


class EmploymentsOut(Output):
    items: list[EmploymentOut]


class EmploymentEndedOut(Output):
    guard_id: str = Field(description="the guard's public id")
    company_id: int = Field(description="the employer the guard left")
    reason: str


class BackgroundCheckOut(Output):
    id: int
    guard_id: str | None = Field(description="the guard's public id")
    result: str
    reason: str | None
    checked_on: dt.date
    recorded_by: str
    source: str | None
    created_at: dt.datetime


class BackgroundChecksOut(Output):
    items: list[BackgroundCheckOut]


class BanOut(Output):
    id: int
    id_number: str | None = Field(description="none once purged at the end of retention")
    reason: str
    until_on: dt.date | None = Field(description="none: lifelong")
    company_id: int | None
    created_by: str
    created_at: dt.datetime
    lifted_at: dt.datetime | None


class BanLiftedOut(Output):
    id: int
    id_number: str | None
