"""Status lists kept in step with the certificate table, and online status lookups.

Each shard's list is rebuilt from the certificate rows and re-signed inside the
transaction that changes a status, after locking the shard row: concurrent changes
to one shard queue on that lock, and (READ COMMITTED) each rebuild sees every change
committed before it, so the published list never lags the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from certificates import repository
from certificates.cose import SigningKey
from certificates.statuslist import (
    REVOKED,
    SUSPENDED,
    VALID,
    StatusList,
    StatusListShards,
    sign_status_list,
)
from registry.db import Cursor

STATUS_VALUES = {"valid": VALID, "revoked": REVOKED, "suspended": SUSPENDED}


@dataclass(frozen=True)
class StatusConfig(StatusListShards):
    """Where the lists live (shards of ``capacity`` entries) and how long tokens last."""

    validity: dt.timedelta = dt.timedelta(hours=24)
    ttl: dt.timedelta = dt.timedelta(minutes=5)


def build_list(cur: Cursor, shard: int, capacity: int) -> StatusList:
    sl = StatusList(capacity)
    for idx, status in repository.non_valid_entries(cur, shard):
        sl.set(idx, STATUS_VALUES[status])
    return sl


def publish(cur: Cursor, *, shard: int, signer: SigningKey, config: StatusConfig,
            now: dt.datetime, locked: bool = False) -> bytes:
    """Rebuild, sign and store shard ``shard``'s status list token; returns it."""
    row = repository.get_shard(cur, shard) if locked else repository.lock_shard(cur, shard)
    if row is None:
        raise LookupError(f"no status list shard {shard}")
    sl = build_list(cur, shard, int(row["capacity"]))
    token = sign_status_list(sl, uri=row["uri"], signer=signer, now=now,
                             validity=config.validity, ttl=config.ttl)
    repository.store_token(cur, shard, token, now)
    return token


def current_token(cur: Cursor, *, shard: int, signer: SigningKey, config: StatusConfig,
                  now: dt.datetime) -> tuple[bytes, dt.datetime] | None:
    """The stored token, re-signed first when it is older than half its TTL."""
    row = repository.get_shard(cur, shard)
    if row is None:
        return None
    published = row["published_at"]
    if row["token"] is None or published is None or now - published > config.ttl / 2:
        return publish(cur, shard=shard, signer=signer, config=config, now=now), now
    return bytes(row["token"]), published


def shards(cur: Cursor) -> list[dict[str, Any]]:
    """The published status list shards, in shard order: the public index of lists."""
    return [{"shard": r["shard"], "uri": r["uri"], "capacity": r["capacity"],
             "version": r["version"], "published_at": r["published_at"]}
            for r in repository.list_shards(cur)]


def allocate(cur: Cursor, *, config: StatusConfig) -> tuple[int, int, str]:
    """A random free ``(shard, idx, uri)``; opens a new shard when the open ones are full.

    The URI is the one the shard was created with, not one made from today's base URL:
    every certificate of a shard names the same list, the list is signed under that
    name, and a changed public base URL applies to new shards only (the old host name
    must keep answering while certificates that name it live; see docs/OPERATIONS.md)."""
    import secrets

    row = repository.open_shard_for_allocation(cur, config.fill_limit)
    if row is None:
        shard = repository.max_shard(cur) + 1
        repository.ensure_shard(cur, shard, config.uri(shard), config.capacity)
        row = repository.lock_shard(cur, shard)
        assert row is not None
    shard, capacity, uri = int(row["shard"]), int(row["capacity"]), str(row["uri"])
    for _ in range(256):
        idx = secrets.randbelow(capacity)
        if not repository.index_taken(cur, shard, idx):
            repository.bump_allocated(cur, shard)
            return shard, idx, uri
    raise RuntimeError("could not find a free status index")  # pragma: no cover


def online_status(cur: Cursor, *, config: StatusConfig, uri: str, idx: int,
                  now: dt.datetime) -> tuple[int, dt.datetime]:
    """Live status straight from the certificate table (used by online verification)."""
    shard = config.shard_of(uri)
    if shard is None:
        # A list named under an earlier public base URL: found by the name it was made with.
        shard = repository.shard_by_uri(cur, uri)
    if shard is None:
        raise LookupError("unknown status list")
    row = repository.get_by_status_ref(cur, shard, idx)
    if row is None:
        raise LookupError("no such status entry")
    # pending or failed certificates were never valid: report them as revoked.
    return STATUS_VALUES.get(row["status"], REVOKED), now
