"""Append-only, hash-chained audit log.

Every state change writes an event in the same transaction as the change. Each event
stores the hash of its predecessor; its own hash covers that and every field, so an
edited, inserted or deleted event breaks the chain at a point ``verify_chain`` names.
Appenders lock the single chain-head row, which serialises appends (and keeps the
chain linear) without a table lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from registry.db import Cursor

GENESIS = bytes(32)
_CHAIN_LOCK = 0x617564697463686E  # "auditchn": one appender at a time


@dataclass(frozen=True)
class Actor:
    """Who did it: a principal, or the system acting on its own rules."""

    kind: str  # a role name, or "system"
    id: int | None = None
    company_id: int | None = None

    @property
    def label(self) -> str:
        return self.kind if self.id is None else f"{self.kind}:{self.id}"


SYSTEM = Actor("system")


def _canonical(value: Any) -> Any:
    # Round-trip through JSON so what we hash is what jsonb gives back.
    return json.loads(json.dumps(value, default=str))


def event_body(fields: dict[str, Any]) -> bytes:
    """An event's canonical bytes: what its chain hash covers after the link."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(prev: bytes, fields: dict[str, Any]) -> bytes:
    return hashlib.sha256(prev + event_body(fields)).digest()


def _fields(seq: int, occurred_at: dt.datetime, actor: str, action: str, target_type: str,
            target_id: str | None, request_id: str | None, data: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "request_id": request_id,
        "data": data,
    }


def record(
    cur: Cursor,
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object = None,
    data: dict[str, Any] | None = None,
    request_id: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Append one event in the caller's transaction; returns its sequence number."""
    from registry.context import current_request_id

    occurred = now or dt.datetime.now(dt.UTC)
    rid = request_id if request_id is not None else current_request_id()
    payload = _canonical(data or {})
    tid = None if target_id is None else str(target_id)
    seq, prev = _tail(cur)
    digest = event_hash(prev, _fields(seq + 1, occurred, actor.label, action, target_type, tid,
                                      rid, payload))
    cur.execute(
        "INSERT INTO registry_audit_event (seq, occurred_at, actor, action, target_type,"
        " target_id, request_id, data, prev_hash, hash)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (seq + 1, occurred, actor.label, action, target_type, tid, rid, json.dumps(payload),
         prev, digest),
    )
    if not hasattr(cur, "before_commit"):
        _write_head(cur)
    return seq + 1


def _tail(cur: Cursor) -> tuple[int, bytes]:
    """The chain's last (seq, hash) as this transaction sees it.

    Appenders serialise on a transaction-level advisory lock (cheap to take again, and
    re-taken after a savepoint rollback). The head row is read once per transaction and
    written once, just before COMMIT: updating one row thousands of times in a bulk
    import would make every later read walk a long chain of row versions. Events this
    transaction added are found through the primary key, so a savepoint rollback that
    removes some of them is seen at once.
    """
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_CHAIN_LOCK,))
    head = cur.__dict__.get("_audit_head")
    if head is None:
        cur.execute("SELECT seq, hash FROM registry_audit_head WHERE id")
        row = cur.fetchone()
        assert row is not None, "audit head row missing"
        head = (int(row["seq"]), bytes(row["hash"]))
        cur.__dict__["_audit_head"] = head
        hooks = getattr(cur, "before_commit", None)
        if hooks is not None:
            hooks.append(_write_head)
    cur.execute("SELECT seq, hash FROM registry_audit_event WHERE seq > %s"
                " ORDER BY seq DESC LIMIT 1", (head[0],))
    row = cur.fetchone()
    return (int(row["seq"]), bytes(row["hash"])) if row else head


def _write_head(cur: Cursor) -> None:
    seq, digest = _tail(cur)
    cur.execute("UPDATE registry_audit_head SET seq = %s, hash = %s WHERE id AND seq <> %s",
                (seq, digest, seq))
    cur.__dict__.pop("_audit_head", None)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(cur: Cursor, *, batch: int = 5000) -> ChainReport:
    """Recompute the whole chain; report the first event where it breaks."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        cur.execute(
            "SELECT seq, occurred_at, actor, action, target_type, target_id, request_id, data,"
            " prev_hash, hash FROM registry_audit_event WHERE seq >= %s ORDER BY seq LIMIT %s",
            (expected_seq, batch),
        )
        rows = cur.fetchall()
        if not rows:
            break
        for row in rows:
            seq = int(row["seq"])
            if seq != expected_seq:
                return ChainReport(False, count, expected_seq,
                                   f"event {expected_seq} is missing (next present: {seq})")
            if bytes(row["prev_hash"]) != prev:
                return ChainReport(False, count, seq,
                                   f"event {seq} does not link to event {seq - 1}")
            fields = _fields(seq, row["occurred_at"], row["actor"], row["action"],
                             row["target_type"], row["target_id"], row["request_id"], row["data"])
            digest = event_hash(prev, fields)
            if digest != bytes(row["hash"]):
                return ChainReport(False, count, seq, f"event {seq} was altered")
            prev = digest
            expected_seq += 1
            count += 1
            last_seq = seq
    cur.execute("SELECT seq, hash FROM registry_audit_head WHERE id")
    head = cur.fetchone()
    if head is not None and (int(head["seq"]) != last_seq or bytes(head["hash"]) != prev):
        return ChainReport(False, count, last_seq + 1,
                           f"events after {last_seq} are missing (head says {head['seq']})")
    return ChainReport(True, count)


def event_digests(cur: Cursor, *, after_seq: int, limit: int) -> list[tuple[int, bytes]]:
    """(seq, SHA-256 of the event's canonical bytes) of the events after ``after_seq``, in
    order, recomputed from the stored fields (never the stored hash): what a
    transparency log takes as its leaves, so that no personal data leaves the row."""
    cur.execute(
        "SELECT seq, occurred_at, actor, action, target_type, target_id, request_id, data"
        " FROM registry_audit_event WHERE seq > %s ORDER BY seq LIMIT %s", (after_seq, limit))
    return [(int(r["seq"]), hashlib.sha256(event_body(_fields(
        int(r["seq"]), r["occurred_at"], r["actor"], r["action"], r["target_type"],
        r["target_id"], r["request_id"], r["data"]))).digest()) for r in cur.fetchall()]


def list_events(cur: Cursor, *, after_seq: int = 0, limit: int = 100,
                target_type: str | None = None,
                target_id: str | None = None, action_prefix: str | None = None,
                actor: str | None = None, since: dt.datetime | None = None,
                until: dt.datetime | None = None, newest_first: bool = False,
                before_seq: int | None = None) -> list[dict[str, Any]]:
    """Events in ``seq`` order (or newest first, below ``before_seq``), filtered by
    target, action prefix (``biometrics.`` ...), actor (part of its label) and time."""
    where = ["seq > %s"]
    args: list[Any] = [after_seq]
    conditions: list[tuple[str, Any]] = [
        ("target_type = %s", target_type), ("target_id = %s", target_id),
        ("starts_with(action, %s)", action_prefix),
        ("strpos(lower(actor), lower(%s)) > 0", actor),
        ("occurred_at >= %s", since), ("occurred_at < %s", until),
        ("seq < %s", before_seq)]
    for sql, value in conditions:
        if value is not None:
            where.append(sql)
            args.append(value)
    cur.execute(
        "SELECT seq, occurred_at, actor, action, target_type, target_id, request_id, data,"
        f" encode(hash, 'hex') AS hash FROM registry_audit_event WHERE {' AND '.join(where)}"
        f" ORDER BY seq {'DESC' if newest_first else ''} LIMIT %s",
        [*args, limit],
    )
    return [dict(r) for r in cur.fetchall()]
