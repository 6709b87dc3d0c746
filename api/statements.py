"""Signed credit statements (notice §12 §14): the answer to a procurement query as
evidence a procurement file can keep and anyone can check offline.

Signing happens here, in the composition root, with the keyring's ``statement`` key
(certificates/signing: the only place private keys are loaded). The text is a signed
note, like the transparency log's checkpoints::

    guardreg-credit-statement/1
    <canonical JSON: issuer, issued_at, query, items>

    — <issuer> <base64(kid (8 bytes) || signature)>

The signature (ES256 raw ``r || s`` or Ed25519) covers the two body lines with their
newlines. ``verify`` raises :class:`StatementError` and never returns a bool; the
signing key must be one of the keys given (published at
``GET /v1/procurement/statement-keys`` and in the trust list with use ``statement``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from certificates import signed_note
from certificates.cose import verify_signature
from certificates.errors import AlgorithmMismatch, BadSignature
from certificates.keys import check_alg_key, describe_key, kid_from_spki, load_spki
from registry.errors import InvalidInput

HEADER = "guardreg-credit-statement/1"
DASH = signed_note.SIGNATURE_DASH
MAX_STATEMENT_BYTES = 256 * 1024


class StatementError(InvalidInput):
    """A statement that does not verify; ``code``: ``statement-malformed`` or
    ``statement-bad-signature``."""

    code = "statement-invalid"
    title = "Credit statement check failed"


class StatementSigner(Protocol):
    kid: bytes

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class Statement:
    issuer: str
    issued_at: str
    query: list[str]
    items: list[dict[str, Any]]
    kid: bytes


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def body_of(content: dict[str, Any]) -> bytes:
    return f"{HEADER}\n{_canonical(content)}\n".encode()


def sign(*, issuer: str, now: dt.datetime, query: list[str], items: list[dict[str, Any]],
         signer: StatementSigner) -> str:
    content = {"issuer": issuer, "issued_at": now.astimezone(dt.UTC).isoformat(),
               "query": query, "items": items}
    body = body_of(content)
    sig = signer.sign(body)
    return (body.decode() + "\n"
            + f"{DASH} {_signer_name(issuer)} {base64.b64encode(signer.kid + sig).decode()}\n")


def _signer_name(issuer: str) -> str:
    return issuer.replace(" ", "_") or "guardreg"


def _malformed(detail: str) -> StatementError:
    return StatementError(detail, code="statement-malformed")


def parse(text: str | bytes) -> tuple[dict[str, Any], bytes, list[tuple[bytes, bytes]]]:
    """Body content, body bytes and the (kid, signature) pairs, unverified."""
    body, sigs, sep = signed_note.split(text, max_bytes=MAX_STATEMENT_BYTES, what="statement",
                                       error=_malformed)
    lines = body.split("\n")
    if not sep or len(lines) != 2 or lines[0] != HEADER or not sigs.endswith("\n"):
        raise _malformed("a statement is the header, one JSON line, a blank line and "
                         "signature lines")
    try:
        content = json.loads(lines[1])
    except ValueError:
        raise _malformed("the statement's body is not JSON") from None
    if not isinstance(content, dict) or _canonical(content) != lines[1]:
        raise _malformed("the statement's body is not canonical JSON")
    if not isinstance(content.get("items"), list) or not isinstance(content.get("query"),
                                                                    list):
        raise _malformed("the statement has no items")
    pairs: list[tuple[bytes, bytes]] = []
    for name, payload in signed_note.signature_lines(sigs, error=_malformed):
        if name != _signer_name(str(content.get("issuer", ""))):
            raise _malformed("the signature line does not name the statement's issuer")
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise _malformed("bad signature encoding") from None
        if len(raw) < 9 or base64.b64encode(raw).decode() != payload:
            raise _malformed("signature too short or not in canonical base64")
        pairs.append((raw[:8], raw[8:]))
    return content, (body + "\n").encode(), pairs


def verify(text: str | bytes, keys: Sequence[bytes]) -> Statement:
    """Check that one of ``keys`` (DER SPKIs) signed ``text``; the kid is a hint only."""
    content, body, pairs = parse(text)
    for kid, sig in pairs:
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
            return Statement(issuer=str(content.get("issuer")),
                             issued_at=str(content.get("issued_at")),
                             query=[str(q) for q in content["query"]],
                             items=list(content["items"]), kid=kid)
    raise StatementError("the statement is not signed by a statement key given",
                         code="statement-bad-signature")
