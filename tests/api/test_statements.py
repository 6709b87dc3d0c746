"""Signed credit statements (api/statements.py): round trip, and any damage raises the one
documented error instead of passing or crashing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api import statements
from certificates.signing.keyring import Keyring

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module", params=["ES256", "EdDSA"])
def signed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[str, bytes]:
    ring = Keyring(Path(tmp_path_factory.mktemp("keys")), passphrase=b"test-passphrase")
    rec = ring.generate("statement", request.param, now=NOW)
    text = statements.sign(issuer="guardreg-test", now=NOW, query=["91120101MA000000X1"],
                           items=[{"credit_code": "91120101MA000000X1", "registered": True,
                                   "name": "天津某保安公司", "credit_grade": "A"}],
                           signer=ring.signer("statement"))
    return text, rec.spki


def test_a_statement_verifies_with_its_key_only(signed: tuple[str, bytes],
                                                tmp_path: Path) -> None:
    text, spki = signed
    result = statements.verify(text, [spki])
    assert result.items[0]["name"] == "天津某保安公司" and result.issuer == "guardreg-test"
    other = Keyring(tmp_path, passphrase=b"x").generate("statement", now=NOW).spki
    with pytest.raises(statements.StatementError) as caught:
        statements.verify(text, [other])
    assert caught.value.code == "statement-bad-signature"


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_damaged_statements_raise_the_documented_error(signed: tuple[str, bytes],
                                                       data: st.DataObject) -> None:
    text, spki = signed
    raw = bytearray(text.encode())
    kind = data.draw(st.sampled_from(["flip", "cut", "garbage"]))
    if kind == "flip":
        i = data.draw(st.integers(0, len(raw) - 2))  # the final newline aside
        raw[i] ^= 1 << data.draw(st.integers(0, 7))
        damaged = bytes(raw)
    elif kind == "cut":
        damaged = bytes(raw[:data.draw(st.integers(0, len(raw) - 1))])
    else:
        damaged = data.draw(st.binary(max_size=400))
    if damaged == text.encode():
        return
    with pytest.raises(statements.StatementError):
        statements.verify(damaged, [spki])
