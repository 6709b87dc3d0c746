"""Merkle math, proofs and checkpoints of the transparency log (no database)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certificates.signing.keyring import Keyring
from certificates.signing.signer import Signer
from certificates.transparency import (
    EMPTY_ROOT,
    Checkpoint,
    CompactRange,
    NodeReader,
    TransparencyError,
    consistency_proof,
    frontier,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_needed,
    parse_checkpoint,
    root_hash,
    sign_checkpoint,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)

NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def naive_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 section 2.1, on leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def stored_tree(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete subtree, as the sequencer stores them (via CompactRange)."""
    edge = CompactRange()
    out: dict[tuple[int, int], bytes] = {}
    for leaf in leaves:
        for level, idx, h in edge.append(leaf):
            out[(level, idx)] = h
    return out


def reader(nodes: dict[tuple[int, int], bytes]) -> NodeReader:
    return lambda level, idx: nodes[(level, idx)]


def leaves_of(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


# The RFC 6962 reference tree (Certificate Transparency's merkle tree test inputs).
RFC_INPUTS = [bytes.fromhex(h) for h in
              ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
               "606162636465666768696a6b6c6d6e6f"]]


def test_reference_roots() -> None:
    leaves = [leaf_hash(d) for d in RFC_INPUTS]
    assert leaves[0].hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert naive_root(leaves).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    edge = CompactRange()
    for leaf in leaves:
        edge.append(leaf)
    assert edge.root() == naive_root(leaves)
    assert CompactRange().root() == EMPTY_ROOT


@pytest.mark.parametrize("n", range(0, 70))
def test_stored_nodes_and_compact_range_give_the_rfc_root(n: int) -> None:
    leaves = leaves_of(n)
    nodes = stored_tree(leaves)
    assert root_hash(n, reader(nodes)) == naive_root(leaves)
    # A compact range rebuilt from the stored frontier continues where it stopped.
    edge = CompactRange(n, [nodes[i] for i in frontier(n)])
    more = leaves_of(5, b"more")
    for leaf in more:
        edge.append(leaf)
    assert edge.root() == naive_root(leaves + more)


def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not() -> None:
    for n in range(1, 40):
        leaves = leaves_of(n)
        get = reader(stored_tree(leaves))
        root = naive_root(leaves)
        for i in range(n):
            proof = inclusion_proof(i, n, get)
            verify_inclusion(i, n, leaves[i], proof, root)
            with pytest.raises(TransparencyError):
                verify_inclusion(i, n, leaf_hash(b"other"), proof, root)
            if proof:
                bad = [*proof[:-1], bytes(32)]
                with pytest.raises(TransparencyError):
                    verify_inclusion(i, n, leaves[i], bad, root)
                with pytest.raises(TransparencyError):
                    verify_inclusion(i, n, leaves[i], proof[:-1], root)
            with pytest.raises(TransparencyError):
                verify_inclusion(i, n, leaves[i], [*proof, bytes(32)], root)


def test_every_consistency_proof_verifies_and_a_rewrite_fails() -> None:
    for n in range(1, 34):
        leaves = leaves_of(n)
        get = reader(stored_tree(leaves))
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, get)
            verify_consistency(m, n, naive_root(leaves[:m]), naive_root(leaves), proof)
            # The same first tree with one leaf rewritten is not extended by this tree.
            forged = list(leaves[:m])
            forged[m // 2] = leaf_hash(b"rewritten")
            with pytest.raises(TransparencyError):
                verify_consistency(m, n, naive_root(forged), naive_root(leaves), proof)
            if proof:
                with pytest.raises(TransparencyError):
                    verify_consistency(m, n, naive_root(leaves[:m]), naive_root(leaves),
                                       proof[:-1])


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5000), st.data())
def test_proofs_at_random_sizes(n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(1, n))
    i = data.draw(st.integers(0, n - 1))
    leaves = leaves_of(n)
    get = reader(stored_tree(leaves))
    root = root_hash(n, get)
    verify_inclusion(i, n, leaves[i], inclusion_proof(i, n, get), root)
    verify_consistency(m, n, root_hash(m, get), root, consistency_proof(m, n, get))
    # Proofs read O(log n) stored subtrees.
    assert len(nodes_needed(lambda g: consistency_proof(m, n, g))) <= 2 * n.bit_length() + 2


def test_a_proof_outside_the_tree_is_refused() -> None:
    get = reader(stored_tree(leaves_of(4)))
    for index, size in [(4, 4), (-1, 4), (0, 0)]:
        with pytest.raises(TransparencyError) as exc:
            inclusion_proof(index, size, get)
        assert exc.value.code == "tlog-out-of-range"
    for first, second in [(0, 4), (5, 4), (-1, 2)]:
        with pytest.raises(TransparencyError):
            consistency_proof(first, second, get)


def test_equal_sizes_need_equal_roots() -> None:
    verify_consistency(3, 3, b"a" * 32, b"a" * 32, [])
    with pytest.raises(TransparencyError, match="different roots"):
        verify_consistency(3, 3, b"a" * 32, b"b" * 32, [])


# -- checkpoints ---------------------------------------------------------------------------
def _signer(tmp_path: Path, alg: str = "ES256", name: str = "k") -> tuple[Signer, bytes]:
    ring = Keyring(tmp_path / name, passphrase=b"x" * 40)
    rec = ring.generate("log", alg, now=NOW)
    return ring.signer("log"), rec.spki


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_checkpoint_round_trip(tmp_path: Path, alg: str) -> None:
    signer, spki = _signer(tmp_path, alg)
    root = naive_root(leaves_of(7))
    signed = sign_checkpoint(Checkpoint("guardreg-test/audit-log", 7, root, NOW), signer)
    lines = signed.text.split("\n")
    assert lines[:4] == ["guardreg-test/audit-log", "7", base64.b64encode(root).decode(),
                         f"timestamp {int(NOW.timestamp())}"]
    assert lines[4] == "" and lines[5].startswith("\u2014 guardreg-test/audit-log ")
    cp = verify_checkpoint(signed.text, [spki], origin="guardreg-test/audit-log")
    assert (cp.size, cp.root, cp.timestamp) == (7, root, NOW)
    assert verify_checkpoint(signed.text.encode(), [spki]).size == 7


def test_checkpoint_refuses_other_keys_and_edits(tmp_path: Path) -> None:
    signer, spki = _signer(tmp_path)
    _, other = _signer(tmp_path, name="other")
    root = naive_root(leaves_of(3))
    text = sign_checkpoint(Checkpoint("o/audit-log", 3, root, NOW), signer).text
    with pytest.raises(TransparencyError) as exc:
        verify_checkpoint(text, [other])
    assert exc.value.code == "tlog-bad-signature"
    bigger = text.replace("\n3\n", "\n4\n", 1)
    with pytest.raises(TransparencyError) as exc:
        verify_checkpoint(bigger, [spki])
    assert exc.value.code == "tlog-bad-signature"
    with pytest.raises(TransparencyError) as exc:
        verify_checkpoint(text, [spki], origin="another/audit-log")
    assert exc.value.code == "tlog-wrong-log"


@pytest.mark.parametrize("text", [
    "", "\n\n", "o\n1\nAAAA\ntimestamp 1\n\n\u2014 o AAAA\n",
    "o\n01\n" + base64.b64encode(bytes(32)).decode() + "\ntimestamp 1\n\n\u2014 o "
    + base64.b64encode(bytes(72)).decode() + "\n",
    "o\n1\n" + base64.b64encode(bytes(32)).decode() + "\ntimestamp x\n\n\u2014 o "
    + base64.b64encode(bytes(72)).decode() + "\n",
    "o\n1\n" + base64.b64encode(bytes(32)).decode() + "\ntimestamp 1\n\n- o "
    + base64.b64encode(bytes(72)).decode() + "\n",
    "x" * 9000,
])
def test_malformed_checkpoints_raise_the_one_error(text: str) -> None:
    with pytest.raises(TransparencyError) as exc:
        parse_checkpoint(text)
    assert exc.value.code == "tlog-bad-checkpoint"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_parse_or_raise_the_documented_error(raw: bytes) -> None:
    code = None
    try:
        parse_checkpoint(raw)
    except TransparencyError as exc:
        code = exc.code
    assert code in (None, "tlog-bad-checkpoint")
