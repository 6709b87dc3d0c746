"""The audit transparency log on a real PostgreSQL: sequencing, proofs, checkpoints."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest

from certificates import transparency_log as tlog
from certificates.signing.keyring import Keyring
from certificates.transparency import (
    CompactRange,
    TransparencyError,
    leaf_hash,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from registry import audit

NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def _events(rt: Any, n: int, start: int = 0) -> None:
    with rt.db.transaction() as cur:
        for i in range(start, start + n):
            audit.record(cur, actor=audit.SYSTEM, action="test.event", target_type="t",
                         target_id=i, data={"name": f"person {i}"})


def _expected_leaves(rt: Any) -> list[bytes]:
    with rt.db.transaction(readonly=True) as cur:
        rows = audit.event_digests(cur, after_seq=0, limit=100_000)
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
    return [leaf_hash(d) for _, d in rows]


def _root(leaves: list[bytes]) -> bytes:
    edge = CompactRange()
    for leaf in leaves:
        edge.append(leaf)
    return edge.root()


def test_the_sequencer_appends_each_event_once_in_order(fresh_runtime: Any) -> None:
    _events(fresh_runtime, 13)
    with fresh_runtime.db.transaction() as cur:
        first = tlog.integrate(cur, batch=4)
        again = tlog.integrate(cur)
    assert (first.tree_size, first.added, again.added) == (13, 13, 0)
    _events(fresh_runtime, 6, start=13)
    with fresh_runtime.db.transaction() as cur:
        second = tlog.integrate(cur, batch=5)
        stored = tlog.stored_root(cur, 19)
        page = tlog.leaves(cur, start=0, end=19)
    leaves = _expected_leaves(fresh_runtime)
    assert (second.tree_size, second.added) == (19, 6)
    assert stored == _root(leaves) and page == leaves
    # The leaf is a hash of the event's digest: no event text in the log.
    with fresh_runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT hash FROM certificates_log_node")
        blobs = b"".join(bytes(r["hash"]) for r in cur.fetchall())
    assert b"person" not in blobs


def test_proofs_from_the_database_verify(fresh_runtime: Any) -> None:
    _events(fresh_runtime, 21)
    with fresh_runtime.db.transaction() as cur:
        tlog.integrate(cur)
    leaves = _expected_leaves(fresh_runtime)
    with fresh_runtime.db.transaction(readonly=True) as cur:
        for size in (1, 8, 13, 21):
            root = _root(leaves[:size])
            for index in range(size):
                proof = tlog.prove_inclusion(cur, index=index, size=size)
                assert proof.leaf_hash == leaves[index]
                verify_inclusion(index, size, leaves[index], proof.hashes, root)
            for first in range(1, size + 1):
                cons = tlog.prove_consistency(cur, first=first, second=size)
                verify_consistency(first, size, _root(leaves[:first]), root, cons.hashes)
        with pytest.raises(TransparencyError) as exc:
            tlog.prove_inclusion(cur, index=0, size=22)
        assert exc.value.code == "tlog-out-of-range"
        with pytest.raises(TransparencyError):
            tlog.leaves(cur, start=0, end=1001)


def _signer(tmp_path: Path) -> tuple[Any, bytes]:
    ring = Keyring(tmp_path / "keys", passphrase=b"p" * 40)
    rec = ring.generate("log", now=NOW)
    return ring.signer("log"), rec.spki


def test_checkpoints_are_reused_until_the_tree_grows(fresh_runtime: Any, tmp_path: Path) -> None:
    signer, spki = _signer(tmp_path)
    _events(fresh_runtime, 5)
    with fresh_runtime.db.transaction() as cur:
        one = tlog.publish_checkpoint(cur, signer=signer, origin="t/audit-log", now=NOW)
        same = tlog.publish_checkpoint(cur, signer=signer, origin="t/audit-log",
                                       now=NOW + dt.timedelta(minutes=5))
    assert one.note == same.note and one.tree_size == 5
    cp = verify_checkpoint(one.note, [spki], origin="t/audit-log")
    assert cp.root == _root(_expected_leaves(fresh_runtime))
    _events(fresh_runtime, 3, start=5)
    with fresh_runtime.db.transaction() as cur:
        two = tlog.publish_checkpoint(cur, signer=signer, origin="t/audit-log",
                                      now=NOW + dt.timedelta(minutes=6))
        stale = tlog.publish_checkpoint(cur, signer=signer, origin="t/audit-log",
                                        now=NOW + dt.timedelta(hours=2))
    assert two.tree_size == 8 and two.note != one.note
    assert stale.tree_size == 8 and stale.signed_at == NOW + dt.timedelta(hours=2)
    # Polled often, the log signs at most once per interval, even as events arrive.
    _events(fresh_runtime, 2, start=8)
    with fresh_runtime.db.transaction() as cur:
        soon = tlog.publish_checkpoint(cur, signer=signer, origin="t/audit-log",
                                       now=NOW + dt.timedelta(hours=2, seconds=5),
                                       min_interval=dt.timedelta(seconds=10))
        later = tlog.publish_checkpoint(cur, signer=signer, origin="t/audit-log",
                                        now=NOW + dt.timedelta(hours=2, seconds=11),
                                        min_interval=dt.timedelta(seconds=10))
    assert soon.note == stale.note and later.tree_size == 10


def test_the_signer_refuses_a_tree_that_no_longer_extends_its_checkpoint(
        fresh_runtime: Any, tmp_path: Path) -> None:
    signer, _ = _signer(tmp_path)
    _events(fresh_runtime, 6)
    with fresh_runtime.db.transaction() as cur:
        tlog.publish_checkpoint(cur, signer=signer, origin="t/audit-log", now=NOW)
    with fresh_runtime.db.transaction() as cur:
        cur.execute("ALTER TABLE certificates_log_node DISABLE TRIGGER USER")
        cur.execute("UPDATE certificates_log_node SET hash = %s WHERE level = 0 AND idx = 2",
                    (hashlib.sha256(b"forged").digest(),))
        cur.execute("DELETE FROM certificates_log_node WHERE level > 0")
        cur.execute("ALTER TABLE certificates_log_node ENABLE TRIGGER USER")
    with pytest.raises(tlog.LogInconsistent), fresh_runtime.db.transaction() as cur:
        tlog.publish_checkpoint(cur, signer=signer, origin="t/audit-log",
                                now=NOW + dt.timedelta(hours=2))


def test_the_sequencer_stops_at_a_deleted_event(fresh_runtime: Any,
                                               caplog: pytest.LogCaptureFixture) -> None:
    _events(fresh_runtime, 5)
    with fresh_runtime.db.transaction() as cur:
        cur.execute("ALTER TABLE registry_audit_event DISABLE TRIGGER USER")
        cur.execute("DELETE FROM registry_audit_event WHERE seq = 4")
        cur.execute("ALTER TABLE registry_audit_event ENABLE TRIGGER USER")
        done = tlog.integrate(cur)
        rebuilt = tlog.recompute(cur, at_size=3)
    assert (done.tree_size, done.stopped_at_gap) == (3, 4)
    assert "audit event 4 is missing" in caplog.text
    assert (rebuilt.tree_size, rebuilt.stopped_at_gap) == (3, 4)
    assert rebuilt.root_at == _root(_expected_leaves_until(fresh_runtime, 3))


def _expected_leaves_until(rt: Any, n: int) -> list[bytes]:
    with rt.db.transaction(readonly=True) as cur:
        return [leaf_hash(d) for _, d in audit.event_digests(cur, after_seq=0, limit=n)]


def test_recompute_names_the_event_that_differs_from_its_leaf(fresh_runtime: Any) -> None:
    _events(fresh_runtime, 9)
    with fresh_runtime.db.transaction() as cur:
        tlog.integrate(cur)
        honest = tlog.recompute(cur, at_size=9)
        assert honest.first_stored_mismatch is None and honest.root_at == tlog.stored_root(cur, 9)
        cur.execute("ALTER TABLE registry_audit_event DISABLE TRIGGER USER")
        cur.execute("""UPDATE registry_audit_event SET data = '{"name": "someone else"}'"""
                    " WHERE seq = 7")
        cur.execute("ALTER TABLE registry_audit_event ENABLE TRIGGER USER")
        tampered = tlog.recompute(cur, at_size=9)
        assert tampered.first_stored_mismatch == 6  # leaf index of seq 7
        assert tampered.root_at != honest.root_at
