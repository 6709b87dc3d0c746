"""SQL of industry bans (by person: the ID number's blind index).

One module per aggregate (issue 19); ``registry.repository`` re-exports them all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.db import Cursor, fetch_all, fetch_one, insert_returning, pii_of
from registry.guard_repository import id_number_index, open_person_row, open_person_rows

Row = dict[str, Any]


BAN_COLUMNS = ("id, id_number_bidx, id_number_sealed, reason, until_on, company_id, created_by,"
               " created_at, lifted_at")


# -- bans ----------------------------------------------------------------------------
def insert_ban(cur: Cursor, values: dict[str, Any]) -> Row:
    codec = pii_of(cur)
    row = insert_returning(cur, "registry_ban", codec.seal_person(values), BAN_COLUMNS)
    return codec.open_person(row)


def active_bans(cur: Cursor, id_number: str, today: dt.date) -> list[Row]:
    """Bans in force for an ID number."""
    bidx = id_number_index(cur, id_number)
    cur.execute(
        "SELECT id, id_number_bidx, id_number_sealed, reason, until_on, company_id, created_at"
        " FROM registry_ban WHERE id_number_bidx = %s AND lifted_at IS NULL"
        " AND (until_on IS NULL OR until_on >= %s) ORDER BY id",
        (bidx, today),
    )
    return open_person_rows(cur, fetch_all(cur))


def active_bans_of_guard(cur: Cursor, guard_id: int, today: dt.date) -> list[Row]:
    """Bans in force for the guard's ID number, matched by its blind index (so a record
    purged at the end of the retention period, which has no ID number left, still
    matches its bans)."""
    cur.execute(
        "SELECT b.id, b.reason, b.until_on, b.company_id, b.created_at FROM registry_ban b"
        " JOIN registry_guard g ON g.id_number_bidx = b.id_number_bidx"
        " WHERE g.id = %s AND b.lifted_at IS NULL"
        " AND (b.until_on IS NULL OR b.until_on >= %s) ORDER BY b.id",
        (guard_id, today),
    )
    return fetch_all(cur)


def list_bans(cur: Cursor, *, after_id: int = 0, limit: int = 50) -> list[Row]:
    cur.execute(
        f"SELECT {BAN_COLUMNS} FROM registry_ban WHERE id > %s ORDER BY id LIMIT %s",
        (after_id, limit),
    )
    return open_person_rows(cur, fetch_all(cur))


def lift_ban(cur: Cursor, ban_id: int) -> Row | None:
    cur.execute(
        "UPDATE registry_ban SET lifted_at = now() WHERE id = %s AND lifted_at IS NULL"
        " RETURNING id, id_number_bidx, id_number_sealed",
        (ban_id,),
    )
    return open_person_row(cur, fetch_one(cur))


def bans_of_guard(cur: Cursor, guard_id: int) -> list[Row]:
    """Every ban of the guard's ID number, lifted or not, oldest first; matched by the blind
    index, so a record purged at the end of retention still shows its bans."""
    cur.execute(f"SELECT {', '.join('b.' + c.strip() for c in BAN_COLUMNS.split(','))}"
                " FROM registry_ban b JOIN registry_guard g ON g.id_number_bidx = b.id_number_bidx"
                " WHERE g.id = %s ORDER BY b.id", (guard_id,))
    return open_person_rows(cur, fetch_all(cur))


def bans_for_id_number(cur: Cursor, id_number: str) -> list[Row]:
    """Every ban of an ID number, lifted or not, oldest first."""
    cur.execute(f"SELECT {BAN_COLUMNS} FROM registry_ban WHERE id_number_bidx = %s ORDER BY id",
                (id_number_index(cur, id_number),))
    return open_person_rows(cur, fetch_all(cur))
