"""EU DCC conformance: every dgc-common vector, every EXPECTED* flag we can check."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certificates import qr
from certificates.dcc import verify_dcc
from certificates.errors import QrError

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "data" / "cose" / "dgc-common"
FILES = sorted(VECTORS.glob("*.json"))
FLAG_TO_STAGE = {
    "EXPECTEDUNPREFIX": "unprefix",
    "EXPECTEDB45DECODE": "base45",
    "EXPECTEDCOMPRESSION": "compression",
    "EXPECTEDDECODE": "decode",
    "EXPECTEDVERIFY": "verify",
    "EXPECTEDEXPIRATIONCHECK": "expiration",
    "EXPECTEDKEYUSAGE": "keyusage",
}


def _clock(value: str) -> datetime:
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _checked(name_and_vector: tuple[str, dict]) -> dict[str, bool]:  # type: ignore[type-arg]
    _, v = name_and_vector
    exp = v.get("EXPECTEDRESULTS", {})
    out = {k: bool(exp[k]) for k in FLAG_TO_STAGE if k in exp}
    if "EXPECTEDPICTUREDECODE" in exp and "2DCODE" in v:
        out["EXPECTEDPICTUREDECODE"] = bool(exp["EXPECTEDPICTUREDECODE"])
    return out


# The DGC* files only carry schema/JSON expectations, which this layer does not judge.
CHECKABLE = [p for p in FILES if _checked((p.name, json.loads(p.read_text())))]


def test_the_shared_vectors_are_present() -> None:
    assert len(FILES) >= 30, "../shared/data/cose/dgc-common is missing or incomplete"
    assert len(CHECKABLE) >= 30


@pytest.mark.parametrize("path", CHECKABLE, ids=lambda p: p.stem)
def test_dgc_common_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    checks = _checked((path.name, v))
    ctx = v["TESTCTX"]
    verdict = verify_dcc(v["PREFIX"], base64.b64decode(ctx["CERTIFICATE"]),
                         _clock(ctx["VALIDATIONCLOCK"]))
    json.dumps(verdict)  # the verdict is JSON
    for flag, expected in checks.items():
        if flag == "EXPECTEDPICTUREDECODE":
            try:
                got = qr.decode_image(base64.b64decode(v["2DCODE"])) == v["PREFIX"]
            except QrError:
                got = False
        else:
            got = verdict["stages"][FLAG_TO_STAGE[flag]]
        assert got is expected, f"{path.stem} {flag}: {verdict['errors']}"


def test_every_vector_with_expected_verify_is_covered() -> None:
    with_verify = [p for p in FILES if "EXPECTEDVERIFY" in json.loads(p.read_text())
                   .get("EXPECTEDRESULTS", {})]
    assert len(with_verify) >= 10 or not FILES
