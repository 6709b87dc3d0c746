"""Typed records of the registry that other packages read (issue 19).

The registry's repositories return rows (``dict``) inside the package; what crosses a
package boundary is a frozen record with named, typed fields, so that ``certificates``
and ``biometrics`` depend on a documented shape instead of on column names. Made by
:mod:`registry.service` (``guard_record``, ``guard_of_subject``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GuardRecord:
    """A person in the registry and their current employment, if any.

    ``id_number`` and ``phone`` are ``None`` once the person's identity has been purged at
    the end of the retention period (registry.retention)."""

    id: int
    public_id: str
    name: str
    id_number: str | None
    birth_date: dt.date | None
    sex: str | None
    phone: str | None
    skill_level: int
    status: str
    biometric_subject: str
    company_id: int | None
    company_name: str | None
    company_status: str | None
    employed_since: dt.date | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> GuardRecord:
        return cls(
            id=int(row["id"]), public_id=str(row["public_id"]), name=str(row["name"]),
            id_number=row.get("id_number"), birth_date=row.get("birth_date"),
            sex=row.get("sex"), phone=row.get("phone"), skill_level=int(row["skill_level"]),
            status=str(row["status"]), biometric_subject=str(row["biometric_subject"]),
            company_id=int(row["company_id"]) if row.get("company_id") is not None else None,
            company_name=row.get("company_name"), company_status=row.get("company_status"),
            employed_since=row.get("employed_since"))

    @property
    def employed(self) -> bool:
        return self.company_id is not None
