"""What the regulator console reads across packages (docs/web.md): the day's figures, the
one search box for guards, the signing keys with the trust list and status lists."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from api import console_repository
from api.cert_context import CertContext
from certificates import repository as cert_repo
from certificates.signing.keyring import KeyRecord
from certificates.trustlist import TrustList
from registry import queries, repository
from registry.db import Cursor, Database

CHECKS_DAYS = 14  # how far back the verification figures go
SEARCH_LIMIT = 50

_ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")
_CERTIFICATE_NUMBER = re.compile(r"[0-9A-Za-z-]{8,40}")

Row = dict[str, Any]
MatchedBy = Literal["id_number", "certificate", "name", "guard_id"]


def overview(cur: Cursor, *, now: dt.datetime) -> dict[str, Any]:
    """Counts by status, the lists, what waits for a decision, and checkpoint
    verifications per day and verdict over the last ``CHECKS_DAYS`` days."""
    out = console_repository.overview(cur, today=now.date())
    out["checks"] = console_repository.checks_per_day(
        cur, since=now - dt.timedelta(days=CHECKS_DAYS))
    return out


@dataclass(frozen=True)
class Found:
    matched_by: MatchedBy
    guards: list[Row]


def find_guards(cur: Cursor, text: str) -> Found:
    """One box for everything an officer may type: an ID number (18 characters) finds its
    person; a guard's public id that guard; a certificate number its holder; anything
    else is part of a name (newest first). The first kind that matches decides."""
    text = text.strip()
    if _ID_NUMBER.match(text):
        row = repository.get_guard_by_id_number(cur, text.upper())
        return Found("id_number", [row] if row else [])
    internal = queries.guard_id_of(cur, text)
    if internal is not None:
        row = repository.get_guard(cur, internal)
        if row is not None:
            return Found("guard_id", [row])
    if _CERTIFICATE_NUMBER.fullmatch(text):
        cert = cert_repo.get_by_number(cur, text.upper())
        if cert is not None:
            row = repository.get_guard(cur, int(cert["guard_id"]))
            return Found("certificate", [row] if row else [])
    return Found("name", repository.search_guards_by_name(cur, text, limit=SEARCH_LIMIT))


@dataclass(frozen=True)
class Keys:
    keys: list[KeyRecord]
    trust_list: TrustList
    status_lists: list[Row]


def keys(db: Database, ctx: CertContext, now: dt.datetime) -> Keys:
    """Every signing key, the trust list as served now, and each status list shard."""
    records = list(ctx.keyring.list_keys())
    trust_list, _ = ctx.trust(now)
    with db.transaction(readonly=True) as cur:
        shards = cert_repo.list_shards(cur)
    return Keys(records, trust_list, shards)
