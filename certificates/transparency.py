"""Merkle-tree transparency log math, checkpoints and proof checks (no database).

Hashing is RFC 6962 / RFC 9162: ``leaf = SHA-256(0x00 || data)``,
``node = SHA-256(0x01 || left || right)``, and the tree over ``n`` leaves splits at the
largest power of two below ``n``. The log's leaves are hashes of audit events (see
``registry.audit.event_digest``), never the events themselves.

Storage-independent: a stored tree is read through a ``NodeReader`` that returns the
hash of the complete subtree ``(level, index)`` = leaves ``[index << level,
(index + 1) << level)``. Every hash a proof needs is such a subtree, and
:func:`nodes_needed` names them up front so that a repository can fetch them in one
query.

Checkpoint (C2SP tlog-checkpoint body, signed-note style; see docs/transparency.md)::

    <origin>
    <tree size, decimal>
    <root hash, base64>
    timestamp <unix seconds>

    — <origin> <base64(kid (8 bytes) || signature)>

The signature (ES256 raw ``r || s`` or Ed25519) covers the body bytes, blank line
excluded. Verifiers raise :class:`TransparencyError` and never return a bool.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from certificates import signed_note
from certificates.cose import verify_signature
from certificates.errors import AlgorithmMismatch, BadSignature, CertificateError
from certificates.keys import check_alg_key, describe_key, kid_from_spki, load_spki
from registry.errors import InvalidInput

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_TREE_SIZE = 1 << 62
MAX_NOTE_BYTES = 8192
SIGNATURE_DASH = signed_note.SIGNATURE_DASH

NodeId = tuple[int, int]  # (level, index)
NodeReader = Callable[[int, int], bytes]


class TransparencyError(CertificateError, InvalidInput):
    """A proof, checkpoint or tree request does not hold. ``code`` says which kind:
    ``tlog-bad-proof``, ``tlog-bad-checkpoint``, ``tlog-bad-signature``,
    ``tlog-out-of-range``."""

    code = "tlog-error"
    title = "Transparency log check failed"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_perfect(start: int, end: int) -> NodeId | None:
    n = end - start
    if n > 0 and n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return level, start >> level
    return None


def subtree_hash(start: int, end: int, get: NodeReader) -> bytes:
    """MTH(D[start:end]) for a range that the RFC's recursion produces."""
    if end <= start:
        return EMPTY_ROOT
    node = _is_perfect(start, end)
    if node is not None:
        return get(*node)
    k = _split(end - start)
    return node_hash(subtree_hash(start, start + k, get), subtree_hash(start + k, end, get))


def root_hash(size: int, get: NodeReader) -> bytes:
    return subtree_hash(0, size, get)


def inclusion_proof(index: int, size: int, get: NodeReader) -> list[bytes]:
    """RFC 9162 PATH(index, D[0:size]): the audit path, leaf level first."""
    _check_range(index < size and size <= MAX_TREE_SIZE and index >= 0,
                 f"leaf {index} is not in a tree of size {size}")
    return _path(index, 0, size, get)


def _path(m: int, start: int, end: int, get: NodeReader) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, start, start + k, get), subtree_hash(start + k, end, get)]
    return [*_path(m - k, start + k, end, get), subtree_hash(start, start + k, get)]


def consistency_proof(first: int, second: int, get: NodeReader) -> list[bytes]:
    """RFC 9162 PROOF(first, D[0:second]); empty when both sizes are equal."""
    _check_range(0 < first <= second <= MAX_TREE_SIZE,
                 f"no consistency proof from size {first} to size {second}")
    if first == second:
        return []
    return _subproof(first, 0, second, True, get)


def _subproof(m: int, start: int, end: int, whole: bool, get: NodeReader) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if whole else [subtree_hash(start, end, get)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, start, start + k, whole, get), subtree_hash(start + k, end, get)]
    return [*_subproof(m - k, start + k, end, False, get), subtree_hash(start, start + k, get)]


def nodes_needed(compute: Callable[[NodeReader], object]) -> list[NodeId]:
    """Which stored subtrees ``compute`` reads (run it once with a recording reader)."""
    seen: dict[NodeId, None] = {}

    def record(level: int, index: int) -> bytes:
        seen[(level, index)] = None
        return bytes(HASH_SIZE)

    compute(record)
    return list(seen)


def frontier(size: int) -> list[NodeId]:
    """The complete subtrees that make up D[0:size], largest (leftmost) first: all an
    appender needs to add leaves and all a root needs."""
    return [(level, (size >> level) - 1)
            for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]


class CompactRange:
    """The right edge of a tree: append leaf hashes, get the new complete subtrees and
    the root, in O(log n) memory. Start from an empty tree or from a stored frontier."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        ids = frontier(size)
        if len(hashes) != len(ids):
            raise ValueError(f"a tree of size {size} has {len(ids)} frontier nodes")
        self.size = size
        self._stack: list[tuple[int, bytes]] = [(lvl, h) for (lvl, _), h in zip(ids, hashes,
                                                                              strict=True)]

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return every complete subtree it completes, as
        (level, index, hash), the leaf itself first."""
        index = self.size
        made = [(0, index, leaf)]
        level, current = 0, leaf
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            current = node_hash(left, current)
            level += 1
            made.append((level, index >> level, current))
        self._stack.append((level, current))
        self.size += 1
        return made

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1][1]
        for _, h in reversed(self._stack[:-1]):
            acc = node_hash(h, acc)
        return acc


def _check_range(ok: bool, detail: str) -> None:
    if not ok:
        raise TransparencyError(detail, code="tlog-out-of-range")


def _bad_proof(detail: str) -> TransparencyError:
    return TransparencyError(detail, code="tlog-bad-proof")


def _check_hashes(hashes: Iterable[bytes]) -> list[bytes]:
    out = list(hashes)
    if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in out):
        raise _bad_proof("every proof hash must be 32 bytes")
    if len(out) > 128:
        raise _bad_proof("proof too long")
    return out


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes],
                     root: bytes) -> None:
    """RFC 9162 2.1.3.2: raise unless ``proof`` shows leaf hash ``leaf`` at ``index`` in
    the tree of ``size`` leaves with root ``root``."""
    path = _check_hashes(proof)
    if not 0 <= index < size:
        raise _bad_proof(f"leaf {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise _bad_proof("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _bad_proof("inclusion proof too short")
    if r != root:
        raise _bad_proof(f"leaf {index} is not in the tree of size {size} with that root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """RFC 9162 2.1.4.2: raise unless the tree (``second``, ``second_root``) extends the
    tree (``first``, ``first_root``)."""
    path = _check_hashes(proof)
    if not 0 < first <= second:
        raise _bad_proof(f"no consistency between sizes {first} and {second}")
    if first == second:
        if path:
            raise _bad_proof("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise _bad_proof(f"two different roots for the same size {first}")
        return
    if not path:
        raise _bad_proof("empty consistency proof")
    if first & (first - 1) == 0:
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _bad_proof("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _bad_proof("consistency proof too short")
    if fr != first_root:
        raise _bad_proof(f"the tree of size {second} does not contain the tree of size {first}"
                         " with that root")
    if sr != second_root:
        raise _bad_proof(f"the consistency proof does not lead to the root of size {second}")


# -- checkpoints ----------------------------------------------------------------------------
class SigningKey(Protocol):
    kid: bytes
    alg: str

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    timestamp: datetime

    def body(self) -> bytes:
        seconds = int(self.timestamp.timestamp())
        return (f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"
                f"timestamp {seconds}\n").encode()


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    kid: bytes
    signature: bytes
    text: str  # the whole note, as published


_ORIGIN = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,199}")
_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,18})")


def sign_checkpoint(cp: Checkpoint, signer: SigningKey) -> SignedCheckpoint:
    if not _ORIGIN.fullmatch(cp.origin) or len(cp.root) != HASH_SIZE:
        raise ValueError("bad origin or root")
    body = cp.body()
    sig = signer.sign(body)
    line = (f"{SIGNATURE_DASH} {cp.origin} "
            f"{base64.b64encode(signer.kid + sig).decode()}\n")
    return SignedCheckpoint(cp, signer.kid, sig, body.decode() + "\n" + line)


def _bad_note(detail: str) -> TransparencyError:
    return TransparencyError(detail, code="tlog-bad-checkpoint")


def parse_checkpoint(text: str | bytes) -> tuple[Checkpoint, list[tuple[str, bytes, bytes]]]:
    """Parse a checkpoint note; return it and its signature lines (name, kid, sig),
    unverified. Raises ``TransparencyError`` (``tlog-bad-checkpoint``) on any defect."""
    body, sigs, sep = signed_note.split(text, max_bytes=MAX_NOTE_BYTES, what="checkpoint",
                                       error=_bad_note)
    if not sep or not sigs.endswith("\n"):
        raise _bad_note("a checkpoint is a body, a blank line and signature lines")
    lines = body.split("\n")
    if len(lines) != 4:
        raise _bad_note("the checkpoint body has origin, size, root and timestamp lines")
    origin, size_s, root_s, time_s = lines
    if not _ORIGIN.fullmatch(origin):
        raise _bad_note("bad origin line")
    if not _DECIMAL.fullmatch(size_s) or int(size_s) > MAX_TREE_SIZE:
        raise _bad_note("bad tree size")
    root = _b64(root_s, "root hash")
    if len(root) != HASH_SIZE:
        raise _bad_note("the root hash must be 32 bytes")
    stamp = time_s.removeprefix("timestamp ")
    if stamp == time_s or not _DECIMAL.fullmatch(stamp) or int(stamp) > 253402300799:
        raise _bad_note("bad timestamp line")
    cp = Checkpoint(origin, int(size_s), root, datetime.fromtimestamp(int(stamp), UTC))
    signatures = []
    for name, payload in signed_note.signature_lines(sigs, error=_bad_note):
        raw = _b64(payload, "signature")
        if len(raw) < 8 + 32:
            raise _bad_note("signature too short")
        signatures.append((name, raw[:8], raw[8:]))
    if not signatures or len(signatures) > 16:
        raise _bad_note("a checkpoint needs one to 16 signature lines")
    return cp, signatures


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad_note(f"{what} is not base64") from None


def verify_checkpoint(text: str | bytes, keys: Sequence[bytes], *,
                      origin: str | None = None) -> Checkpoint:
    """Parse ``text`` and check that one of ``keys`` (DER SPKIs: the pinned log keys)
    signed it. The kid is only a hint: each key with that kid is tried. Raises
    ``TransparencyError``: ``tlog-bad-checkpoint``, ``tlog-wrong-log`` (``origin`` given
    and different) or ``tlog-bad-signature``."""
    cp, signatures = parse_checkpoint(text)
    if origin is not None and cp.origin != origin:
        raise TransparencyError(f"checkpoint of log {cp.origin!r}, expected {origin!r}",
                                code="tlog-wrong-log")
    body = cp.body()
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not text.startswith(body.decode() + "\n"):
        raise _bad_note("checkpoint body is not in canonical form")
    for name, kid, sig in signatures:
        if name != cp.origin:
            continue
        for spki in keys:
            if kid_from_spki(spki) != kid:
                continue
            try:
                key = load_spki(spki)
                alg = "EdDSA" if describe_key(key) == "Ed25519" else "ES256"
                check_alg_key(alg, key)
                verify_signature(alg, key, body, sig, checked=True)
            except (ValueError, AlgorithmMismatch, BadSignature):
                continue
            return cp
    raise TransparencyError("the checkpoint is not signed by a pinned log key",
                            code="tlog-bad-signature")
