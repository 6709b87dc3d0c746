"""Labour rights (notice §11): labour-contract and social-insurance status of each
employment, and the per-company report of guards without either. Wage-arrears and
work-injury reports come in through the complaint flow (registry/complaints.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from registry import audit, repository
from registry import labour_repository as repo
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, InvalidInput, NotFound


@dataclass(frozen=True)
class LabourStatus:
    labour_contract: str  # signed | none | unknown
    social_insurance: str  # insured | none | unknown
    contract_signed_on: dt.date | None = None
    insured_since: dt.date | None = None


def set_status(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
               status: LabourStatus) -> dict[str, Any]:
    if status.labour_contract not in ("signed", "none", "unknown"):
        raise InvalidInput("labour_contract is signed, none or unknown", field="labour_contract")
    if status.social_insurance not in ("insured", "none", "unknown"):
        raise InvalidInput("social_insurance is insured, none or unknown",
                           field="social_insurance")
    if (status.contract_signed_on is not None) != (status.labour_contract == "signed"):
        raise InvalidInput("a signed contract has a signing date, and only it",
                           field="contract_signed_on")
    if (status.insured_since is not None) != (status.social_insurance == "insured"):
        raise InvalidInput("insurance has a start date, and only when insured",
                           field="insured_since")
    for day, name in ((status.contract_signed_on, "contract_signed_on"),
                      (status.insured_since, "insured_since")):
        if day is not None and day > now.date():
            raise InvalidInput("the date is in the future", field=name)
    employment = repo.active_employment(cur, guard_id, for_update=True)
    if employment is None:
        if repository.get_guard(cur, guard_id) is None:
            raise NotFound("no such guard")
        raise Conflict("the guard has no active employment", reason="not-employed")
    row = repo.set_status(cur, int(employment["employment_id"]), {
        "labour_contract": status.labour_contract,
        "contract_signed_on": status.contract_signed_on,
        "social_insurance": status.social_insurance, "insured_since": status.insured_since},
        now)
    audit.record(cur, actor=actor, action="guard.labour_status", target_type="guard",
                 target_id=guard_id, data={"labour_contract": status.labour_contract,
                                           "social_insurance": status.social_insurance},
                 now=now)
    return row


def company_report(cur: Cursor, *, company_id: int) -> dict[str, Any]:
    if repository.get_company(cur, company_id) is None:
        raise NotFound("no such company")
    counts = repo.company_counts(cur, [company_id]).get(company_id)
    return {"company_id": company_id,
            "headcount": int(counts["headcount"]) if counts else 0,
            "without_contract": int(counts["without_contract"]) if counts else 0,
            "without_insurance": int(counts["without_insurance"]) if counts else 0,
            "guards": repo.company_report(cur, company_id)}
