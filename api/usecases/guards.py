"""Guards across packages: the list with what has been captured for each (biometrics and
the certificate), and changes to a guard's record that the certificate follows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from api import reporting_repository
from api.access import actor_of, guard_for
from api.cert_context import CertContext
from api.usecases.issuing import REISSUE_FIELDS, follow_change
from registry import queries, service
from registry.auth import Principal, Role
from registry.db import Cursor, Database


@dataclass(frozen=True)
class Roster:
    page: queries.Page
    # Per guard on the page (by row id): face status, enrolled fingers, whether capture is
    # complete, the live certificate's status. Empty unless asked for.
    capture: dict[int, dict[str, Any]]


def roster(cur: Cursor, *, company_id: int | None, after_id: int, limit: int,
           status: str | None = None, district: str | None = None,
           skill_level: int | None = None, with_capture: bool = False) -> Roster:
    """A page of guards (``company_id``: the caller's scope), with their capture status
    when asked: one query for the whole page."""
    page = queries.guards(cur, company_id=company_id, after_id=after_id, limit=limit,
                          status=status, district=district, skill_level=skill_level)
    capture = (reporting_repository.capture_summaries(cur, [int(r["id"]) for r in page.items])
               if with_capture else {})
    return Roster(page, capture)


@dataclass(frozen=True)
class Changed:
    guard: dict[str, Any]  # the record after the change
    # ``{"reissued": number | None, "reissue_error": detail | None}`` when a field the
    # certificate shows changed; None otherwise.
    reissue: dict[str, Any] | None


def change(db: Database, ctx: CertContext, principal: Principal, guard_id: int,
           changes: dict[str, Any], now: dt.datetime) -> Changed:
    """Change what the caller's role may change (a company: contact details and the name;
    the regulator also the level, status and record). When the name or the level on the
    certificate changed, the certificate is re-issued (issue 15), after the change commits."""
    allowed = (service.GUARD_EDITABLE_BY_REGULATOR if principal.role is Role.REGULATOR
               else service.GUARD_EDITABLE_BY_COMPANY)
    with db.transaction() as cur:
        before = guard_for(cur, principal, guard_id, for_update=True)
        row = service.update_guard(cur, actor=actor_of(principal), now=now, guard_id=guard_id,
                                   changes=changes, allowed=frozenset(allowed))
    shown = any(k in REISSUE_FIELDS and before[k] != row[k] for k in changes)
    return Changed(row, follow_change(db, ctx, principal, guard_id, now) if shown else None)
