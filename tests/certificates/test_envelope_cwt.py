from __future__ import annotations

import os
import zlib
from datetime import UTC, datetime

import cbor2
import pytest
from certfixtures import URI, make_claims

from certificates.cwt import CLAIM_GUARD, CLAIM_STATUS, GuardClaims, StatusRef
from certificates.envelope import (
    decode_text,
    decompress_capped,
    encode_text,
    looks_like_zlib,
)
from certificates.errors import DecodeError, Malformed


def test_compresses_only_when_it_shrinks() -> None:
    compressible = b"\xd2" + b"A" * 300
    text = encode_text(compressible)
    assert text.startswith("SG1:")
    assert len(text) < 100
    assert decode_text(text) == compressible
    random_bytes = b"\xd2" + os.urandom(200)
    text2 = encode_text(random_bytes)
    from certificates import base45

    assert base45.decode(text2[4:]) == random_bytes  # stored uncompressed
    assert decode_text(text2) == random_bytes


def test_zip_bomb_is_capped() -> None:
    bomb = zlib.compress(b"\x00" * (10 * 1024 * 1024), 9)
    assert looks_like_zlib(bomb)
    with pytest.raises(DecodeError) as info:
        decompress_capped(bomb)
    assert info.value.stage is Malformed.COMPRESSION


@pytest.mark.parametrize("mutate", [lambda z: z[:-3], lambda z: z + b"junk",
                                    lambda z: z[:2] + b"\xff" * 10])
def test_broken_zlib(mutate) -> None:  # type: ignore[no-untyped-def]
    z = zlib.compress(b"hello" * 50)
    with pytest.raises(DecodeError) as info:
        decompress_capped(mutate(z))
    assert info.value.stage is Malformed.COMPRESSION


def test_prefix_required() -> None:
    with pytest.raises(DecodeError) as info:
        decode_text("HC1:BB8")
    assert info.value.stage is Malformed.PREFIX


def test_claims_roundtrip_and_keys() -> None:
    c = make_claims(not_before=datetime(2026, 1, 1, tzinfo=UTC), token_id=b"\x01\x02")
    payload = c.encode()
    assert GuardClaims.decode(payload) == c
    m = cbor2.loads(payload)
    assert m[1] == "guardreg-test"
    assert m[CLAIM_STATUS] == {"status_list": {"idx": 4242, "uri": URI}}
    assert m[CLAIM_GUARD][3] == 3
    assert set(m) == {1, 4, 5, 6, 7, CLAIM_STATUS, CLAIM_GUARD}


def test_no_employer_is_allowed() -> None:
    c = make_claims(employer_id=None, employer_name=None)
    assert GuardClaims.decode(c.encode()) == c


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m.pop(CLAIM_GUARD),
        lambda m: m[CLAIM_GUARD].__setitem__(3, 6),
        lambda m: m[CLAIM_GUARD].__setitem__(3, True),
        lambda m: m[CLAIM_GUARD].__setitem__(2, ""),
        lambda m: m.__setitem__(4, "tomorrow"),
        lambda m: m.__setitem__(4, -1),
        lambda m: m.__setitem__(4, 2**40),
        lambda m: m.pop(6),
        lambda m: m.__setitem__(CLAIM_STATUS, {"status_list": {"idx": -1, "uri": URI}}),
        lambda m: m.__setitem__(CLAIM_STATUS, {"idx": 1, "uri": URI}),
    ],
)
def test_bad_claims(mutate) -> None:  # type: ignore[no-untyped-def]
    m = make_claims().to_cbor_map()
    mutate(m)
    with pytest.raises(DecodeError) as info:
        GuardClaims.decode(cbor2.dumps(m))
    assert info.value.stage is Malformed.CLAIMS


def test_status_ref_shape() -> None:
    assert StatusRef("u", 1).to_cbor() == {"status_list": {"idx": 1, "uri": "u"}}
