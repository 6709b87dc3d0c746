"""Key compromise as a first-class event: declare, replace, re-issue, report.

``declare`` marks a key compromised in the keyring from a given time (the trust list
then flags it and every verifier refuses whatever it signed, ``key-compromised``),
puts a replacement key in its place when it was the active one, and audits. What
follows depends on the key's purpose:

- ``certificate``: every live certificate signed with the key is re-issued under the
  current key by ``reissue_batch`` (call it until ``remaining`` is 0: each call is one
  transaction, so the work is resumable after any crash, and two workers never take the
  same certificate). A re-issued certificate keeps the guard's claims and expiry, gets
  a new number and status entry, and supersedes the old one (revoked, reason
  ``key-compromised``), so the holder's current certificate changes on their page. QR
  images are not rendered here: they are drawn on demand when someone asks for one.
- ``status-list``: ``republish_all`` re-signs every shard with the new key.
- ``trust-list``: the pre-announced successor key is promoted; verifiers pinned to the
  old key roll forward to it (see ``trustlist.verify_trust_list_pinned``).

``report`` lists what the key signed from ``since`` on (what an attacker's forgeries
would hide among) and the online checks that a forgery leaves behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from certificates import cards, publication, repository
from certificates.cose import SigningKey, decode_sign1
from certificates.credential import seal
from certificates.cwt import GuardClaims, StatusRef
from certificates.envelope import GUARD_PREFIX, decode_text
from certificates.errors import CertificateError, KeyringError
from certificates.issuance import IssuanceConfig, claims_json
from certificates.numbers import make_number
from certificates.publication import StatusConfig
from certificates.signing.keyring import KeyRecord, Keyring
from registry import audit
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Forbidden, InvalidInput, NotFound

REISSUE_REASON = "key-compromised"
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # keeps the trust list's epoch fields sane


@dataclass(frozen=True)
class Declared:
    kid: bytes
    purpose: str
    compromised_since: dt.datetime
    replacement: KeyRecord | None
    live_certificates: int

    def as_dict(self) -> dict[str, Any]:
        return {"kid": self.kid.hex(), "purpose": self.purpose,
                "compromised_since": self.compromised_since,
                "replacement_kid": self.replacement.kid.hex() if self.replacement else None,
                "live_certificates": self.live_certificates}


@dataclass(frozen=True)
class BatchResult:
    reissued: list[tuple[str, str]] = field(default_factory=list)  # (old number, new number)
    remaining: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"reissued": len(self.reissued), "remaining": self.remaining,
                "numbers": [{"old": o, "new": n} for o, n in self.reissued]}


def _check_actor(actor: Actor) -> None:
    # "cli": the operator at the console, who holds the keyring and the database.
    if actor.kind not in ("regulator", "system", "cli"):
        raise Forbidden("only the regulator declares a key compromised")


def declare(cur: Cursor, *, ring: Keyring, actor: Actor, kid: bytes, since: dt.datetime,
            now: dt.datetime) -> Declared:
    """Mark ``kid`` compromised from ``since`` and replace it if it was active. Idempotent.
    The audit event is written in ``cur``'s transaction before the keyring changes."""
    _check_actor(actor)
    if since.tzinfo is None:
        raise InvalidInput("the compromise time needs a time zone", field="compromised_since")
    if since > now:
        raise InvalidInput("the compromise time is in the future", field="compromised_since")
    if since < EARLIEST:
        raise InvalidInput("the compromise time is before 2000", field="compromised_since")
    try:
        rec = ring.get(kid)
    except KeyringError:
        raise NotFound(f"no key {kid.hex()}") from None
    was_active = rec.state == "active"
    was_next = rec.state == "next"
    audit.record(cur, actor=actor, action="key.compromise", target_type="key",
                 target_id=kid.hex(), data={"purpose": rec.purpose, "since": since.isoformat(),
                                            "was_active": was_active}, now=now)
    ring.mark_compromised(kid, since=since, now=now)
    replacement = None
    if was_active:
        announced = rec.purpose == "trust-list" and ring.successor("trust-list") is not None
        if announced:
            replacement = ring.promote_successor("trust-list", now=now)
        else:
            # A trust-list key without an announced successor: verifiers must be given
            # the new anchor by hand (docs/OPERATIONS.md).
            replacement = ring.generate(rec.purpose, rec.alg, now=now)
            if rec.purpose == "trust-list":
                ring.ensure_successor("trust-list", now=now)
        audit.record(cur, actor=actor, action="key.replace", target_type="key",
                     target_id=replacement.kid.hex(),
                     data={"purpose": rec.purpose, "replaces": kid.hex(),
                           "pre_announced": announced}, now=now)
    if was_next:  # the announced successor leaked: announce another one
        replacement = ring.ensure_successor(rec.purpose, now=now)
        audit.record(cur, actor=actor, action="key.replace", target_type="key",
                     target_id=replacement.kid.hex(),
                     data={"purpose": rec.purpose, "replaces": kid.hex(),
                           "successor": True}, now=now)
    live = (repository.count_live_signed_by(cur, kid, now=now)
            if rec.purpose == "certificate" else 0)
    return Declared(kid, rec.purpose, since, replacement, live)


def reissue_batch(cur: Cursor, *, actor: Actor, now: dt.datetime, kid: bytes,
                  signer: SigningKey, status_signer: SigningKey, config: IssuanceConfig,
                  limit: int = 200) -> BatchResult:
    """Re-issue up to ``limit`` live certificates signed with ``kid`` under ``signer``
    (one transaction: the caller commits; repeat until ``remaining`` is 0)."""
    _check_actor(actor)
    if signer.kid == kid:
        raise CertificateError("the replacement signer is the compromised key")
    rows = repository.live_signed_by(cur, kid, now=now, limit=limit)
    done: list[tuple[str, str]] = []
    shards: set[int] = set()
    issued = now.replace(microsecond=0)
    for old in rows:
        new_number, touched = _reissue_one(cur, actor=actor, now=now, issued=issued, old=old,
                                           signer=signer, config=config)
        shards.update({int(old["status_shard"]), *touched})
        done.append((str(old["number"]), new_number))
    for shard in sorted(shards):
        publication.publish(cur, shard=shard, signer=status_signer, config=config.status,
                            now=now)
    return BatchResult(done, repository.count_live_signed_by(cur, kid, now=now))


def _reissue_one(cur: Cursor, *, actor: Actor, now: dt.datetime, issued: dt.datetime,
                 old: dict[str, Any], signer: SigningKey,
                 config: IssuanceConfig) -> tuple[str, set[int]]:
    old_claims = GuardClaims.decode(bytes(old["payload"]))
    shard, idx, uri = publication.allocate(cur, config=config.status)
    number = make_number(config.city_code, now.year, repository.next_number_sequence(cur))
    claims = replace(old_claims, issued_at=issued, not_before=None, token_id=None,
                     certificate_number=number, issuer=config.issuer,
                     status=StatusRef(uri=uri, idx=idx))
    payload = claims.encode()
    cert_id = repository.insert_certificate(cur, {
        "number": number, "guard_id": old["guard_id"], "status": "pending",
        "status_shard": shard, "status_idx": idx, "claims": claims_json(claims),
        "payload": payload, "employer_id": old["employer_id"],
        "skill_level": old["skill_level"], "issued_at": claims.issued_at,
        "expires_at": claims.expires_at, "issued_by": actor.label,
    })
    audit.record(cur, actor=actor, action="certificate.reissue.intent",
                 target_type="certificate", target_id=number,
                 data={"guard_id": old["guard_id"], "supersedes": old["number"],
                       "cause": REISSUE_REASON, "payload_sha256":
                       hashlib.sha256(payload).hexdigest()}, now=now)
    text = seal(claims, signer)
    signed = decode_sign1(decode_text(text, GUARD_PREFIX))
    if signed.payload != payload or signed.kid != signer.kid:
        raise CertificateError("the signed certificate does not carry the recorded payload")
    superseded = repository.change_status(cur, old["id"], to="revoked",
                                          from_statuses=("valid", "suspended"),
                                          reason=REISSUE_REASON, at=now, superseded_by=cert_id)
    if superseded is None:  # pragma: no cover (the row is locked FOR UPDATE)
        raise CertificateError("the certificate changed during re-issuance")
    # Its printed card is revoked (it was signed with the compromised key too); a new
    # card is printed from the new certificate (certificates/cards.py).
    touched = {shard} | cards.follow_certificate(cur, actor=actor, now=now,
                                                 cert_id=int(old["id"]), to="revoked",
                                                 reason=cards.CARD_REISSUED)
    if not repository.mark_signed(cur, cert_id, text=text, kid=signer.kid, alg=signer.alg):
        raise CertificateError("the re-issuance intent vanished")  # pragma: no cover
    if old["status"] == "suspended":  # a suspension carries over to the new certificate
        repository.change_status(cur, cert_id, to="suspended", from_statuses=("valid",),
                                 reason=str(old["status_reason"]), at=now)
    audit.record(cur, actor=actor, action="certificate.reissue", target_type="certificate",
                 target_id=number,
                 data={"supersedes": old["number"], "cause": REISSUE_REASON,
                       "old_kid": bytes(old["kid"]).hex(), "kid": signer.kid.hex(),
                       "status": old["status"]}, now=now)
    return number, touched


def republish_all(cur: Cursor, *, signer: SigningKey, config: StatusConfig,
                  now: dt.datetime) -> int:
    """Re-sign every status list shard with ``signer``; returns the number of shards."""
    shards = [int(r["shard"]) for r in repository.list_shards(cur)]
    for shard in shards:
        publication.publish(cur, shard=shard, signer=signer, config=config, now=now)
    return len(shards)


def report(cur: Cursor, *, ring: Keyring, kid: bytes, now: dt.datetime,
           limit: int = 1000) -> dict[str, Any]:
    """What ``kid`` signed since it may have leaked, and the online checks that a forgery
    would leave behind since then. Raises ``InvalidInput`` for an unknown or
    uncompromised key."""
    try:
        rec = ring.get(kid)
    except KeyringError:
        raise NotFound(f"no key {kid.hex()}") from None
    if rec.compromised_since is None:
        raise InvalidInput("this key has not been declared compromised", field="kid")
    since = rec.compromised_since
    out: dict[str, Any] = {
        "kid": kid.hex(), "purpose": rec.purpose, "compromised_since": since,
        "declared_at": rec.compromised_at,
        "note": "an attacker holding the key could have signed anything from "
                "compromised_since on; the registry's own signatures from then are listed "
                "so that they can be told apart from forgeries (a forgery is not in this list)",
    }
    if rec.purpose == "certificate":
        rows = repository.signed_by_since(cur, kid, since, limit=limit)
        out["signed_since"] = repository.count_signed_by(cur, kid, since)
        out["certificates"] = [
            {"number": r["number"], "guard_id": r["guard_id"], "status": r["status"],
             "status_reason": r["status_reason"], "issued_at": r["issued_at"],
             "expires_at": r["expires_at"]} for r in rows]
        out["live_remaining"] = repository.count_live_signed_by(cur, kid, now=now)
    out["suspicious_checks"] = [
        {"verdict": r["verdict"], "count": int(r["n"]), "first_at": r["first_at"],
         "last_at": r["last_at"]} for r in repository.suspicious_checks_since(cur, since)]
    return out
