"""Read endpoints of the regulator console (``/regulator``, docs/web.md) that the other
routers do not offer: the day's figures, one search box for guards (name, ID number or
certificate number), the signing keys with the trust list and status lists, and CSV
exports. Regulator only; ID numbers are masked in lists and exports."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api import csv_export
from api.access import GuardRef
from api.deps import clock, require, runtime
from api.schemas import mask_id_number
from api.usecases import console
from registry import queries
from registry.auth import Principal, Role

router = APIRouter(prefix="/v1/console", tags=["regulator console"])
Now = Annotated[dt.datetime, Depends(clock)]
Regulator = Annotated[Principal, Depends(require(Role.REGULATOR))]


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
    checks: list[DayChecks] = Field(
        description=f"checkpoint verifications per day, {console.CHECKS_DAYS} days")


@router.get("/overview", response_model=OverviewOut, summary="The day's figures (regulator)")
def overview(request: Request, principal: Regulator, now: Now) -> Any:
    with runtime(request).db.transaction(readonly=True) as cur:
        return console.overview(cur, now=now)


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
    with runtime(request).db.transaction(readonly=True) as cur:
        found = console.find_guards(cur, q)
    return {"matched_by": found.matched_by, "items": [_hit(r) for r in found.guards]}


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
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = queries.bans_of_guard(cur, guard_id, today=now.date())
    return {"items": [{
        "id": r["id"], "id_number_masked": mask_id_number(r["id_number"]),
        "reason": r["reason"], "until_on": r["until_on"], "created_at": r["created_at"],
        "lifted_at": r["lifted_at"], "in_force": r["in_force"],
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
    found = console.keys(rt.db, rt.certs, now)
    tl = found.trust_list
    return {
        "keys": [{"kid": k.kid.hex(), "purpose": k.purpose, "alg": k.alg, "state": k.state,
                  "created_at": k.created_at, "not_before": k.not_before,
                  "retired_at": k.retired_at, "verifiable_until": k.verifiable_until,
                  "compromised_since": k.compromised_since} for k in found.keys],
        "trust_list": {"issuer": tl.issuer, "issued_at": tl.issued_at,
                       "expires_at": tl.expires_at, "keys": len(tl.keys),
                       "next_trust_list_keys": len(tl.successors)},
        "status_lists": [{"shard": r["shard"], "capacity": r["capacity"],
                          "version": r["version"], "published_at": r["published_at"]}
                         for r in found.status_lists],
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


@router.get("/exports/{what}.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}},
            summary="CSV export: companies, guards or bans (ID numbers masked)")
def export_csv(request: Request, principal: Regulator, now: Now,
               what: Annotated[Literal["companies", "guards", "bans"], Path()]) -> Response:
    with runtime(request).db.transaction(readonly=True) as cur:
        rows = queries.export(cur, what)
    for r in rows:
        if "id_number" in r:
            r["id_number_masked"] = mask_id_number(r["id_number"])
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
