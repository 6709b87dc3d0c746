"""Tenant isolation: what a principal may reach. Another company's guard is a 404."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request

from api.deps import runtime
from registry import queries, repository
from registry.audit import Actor
from registry.auth import Principal, Role
from registry.db import Cursor
from registry.errors import InvalidInput, NotFound


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.role.value, principal.id, principal.company_id)


# What an unknown or malformed public id resolves to: no guard has it, so the handler's
# own look-up (``guard_for`` and the use cases) answers 404 after authentication and the
# role check have run; the answers stay 401, then 403, then 404, as for any id.
NO_GUARD = 0


def resolve_guard_id(request: Request, guard_id: Annotated[str, Path(
        min_length=1, max_length=64,
        description="the guard's public id (opaque, random; never the internal number)")],
                     ) -> int:
    """The router boundary's resolver: a guard's public id in the URL to the internal id
    the use cases take. Anything else (an internal number, a malformed or unknown id)
    ends as 404, the same answer as a guard outside the caller's reach."""
    return _resolved(request, guard_id, queries.guard_id_of)


def _resolved(request: Request, public_id: str,
              lookup: Callable[[Cursor, str], int | None]) -> int:
    with runtime(request).db.snapshot() as cur:
        found = lookup(cur, public_id)
    return NO_GUARD if found is None else found


# A path parameter ``{guard_id}``: the public id in the URL, the internal id in the handler.
GuardRef = Annotated[int, Depends(resolve_guard_id)]


def resolve_request_id(request: Request, request_id: Annotated[str, Path(
        min_length=1, max_length=64,
        description="the issuance request's public id (opaque, random)")]) -> int:
    """Like :func:`resolve_guard_id`, for certificate issuance requests."""
    return _resolved(request, request_id, _request_id_of)


def _request_id_of(cur: Cursor, public_id: str) -> int | None:
    from certificates import repository as cert_repo

    try:
        return cert_repo.request_id_of(cur, str(uuid.UUID(public_id)))
    except ValueError:
        return None


RequestRef = Annotated[int, Depends(resolve_request_id)]


def public_guard_id(request: Request, guard_id: int | None) -> str | None:
    """The public id of a guard known by its internal id (views built from a principal
    or another package's row); None for None."""
    if guard_id is None:
        return None
    with runtime(request).db.snapshot() as cur:
        found = repository.public_ids_of(cur, [int(guard_id)])
    return found.get(int(guard_id))


def publicise_guards(cur: Cursor, rows: list[dict[str, Any]],
                     *keys: str) -> list[dict[str, Any]]:
    """Rows for a response, with each guard reference in ``keys`` (default ``guard_id``)
    replaced by the guard's public id: one query for the whole page."""
    keys = keys or ("guard_id",)
    wanted = [int(r[k]) for r in rows for k in keys if r.get(k) is not None]
    public = repository.public_ids_of(cur, wanted)
    out = []
    for row in rows:
        row = dict(row)
        for k in keys:
            if row.get(k) is not None:
                row[k] = public.get(int(row[k]))
        out.append(row)
    return out


GUARD_KEYS = frozenset({"guard_id", "custodian_guard_id"})
F = TypeVar("F", bound=Callable[..., Any])


def _guard_ints(doc: Any, out: list[int]) -> None:
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in GUARD_KEYS and isinstance(value, int) and not isinstance(value, bool):
                out.append(value)
            else:
                _guard_ints(value, out)
    elif isinstance(doc, list):
        for item in doc:
            _guard_ints(item, out)


def _swap(doc: Any, public: dict[int, str]) -> Any:
    if isinstance(doc, dict):
        return {k: (public.get(v) if k in GUARD_KEYS and isinstance(v, int)
                    and not isinstance(v, bool) else _swap(v, public))
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [_swap(item, public) for item in doc]
    return doc


def public_guard_ids(func: F) -> F:
    """Decorate a (sync) handler whose answer names guards by internal id (``guard_id``,
    ``custodian_guard_id``, at any depth): the answer names them by public id instead,
    with one query. The handler keeps its signature (FastAPI reads it through
    ``__wrapped__``); it must take ``request``."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        found: list[int] = []
        _guard_ints(result, found)
        if not found:
            return result
        with runtime(kwargs["request"]).db.snapshot() as cur:
            public = repository.public_ids_of(cur, found)
        return _swap(result, public)
    return wrapper  # type: ignore[return-value]


def guard_id_in(cur: Cursor, public_id: str) -> int:
    """A guard named by public id in a request body, as the internal id (404 if none)."""
    found = queries.guard_id_of(cur, public_id)
    if found is None:
        raise NotFound("no such guard")
    return found


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


def may_see_certificate(principal: Principal, cert: dict[str, Any]) -> bool:
    """A company reaches only the certificates issued while the guard worked for it: a
    new employer never reads, prints, suspends or revokes the one issued under the
    previous employer (takeover by re-hire, issue 14). The guard's reach is checked by
    ``guard_for``; the regulator and the guard see every one."""
    if principal.role is Role.COMPANY_OPERATOR:
        return cert.get("employer_id") is not None and cert["employer_id"] == principal.company_id
    return True


def certificate_holder(cur: Cursor, principal: Principal,
                       number: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A certificate (by the number scanned or typed at a checkpoint) and its holder. A
    checkpoint officer reaches guard data only this way, never by a guard id; staff only
    within their reach (another company's guard is a 404, like an unknown number)."""
    from certificates import repository as cert_repo

    cert = cert_repo.get_by_number(cur, number.strip().upper())
    if cert is None or cert["status"] in ("pending", "failed"):
        raise NotFound("no such certificate")
    guard = repository.get_guard(cur, int(cert["guard_id"]))
    if guard is None:
        raise NotFound("no such certificate")
    if principal.role is not Role.CHECKPOINT_OFFICER and not (
            can_reach_guard(principal, guard) and may_see_certificate(principal, cert)):
        raise NotFound("no such certificate")
    return cert, guard


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
