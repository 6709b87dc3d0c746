"""Tenant isolation: what a principal may reach. Another company's guard is a 404."""

from __future__ import annotations

from typing import Any

from registry import repository
from registry.audit import Actor
from registry.auth import Principal, Role
from registry.db import Cursor
from registry.errors import InvalidInput, NotFound


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.role.value, principal.id, principal.company_id)


def guard_for(cur: Cursor, principal: Principal, guard_id: int, *,
              for_update: bool = False) -> dict[str, Any]:
    row = repository.get_guard(cur, guard_id, for_update=for_update)
    if row is None or not can_reach_guard(principal, row):
        raise NotFound("no such guard")
    return row


def can_reach_guard(principal: Principal, row: dict[str, Any]) -> bool:
    if principal.role is Role.REGULATOR:
        return True
    if principal.role is Role.COMPANY_OPERATOR:
        return row["company_id"] is not None and row["company_id"] == principal.company_id
    if principal.role is Role.GUARD:
        return bool(row["id"] == principal.guard_id)
    return False


def company_for(cur: Cursor, principal: Principal, company_id: int) -> dict[str, Any]:
    row = repository.get_company(cur, company_id)
    if row is None:
        raise NotFound("no such company")
    if principal.role is Role.COMPANY_OPERATOR and principal.company_id != company_id:
        raise NotFound("no such company")
    return row


def company_scope(principal: Principal, requested: int | None) -> int | None:
    """The company a list is restricted to: an operator's own, whatever they ask."""
    if principal.role is Role.COMPANY_OPERATOR:
        if requested is not None and requested != principal.company_id:
            raise NotFound("no such company")
        return principal.company_id
    return requested


def enrolling_company(principal: Principal, requested: int | None) -> int:
    if principal.role is Role.COMPANY_OPERATOR:
        if requested is not None and requested != principal.company_id:
            raise NotFound("no such company")
        assert principal.company_id is not None
        return principal.company_id
    if requested is None:
        raise InvalidInput("company_id is required", field="company_id")
    return requested
