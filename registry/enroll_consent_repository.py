"""SQL of confirmation codes and the SMS outbox (migrations 0092 and 0095,
registry/enroll_consent.py). Functions take the caller's cursor; none commits."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, pii_of

Row = dict[str, Any]


# -- codes ------------------------------------------------------------------------------
def lock_subject(cur: Cursor, bidx: bytes) -> None:
    """Serialise requests about one ID number (counts and the current code stay exact)."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)",
                (int.from_bytes(bidx[:8], "big", signed=True),))


def count_codes(cur: Cursor, *, since: dt.datetime, bidx: bytes | None = None,
                company_id: int | None = None, purpose: str | None = None,
                public: bool = False) -> tuple[int, dt.datetime | None]:
    """Codes requested since ``since`` for the ID number and/or the company (``public``:
    those of no company) and/or the purpose, and when the oldest of them was requested
    (for Retry-After)."""
    where: list[str] = ["created_at > %s"]
    args: list[Any] = [since]
    if bidx is not None:
        where.append("id_number_bidx = %s")
        args.append(bidx)
    if company_id is not None:
        where.append("company_id = %s")
        args.append(company_id)
    elif public:
        where.append("company_id IS NULL")
    if purpose is not None:
        where.append("purpose = %s")
        args.append(purpose)
    cur.execute("SELECT count(*) AS n, min(created_at) AS oldest FROM registry_enroll_code"
                f" WHERE {' AND '.join(where)}", args)
    row = fetch_one(cur)
    assert row is not None
    return int(row["n"]), row["oldest"]


def insert_code(cur: Cursor, *, bidx: bytes, company_id: int | None, code_hash: bytes | None,
                now: dt.datetime, expires_at: dt.datetime, purpose: str = "enroll") -> None:
    """A new code for (ID number, purpose, company or none); the earlier ones stop
    working."""
    cur.execute("UPDATE registry_enroll_code SET expires_at = least(expires_at, %s)"
                " WHERE id_number_bidx = %s AND purpose = %s"
                " AND company_id IS NOT DISTINCT FROM %s AND used_at IS NULL",
                (now, bidx, purpose, company_id))
    cur.execute("INSERT INTO registry_enroll_code (id_number_bidx, company_id, code_hash,"
                " created_at, expires_at, purpose) VALUES (%s, %s, %s, %s, %s, %s)",
                (bidx, company_id, code_hash, now, expires_at, purpose))


def current_code(cur: Cursor, *, bidx: bytes, company_id: int | None, now: dt.datetime,
                 max_attempts: int, purpose: str = "enroll") -> Row | None:
    """The live code of (ID number, purpose, company or none): the newest, unused,
    unexpired, not worn out by wrong guesses (locked for the caller's transaction)."""
    cur.execute("SELECT id, code_hash, attempts FROM registry_enroll_code"
                " WHERE id_number_bidx = %s AND purpose = %s"
                " AND company_id IS NOT DISTINCT FROM %s AND used_at IS NULL"
                " AND code_hash IS NOT NULL AND expires_at > %s AND attempts < %s"
                " ORDER BY id DESC LIMIT 1 FOR UPDATE",
                (bidx, purpose, company_id, now, max_attempts))
    return fetch_one(cur)


def use_code(cur: Cursor, code_id: int, now: dt.datetime) -> None:
    cur.execute("UPDATE registry_enroll_code SET used_at = %s WHERE id = %s", (now, code_id))


def count_wrong_attempt(cur: Cursor, code_id: int) -> None:
    cur.execute("UPDATE registry_enroll_code SET attempts = attempts + 1 WHERE id = %s",
                (code_id,))


def purge_codes(cur: Cursor, *, before: dt.datetime) -> int:
    """Forget codes expired before ``before`` (they no longer count for any limit)."""
    cur.execute("DELETE FROM registry_enroll_code WHERE expires_at < %s", (before,))
    return int(cur.rowcount)


# -- SMS outbox -------------------------------------------------------------------------
def queue_sms(cur: Cursor, *, phone: str, text: str, now: dt.datetime,
              owner: tuple[str, str] | None = None) -> str:
    """Queue a text message; the phone and the text are sealed bound to the message's
    ref (a UUID, also the gateway's de-duplication key). ``owner`` (ID number, name): the
    phone is not on that person's record, so the message waits for the phone-ownership
    check (api/sms.py), sealed the same way. Returns the ref."""
    ref = uuid.uuid4()
    codec = pii_of(cur)
    owner_sealed = None if owner is None else codec.seal(
        json.dumps({"id_number": owner[0], "name": owner[1]}, ensure_ascii=False),
        purpose="sms-owner", bound_to=ref.bytes)
    cur.execute("INSERT INTO registry_sms_outbox (ref, phone_sealed, text_sealed, created_at,"
                " next_attempt_at, owner_sealed) VALUES (%s, %s, %s, %s, %s, %s)",
                (str(ref), codec.seal(phone, purpose="sms-phone", bound_to=ref.bytes),
                 codec.seal(text, purpose="sms-text", bound_to=ref.bytes), now, now,
                 owner_sealed))
    return str(ref)


def _open(cur: Cursor, rows: list[Row]) -> list[Row]:
    codec = pii_of(cur)
    for row in rows:
        bound = uuid.UUID(str(row["ref"])).bytes
        row["ref"] = str(row["ref"])
        row["phone"] = codec.open(row.pop("phone_sealed"), purpose="sms-phone", bound_to=bound)
        row["text"] = codec.open(row.pop("text_sealed"), purpose="sms-text", bound_to=bound)
        owner = row.pop("owner_sealed")
        row["owner"] = None if owner is None else json.loads(
            codec.open(owner, purpose="sms-owner", bound_to=bound))
    return rows


_SMS_COLUMNS = ("id, ref, phone_sealed, text_sealed, created_at, status, attempts,"
                " next_attempt_at, sent_at, last_error, owner_sealed")


def list_sms(cur: Cursor, *, status: str | None = "pending", limit: int = 100,
             phone: str | None = None) -> list[Row]:
    """Messages (opened), newest first; ``phone`` keeps those to that number (the
    gateway's view of one handset)."""
    if status is None:
        cur.execute(f"SELECT {_SMS_COLUMNS} FROM registry_sms_outbox ORDER BY id DESC"
                    " LIMIT %s", (limit,))
    else:
        cur.execute(f"SELECT {_SMS_COLUMNS} FROM registry_sms_outbox WHERE status = %s"
                    " ORDER BY id DESC LIMIT %s", (status, limit))
    rows = _open(cur, fetch_all(cur))
    return [r for r in rows if phone is None or r["phone"] == phone]


def due_sms(cur: Cursor, now: dt.datetime, *, limit: int) -> list[Row]:
    cur.execute(f"SELECT {_SMS_COLUMNS} FROM registry_sms_outbox WHERE status = 'pending'"
                " AND next_attempt_at <= %s ORDER BY id LIMIT %s", (now, limit))
    return _open(cur, fetch_all(cur))


def record_sms_attempt(cur: Cursor, sms_id: int, *, status: str, error: str | None,
                       next_attempt_at: dt.datetime | None, now: dt.datetime) -> None:
    cur.execute("UPDATE registry_sms_outbox SET status = %s, attempts = attempts + 1,"
                " last_error = %s, next_attempt_at = coalesce(%s, next_attempt_at),"
                " sent_at = CASE WHEN %s = 'sent' THEN %s ELSE sent_at END WHERE id = %s",
                (status, error, next_attempt_at, status, now, sms_id))


def owner_confirmed(cur: Cursor, sms_id: int) -> None:
    """The phone-ownership check confirmed the phone: the message may go; what the check
    needed is forgotten."""
    cur.execute("UPDATE registry_sms_outbox SET owner_sealed = NULL WHERE id = %s", (sms_id,))


def owner_unconfirmed(cur: Cursor, sms_id: int, *, error: str) -> None:
    """The check did not confirm the phone (or could not be asked): never sent."""
    cur.execute("UPDATE registry_sms_outbox SET status = 'unconfirmed', owner_sealed = NULL,"
                " last_error = %s WHERE id = %s", (error, sms_id))


def purge_sms(cur: Cursor, *, before: dt.datetime) -> int:
    """Delete messages queued before ``before``, sent or not: the code each holds is long
    dead, and a phone number has no business staying here."""
    cur.execute("DELETE FROM registry_sms_outbox WHERE created_at < %s", (before,))
    return int(cur.rowcount)
