"""Golden and hostile vectors committed under tests/vectors (see make_vectors.py)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from certificates.errors import VerificationError
from certificates.trustlist import verify_trust_list
from certificates.verification import CachedStatusProvider, VerificationPolicy, verify

DIR = Path(__file__).resolve().parents[1] / "vectors"
INDEX = json.loads((DIR / "index.json").read_text())
NOW = datetime.fromisoformat(INDEX["now"])
ANCHOR = base64.b64decode(INDEX["anchor_spki_b64"])


def run(vector: dict[str, Any]) -> tuple[str, str | None, Any]:
    """One vector through the Python verifier, as tests/js/verifier.test.mjs runs it
    through the browser's: trust list at the index's ``now``, then the certificate at
    the vector's ``now`` (the device clock) with its ``clock_floor``."""
    now = datetime.fromisoformat(vector["now"]) if vector.get("now") else NOW
    floor = datetime.fromisoformat(vector["clock_floor"]) if vector.get("clock_floor") else None
    try:
        anchor = base64.b64decode(vector.get("anchor_spki_b64") or INDEX["anchor_spki_b64"])
        trust = verify_trust_list((DIR / vector["trust_list"]).read_bytes(), anchors=[anchor],
                                  now=NOW)
        tokens = {uri: (DIR / f).read_bytes() for uri, f in vector["status_lists"].items()}
        result = verify(vector["text"], now=now, trust=trust,
                        status=CachedStatusProvider(tokens, trust=trust),
                        policy=VerificationPolicy(
                            accept_cards=vector.get("accept_cards", True)),
                        clock_floor=floor,
                        challenge=vector["challenge"].encode() if vector.get("challenge") else None)
    except VerificationError as exc:
        return exc.reason.value, exc.malformed.value if exc.malformed else None, None
    # A printed card that verifies: "card" (compare the photo), its own verdict.
    return ("card" if result.presentation == "card" else "valid"), None, result


def test_index_covers_every_required_case() -> None:
    expected = {v["expected"] for v in INDEX["vectors"]}
    assert expected >= {"valid", "revoked", "suspended", "expired", "not-yet-valid",
                        "bad-signature", "unknown-key", "malformed", "algorithm-mismatch",
                        "stale-trust-list", "stale-status-list", "oversized",
                        "clock-wrong", "key-compromised", "wrong-issuer", "card",
                        "card-not-accepted"}
    algs = {v["name"].split("-")[0] for v in INDEX["vectors"]}
    assert "sm2" in algs  # both signature profiles


@pytest.mark.parametrize("vector", INDEX["vectors"], ids=lambda v: v["name"])
def test_vector(vector: dict[str, Any]) -> None:
    reason, malformed, result = run(vector)
    assert reason == vector["expected"]
    if vector["malformed"]:
        assert malformed == vector["malformed"]
    if vector.get("claims"):
        assert result.claims.to_json() == vector["claims"]
        assert result.kid.hex() == vector["kid"]


def test_golden_qr_version() -> None:
    from certificates.qr import qr_version

    golden = INDEX["vectors"][0]
    assert golden["name"] == "golden-valid"
    assert qr_version(golden["text"]) == golden["qr_version"] <= 18


def test_trust_list_rolls_forward_only_to_the_announced_successor() -> None:
    """The files the browser verifier's test reads too (tests/js)."""
    from certificates.errors import Reason
    from certificates.trustlist import TrustPins, verify_trust_list_pinned

    first, pins = verify_trust_list_pinned((DIR / "trust-list.cose").read_bytes(),
                                           pins=TrustPins((ANCHOR,)), now=NOW)
    assert len(pins.successors) == 1 and pins.anchors == (ANCHOR,)
    rolled, new = verify_trust_list_pinned((DIR / "trust-list-rolled.cose").read_bytes(),
                                           pins=pins, now=NOW)
    assert new.anchors != (ANCHOR,) and len(new.anchors) == 1
    assert rolled.issued_at > first.issued_at
    # The old key is refused once the verifier has rolled forward.
    with pytest.raises(VerificationError) as info:
        verify_trust_list_pinned((DIR / "trust-list.cose").read_bytes(), pins=new, now=NOW)
    assert info.value.reason is Reason.UNKNOWN_KEY
    # A key that lists itself as a trust-list key but was never announced is refused,
    # and without the announcement even the real successor is refused.
    for name, held in (("trust-list-rogue.cose", pins),
                       ("trust-list-rolled.cose", TrustPins((ANCHOR,)))):
        with pytest.raises(VerificationError) as info:
            verify_trust_list_pinned((DIR / name).read_bytes(), pins=held, now=NOW)
        assert info.value.reason is Reason.UNKNOWN_KEY, name


def test_a_successor_flagged_compromised_is_no_longer_rolled_forward_to() -> None:
    from certificates.errors import Reason
    from certificates.trustlist import TrustPins, verify_trust_list_pinned

    _, pins = verify_trust_list_pinned((DIR / "trust-list.cose").read_bytes(),
                                       pins=TrustPins((ANCHOR,)), now=NOW)
    _, after = verify_trust_list_pinned((DIR / "trust-list-successor-burnt.cose").read_bytes(),
                                        pins=pins, now=NOW)
    assert after.anchors == (ANCHOR,) and len(after.successors) == 1
    assert after.successors != pins.successors
    with pytest.raises(VerificationError) as info:
        verify_trust_list_pinned((DIR / "trust-list-rolled.cose").read_bytes(), pins=after,
                                 now=NOW)
    assert info.value.reason is Reason.UNKNOWN_KEY
