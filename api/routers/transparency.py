"""The audit transparency log, public: checkpoints, proofs, leaf hashes, the log key.

Everything here is hashes, sizes and times: no audit event content and no personal data.
Public on purpose (no ``require``): witnesses and auditors are other parties.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from api.deps import clock, runtime
from certificates import transparency_log
from certificates.transparency import MAX_TREE_SIZE
from registry.errors import BadRequest

router = APIRouter(prefix="/v1/transparency", tags=["transparency"])
Now = Annotated[dt.datetime, Depends(clock)]
TreeSize = Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)]


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


class LogKey(BaseModel):
    kid: str
    alg: str
    spki: str
    state: str


class LogKeys(BaseModel):
    origin: str
    keys: list[LogKey]


class InclusionOut(BaseModel):
    index: int
    seq: int
    tree_size: int
    leaf_hash: str
    hashes: list[str]


class ConsistencyOut(BaseModel):
    first: int
    second: int
    hashes: list[str]


class LeavesOut(BaseModel):
    start: int
    end: int
    leaf_hashes: list[str]


def _origin(request: Request) -> str:
    return transparency_log.log_origin(runtime(request).settings.issuer)


@router.get("/checkpoint", response_class=PlainTextResponse,
            summary="The newest signed checkpoint of the audit log (public)")
def checkpoint(request: Request, now: Now) -> PlainTextResponse:
    """Sequences new audit events into the tree first, then signs a checkpoint if the
    tree grew (at most every ``transparency_checkpoint_interval_s``) or the last one is
    ``transparency_checkpoint_max_age_s`` old. C2SP tlog-checkpoint text."""
    rt = runtime(request)
    settings = rt.settings
    with rt.db.transaction() as cur:
        published = transparency_log.publish_checkpoint(
            cur, signer=rt.certs.signer("log"), origin=_origin(request), now=now,
            min_interval=dt.timedelta(seconds=settings.transparency_checkpoint_interval_s),
            max_age=dt.timedelta(seconds=settings.transparency_checkpoint_max_age_s))
    return PlainTextResponse(published.note, headers={"Cache-Control": "no-store"})


@router.get("/key", summary="The public key(s) that sign checkpoints (public)")
def log_key(request: Request) -> LogKeys:
    records = runtime(request).certs.keyring.list_keys("log")
    return LogKeys(origin=_origin(request), keys=[
        LogKey(kid=r.kid.hex(), alg=r.alg, spki=_b64(r.spki), state=r.state) for r in records])


@router.get("/proof/inclusion", summary="Inclusion proof of one leaf (public)")
def proof_inclusion(request: Request, size: TreeSize,
                    index: Annotated[int | None, Query(ge=0, le=MAX_TREE_SIZE)] = None,
                    seq: Annotated[int | None, Query(ge=1, le=MAX_TREE_SIZE)] = None,
                    ) -> InclusionOut:
    """The leaf by ``index`` or by audit event ``seq`` (leaf index = seq - 1)."""
    if (index is None) == (seq is None):
        raise BadRequest("give exactly one of index and seq")
    leaf = index if index is not None else (seq or 1) - 1
    with runtime(request).db.transaction(readonly=True) as cur:
        proof = transparency_log.prove_inclusion(cur, index=leaf, size=size)
    return InclusionOut(index=proof.index, seq=proof.index + 1, tree_size=proof.tree_size,
                        leaf_hash=_b64(proof.leaf_hash), hashes=[_b64(h) for h in proof.hashes])


@router.get("/proof/consistency", summary="Consistency proof between two tree sizes (public)")
def proof_consistency(request: Request, first: Annotated[int, Query(ge=1, le=MAX_TREE_SIZE)],
                      second: Annotated[int, Query(ge=1, le=MAX_TREE_SIZE)]) -> ConsistencyOut:
    if first > second:
        raise BadRequest("first must not be larger than second")
    with runtime(request).db.transaction(readonly=True) as cur:
        proof = transparency_log.prove_consistency(cur, first=first, second=second)
    return ConsistencyOut(first=proof.first, second=proof.second,
                          hashes=[_b64(h) for h in proof.hashes])


@router.get("/leaves", summary="Leaf hashes [start, end), at most 1000 (public)")
def leaves(request: Request, start: TreeSize,
           end: Annotated[int, Query(ge=1, le=MAX_TREE_SIZE)]) -> LeavesOut:
    with runtime(request).db.transaction(readonly=True) as cur:
        hashes = transparency_log.leaves(cur, start=start, end=end)
    return LeavesOut(start=start, end=end, leaf_hashes=[_b64(h) for h in hashes])
