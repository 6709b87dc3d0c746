"""SQL of the person's archive that is not another module's (api/usecases/archive.py)."""

from __future__ import annotations

from registry.db import Cursor


def has_table(cur: Cursor, name: str) -> bool:
    """Whether ``name`` exists in this database (sections of features that add tables)."""
    cur.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (name,))
    row = cur.fetchone()
    return bool(row and row["present"])
