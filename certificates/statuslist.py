"""Token Status List (IETF draft-ietf-oauth-status-list), 2 bits per certificate.

Values: 0 valid, 1 revoked (``INVALID`` in the draft), 2 suspended, 3 reserved (a
verifier treats it as revoked). Entry ``i`` lives in byte ``i // 4`` at bit offset
``2 * (i % 4)``, least significant bits first, as in the draft. The byte array is
zlib-compressed (RFC 1950, level 9).

Status list token = COSE_Sign1 (typ ``application/statuslist+cwt``) signed by the
``status-list`` key, payload CWT claims::

    2 sub  tstr   the list's URI (the ``uri`` certificates point to)
    6 iat  uint   issued at        4 exp  uint  expiry
    65534 ttl uint  seconds a verifier may cache it
    65533 status_list {"bits": 2, "lst": bstr (zlib)}

Sharding: each list has a fixed capacity (default 1,048,576 entries, 256 KiB raw);
lists are numbered and their URIs are ``<base>/<n>``; a new shard is opened when the
others are full. Indices are allocated at random (``secrets``) so that neighbouring
entries reveal nothing about issue order.

Example::

    sl = StatusList(100_000); sl.set(42, REVOKED)
    token = sign_status_list(sl, uri=uri, signer=ring.signer("status-list"),
                             now=now, ttl=timedelta(minutes=5), validity=timedelta(days=1))
    tok = verify_status_list_token(token, trust=trust, now=now)
    tok.status_list.get(42) == REVOKED
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

import cbor2

from certificates.cose import (
    HDR_TYP,
    SigningKey,
    decode_guard_sign1,
    loads_strict,
    sign1_with,
)
from certificates.cwt import (
    CLAIM_EXP,
    CLAIM_IAT,
    CLAIM_STATUS_LIST,
    CLAIM_SUB,
    CLAIM_TTL,
    from_epoch,
    to_epoch,
)
from certificates.envelope import decompress_capped
from certificates.errors import (
    AlgorithmMismatch,
    DecodeError,
    Malformed,
    Reason,
    StatusListFull,
    VerificationError,
)
from certificates.trustlist import TrustList, check_signature

VALID = 0
REVOKED = 1
SUSPENDED = 2
STATUS_LIST_TYP = "application/statuslist+cwt"
BITS = 2
DEFAULT_CAPACITY = 1 << 20
MAX_LIST_BYTES = 16 * 1024 * 1024  # decompression cap: 64M entries at 2 bits


class StatusList:
    """A fixed-size array of 2-bit statuses."""

    __slots__ = ("_data", "size")

    def __init__(self, size: int, data: bytes | bytearray | None = None) -> None:
        if size <= 0:
            raise ValueError("size must be positive")
        nbytes = (size * BITS + 7) // 8
        if data is None:
            self._data = bytearray(nbytes)
        else:
            if len(data) < nbytes:
                raise ValueError("byte array shorter than size")
            self._data = bytearray(data)
        self.size = size

    def _check(self, idx: int) -> None:
        if not 0 <= idx < self.size:
            raise IndexError(f"status index {idx} outside 0..{self.size - 1}")

    def get(self, idx: int) -> int:
        self._check(idx)
        return (self._data[idx >> 2] >> ((idx & 3) << 1)) & 3

    def set(self, idx: int, value: int) -> None:
        self._check(idx)
        if not 0 <= value <= 3:
            raise ValueError("status value must be 0..3")
        shift = (idx & 3) << 1
        b = idx >> 2
        self._data[b] = (self._data[b] & ~(3 << shift) & 0xFF) | (value << shift)

    def raw(self) -> bytes:
        return bytes(self._data)

    def encode(self) -> bytes:
        """zlib-compressed byte array (the draft's ``lst``)."""
        return zlib.compress(bytes(self._data), 9)

    @classmethod
    def decode(cls, lst: bytes, *, bits: int = BITS, limit: int = MAX_LIST_BYTES) -> StatusList:
        if bits != BITS:
            raise DecodeError(Malformed.CLAIMS, f"only {BITS}-bit status lists are supported")
        raw = decompress_capped(lst, limit)
        if not raw:
            raise DecodeError(Malformed.CLAIMS, "empty status list")
        return cls(len(raw) * 8 // BITS, raw)

    def counts(self) -> dict[int, int]:
        """How many entries hold each value (for dashboards and tests)."""
        out = {0: 0, 1: 0, 2: 0, 3: 0}
        for idx in range(self.size):
            out[self.get(idx)] += 1
        return out


@dataclass(frozen=True)
class StatusListToken:
    """A verified status list token."""

    uri: str
    issued_at: datetime
    expires_at: datetime
    ttl: timedelta | None
    status_list: StatusList
    kid: bytes


def status_list_claims(
    sl: StatusList, *, uri: str, now: datetime, validity: timedelta, ttl: timedelta | None
) -> bytes:
    claims: dict[int, object] = {
        CLAIM_SUB: uri,
        CLAIM_IAT: to_epoch(now),
        CLAIM_EXP: to_epoch(now + validity),
        CLAIM_STATUS_LIST: {"bits": BITS, "lst": sl.encode()},
    }
    if ttl is not None:
        claims[CLAIM_TTL] = int(ttl.total_seconds())
    return cbor2.dumps(claims, canonical=True)


def sign_status_list(
    sl: StatusList,
    *,
    uri: str,
    signer: SigningKey,
    now: datetime,
    validity: timedelta,
    ttl: timedelta | None = None,
) -> bytes:
    """Encode, compress and sign ``sl`` as a status list token (COSE bytes)."""
    payload = status_list_claims(sl, uri=uri, now=now, validity=validity, ttl=ttl)
    return sign1_with(signer, payload, typ=STATUS_LIST_TYP)


def verify_status_list_token(
    token: bytes, *, trust: TrustList, now: datetime, skew: timedelta = timedelta(minutes=5)
) -> StatusListToken:
    """Verify a status list token with the trust list's ``status-list`` keys.

    Raises ``VerificationError``: ``malformed``, ``unknown-key``, ``algorithm-mismatch``,
    ``bad-signature``, or ``stale-status-list`` when ``now`` is past ``exp``.
    """
    try:
        msg = decode_guard_sign1(token)
        if msg.protected.get(HDR_TYP) != STATUS_LIST_TYP:
            raise DecodeError(Malformed.COSE, "not a status list token (typ)")
        claims = loads_strict(msg.payload, Malformed.CLAIMS)
        if not isinstance(claims, dict):
            raise DecodeError(Malformed.CLAIMS, "claims must be a map")
        uri = claims.get(CLAIM_SUB)
        sl_claim = claims.get(CLAIM_STATUS_LIST)
        if not isinstance(uri, str) or not isinstance(sl_claim, dict):
            raise DecodeError(Malformed.CLAIMS, "sub and status_list required")
        iat = from_epoch(claims.get(CLAIM_IAT), "iat")
        exp = from_epoch(claims.get(CLAIM_EXP), "exp")
        ttl_v = claims.get(CLAIM_TTL)
        if ttl_v is not None and (isinstance(ttl_v, bool) or not isinstance(ttl_v, int)):
            raise DecodeError(Malformed.CLAIMS, "ttl must be an integer")
        lst, bits = sl_claim.get("lst"), sl_claim.get("bits")
        if not isinstance(lst, bytes) or not isinstance(bits, int):
            raise DecodeError(Malformed.CLAIMS, "status_list needs bits and lst")
    except DecodeError as exc:
        raise VerificationError(Reason.MALFORMED, exc.detail, malformed=exc.stage) from None
    except AlgorithmMismatch as exc:
        raise VerificationError(Reason.ALGORITHM_MISMATCH, exc.detail) from None
    cands = trust.candidates(msg.kid, "status-list")
    if not cands:
        raise VerificationError(Reason.UNKNOWN_KEY, "status list signed by an unknown key")
    key = check_signature(msg, cands)
    if not key.usable_for(issued_at=iat, now=now, skew=skew):
        raise VerificationError(Reason.UNKNOWN_KEY, "status list key not valid at iat")
    if now > exp + skew:
        raise VerificationError(Reason.STALE_STATUS_LIST, "status list token expired")
    try:
        sl = StatusList.decode(lst, bits=bits)
    except DecodeError as exc:
        raise VerificationError(Reason.MALFORMED, exc.detail, malformed=exc.stage) from None
    ttl = timedelta(seconds=ttl_v) if ttl_v is not None else None
    assert msg.kid is not None
    return StatusListToken(uri=uri, issued_at=iat, expires_at=exp, ttl=ttl,
                           status_list=sl, kid=msg.kid)


def allocate_index(used: AbstractSet[int], capacity: int, *, tries: int = 64) -> int:
    """A uniformly random free index in ``0..capacity-1`` (``secrets``), never in ``used``.

    Raises ``StatusListFull`` when every index is used. Random probing first; a scan
    of the free indices when the list is nearly full.
    """
    if len(used) >= capacity:
        raise StatusListFull(f"all {capacity} status indices are used")
    for _ in range(tries):
        idx = secrets.randbelow(capacity)
        if idx not in used:
            return idx
    free = [i for i in range(capacity) if i not in used]
    if not free:
        raise StatusListFull(f"all {capacity} status indices are used")
    return free[secrets.randbelow(len(free))]


@dataclass(frozen=True)
class StatusListShards:
    """Numbered status lists ``<base_uri>/<n>`` of ``capacity`` entries each."""

    base_uri: str
    capacity: int = DEFAULT_CAPACITY
    fill_limit: float = 0.9  # open a new shard before random probing gets slow

    def uri(self, shard: int) -> str:
        return f"{self.base_uri.rstrip('/')}/{shard}"

    def shard_of(self, uri: str) -> int | None:
        prefix = self.base_uri.rstrip("/") + "/"
        tail = uri[len(prefix):] if uri.startswith(prefix) else ""
        # A shard number is small; a long digit string is not ours (and would not fit SQL).
        return int(tail) if tail.isdigit() and len(tail) < 9 else None

    def allocate(self, used: Mapping[int, AbstractSet[int]]) -> tuple[int, int, str]:
        """Pick ``(shard, idx, uri)`` for a new certificate: a random free index in the
        lowest-numbered shard below ``fill_limit``, or a fresh shard."""
        limit = int(self.capacity * self.fill_limit)
        for shard in sorted(used):
            if len(used[shard]) < limit:
                idx = allocate_index(used[shard], self.capacity)
                return shard, idx, self.uri(shard)
        shard = max(used, default=-1) + 1
        return shard, allocate_index(frozenset(), self.capacity), self.uri(shard)
