"""One certificate, one text: bring certificates signed before low-s signing to it.

Guard-certificate verifiers refuse an ES256 signature whose ``s`` is in the upper half
of the group (its twin ``(r, n - s)`` verifies too, so one certificate had two texts).
Certificates issued before the signer normalised ``s`` are high-s half of the time.
``normalize_batch`` rewrites their stored text to the low-s twin: no private key is
needed, the signed payload and the number do not change, and the holder's page shows
the new QR. A printed card of such a certificate must be printed again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from certificates import repository
from certificates.cose import decode_sign1, es256_is_high_s, es256_low_s
from certificates.envelope import GUARD_PREFIX, decode_text, encode_text
from certificates.errors import CertificateError
from registry import audit
from registry.audit import Actor
from registry.db import Cursor


@dataclass(frozen=True)
class NormalizeBatch:
    scanned: int
    changed: list[str]
    last_id: int


def normalize_batch(cur: Cursor, *, actor: Actor, now: dt.datetime, after_id: int = 0,
                    limit: int = 500) -> NormalizeBatch:
    """Rewrite the high-s texts among the next ``limit`` live certificates after
    ``after_id`` (keyset pages: resume from ``last_id``). One transaction per call."""
    rows = repository.live_signed_after(cur, after_id, limit=limit)
    changed = []
    for row in rows:
        if row["alg"] != "ES256":
            continue
        cose = decode_text(str(row["text"]), GUARD_PREFIX)
        msg = decode_sign1(cose)
        if not es256_is_high_s(msg.signature):
            continue
        if not cose.endswith(msg.signature):  # pragma: no cover (our encoder's layout)
            raise CertificateError(f"unexpected COSE layout in {row['number']}")
        twin = cose[: -len(msg.signature)] + es256_low_s(msg.signature)
        if decode_sign1(twin).payload != msg.payload:  # pragma: no cover
            raise CertificateError("normalising the signature changed the payload")
        if repository.replace_text(cur, int(row["id"]), old=str(row["text"]),
                                   new=encode_text(twin, GUARD_PREFIX)):
            changed.append(str(row["number"]))
            audit.record(cur, actor=actor, action="certificate.normalize-signature",
                         target_type="certificate", target_id=row["number"],
                         data={"reason": "high-s"}, now=now)
    return NormalizeBatch(len(rows), changed, int(rows[-1]["id"]) if rows else after_id)
