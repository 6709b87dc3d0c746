"""The audit transparency log: sequencing audit events into the tree, signing
checkpoints, serving proofs.

The sequencer (:func:`integrate`) is deterministic: leaf ``i`` is audit event ``seq
i + 1``, appended in ``seq`` order, and its data is the event's digest (SHA-256 of its
canonical bytes, ``registry.audit.event_digests``). It runs before every checkpoint is
signed (:func:`publish_checkpoint`), under one advisory lock, in the caller's
transaction. Appends cost O(log n) rows; a proof or root reads O(log n) stored subtrees
in one query.

Before signing, the signer checks that the stored tree still extends the last checkpoint
it signed (same root at that size), so the service never signs a rolled-back or
rewritten tree itself; witnesses check the same from outside (``guardreg audit
witness``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from certificates import transparency_repository as repo
from certificates.transparency import (
    Checkpoint,
    CompactRange,
    NodeReader,
    SigningKey,
    TransparencyError,
    consistency_proof,
    frontier,
    inclusion_proof,
    leaf_hash,
    nodes_needed,
    root_hash,
    sign_checkpoint,
)
from registry import audit
from registry.db import Cursor

log = logging.getLogger(__name__)
MAX_LEAVES_PER_PAGE = 1000
CHECKPOINT_MAX_AGE = dt.timedelta(hours=1)


def log_origin(issuer: str) -> str:
    """The checkpoint origin line of this registry's audit log."""
    return f"{issuer}/audit-log"


class LogInconsistent(TransparencyError):
    """The stored tree no longer extends the last signed checkpoint: refuse to sign."""

    status = 409
    code = "tlog-inconsistent"
    title = "The audit log no longer extends its last checkpoint"


@dataclass(frozen=True)
class Integrated:
    tree_size: int
    added: int
    stopped_at_gap: int | None = None  # the missing event seq, if the sequencer hit one


def integrate(cur: Cursor, *, batch: int = 5000, max_events: int = 100_000) -> Integrated:
    """Append the audit events not yet in the tree, in seq order. Stops at a missing
    seq (a deleted event): the tree never skips one."""
    repo.lock(cur)
    size = repo.tree_size(cur)
    start = size
    ids = frontier(size)
    have = repo.nodes(cur, ids)
    if len(have) != len(ids):
        raise LogInconsistent("the stored tree is missing nodes of its right edge")
    edge = CompactRange(size, [have[i] for i in ids])
    gap: int | None = None
    while size - start < max_events and gap is None:
        rows = audit.event_digests(cur, after_seq=size, limit=min(batch, max_events - size + start))
        if not rows:
            break
        made: list[tuple[int, int, bytes]] = []
        for seq, digest in rows:
            if seq != size + 1:
                gap = size + 1
                break
            made.extend(edge.append(leaf_hash(digest)))
            size += 1
        if made:
            repo.insert_nodes(cur, made)
    if gap is not None:
        log.error("audit event %d is missing: the transparency log cannot grow past it", gap)
    return Integrated(size, size - start, gap)


def _reader(cur: Cursor, compute: Callable[[NodeReader], object]) -> NodeReader:
    """A reader over the stored nodes ``compute`` needs, fetched in one query."""
    wanted = nodes_needed(compute)
    found = repo.nodes(cur, wanted)
    if len(found) != len(wanted):
        raise LogInconsistent("the stored tree is missing nodes")
    return lambda level, idx: found[(level, idx)]


def stored_root(cur: Cursor, size: int) -> bytes:
    def compute(get: NodeReader) -> bytes:
        return root_hash(size, get)

    return compute(_reader(cur, compute))


@dataclass(frozen=True)
class PublishedCheckpoint:
    tree_size: int
    root_hash: bytes
    signed_at: dt.datetime
    note: str


def publish_checkpoint(cur: Cursor, *, signer: SigningKey, origin: str, now: dt.datetime,
                       min_interval: dt.timedelta = dt.timedelta(0),
                       max_age: dt.timedelta = CHECKPOINT_MAX_AGE) -> PublishedCheckpoint:
    """Sequence new events, then return the newest checkpoint: the stored one if it is
    younger than ``min_interval``, or covers the whole tree and is younger than
    ``max_age``; else a new one."""
    done = integrate(cur)
    last = repo.latest_checkpoint(cur)
    if last is not None:
        last_size = int(last["tree_size"])
        if last_size > done.tree_size or (
                last_size and stored_root(cur, last_size) != bytes(last["root_hash"])):
            raise LogInconsistent(
                f"the stored tree (size {done.tree_size}) does not extend the last signed"
                f" checkpoint (size {last_size}); refusing to sign")
        age = now - last["signed_at"]
        if bytes(last["kid"]) == signer.kid and (
                age < min_interval or (last_size == done.tree_size and age < max_age)):
            return PublishedCheckpoint(last_size, bytes(last["root_hash"]), last["signed_at"],
                                       last["note"])
    root = stored_root(cur, done.tree_size)
    signed = sign_checkpoint(Checkpoint(origin, done.tree_size, root, now), signer)
    repo.insert_checkpoint(cur, tree_size=done.tree_size, root_hash=root, kid=signer.kid,
                           signed_at=now, note=signed.text)
    return PublishedCheckpoint(done.tree_size, root, now, signed.text)


def _within(cur: Cursor, size: int) -> None:
    have = repo.tree_size(cur)
    if size > have:
        raise TransparencyError(f"the log holds {have} leaves, not {size}",
                                code="tlog-out-of-range")


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    hashes: list[bytes]


def prove_inclusion(cur: Cursor, *, index: int, size: int) -> InclusionProof:
    _within(cur, size)

    def compute(get: NodeReader) -> tuple[bytes, list[bytes]]:
        return get(0, index), inclusion_proof(index, size, get)

    leaf, path = compute(_reader(cur, compute))
    return InclusionProof(index, size, leaf, path)


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    hashes: list[bytes]


def prove_consistency(cur: Cursor, *, first: int, second: int) -> ConsistencyProof:
    _within(cur, second)

    def compute(get: NodeReader) -> list[bytes]:
        return consistency_proof(first, second, get)

    return ConsistencyProof(first, second, compute(_reader(cur, compute)))


def leaves(cur: Cursor, *, start: int, end: int) -> list[bytes]:
    """Leaf hashes [start, end) (at most ``MAX_LEAVES_PER_PAGE``)."""
    if not 0 <= start < end or end - start > MAX_LEAVES_PER_PAGE:
        raise TransparencyError(
            f"ask for 1 to {MAX_LEAVES_PER_PAGE} leaves with 0 <= start < end",
            code="tlog-out-of-range")
    _within(cur, end)
    return repo.leaf_hashes(cur, start, end)


@dataclass(frozen=True)
class Recomputed:
    """The tree recomputed from the audit events themselves (not the stored nodes)."""

    tree_size: int
    root_at: bytes | None  # root at the size asked for, if the events reach it
    first_stored_mismatch: int | None  # first leaf index where the stored tree differs
    stopped_at_gap: int | None


def recompute(cur: Cursor, *, at_size: int, batch: int = 5000) -> Recomputed:
    """Rebuild the tree from every audit event, note its root at ``at_size`` and the
    first leaf whose stored hash differs from the event it stands for."""
    edge = CompactRange()
    root_at = edge.root() if at_size == 0 else None
    stored_size = repo.tree_size(cur)
    mismatch: int | None = None
    gap: int | None = None
    while gap is None:
        rows = audit.event_digests(cur, after_seq=edge.size, limit=batch)
        if not rows:
            break
        first = edge.size
        stored = (repo.leaf_hashes(cur, first, min(first + len(rows), stored_size))
                  if mismatch is None and first < stored_size else [])
        for seq, digest in rows:
            if seq != edge.size + 1:
                gap = edge.size + 1
                break
            leaf = leaf_hash(digest)
            pos = edge.size - first
            if mismatch is None and pos < len(stored) and stored[pos] != leaf:
                mismatch = edge.size
            edge.append(leaf)
            if edge.size == at_size:
                root_at = edge.root()
    return Recomputed(edge.size, root_at, mismatch, gap)
