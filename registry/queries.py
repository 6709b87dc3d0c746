"""What the registry answers when asked: pages of companies, guards and bans, a guard's or
a company's records, the audit log, whole tables for export.

Reads only; each function takes the caller's cursor (the request owns the transaction)
and the filters and scope already decided by the caller's role. The rules that belong to
the read itself live here: how a page ends and where the next one starts, what counts as
a ban in force, how a guard named by public id is found in the audit log.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from registry import audit, repository
from registry.audit import ChainReport as ChainReport  # what audit_chain answers
from registry.db import Cursor
from registry.errors import NotFound

Row = dict[str, Any]
Exportable = Literal["companies", "guards", "bans"]
EXPORT_LIMIT = 200_000
EXPORT_BATCH = 1000


@dataclass(frozen=True)
class Page:
    """One page of a list; ``next_cursor`` is where the next page starts (None: the last)."""

    items: list[Row]
    next_cursor: int | None


def page_of(rows: list[Row], limit: int, key: str = "id") -> Page:
    """A full page may have a successor, which starts after its last row's ``key``."""
    return Page(rows, int(rows[-1][key]) if rows and len(rows) == limit else None)


# -- companies ---------------------------------------------------------------------------
def companies(cur: Cursor, *, company_id: int | None, after_id: int, limit: int,
              status: str | None = None, district: str | None = None,
              query: str | None = None) -> Page:
    """Companies by id, filtered; ``company_id`` limits the list to that one company (an
    operator's scope)."""
    return page_of(repository.list_companies(cur, after_id=after_id, limit=limit,
                                             status=status, district=district, query=query,
                                             company_id=company_id), limit)


def company_history(cur: Cursor, company_id: int) -> list[Row]:
    """Every change made to a company's details, oldest first."""
    return repository.company_history(cur, company_id)


# -- guards ------------------------------------------------------------------------------
def guards(cur: Cursor, *, company_id: int | None, after_id: int, limit: int,
           status: str | None = None, district: str | None = None,
           skill_level: int | None = None) -> Page:
    """Guards by id, filtered; ``company_id`` limits the list to its current staff."""
    return page_of(repository.list_guards(cur, after_id=after_id, limit=limit,
                                          company_id=company_id, status=status,
                                          district=district, skill_level=skill_level), limit)


def guard_id_of(cur: Cursor, public_id: str) -> int | None:
    """The internal id of the guard with this public id; None for an unknown or malformed
    one (the internal number itself finds nothing)."""
    try:
        public = str(uuid.UUID(public_id))
    except ValueError:
        return None
    return repository.guard_id_of(cur, public)


def employment_history(cur: Cursor, guard_id: int) -> list[Row]:
    """The guard's employments, oldest first, with each employer's name."""
    return repository.employment_history(cur, guard_id)


def background_checks(cur: Cursor, guard_id: int) -> list[Row]:
    """The guard's background checks in the order they were made."""
    return repository.background_checks(cur, guard_id)


# -- bans --------------------------------------------------------------------------------
def bans(cur: Cursor, *, after_id: int, limit: int) -> Page:
    return page_of(repository.list_bans(cur, after_id=after_id, limit=limit), limit)


def ban_in_force(ban: Row, today: dt.date) -> bool:
    """Not lifted, and lifelong or not yet over (the last day counts)."""
    return ban["lifted_at"] is None and (ban["until_on"] is None or ban["until_on"] >= today)


def bans_of_guard(cur: Cursor, guard_id: int, *, today: dt.date) -> list[Row]:
    """Every ban of the guard's ID number, lifted or not, each marked ``in_force``."""
    if repository.get_guard(cur, guard_id) is None:
        raise NotFound("no such guard")
    return [{**r, "in_force": ban_in_force(r, today)}
            for r in repository.bans_of_guard(cur, guard_id)]


# -- exports -----------------------------------------------------------------------------
def export(cur: Cursor, what: Exportable, *, limit: int = EXPORT_LIMIT) -> list[Row]:
    """A whole table (up to ``limit`` rows, in batches), unscoped: for the regulator."""
    read: dict[str, Callable[..., list[Row]]] = {
        "companies": repository.list_companies, "guards": repository.list_guards,
        "bans": repository.list_bans}
    rows: list[Row] = []
    after = 0
    while len(rows) < limit:
        batch = read[what](cur, after_id=after, limit=EXPORT_BATCH)
        rows += batch
        if len(batch) < EXPORT_BATCH:
            break
        after = int(batch[-1]["id"])
    return rows


# -- audit log ---------------------------------------------------------------------------
def audit_events(cur: Cursor, *, cursor: int, limit: int, newest_first: bool,
                 target_type: str | None = None, target_id: str | None = None,
                 action_prefix: str | None = None, actor: str | None = None,
                 since: dt.datetime | None = None, until: dt.datetime | None = None) -> Page:
    """A page of audit events. Oldest first the cursor is the seq to go above, newest
    first the seq to go below (0: from the newest). A guard target may be named by its
    public id (as URLs and answers name guards): the log keeps the row id."""
    if target_type == "guard" and target_id is not None and not target_id.isdigit():
        internal = guard_id_of(cur, target_id)
        target_id = str(internal) if internal is not None else "0"  # no guard has id 0
    rows = audit.list_events(cur, after_seq=0 if newest_first else cursor, limit=limit,
                             target_type=target_type, target_id=target_id,
                             action_prefix=action_prefix, actor=actor, since=since,
                             until=until, newest_first=newest_first,
                             before_seq=(cursor or None) if newest_first else None)
    return page_of(rows, limit, key="seq")


def audit_chain(cur: Cursor) -> ChainReport:
    """The whole hash chain recomputed: where it breaks, if it does."""
    return audit.verify_chain(cur)
