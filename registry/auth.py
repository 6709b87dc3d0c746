"""Principals and API keys. Only an HMAC of each key is stored; the key is shown once."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from registry import audit, repository
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import InvalidInput, NotFound

KEY_PREFIX = "grk"


class Role(enum.StrEnum):
    REGULATOR = "regulator"
    COMPANY_OPERATOR = "company_operator"
    CHECKPOINT_OFFICER = "checkpoint_officer"
    GUARD = "guard"
    # Issue 15: the career's other actors. A training unit is bound to its training company.
    TRAINING_UNIT = "training_unit"
    SKILL_ASSESSOR = "skill_assessor"
    EXAM_STAFF = "exam_staff"
    # Issue 16: read-only shared data (field allow-lists per role).
    ASSOCIATION = "association"
    MARKET_REGULATION = "market_regulation"
    HUMAN_RESOURCES = "human_resources"
    TAX = "tax"


COMPANY_BOUND = frozenset({Role.COMPANY_OPERATOR, Role.TRAINING_UNIT})


@dataclass(frozen=True)
class Principal:
    id: int
    name: str
    role: Role
    company_id: int | None = None
    guard_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.role.value}:{self.id}"


def _hash(pepper: bytes, key: str) -> bytes:
    return hmac.new(pepper, key.encode(), hashlib.sha256).digest()


def create_api_key(
    cur: Cursor,
    *,
    pepper: bytes,
    name: str,
    role: Role,
    company_id: int | None = None,
    guard_id: int | None = None,
) -> tuple[Principal, str]:
    """Create a principal and return it with its API key (the only time it is visible)."""
    if (role in COMPANY_BOUND) != (company_id is not None):
        raise InvalidInput("a company operator or training unit key needs a company, and only "
                           "it", field="company_id")
    if (role is Role.GUARD) != (guard_id is not None):
        raise InvalidInput("a guard key needs a guard, and only it", field="guard_id")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    pid = repository.insert_principal(
        cur, name=name, role=role.value, company_id=company_id, guard_id=guard_id,
        key_prefix=prefix, key_hash=_hash(pepper, key),
    )
    return Principal(pid, name, role, company_id, guard_id), key


def issue_api_key(cur: Cursor, *, actor: Actor, now: dt.datetime, pepper: bytes, name: str,
                  role: Role, company_id: int | None = None,
                  guard_id: int | None = None) -> tuple[Principal, str]:
    """A new principal and its key (shown once), audited as the issuer's act."""
    created, key = create_api_key(cur, pepper=pepper, name=name, role=role,
                                  company_id=company_id, guard_id=guard_id)
    audit.record(cur, actor=actor, action="apikey.create", target_type="principal",
                 target_id=created.id, data={"role": created.role.value}, now=now)
    return created, key


def revoke_api_key(cur: Cursor, *, actor: Actor, now: dt.datetime, principal_id: int) -> None:
    """Revoke an active key (404 when there is none), audited. The caller drops its cached
    principal; other processes learn of it from the database's notification."""
    if not repository.revoke_principal(cur, principal_id):
        raise NotFound("no such active key")
    audit.record(cur, actor=actor, action="apikey.revoke", target_type="principal",
                 target_id=principal_id, now=now)


def principals(cur: Cursor) -> list[dict[str, Any]]:
    """Every principal, revoked or not, by id (never a key or its hash)."""
    return repository.list_principals(cur)


def authenticate(cur: Cursor, key: str, *, pepper: bytes) -> Principal | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(key) > 200:
        return None
    row = repository.get_principal_by_prefix(cur, parts[1])
    if row is None or row["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(bytes(row["key_hash"]), _hash(pepper, key)):
        return None
    return Principal(row["id"], row["name"], Role(row["role"]), row["company_id"],
                     row["guard_id"])
