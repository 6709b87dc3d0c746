"""Request and response bodies. Inputs forbid unknown fields; outputs are allow-lists."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    model_validator,
)
from pydantic_core import PydanticCustomError

from registry.auth import Principal, Role
from registry.validation import InvalidName, normalise_name

MAX_UNKNOWN_NAMES = 5


def _name(value: str) -> str:
    try:
        return normalise_name(value)
    except InvalidName as exc:
        raise ValueError(exc.detail) from None


# A name as stored: NFC, trimmed, inner whitespace collapsed; control and bidi characters
# refused (registry.validation.normalise_name), so every path that takes a name agrees.
Name = Annotated[str, AfterValidator(_name)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="wrap")
    @classmethod
    def _unknown_fields_at_once(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        """Unknown keys are refused in ONE error before any field is validated: a body of
        a million unknown keys would otherwise cost a million errors (46 MB, seconds of
        event loop)."""
        if isinstance(data, dict):
            known = cls.model_fields.keys()
            unknown = [k for k in data if k not in known]
            if unknown:
                shown = ", ".join(repr(str(k)[:40]) for k in unknown[:MAX_UNKNOWN_NAMES])
                more = f" and {len(unknown) - MAX_UNKNOWN_NAMES} more" \
                    if len(unknown) > MAX_UNKNOWN_NAMES else ""
                raise PydanticCustomError("extra_forbidden",
                                          "unknown field(s): {names}{more}",
                                          {"names": shown, "more": more})
        return handler(data)


CompanyKind = Literal["security_service", "self_recruiting", "training"]
CompanyStatus = Literal["active", "suspended", "revoked"]
Grade = Literal["A", "B", "C", "D", "E"]


class CompanyIn(Input):
    name: Name = Field(min_length=1, max_length=200)
    credit_code: str = Field(min_length=1, max_length=32, description="unified social credit code")
    kind: CompanyKind
    licence_number: str = Field(min_length=1, max_length=64,
                                description="licence (service company) or filing number")
    district: str = Field(min_length=1, max_length=64)
    armed_escort: bool = False
    entertainment_venue: bool = False


class CompanyPatch(Input):
    name: Name | None = Field(default=None, min_length=1, max_length=200)
    licence_number: str | None = Field(default=None, min_length=1, max_length=64)
    district: str | None = Field(default=None, min_length=1, max_length=64)
    armed_escort: bool | None = None
    expected_version: int | None = Field(default=None, ge=1)


class CompanyOut(BaseModel):
    id: int
    name: str
    credit_code: str
    kind: str
    armed_escort: bool
    licence_number: str
    status: str
    district: str
    credit_grade: str
    red_list: bool
    black_list: bool
    abnormal_operations: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class Output(BaseModel):
    """A response body whose declared fields are the documented contract. Fields a row
    carries beyond them pass through unchanged (``extra="allow"``), so declaring a model
    never silently drops what a page or client already reads."""

    model_config = ConfigDict(extra="allow")


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """A page of a list: ``Page[GuardOut]`` documents what each item holds."""

    items: list[ItemT]
    next_cursor: str | None = Field(
        default=None, description="opaque; pass as cursor for the next page (null: the last)")


class GuardIn(Input):
    name: Name = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=1, max_length=32)
    company_id: int | None = Field(default=None, ge=1,
                                   description="required for the regulator; implied for operators")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{5,20}$")
    education: str = Field(default="unknown", max_length=50)
    started_on: dt.date | None = None
    consent_code: str | None = Field(
        default=None, min_length=1, max_length=20,
        description="the confirmation code texted to the person after a first request "
                    "without one (a company operator's enrollment), or the one-time hire "
                    "code the person reads on their guard page")


class HireCodeOut(BaseModel):
    code: str
    expires_at: dt.datetime


# A guard named in a request body: the public id the API shows (never the internal one).
GuardIdIn = Annotated[str, Field(min_length=1, max_length=64,
                                 description="the guard's public id")]


class GuardPatch(Input):
    name: Name | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{5,20}$")
    education: str | None = Field(default=None, max_length=50)
    skill_level: int | None = Field(default=None, ge=1, le=5)
    status: Literal["active", "inactive"] | None = None
    intentional_crime: bool | None = None
    administrative_detentions: int | None = Field(default=None, ge=0, le=100)


class EmploymentEndIn(Input):
    reason: str = Field(min_length=1, max_length=200)
    ended_on: dt.date | None = None


class BackgroundCheckIn(Input):
    result: Literal["clear", "failed"]
    reason: str | None = Field(default=None, max_length=500)
    checked_on: dt.date
    intentional_crime: bool | None = None
    administrative_detentions: int | None = Field(default=None, ge=0, le=100)


class BanIn(Input):
    id_number: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=1, max_length=500)
    until_on: dt.date | None = Field(default=None, description="omit for a lifelong ban")
    company_id: int | None = Field(default=None, ge=1,
                                   description="set when banned as a company's responsible person")


class ApiKeyIn(Input):
    name: Name = Field(min_length=1, max_length=100)
    role: Role
    company_id: int | None = Field(default=None, ge=1)
    guard_id: GuardIdIn | None = None


def mask_id_number(value: str | None) -> str | None:
    """The ID number with the birth date hidden; None for a record purged at the end of
    the retention period."""
    if value is None:
        return None
    return value[:6] + "********" + value[14:]


GUARD_FIELDS_REGULATOR = (
    "id", "name", "id_number", "birth_date", "age", "sex", "phone", "education", "skill_level",
    "status", "intentional_crime", "administrative_detentions", "company_id", "company_name",
    "district", "employed_since", "version", "created_at", "updated_at",
)
GUARD_FIELDS_OPERATOR = (
    "id", "name", "id_number_masked", "age", "sex", "phone", "education", "skill_level",
    "status", "company_id", "company_name", "district", "employed_since", "version",
    "created_at", "updated_at",
)
GUARD_FIELDS_SELF = (
    "id", "name", "id_number", "birth_date", "age", "sex", "phone", "education", "skill_level",
    "status", "company_id", "company_name", "employed_since",
)


def guard_view(row: dict[str, Any], principal: Principal, *, today: dt.date) -> dict[str, Any]:
    """The guard record as the caller's role may see it (field allow-list per role)."""
    birth: dt.date | None = row["birth_date"]  # None once purged (retention)
    age = (None if birth is None else
           today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day)))
    full = dict(row)
    full["id"] = str(row["public_id"])  # the opaque id: the internal number never leaves
    full["age"] = age
    full["id_number_masked"] = mask_id_number(row["id_number"])
    fields = {
        Role.REGULATOR: GUARD_FIELDS_REGULATOR,
        Role.COMPANY_OPERATOR: GUARD_FIELDS_OPERATOR,
        Role.GUARD: GUARD_FIELDS_SELF,
    }.get(principal.role, ("id", "name", "skill_level", "company_name"))
    return {k: full.get(k) for k in fields}


def company_view(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in CompanyOut.model_fields}


class AwaitingConfirmationOut(BaseModel):
    """A company operator's enrollment without a valid code (registry/enroll_consent.py):
    the same answer whatever the person's situation, echoing only the request."""

    status: Literal["awaiting-confirmation"]
    detail: str
    company_id: int
    name: str
    id_number: str
    code_expires_in_s: int
