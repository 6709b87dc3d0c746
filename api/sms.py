"""Delivery of queued text messages to the SMS gateway (the job ``registry.sms-outbox``).

The gateway is a peer outside the system (``GUARDREG_SMS_GATEWAY_URL``): each message is
POSTed once per attempt as JSON ``{"ref", "to", "text"}`` with ``Idempotency-Key: ref``
(at least once: the gateway de-duplicates by ref) and, when set, ``Authorization: Bearer
GUARDREG_SMS_GATEWAY_TOKEN``. Failed attempts are retried with the webhooks' back-off
while the code in the message can still be used; then the message is given up. Without
a gateway (development) messages stay pending for ``guardreg outbox list``. Messages are
deleted a day after they were queued, sent or not. Phones, texts and codes never reach
the logs or the stored error (only an HTTP status or an exception's type).

A message to a phone that was not on the person's record (queued with what the check
needs: ID number and name, sealed) first goes through the phone-ownership check
(api/phone_owner.py): sent only if the peer says the phone is that person's, else marked
``unconfirmed`` and never sent. The check runs here, in the job, never in the request, so
the request that queued the message did the same work whatever the person. Without
``GUARDREG_PHONE_OWNER_CHECK_URL`` (development and test only: production refuses to
start) such phones are trusted.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
from collections.abc import Callable
from typing import Any

from api import phone_owner
from api.webhooks import post_once
from registry import enroll_consent_repository as repo
from registry.db import Database
from registry.notifications import next_attempt
from registry.settings import Settings

KEEP = dt.timedelta(days=1)


def check_owners(db: Database, rows: list[dict[str, Any]], settings: Settings
                 ) -> tuple[list[dict[str, Any]], int]:
    """The messages of ``rows`` that may go (their phone was on record, or the check
    confirmed it), and how many the check did not confirm (marked, never sent). Without
    a configured check, typed phones are trusted outside production."""
    may_go: list[dict[str, Any]] = []
    unconfirmed = 0
    for row in rows:
        owner = row["owner"]
        if owner is None:
            may_go.append(row)
            continue
        if not settings.phone_owner_check_url and settings.mode != "production":
            may_go.append(row)  # development: typed phones are trusted (warned at start-up)
            continue
        verdict = phone_owner.check(settings, id_number=str(owner["id_number"]),
                                    name=str(owner["name"]), phone=str(row["phone"]))
        with db.transaction() as cur:
            if verdict.confirmed:
                repo.owner_confirmed(cur, int(row["id"]))
                may_go.append(row)
            else:
                repo.owner_unconfirmed(cur, int(row["id"]), error=verdict.why)
                unconfirmed += 1
    return may_go, unconfirmed


def deliver_due(db: Database, now: dt.datetime, settings: Settings, *, limit: int = 50,
                post: Callable[[str, bytes, dict[str, str]], int] = post_once,
                ) -> dict[str, int | str]:
    with db.transaction() as cur:
        purged = repo.purge_sms(cur, before=now - KEEP) + repo.purge_codes(cur,
                                                                            before=now - KEEP)
    with db.transaction(readonly=True) as cur:
        due = repo.due_sms(cur, now, limit=limit)
    rows, unconfirmed = check_owners(db, due, settings)
    url = settings.sms_gateway_url
    if not url:
        return {"skipped": "no SMS gateway configured (guardreg outbox list)",
                "purged": purged, "unconfirmed": unconfirmed}
    headers = {"Content-Type": "application/json", "User-Agent": "guardreg-sms"}
    if settings.sms_gateway_token is not None:
        headers["Authorization"] = f"Bearer {settings.sms_gateway_token.get_secret_value()}"
    useful_for = dt.timedelta(minutes=settings.enroll_code_ttl_minutes)
    counts: dict[str, int | str] = {"sent": 0, "retrying": 0, "gave_up": 0, "purged": purged,
                                    "unconfirmed": unconfirmed}
    for row in rows:
        body = json.dumps({"ref": row["ref"], "to": row["phone"], "text": row["text"]},
                          ensure_ascii=False).encode()
        error: str | None = None
        try:
            code = post(url, body, {**headers, "Idempotency-Key": row["ref"]})
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            error = type(exc).__name__
        retry_at: dt.datetime | None = None
        if error is None:
            status = "sent"
        else:
            retry_at = next_attempt(int(row["attempts"]) + 1, now)
            if retry_at is not None and retry_at > row["created_at"] + useful_for:
                retry_at = None  # the code would be dead on arrival
            status = "pending" if retry_at is not None else "gave-up"
        key = {"sent": "sent", "pending": "retrying", "gave-up": "gave_up"}[status]
        counts[key] = int(counts[key]) + 1
        with db.transaction() as cur:
            repo.record_sms_attempt(cur, int(row["id"]), status=status, error=error,
                                    next_attempt_at=retry_at, now=now)
    return counts
