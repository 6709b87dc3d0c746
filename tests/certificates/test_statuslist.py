from __future__ import annotations

from datetime import timedelta

import pytest
from certfixtures import NOW, URI, Pki
from hypothesis import given
from hypothesis import strategies as st

from certificates.errors import Reason, StatusListFull, VerificationError
from certificates.statuslist import (
    REVOKED,
    SUSPENDED,
    VALID,
    StatusList,
    StatusListShards,
    allocate_index,
    sign_status_list,
    verify_status_list_token,
)


def test_lsb_first_packing() -> None:
    sl = StatusList(8)
    sl.set(0, REVOKED)
    sl.set(1, SUSPENDED)
    sl.set(3, 3)
    sl.set(5, REVOKED)
    # entry i at bits 2*(i%4) of byte i//4, as in the draft
    assert sl.raw() == bytes([0b11_00_10_01, 0b00_00_01_00])
    assert [sl.get(i) for i in range(8)] == [1, 2, 0, 3, 0, 1, 0, 0]
    sl.set(1, VALID)
    assert sl.get(1) == VALID
    assert sl.get(0) == REVOKED


def test_bounds() -> None:
    sl = StatusList(10)
    with pytest.raises(IndexError):
        sl.get(10)
    with pytest.raises(ValueError):
        sl.set(0, 4)


@given(st.dictionaries(st.integers(0, 999), st.integers(0, 3)))
def test_encode_decode_roundtrip(entries: dict[int, int]) -> None:
    sl = StatusList(1000)
    for i, v in entries.items():
        sl.set(i, v)
    back = StatusList.decode(sl.encode())
    assert back.size == 1000
    assert all(back.get(i) == sl.get(i) for i in range(1000))


def test_100k_list_is_small() -> None:
    sl = StatusList(100_000)
    for i in range(0, 100_000, 50):  # 2 % revoked
        sl.set(i, REVOKED)
    assert len(sl.encode()) < 8_000


def test_token_sign_verify(pki: Pki) -> None:
    pki.status_list.set(7, SUSPENDED)
    pki.republish()
    tok = verify_status_list_token(pki.status_token, trust=pki.trust, now=NOW)
    assert tok.uri == URI
    assert tok.issued_at == NOW
    assert tok.ttl == timedelta(minutes=5)
    assert tok.status_list.get(7) == SUSPENDED


def test_token_expired_is_stale(pki: Pki) -> None:
    with pytest.raises(VerificationError) as info:
        verify_status_list_token(pki.status_token, trust=pki.trust, now=NOW + timedelta(days=2))
    assert info.value.reason is Reason.STALE_STATUS_LIST


def test_token_signed_by_certificate_key_refused(pki: Pki) -> None:
    bad = sign_status_list(pki.status_list, uri=URI, signer=pki.ring.signer("certificate"),
                           now=NOW, validity=timedelta(days=1))
    with pytest.raises(VerificationError) as info:
        verify_status_list_token(bad, trust=pki.trust, now=NOW)
    assert info.value.reason is Reason.UNKNOWN_KEY


def test_token_tampered(pki: Pki) -> None:
    raw = bytearray(pki.status_token)
    raw[-70] ^= 0x01  # inside the signature
    with pytest.raises(VerificationError) as info:
        verify_status_list_token(bytes(raw), trust=pki.trust, now=NOW)
    assert info.value.reason is Reason.BAD_SIGNATURE


def test_allocate_index_random_and_free() -> None:
    used = set(range(0, 100, 2))
    picks = {allocate_index(used, 100) for _ in range(200)}
    assert picks <= set(range(1, 100, 2))
    assert len(picks) > 20
    assert allocate_index(set(range(99)), 100) == 99
    with pytest.raises(StatusListFull):
        allocate_index(set(range(100)), 100)


def test_shards() -> None:
    shards = StatusListShards("https://gr.example.cn/sl/", capacity=10, fill_limit=0.9)
    shard, idx, uri = shards.allocate({})
    assert (shard, uri) == (0, "https://gr.example.cn/sl/0")
    assert 0 <= idx < 10
    shard, idx, uri = shards.allocate({0: set(range(9))})
    assert shard == 1
    assert uri.endswith("/1")
    shard, idx, _ = shards.allocate({0: set(range(9)), 1: {1, 2}})
    assert shard == 1
    assert idx not in {1, 2}
    assert shards.shard_of("https://gr.example.cn/sl/12") == 12
    assert shards.shard_of("https://elsewhere/sl/1") is None
