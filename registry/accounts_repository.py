"""SQL of accounts, sessions, recovery and activation codes (migration 0010)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning

Row = dict[str, Any]

_ACCOUNT = (
    "a.id, a.username, a.principal_id, a.password_hash, a.must_change_password, a.totp_sealed,"
    " a.totp_last_step, a.failed_attempts, a.locked_until, a.created_by, a.created_at,"
    " a.password_changed_at, a.disabled_at, p.name, p.role, p.company_id, p.guard_id"
)


def insert_account(cur: Cursor, values: dict[str, Any]) -> int:
    return int(insert_returning(cur, "registry_account", values, "id")["id"])


def get_account(cur: Cursor, account_id: int, *, for_update: bool = False) -> Row | None:
    cur.execute(
        f"SELECT {_ACCOUNT} FROM registry_account a JOIN registry_principal p"
        " ON p.id = a.principal_id WHERE a.id = %s" + (" FOR UPDATE OF a" if for_update else ""),
        (account_id,),
    )
    return fetch_one(cur)


def get_account_by_username(cur: Cursor, username: str, *, for_update: bool = False
                            ) -> Row | None:
    cur.execute(
        f"SELECT {_ACCOUNT} FROM registry_account a JOIN registry_principal p"
        " ON p.id = a.principal_id WHERE a.username = %s"
        + (" FOR UPDATE OF a" if for_update else ""),
        (username,),
    )
    return fetch_one(cur)


def list_accounts(cur: Cursor, *, company_id: int | None = None) -> list[Row]:
    where, params = ("WHERE p.company_id = %s", [company_id]) if company_id is not None \
        else ("", [])
    cur.execute(
        f"SELECT {_ACCOUNT} FROM registry_account a JOIN registry_principal p"
        f" ON p.id = a.principal_id {where} ORDER BY a.id",
        params,
    )
    return fetch_all(cur)


def update_account(cur: Cursor, account_id: int, changes: dict[str, Any]) -> None:
    # Keys come from registry/accounts.py, never from requests; values are bound.
    sets = ", ".join(f"{k} = %s" for k in changes)
    cur.execute(f"UPDATE registry_account SET {sets} WHERE id = %s",
                [*changes.values(), account_id])


def record_failure(cur: Cursor, account_id: int, *, limit: int, now: dt.datetime,
                   lock_for: dt.timedelta) -> None:
    """Count a failed sign-in; the ``limit``-th failure in a row locks the account."""
    cur.execute(
        "UPDATE registry_account SET failed_attempts = failed_attempts + 1,"
        " locked_until = CASE WHEN failed_attempts + 1 >= %s THEN %s ELSE locked_until END"
        " WHERE id = %s",
        (limit, now + lock_for, account_id),
    )


def use_totp_step(cur: Cursor, account_id: int, step: int) -> bool:
    """Mark TOTP time step ``step`` used; False when it (or a later one) already was."""
    cur.execute(
        "UPDATE registry_account SET totp_last_step = %s WHERE id = %s"
        " AND (totp_last_step IS NULL OR totp_last_step < %s)",
        (step, account_id, step),
    )
    return bool(cur.rowcount)


def replace_recovery_codes(cur: Cursor, account_id: int, hashes: list[bytes]) -> None:
    cur.execute("DELETE FROM registry_recovery_code WHERE account_id = %s", (account_id,))
    for h in hashes:
        cur.execute("INSERT INTO registry_recovery_code (account_id, code_hash) VALUES (%s, %s)",
                    (account_id, h))


def use_recovery_code(cur: Cursor, account_id: int, code_hash: bytes, now: dt.datetime
                      ) -> bool:
    cur.execute(
        "UPDATE registry_recovery_code SET used_at = %s"
        " WHERE account_id = %s AND code_hash = %s AND used_at IS NULL",
        (now, account_id, code_hash),
    )
    return bool(cur.rowcount)


def unused_recovery_codes(cur: Cursor, account_id: int) -> int:
    cur.execute("SELECT count(*) AS n FROM registry_recovery_code"
                " WHERE account_id = %s AND used_at IS NULL", (account_id,))
    row = fetch_one(cur)
    return int(row["n"]) if row else 0


# -- sessions ------------------------------------------------------------------------------
def insert_session(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_session", values, "id, public_id, expires_at")


def session_by_token(cur: Cursor, token_hash: bytes) -> Row | None:
    cur.execute(
        "SELECT s.id, s.public_id, s.account_id, s.created_at, s.last_seen_at, s.expires_at,"
        " s.revoked_at, a.disabled_at, a.must_change_password, a.username, p.id AS principal_id,"
        " p.name, p.role, p.company_id, p.guard_id, p.revoked_at AS principal_revoked_at"
        " FROM registry_session s JOIN registry_account a ON a.id = s.account_id"
        " JOIN registry_principal p ON p.id = a.principal_id WHERE s.token_hash = %s",
        (token_hash,),
    )
    return fetch_one(cur)


def touch_session(cur: Cursor, session_id: int, now: dt.datetime) -> None:
    cur.execute("UPDATE registry_session SET last_seen_at = %s WHERE id = %s",
                (now, session_id))


def list_sessions(cur: Cursor, account_id: int, now: dt.datetime) -> list[Row]:
    cur.execute(
        "SELECT public_id, created_at, last_seen_at, expires_at, user_agent, address"
        " FROM registry_session WHERE account_id = %s AND revoked_at IS NULL"
        " AND expires_at > %s ORDER BY created_at DESC",
        (account_id, now),
    )
    return fetch_all(cur)


def revoke_session(cur: Cursor, account_id: int, public_id: str, now: dt.datetime) -> bool:
    cur.execute(
        "UPDATE registry_session SET revoked_at = %s"
        " WHERE account_id = %s AND public_id = %s AND revoked_at IS NULL",
        (now, account_id, public_id),
    )
    return bool(cur.rowcount)


def revoke_sessions_of(cur: Cursor, account_id: int, now: dt.datetime,
                       *, except_id: int | None = None) -> int:
    cur.execute(
        "UPDATE registry_session SET revoked_at = %s"
        " WHERE account_id = %s AND revoked_at IS NULL AND id IS DISTINCT FROM %s",
        (now, account_id, except_id),
    )
    return int(cur.rowcount)


# -- activation codes ----------------------------------------------------------------------
def insert_activation_code(cur: Cursor, values: dict[str, Any]) -> Row:
    return insert_returning(cur, "registry_activation_code", values, "id, expires_at")


def use_activation_code(cur: Cursor, code_hash: bytes, now: dt.datetime
                        ) -> tuple[int, str] | None:
    """(guard id, issuer label) of an unused, unexpired code, marking it used."""
    cur.execute(
        "UPDATE registry_activation_code SET used_at = %s"
        " WHERE code_hash = %s AND used_at IS NULL AND expires_at > %s"
        " RETURNING guard_id, created_by",
        (now, code_hash, now),
    )
    row = fetch_one(cur)
    return (int(row["guard_id"]), str(row["created_by"])) if row else None


def account_of_guard(cur: Cursor, guard_id: int) -> Row | None:
    cur.execute(
        f"SELECT {_ACCOUNT} FROM registry_account a JOIN registry_principal p"
        " ON p.id = a.principal_id WHERE p.guard_id = %s AND a.disabled_at IS NULL",
        (guard_id,),
    )
    return fetch_one(cur)


def purge_sessions(cur: Cursor, *, before: dt.datetime) -> int:
    """Delete sessions that ended (expired or revoked) before ``before``."""
    cur.execute("DELETE FROM registry_session WHERE expires_at < %s OR revoked_at < %s",
                (before, before))
    return int(cur.rowcount)
