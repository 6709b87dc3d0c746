"""Read endpoints of the regulator console (``/regulator``, docs/web.md) that the other
routers do not offer: the day's figures, one search box for guards (name, ID number or
certificate number), the signing keys with the trust list and status lists, and CSV
exports. Regulator only; ID numbers are masked in lists and exports."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api import console_repository, csv_export
from api.access import GuardRef
from api.deps import clock, require, runtime
from api.schemas import mask_id_number
from certificates import repository as cert_repo
from registry import repository as registry_repo
from registry.auth import Principal, Role

router = APIRouter(prefix="/v1/console", tags=["regulator console"])
Now = Annotated[dt.datetime, Depends(clock)]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]

_ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")


# -- overview ---------------------------------------------------------------------------
class DayChecks(BaseModel):
    day: dt.date
    verdict: str
    n: int


class OverviewOut(BaseModel):
    companies: dict[str, int] = Field(description="companies by licence status")
    guards: dict[str, int] = Field(description="guards by status")
    certificates: dict[str, int] = Field(description="certificates by status")
    lists: dict[str, int] = Field(description="companies on the red, black and abnormal lists")
    pending: dict[str, int] = Field(description="held duplicates and issuance requests")
    active_bans: int
    checks: list[DayChecks] = Field(description="checkpoint verifications per day, 14 days")


@router.get("/overview", response_model=OverviewOut, summary="The day's figures (regulator)")
def overview(request: Request, principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        out = console_repository.overview(cur, today=now.date())
        out["checks"] = console_repository.checks_per_day(
            cur, since=now - dt.timedelta(days=14))
    return out


# -- guard search -----------------------------------------------------------------------
class GuardHit(BaseModel):
    id: str = Field(description="the guard's public id")
    name: str
    id_number_masked: str
    status: str
    company_id: int | None
    company_name: str | None
    district: str | None


class GuardSearchOut(BaseModel):
    matched_by: Literal["id_number", "certificate", "name", "guard_id"]
    items: list[GuardHit]


def _hit(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(row["public_id"]), "name": row["name"],
            "id_number_masked": mask_id_number(row["id_number"]), "status": row["status"],
            "company_id": row.get("company_id"), "company_name": row.get("company_name"),
            "district": row.get("district")}


@router.get("/guards", response_model=GuardSearchOut,
            summary="Find guards by name, ID number, certificate number or public guard id")
def search_guards(request: Request, principal: Regulator,
                  q: Annotated[str, Query(min_length=1, max_length=64)]) -> Any:
    q = q.strip()
    with runtime(request).db.transaction(readonly=True) as cur:
        if _ID_NUMBER.match(q):
            row = registry_repo.get_guard_by_id_number(cur, q.upper())
            return {"matched_by": "id_number", "items": [_hit(row)] if row else []}
        internal = _guard_by_public_id(cur, q)
        if internal is not None:
            row = registry_repo.get_guard(cur, internal)
            if row is not None:
                return {"matched_by": "guard_id", "items": [_hit(row)]}
        if re.fullmatch(r"[0-9A-Za-z-]{8,40}", q):
            cert = cert_repo.get_by_number(cur, q.upper())
            if cert is not None:
                row = registry_repo.get_guard(cur, int(cert["guard_id"]))
                return {"matched_by": "certificate", "items": [_hit(row)] if row else []}
        rows = registry_repo.search_guards_by_name(cur, q, limit=50)
    return {"matched_by": "name", "items": [_hit(r) for r in rows]}


def _guard_by_public_id(cur: Any, q: str) -> int | None:
    """The internal id of the guard whose public id is ``q`` (URLs and answers name guards
    by public id only; the internal number finds nothing)."""
    import uuid

    try:
        public = str(uuid.UUID(q))
    except ValueError:
        return None
    return registry_repo.guard_id_of(cur, public)


class GuardBan(BaseModel):
    id: int
    id_number_masked: str
    reason: str
    until_on: dt.date | None
    created_at: dt.datetime
    lifted_at: dt.datetime | None
    in_force: bool


class GuardBansOut(BaseModel):
    items: list[GuardBan]


@router.get("/guards/{guard_id}/bans", response_model=GuardBansOut,
            summary="Every ban of this guard's ID number, lifted or not")
def guard_bans(guard_id: GuardRef, request: Request, principal: Regulator, now: Now) -> Any:
    from registry.errors import NotFound

    with runtime(request).db.transaction(readonly=True) as cur:
        guard = registry_repo.get_guard(cur, guard_id)
        if guard is None:
            raise NotFound("no such guard")
        rows = registry_repo.bans_of_guard(cur, guard_id)
    today = now.date()
    return {"items": [{
        "id": r["id"], "id_number_masked": mask_id_number(r["id_number"]),
        "reason": r["reason"], "until_on": r["until_on"], "created_at": r["created_at"],
        "lifted_at": r["lifted_at"],
        "in_force": r["lifted_at"] is None and (r["until_on"] is None or r["until_on"] >= today),
    } for r in rows]}


# -- keys, trust list, status lists -----------------------------------------------------
class KeyOut(BaseModel):
    kid: str
    purpose: str
    alg: str
    state: str
    created_at: dt.datetime
    not_before: dt.datetime
    retired_at: dt.datetime | None
    verifiable_until: dt.datetime | None
    compromised_since: dt.datetime | None


class TrustListOut(BaseModel):
    issuer: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    keys: int
    next_trust_list_keys: int


class ShardOut(BaseModel):
    shard: int
    capacity: int
    version: int
    published_at: dt.datetime | None


class KeysOut(BaseModel):
    keys: list[KeyOut]
    trust_list: TrustListOut
    status_lists: list[ShardOut]


@router.get("/keys", response_model=KeysOut,
            summary="Signing keys, the trust list and the status lists (regulator)")
def keys(request: Request, principal: Regulator, now: Now) -> Any:
    rt = runtime(request)
    records = rt.certs.keyring.list_keys()
    tl, _ = rt.certs.trust(now)
    with rt.db.transaction(readonly=True) as cur:
        shards = cert_repo.list_shards(cur)
    return {
        "keys": [{"kid": k.kid.hex(), "purpose": k.purpose, "alg": k.alg, "state": k.state,
                  "created_at": k.created_at, "not_before": k.not_before,
                  "retired_at": k.retired_at, "verifiable_until": k.verifiable_until,
                  "compromised_since": k.compromised_since} for k in records],
        "trust_list": {"issuer": tl.issuer, "issued_at": tl.issued_at,
                       "expires_at": tl.expires_at, "keys": len(tl.keys),
                       "next_trust_list_keys": len(tl.successors)},
        "status_lists": [{"shard": r["shard"], "capacity": r["capacity"],
                          "version": r["version"], "published_at": r["published_at"]}
                         for r in shards],
    }


# -- CSV exports ------------------------------------------------------------------------
EXPORTS: dict[str, tuple[str, ...]] = {
    "companies": ("id", "name", "credit_code", "kind", "district", "status", "red_list",
                  "black_list", "abnormal_operations", "licence_number"),
    "guards": ("id", "name", "id_number_masked", "status", "skill_level", "company_id",
               "company_name", "district", "employed_since"),
    "bans": ("id", "id_number_masked", "reason", "until_on", "company_id", "created_by",
             "created_at", "lifted_at"),
}
EXPORT_LIMIT = 200_000


def _export_rows(cur: Any, what: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = 0
    while len(rows) < EXPORT_LIMIT:
        if what == "companies":
            page = registry_repo.list_companies(cur, after_id=after, limit=1000)
        elif what == "guards":
            page = registry_repo.list_guards(cur, after_id=after, limit=1000)
        else:
            page = registry_repo.list_bans(cur, after_id=after, limit=1000)
        for r in page:
            if "id_number" in r:
                r["id_number_masked"] = mask_id_number(r["id_number"])
        rows += page
        if len(page) < 1000:
            break
        after = int(page[-1]["id"])
    return rows


@router.get("/exports/{what}.csv", response_class=Response,
            summary="CSV export: companies, guards or bans (ID numbers masked)")
def export_csv(request: Request, principal: Regulator, now: Now,
               what: Annotated[Literal["companies", "guards", "bans"], Path()]) -> Response:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = _export_rows(cur, what)
    if what == "guards":  # guards leave the system under their public id only
        rows = [{**r, "id": str(r["public_id"])} for r in rows]
    out = io.StringIO()
    out.write("\ufeff")  # so that spreadsheets read the Chinese names as UTF-8
    writer = csv_export.dict_writer(out, EXPORTS[what], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    name = f"guardreg-{what}-{now:%Y%m%d}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})
