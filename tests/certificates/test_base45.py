from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certificates import base45
from certificates.errors import DecodeError, Malformed


@pytest.mark.parametrize(
    ("raw", "text"),
    [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
     (b"ietf!", "QED8WEX0"), (b"", "")],
)
def test_rfc9285_examples(raw: bytes, text: str) -> None:
    assert base45.encode(raw) == text
    assert base45.decode(text) == raw


@pytest.mark.parametrize("bad", ["GGW", "A", "ABCD", "ab", "QED8WEX0=", "ÄÄ", ":::", "ZZ"])
def test_strict_decode_rejects(bad: str) -> None:
    with pytest.raises(DecodeError) as info:
        base45.decode(bad)
    assert info.value.stage is Malformed.BASE45


def test_max_values_accepted() -> None:
    assert base45.decode(base45.encode(b"\xff\xff\xff")) == b"\xff\xff\xff"
    assert base45.decode("FGW") == b"\xff\xff"


@given(st.binary(max_size=300))
def test_roundtrip(data: bytes) -> None:
    assert base45.decode(base45.encode(data)) == data


@given(st.text(max_size=60))
def test_decode_arbitrary_text_only_raises_decode_error(text: str) -> None:
    try:
        out = base45.decode(text)
    except DecodeError:
        return
    assert base45.encode(out) == text
