"""SQL of the retention purge (docs/LIFECYCLE.md "Retention"): which tables hold a
person's rows and what becomes of each once the person has been out of the industry for
the retention period. It spans packages, so it sits in the composition root, like
``reporting_repository``; the job is ``api/usecases/retention.py``.

The one list to extend is :data:`RULES`. A table added later that holds personal data
about a person gets one line here: its name, the SQL condition that selects the
person's rows (``%(guards)s`` is the array of guard ids being purged, ``%(subjects)s``
their biometric subjects, ``%(now)s`` the job's time, ``%(retention)s`` the outcome),
what it holds, and its treatment:
:class:`Delete`, :class:`Anonymise` (column -> SQL expression) or :class:`Keep` (with why).
``while_barred`` is the treatment while a ban or a revocation still bars the person
(default: the same). A rule whose table does not exist (yet) is skipped, and so is an
:class:`Anonymise` column the table does not have. :data:`ACTIVITY` lists what keeps a
person "in the industry" (the latest date counts).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one

Row = dict[str, Any]

PURGED_NAME = "（已清除）"
PURGED_TEXT = "（已清除）"


@dataclass(frozen=True)
class Delete:
    pass


@dataclass(frozen=True)
class Anonymise:
    sets: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Keep:
    why: str


@dataclass(frozen=True)
class Hook:
    """Work that needs code, not SQL (named; the job passes the functions)."""

    name: str


Treatment = Delete | Anonymise | Keep | Hook


@dataclass(frozen=True)
class Rule:
    table: str
    rows: str
    what: str
    purge: Treatment
    while_barred: Treatment | None = None
    # What an Anonymise leaves in the rows, and why (for the report).
    keeps: str = ""
    keeps_why: str = ""


_BY_GUARD = "guard_id = ANY(%(guards)s)"
_BY_SUBJECT = "subject = ANY(%(subjects)s::uuid[])"
_PRINCIPALS = "(SELECT id FROM registry_principal WHERE guard_id = ANY(%(guards)s))"
_ACCOUNTS = f"(SELECT id FROM registry_account WHERE principal_id IN {_PRINCIPALS})"
_BARRED_KEEPS_TEMPLATE = Keep("the template catches the person under a new ID number while "
                              "a ban or a revocation bars them (notice §6; Art. 17)")

# Order matters where rows refer to one another (postings before fingers, sessions before
# accounts, the person's row last).
RULES: tuple[Rule, ...] = (
    # -- biometrics ---------------------------------------------------------------------
    Rule("biometrics_review", _BY_SUBJECT, "duplicate-check reviews of the person's captures",
         Delete()),
    Rule("biometrics_finger_posting", "", "the finger index codes derived from the templates",
         Hook("finger-postings"), _BARRED_KEEPS_TEMPLATE),
    Rule("biometrics_finger_index", _BY_SUBJECT, "finger index rows", Delete(),
         _BARRED_KEEPS_TEMPLATE),
    Rule("biometrics_finger", _BY_SUBJECT, "fingerprint templates", Delete(),
         _BARRED_KEEPS_TEMPLATE),
    Rule("biometrics_face", _BY_SUBJECT, "photo, checkpoint portrait and face vector",
         Delete(),
         # the vector stays (it is the face template), the photo and portrait go
         Anonymise((("photo_sealed", "'\\x'::bytea"), ("photo_sha256", "'\\x'::bytea"),
                    ("display_sealed", "NULL"), ("quality", "'{}'::jsonb"))),
         keeps="the face vector", keeps_why=_BARRED_KEEPS_TEMPLATE.why),
    # -- certificates -------------------------------------------------------------------
    Rule("certificates_device_key", _BY_GUARD, "the phone's public key bound to the credential",
         Delete()),
    Rule("certificates_verification_log",
         "certificate_number IN (SELECT number FROM certificates_certificate"
         " WHERE guard_id = ANY(%(guards)s))",
         "where the person's certificate was checked", Anonymise((("location", "NULL"),))),
    Rule("certificates_certificate", _BY_GUARD,
         "the signed credential (name, device key); number, dates and status stay",
         Anonymise((("payload", "sha256(payload)"), ("text", "NULL"),
                    ("claims", "(claims - 'guard_name' - 'device_key')"
                               " || '{\"purged\": true}'::jsonb"))),
         keeps="number, dates, status and the payload's hash",
         keeps_why="a presented certificate still verifies as revoked or expired"),
    Rule("certificates_issuance_request", _BY_GUARD, "notes on certificate requests",
         Anonymise((("note", "NULL"),))),
    # -- registry -----------------------------------------------------------------------
    Rule("registry_activation_code", _BY_GUARD, "account activation codes", Delete()),
    Rule("registry_session", f"account_id IN {_ACCOUNTS}", "sign-in sessions (address, browser)",
         Delete()),
    Rule("registry_recovery_code", f"account_id IN {_ACCOUNTS}", "account recovery codes",
         Delete()),
    Rule("registry_account", f"principal_id IN {_PRINCIPALS}", "the guard's own account",
         Anonymise((("username", "'purged-' || id"), ("password_hash", "'!purged'"),
                    ("totp_sealed", "NULL"), ("totp_last_step", "NULL"),
                    ("disabled_at", "coalesce(disabled_at, %(now)s)")))),
    Rule("registry_idempotency", f"principal_id IN {_PRINCIPALS}",
         "stored answers to the guard's own requests", Delete()),
    Rule("registry_principal", _BY_GUARD, "the guard's API key",
         Anonymise((("name", "'guard (purged)'"),
                    ("revoked_at", "coalesce(revoked_at, %(now)s)")))),
    Rule("registry_notification", _BY_GUARD, "company notifications naming the person",
         Anonymise((("subject", f"'{PURGED_TEXT}'"), ("data", "'{}'::jsonb")))),
    Rule("registry_background_check", _BY_GUARD,
         "the reason and source of background checks; result and date stay (re-hire rule)",
         Anonymise((("reason", "NULL"), ("source", "NULL"))),
         keeps="result and date", keeps_why="a failed check bars re-hire until a clear one"),
    Rule("registry_guard_qualification", _BY_GUARD, "licence references",
         Anonymise((("reference", "NULL"),))),
    Rule("registry_skill_evaluation", _BY_GUARD, "evaluation evidence",
         Anonymise((("evidence", f"'{PURGED_TEXT}'"),))),
    Rule("registry_enrollment_hold", _BY_GUARD, "notes on held enrollments",
         Anonymise((("decision_note", "NULL"),))),
    Rule("registry_supervision_alert", _BY_GUARD, "alerts naming the person",
         Anonymise((("detail", f"'{PURGED_TEXT}'"),))),
    Rule("registry_reserve_member", _BY_GUARD, "reserve-force membership",
         Anonymise((("active", "false"), ("skills", "'{}'")))),
    Rule("registry_exam_refusal",
         "guard_id = ANY(%(guards)s) OR id_number_bidx IN (SELECT id_number_bidx"
         " FROM registry_guard WHERE id = ANY(%(guards)s))",
         "refused exam applications (sealed ID number, name, reasons)", Delete()),
    Rule("registry_exam_result", _BY_GUARD, "evidence of exam results",
         Anonymise((("evidence", "NULL"),)),
         keeps="pass or fail, score and date",
         keeps_why="a person who comes back keeps the exam they passed"),
    Rule("registry_exam_registration", _BY_GUARD, "exam registrations",
         Keep("session, date and attendance only: the registration code is kept as its "
              "keyed hash, no personal field")),
    Rule("registry_revocation_record", _BY_GUARD, "revocation dates and reasons",
         Keep("two revocations bar for life and one for three years (Art. 17): the dates "
              "count however long ago")),
    Rule("registry_employment", _BY_GUARD, "employment periods (company, dates, end reason)",
         Keep("no personal data once the person's row is anonymised; the companies' "
              "headcount history")),
    Rule("registry_ban",
         "id_number_bidx IN (SELECT id_number_bidx FROM registry_guard"
         " WHERE id = ANY(%(guards)s))",
         "the sealed ID number of bans; blind index, reason and dates stay",
         Anonymise((("id_number_sealed", "NULL"),
                    ("purged_at", "coalesce(purged_at, %(now)s)"))),
         keeps="the blind index of the ID number, reason and dates",
         keeps_why="the ban refuses the ID number at enrollment for as long as it lasts"),
    Rule("registry_guard", "id = ANY(%(guards)s)",
         "name, ID number, phone, birth date, sex, education; the blind index stays",
         Anonymise((("name", f"'{PURGED_NAME}'"), ("id_number_sealed", "NULL"),
                    ("phone_sealed", "NULL"), ("birth_date", "NULL"), ("sex", "NULL"),
                    ("education", "'unknown'"), ("status", "'inactive'"),
                    ("purged_at", "coalesce(purged_at, %(now)s)"),
                    ("retention", "%(retention)s"))),
         keeps="the keyed blind index of the ID number and the re-hire flags",
         keeps_why="bans and the re-hire rules (Art. 17) match the ID number by it"),
)

# What keeps a person in the industry: the latest of these dates (and the record's
# creation) starts the retention period. (table, guard column, date expression)
ACTIVITY: tuple[tuple[str, str, str], ...] = (
    ("registry_employment", "guard_id", "coalesce(ended_on, started_on)"),
    ("certificates_certificate", "guard_id",
     "least(expires_at, coalesce(status_changed_at, expires_at))::date"),
    ("registry_background_check", "guard_id", "created_at::date"),
    ("registry_training_attendance", "guard_id", "recorded_at::date"),
    ("registry_skill_evaluation", "guard_id", "recorded_at::date"),
    ("registry_exam_registration", "guard_id", "created_at::date"),
    ("registry_exam_result", "guard_id", "recorded_at::date"),
)

# The eligibility bars (migration 0031's registry_guard_bars) under which templates stay.
KEEPING_BARS = ("banned", "revoked-twice", "recently-revoked")


def _existing(cur: Cursor, tables: Sequence[str]) -> dict[str, set[str]]:
    cur.execute("SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ANY(%s)",
                (list(tables),))
    out: dict[str, set[str]] = {}
    for r in fetch_all(cur):
        out.setdefault(str(r["table_name"]), set()).add(str(r["column_name"]))
    return out


def _activity_sql(existing: Mapping[str, set[str]]) -> str:
    parts = ["i.created_at::date"]
    for table, column, expr in ACTIVITY:
        if column in existing.get(table, set()):
            parts.append(f"(SELECT max({expr}) FROM {table} a WHERE a.{column} = i.id)")
    return "greatest(" + ", ".join(parts) + ")"


def candidates(cur: Cursor, *, now: dt.datetime, cutoff: dt.date, limit: int) -> list[Row]:
    """People not yet purged, with no employment and no valid certificate, whose latest
    activity is before ``cutoff``; locked (others skipped) so two hosts never share one.
    The idle people are found first (anti-joins on the active-employment and live-
    certificate indexes), and only their activity dates are computed: 0.1 s on 150,000
    guards of whom 15,000 idle (docs/BENCHMARKS.md)."""
    existing = _existing(cur, [t for t, _, _ in ACTIVITY])
    cur.execute(
        "WITH idle AS MATERIALIZED ("
        "  SELECT g.id, g.created_at FROM registry_guard g"
        "  WHERE g.purged_at IS NULL"
        "  AND NOT EXISTS (SELECT 1 FROM registry_employment e WHERE e.guard_id = g.id"
        "                  AND e.ended_on IS NULL)"
        "  AND NOT EXISTS (SELECT 1 FROM certificates_certificate c WHERE c.guard_id = g.id"
        "                  AND c.status IN ('valid', 'suspended', 'pending')"
        "                  AND c.expires_at > %(now)s)"
        f"), scored AS MATERIALIZED (SELECT i.id, {_activity_sql(existing)} AS out_since"
        "   FROM idle i)"
        " SELECT g.id, g.biometric_subject::text AS subject, s.out_since"
        " FROM scored s JOIN registry_guard g ON g.id = s.id"
        " WHERE s.out_since < %(cutoff)s AND g.purged_at IS NULL"
        " ORDER BY g.id LIMIT %(limit)s FOR UPDATE OF g SKIP LOCKED",
        {"now": now, "cutoff": cutoff, "limit": limit})
    return fetch_all(cur)


def kept_for_bar(cur: Cursor, *, limit: int, after_id: int = 0) -> list[Row]:
    """People whose templates were kept for a bar (checked again each run)."""
    cur.execute("SELECT g.id, g.biometric_subject::text AS subject FROM registry_guard g"
                " WHERE g.retention = 'kept-for-bar' AND g.id > %s ORDER BY g.id LIMIT %s"
                " FOR UPDATE OF g SKIP LOCKED", (after_id, limit))
    return fetch_all(cur)


def bars(cur: Cursor, guard_id: int, today: dt.date) -> list[str]:
    cur.execute("SELECT registry_guard_bars(%s, %s) AS bars", (guard_id, today))
    row = fetch_one(cur)
    return [] if row is None or row["bars"] is None else list(row["bars"])


def rule_columns(cur: Cursor) -> dict[str, set[str]]:
    """The columns of each rule's table that exists (read once per run)."""
    return _existing(cur, [r.table for r in RULES])


def apply(cur: Cursor, *, guard_ids: Sequence[int], subjects: Sequence[str], barred: bool,
          now: dt.datetime, hooks: Mapping[str, Callable[[Cursor, str], int]],
          existing: Mapping[str, set[str]] | None = None
          ) -> tuple[dict[str, int], list[dict[str, str]]]:
    """Apply every rule to the people's rows; returns rows changed per table (purged)
    and what was kept, with why."""
    if existing is None:
        existing = rule_columns(cur)
    params = {"guards": list(guard_ids), "subjects": list(subjects), "now": now,
              "retention": "kept-for-bar" if barred else "purged"}
    purged: dict[str, int] = {}
    kept: list[dict[str, str]] = []
    for rule in RULES:
        columns = existing.get(rule.table)
        if columns is None:
            continue
        treatment = rule.while_barred if barred and rule.while_barred is not None else rule.purge
        count = 0
        if isinstance(treatment, Keep):
            kept.append({"table": rule.table, "what": rule.what, "why": treatment.why})
            continue
        if isinstance(treatment, Hook):
            count = sum(hooks[treatment.name](cur, s) for s in subjects)
        elif isinstance(treatment, Delete):
            cur.execute(f"DELETE FROM {rule.table} WHERE {rule.rows}", params)
            count = cur.rowcount
        else:
            sets = [(c, e) for c, e in treatment.sets if c in columns]
            if not sets:
                continue
            cur.execute(f"UPDATE {rule.table} SET " + ", ".join(f"{c} = {e}" for c, e in sets)
                        + f" WHERE {rule.rows}", params)
            count = cur.rowcount
            if rule.keeps and count:
                kept.append({"table": rule.table, "what": rule.keeps, "why": rule.keeps_why})
        if count:
            purged[rule.table] = purged.get(rule.table, 0) + max(count, 0)
    return purged, kept


def mark(cur: Cursor, guard_id: int, retention: str, now: dt.datetime) -> None:
    cur.execute("UPDATE registry_guard SET retention = %s, purged_at = coalesce(purged_at, %s)"
                " WHERE id = %s", (retention, now, guard_id))


def insert_record(cur: Cursor, values: dict[str, Any]) -> int:
    cur.execute(
        "INSERT INTO registry_retention_record (guard_id, outcome, out_since, bars, purged,"
        " kept, decided_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (values["guard_id"], values["outcome"], values.get("out_since"), values["bars"],
         json.dumps(values["purged"]), json.dumps(values["kept"]), values["decided_at"]))
    row = fetch_one(cur)
    assert row is not None
    return int(row["id"])


def records(cur: Cursor, *, guard_id: int | None, outcome: str | None, after_id: int,
            limit: int) -> list[Row]:
    cur.execute(
        "SELECT id, guard_id, outcome, out_since, bars, purged, kept, decided_at"
        " FROM registry_retention_record"
        " WHERE (%(guard)s::bigint IS NULL OR guard_id = %(guard)s)"
        " AND (%(outcome)s::text IS NULL OR outcome = %(outcome)s)"
        " AND (%(after)s = 0 OR id < %(after)s)"
        " ORDER BY id DESC LIMIT %(limit)s",
        {"guard": guard_id, "outcome": outcome, "after": after_id, "limit": limit})
    return fetch_all(cur)


def summary(cur: Cursor) -> Row:
    cur.execute(
        "SELECT count(*) FILTER (WHERE retention = 'purged') AS purged,"
        " count(*) FILTER (WHERE retention = 'kept-for-bar') AS kept_for_bar"
        " FROM registry_guard WHERE retention IS NOT NULL")
    row = fetch_one(cur)
    assert row is not None
    return row
