"""All SQL of the certificates package. Functions take the caller's cursor; none commits."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from registry.db import (
    Cursor,
    fence_status_change,
    fetch_all,
    fetch_one,
    insert_many,
    insert_returning,
)

Row = dict[str, Any]
CERT_COLUMNS = (
    "id, number, guard_id, status, status_shard, status_idx, claims, payload, text, kid, alg,"
    " employer_id, skill_level, issued_at, expires_at, issued_by, status_reason,"
    " status_changed_at, superseded_by, version, created_at, kind, card_of, card_serial,"
    " (SELECT rg.public_id FROM registry_guard rg WHERE rg.id = guard_id) AS guard_public_id"
)


def next_number_sequence(cur: Cursor) -> int:
    cur.execute("SELECT nextval('certificates_number_seq') AS n")
    row = cur.fetchone()
    assert row is not None
    return int(row["n"])


def live_certificate(cur: Cursor, guard_id: int, *, for_update: bool = False) -> Row | None:
    """The guard's valid or suspended certificate, if any."""
    cur.execute(
        f"SELECT {CERT_COLUMNS} FROM certificates_certificate WHERE guard_id = %s"
        " AND status IN ('valid', 'suspended') AND kind = 'certificate'"
        + (" FOR UPDATE" if for_update else ""),
        (guard_id,),
    )
    return fetch_one(cur)


# -- printed cards (kind 'card', migration 0250) ---------------------------------------
def live_card(cur: Cursor, guard_id: int, *, for_update: bool = False) -> Row | None:
    """The guard's valid or suspended printed card, if any."""
    cur.execute(
        f"SELECT {CERT_COLUMNS} FROM certificates_certificate WHERE guard_id = %s"
        " AND status IN ('valid', 'suspended') AND kind = 'card'"
        + (" FOR UPDATE" if for_update else ""),
        (guard_id,),
    )
    return fetch_one(cur)


def cards_of_certificate(cur: Cursor, cert_id: int, *, live_only: bool = False,
                         for_update: bool = False) -> list[Row]:
    cur.execute(
        f"SELECT {CERT_COLUMNS} FROM certificates_certificate WHERE card_of = %s"
        " AND kind = 'card'" + (" AND status IN ('valid', 'suspended')" if live_only else "")
        + " ORDER BY card_serial" + (" FOR UPDATE" if for_update else ""),
        (cert_id,),
    )
    return fetch_all(cur)


def next_card_serial(cur: Cursor, cert_id: int) -> int:
    cur.execute("SELECT coalesce(max(card_serial), 0) + 1 AS n FROM certificates_certificate"
                " WHERE card_of = %s AND kind = 'card'", (cert_id,))
    row = cur.fetchone()
    assert row is not None
    return int(row["n"])


def cards_of_guard(cur: Cursor, guard_id: int) -> list[Row]:
    cur.execute(
        f"SELECT {CERT_COLUMNS} FROM certificates_certificate WHERE guard_id = %s"
        " AND kind = 'card' ORDER BY id",
        (guard_id,),
    )
    return fetch_all(cur)


def get_by_number(cur: Cursor, number: str, *, for_update: bool = False) -> Row | None:
    cur.execute(
        f"SELECT {CERT_COLUMNS} FROM certificates_certificate WHERE number = %s"
        + (" FOR UPDATE" if for_update else ""),
        (number,),
    )
    return fetch_one(cur)


def get_by_id(cur: Cursor, cert_id: int) -> Row | None:
    cur.execute(f"SELECT {CERT_COLUMNS} FROM certificates_certificate WHERE id = %s", (cert_id,))
    return fetch_one(cur)


def get_by_status_ref(cur: Cursor, shard: int, idx: int) -> Row | None:
    cur.execute(
        f"SELECT {CERT_COLUMNS} FROM certificates_certificate"
        " WHERE status_shard = %s AND status_idx = %s",
        (shard, idx),
    )
    return fetch_one(cur)


def certificates_of_guard(cur: Cursor, guard_id: int) -> list[Row]:
    """The guard's certificates (not the printed cards: ``cards_of_guard``)."""
    cur.execute(
        f"SELECT {CERT_COLUMNS} FROM certificates_certificate WHERE guard_id = %s"
        " AND kind = 'certificate' ORDER BY id",
        (guard_id,),
    )
    return fetch_all(cur)


def insert_certificate(cur: Cursor, values: dict[str, Any]) -> int:
    row = insert_returning(cur, "certificates_certificate",
                           {**values, "claims": json.dumps(values["claims"], default=str)}, "id")
    return int(row["id"])


def mark_signed(cur: Cursor, cert_id: int, *, text: str, kid: bytes, alg: str) -> bool:
    cur.execute(
        "UPDATE certificates_certificate SET status = 'valid', text = %s, kid = %s, alg = %s,"
        " version = version + 1 WHERE id = %s AND status = 'pending'",
        (text, kid, alg, cert_id),
    )
    return bool(cur.rowcount)


def pending_certificate(cur: Cursor, guard_id: int) -> Row | None:
    cur.execute(
        f"SELECT {CERT_COLUMNS} FROM certificates_certificate WHERE guard_id = %s"
        " AND status = 'pending' AND kind = 'certificate'",
        (guard_id,),
    )
    return fetch_one(cur)


def mark_failed_pending(cur: Cursor, guard_id: int, older_than: dt.datetime) -> int:
    cur.execute(
        "UPDATE certificates_certificate SET status = 'failed', status_reason = 'signing-abandoned'"
        " WHERE guard_id = %s AND status = 'pending' AND kind = 'certificate'"
        " AND created_at < %s",
        (guard_id, older_than),
    )
    return int(cur.rowcount)


def change_status(cur: Cursor, cert_id: int, *, to: str, from_statuses: tuple[str, ...],
                  reason: str, at: dt.datetime, superseded_by: int | None = None) -> Row | None:
    """The conditional update behind revoke, suspend and reinstate: zero rows = no change.

    The transaction then commits only once the replicas that serve online verification
    have applied it (registry.db.fence_status_change, api/replicas.py)."""
    fence_status_change(cur)
    cur.execute(
        "UPDATE certificates_certificate SET status = %s, status_reason = %s,"
        " status_changed_at = %s, superseded_by = coalesce(%s, superseded_by),"
        " version = version + 1 WHERE id = %s AND status = ANY(%s)"
        f" RETURNING {CERT_COLUMNS}",
        (to, reason, at, superseded_by, cert_id, list(from_statuses)),
    )
    return fetch_one(cur)


# -- status lists ----------------------------------------------------------------------
def ensure_shard(cur: Cursor, shard: int, uri: str, capacity: int) -> None:
    cur.execute(
        "INSERT INTO certificates_status_list (shard, uri, capacity) VALUES (%s, %s, %s)"
        " ON CONFLICT (shard) DO NOTHING",
        (shard, uri, capacity),
    )


def lock_shard(cur: Cursor, shard: int) -> Row | None:
    cur.execute(
        "SELECT shard, uri, capacity, allocated, version, token, published_at"
        " FROM certificates_status_list WHERE shard = %s FOR UPDATE",
        (shard,),
    )
    return fetch_one(cur)


def open_shard_for_allocation(cur: Cursor, fill_limit: float) -> Row | None:
    cur.execute(
        "SELECT shard, uri, capacity, allocated FROM certificates_status_list"
        " WHERE allocated < capacity * %s ORDER BY shard LIMIT 1 FOR UPDATE",
        (fill_limit,),
    )
    return fetch_one(cur)


def shard_by_uri(cur: Cursor, uri: str) -> int | None:
    cur.execute("SELECT shard FROM certificates_status_list WHERE uri = %s", (uri,))
    row = fetch_one(cur)
    return int(row["shard"]) if row else None


def max_shard(cur: Cursor) -> int:
    cur.execute("SELECT coalesce(max(shard), -1) AS m FROM certificates_status_list")
    row = cur.fetchone()
    assert row is not None
    return int(row["m"])


def index_taken(cur: Cursor, shard: int, idx: int) -> bool:
    cur.execute(
        "SELECT 1 FROM certificates_certificate WHERE status_shard = %s AND status_idx = %s",
        (shard, idx),
    )
    return cur.fetchone() is not None


def bump_allocated(cur: Cursor, shard: int) -> None:
    cur.execute("UPDATE certificates_status_list SET allocated = allocated + 1 WHERE shard = %s",
                (shard,))


def non_valid_entries(cur: Cursor, shard: int) -> list[tuple[int, str]]:
    cur.execute(
        "SELECT status_idx, status FROM certificates_certificate WHERE status_shard = %s"
        " AND status IN ('revoked', 'suspended')",
        (shard,),
    )
    return [(int(r["status_idx"]), str(r["status"])) for r in cur.fetchall()]


def store_token(cur: Cursor, shard: int, token: bytes, at: dt.datetime) -> None:
    cur.execute(
        "UPDATE certificates_status_list SET token = %s, published_at = %s, version = version + 1"
        " WHERE shard = %s",
        (token, at, shard),
    )


def get_shard(cur: Cursor, shard: int) -> Row | None:
    cur.execute(
        "SELECT shard, uri, capacity, allocated, version, token, published_at"
        " FROM certificates_status_list WHERE shard = %s",
        (shard,),
    )
    return fetch_one(cur)


def list_shards(cur: Cursor) -> list[Row]:
    cur.execute(
        "SELECT shard, uri, capacity, allocated, version, published_at"
        " FROM certificates_status_list ORDER BY shard"
    )
    return fetch_all(cur)


# -- issuance requests ----------------------------------------------------------------------
def insert_request(cur: Cursor, *, guard_id: int, company_id: int, requested_by: str,
                   note: str | None) -> Row:
    cur.execute(
        "INSERT INTO certificates_issuance_request (guard_id, company_id, requested_by, note)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (guard_id) WHERE status = 'pending' DO UPDATE"
        " SET note = EXCLUDED.note RETURNING id, public_id, guard_id, company_id, requested_by,"
        " status, note, created_at,"
        " (SELECT g.public_id FROM registry_guard g WHERE g.id = guard_id) AS guard_public_id",
        (guard_id, company_id, requested_by, note),
    )
    row = cur.fetchone()
    assert row is not None
    return dict(row)


_REQUEST_COLUMNS = (
    "r.id, r.public_id, r.guard_id, r.company_id, r.requested_by, r.status, r.note,"
    " r.decided_by, r.decided_at, r.certificate_id, r.created_at,"
    " g.public_id AS guard_public_id, c.number AS certificate_number"
    " FROM certificates_issuance_request r JOIN registry_guard g ON g.id = r.guard_id"
    " LEFT JOIN certificates_certificate c ON c.id = r.certificate_id"
)


def get_request(cur: Cursor, request_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(
        f"SELECT {_REQUEST_COLUMNS} WHERE r.id = %s" + (" FOR UPDATE OF r" if for_update else ""),
        (request_id,),
    )
    return fetch_one(cur)


def request_id_of(cur: Cursor, public_id: str) -> int | None:
    """The internal id of the issuance request named by ``public_id``, or None."""
    cur.execute("SELECT id FROM certificates_issuance_request WHERE public_id = %s",
                (public_id,))
    row = fetch_one(cur)
    return int(row["id"]) if row else None


def list_requests(cur: Cursor, *, status: str | None, company_id: int | None, after_id: int,
                  limit: int) -> list[Row]:
    cur.execute(
        f"SELECT {_REQUEST_COLUMNS}"
        " WHERE r.id > %s AND (%s::text IS NULL OR r.status = %s)"
        " AND (%s::bigint IS NULL OR r.company_id = %s) ORDER BY r.id LIMIT %s",
        (after_id, status, status, company_id, company_id, limit),
    )
    return fetch_all(cur)


def decide_request(cur: Cursor, request_id: int, *, status: str, decided_by: str,
                   certificate_id: int | None) -> bool:
    cur.execute(
        "UPDATE certificates_issuance_request SET status = %s, decided_by = %s, decided_at = now(),"
        " certificate_id = %s WHERE id = %s AND status = 'pending'",
        (status, decided_by, certificate_id, request_id),
    )
    return bool(cur.rowcount)


# -- verification log ---------------------------------------------------------------------
def log_verification(cur: Cursor, *, at: dt.datetime, principal_id: int | None,
                     number: str | None, verdict: str, location: str | None,
                     channel: str) -> None:
    cur.execute(
        "INSERT INTO certificates_verification_log (checked_at, principal_id,"
        " certificate_number, verdict, location, channel) VALUES (%s, %s, %s, %s, %s, %s)",
        (at, principal_id, number, verdict, location, channel),
    )


def log_verifications(cur: Cursor, rows: Sequence[tuple[Any, ...]]) -> None:
    """Many check-log rows in one statement: ``(checked_at, principal_id,
    certificate_number, verdict, location, channel)`` each."""
    insert_many(cur, "certificates_verification_log",
                ("checked_at", "principal_id", "certificate_number", "verdict", "location",
                 "channel"), rows)


def recent_revocations(cur: Cursor, *, limit: int) -> list[Row]:
    cur.execute(
        "SELECT number, guard_id, status, status_reason, status_changed_at"
        " FROM certificates_certificate WHERE status IN ('revoked', 'suspended')"
        " ORDER BY status_changed_at DESC NULLS LAST LIMIT %s",
        (limit,),
    )
    return fetch_all(cur)


# -- key compromise ------------------------------------------------------------------------
def live_signed_by(cur: Cursor, kid: bytes, *, now: dt.datetime, limit: int) -> list[Row]:
    """Up to ``limit`` live (valid or suspended, unexpired) certificates signed with
    ``kid``, locked (SKIP LOCKED: two re-issuing workers never take the same one)."""
    cur.execute(
        f"SELECT {CERT_COLUMNS} FROM certificates_certificate WHERE kid = %s"
        " AND status IN ('valid', 'suspended') AND expires_at > %s AND kind = 'certificate'"
        " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        (kid, now, limit),
    )
    return fetch_all(cur)


def count_live_signed_by(cur: Cursor, kid: bytes, *, now: dt.datetime) -> int:
    cur.execute(
        "SELECT count(*) AS n FROM certificates_certificate WHERE kid = %s"
        " AND status IN ('valid', 'suspended') AND expires_at > %s AND kind = 'certificate'",
        (kid, now),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["n"])


def signed_by_since(cur: Cursor, kid: bytes, since: dt.datetime, *, limit: int) -> list[Row]:
    """Certificates the registry signed with ``kid`` at or after ``since``."""
    cur.execute(
        "SELECT number, guard_id, status, status_reason, issued_at, expires_at, superseded_by"
        " FROM certificates_certificate WHERE kid = %s AND issued_at >= %s ORDER BY issued_at,"
        " id LIMIT %s",
        (kid, since, limit),
    )
    return fetch_all(cur)


def count_signed_by(cur: Cursor, kid: bytes, since: dt.datetime | None = None) -> int:
    cur.execute(
        "SELECT count(*) AS n FROM certificates_certificate WHERE kid = %s"
        " AND (%s::timestamptz IS NULL OR issued_at >= %s)",
        (kid, since, since),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row["n"])


def suspicious_checks_since(cur: Cursor, since: dt.datetime) -> list[Row]:
    """Online checks since ``since`` that a forgery would leave behind, by verdict."""
    cur.execute(
        "SELECT verdict, count(*) AS n, min(checked_at) AS first_at, max(checked_at) AS last_at"
        " FROM certificates_verification_log WHERE checked_at >= %s AND verdict IN"
        " ('key-compromised', 'status-mismatch', 'bad-signature', 'wrong-issuer')"
        " GROUP BY verdict ORDER BY verdict",
        (since,),
    )
    return fetch_all(cur)


def replaced_by(cur: Cursor, cert_id: int) -> Row | None:
    """The certificate that ``cert_id`` superseded, if any."""
    cur.execute(
        "SELECT number, status_reason, kid FROM certificates_certificate WHERE superseded_by = %s"
        " ORDER BY id DESC LIMIT 1",
        (cert_id,),
    )
    return fetch_one(cur)


def live_signed_after(cur: Cursor, after_id: int, *, limit: int) -> list[Row]:
    """Live signed certificates with ``id > after_id``, in id order (keyset pages)."""
    cur.execute(
        "SELECT id, number, text, alg FROM certificates_certificate WHERE id > %s"
        " AND status IN ('valid', 'suspended') AND text IS NOT NULL ORDER BY id LIMIT %s",
        (after_id, limit),
    )
    return fetch_all(cur)


def replace_text(cur: Cursor, cert_id: int, *, old: str, new: str) -> bool:
    """Swap the stored text for an equivalent one (conditional on the old text)."""
    cur.execute(
        "UPDATE certificates_certificate SET text = %s, version = version + 1"
        " WHERE id = %s AND text = %s",
        (new, cert_id, old),
    )
    return bool(cur.rowcount)


# -- device binding (issue 18) ----------------------------------------------------------
def active_device_key(cur: Cursor, guard_id: int) -> Row | None:
    cur.execute("SELECT id, guard_id, x, y, bound_at, bound_by FROM certificates_device_key"
                " WHERE guard_id = %s AND revoked_at IS NULL", (guard_id,))
    return fetch_one(cur)


def bind_device_key(cur: Cursor, *, guard_id: int, x: bytes, y: bytes, at: dt.datetime,
                    by: str) -> tuple[Row, Row | None]:
    """Make (x, y) the guard's device key; the previous one (returned) is revoked."""
    cur.execute("UPDATE certificates_device_key SET revoked_at = %s, revoked_by = %s"
                " WHERE guard_id = %s AND revoked_at IS NULL"
                " RETURNING id, guard_id, x, y, bound_at, bound_by", (at, by, guard_id))
    old = fetch_one(cur)
    cur.execute("INSERT INTO certificates_device_key (guard_id, x, y, bound_at, bound_by)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id, guard_id, x, y, bound_at, bound_by",
                (guard_id, x, y, at, by))
    new = fetch_one(cur)
    assert new is not None
    return new, old
