"""The regulator's statistics: capture and certificate rates (registry, biometrics and
certificates together) and the latest revocations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from api import reporting_repository
from api.access import publicise_guards
from certificates import repository as cert_repo
from registry.db import Cursor


def capture_rate(cur: Cursor, *, by: str, now: dt.datetime, company_id: int | None
                 ) -> list[dict[str, Any]]:
    """Per city, district or company: active guards captured (photo and two fingers),
    eligible, and eligible with a valid certificate (``company_id``: that one only)."""
    return reporting_repository.capture_rate(cur, by=by, now=now, company_id=company_id)


def recent_revocations(cur: Cursor, *, limit: int) -> list[dict[str, Any]]:
    """The latest revoked or suspended certificates, guards named by public id."""
    return publicise_guards(cur, cert_repo.recent_revocations(cur, limit=limit))
