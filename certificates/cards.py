"""The printed card as its own credential (issue 18).

A card is what the guard carries on paper or plastic: it cannot sign a rotating proof,
so it is not the (device-bound) certificate. It is a credential of its own:

- **number** ``<certificate number>-C<n>`` (``n`` = 1, 2, ... per certificate; a
  replacement card gets the next ``n``), claim ``guard[6] = n``, no ``cnf``;
- **status**: its own status-list entry, so a lost card is revoked on its own
  (``POST /v1/certificates/<card number>/revoke``) without touching the certificate;
- **one live card per guard**: issuing a card revokes the previous one (``superseded``);
- **follows its certificate**: when the certificate is revoked or superseded (re-issue
  after a key compromise, a level change, a new employer, a new phone) its live card is
  **revoked** with reason ``certificate-reissued`` (or the certificate's reason), not
  re-issued: a new card must be printed anyway (:func:`follow_certificate`);
  suspension and reinstatement of the certificate suspend and reinstate its card;
- **never shown on the guard page** (``/v1/me/certificate`` reads certificates only);
- **verifies as "card: compare the photo"** (``presentation == "card"``), or
  ``card-not-accepted`` where the checkpoint policy refuses cards
  (``checkpoint_accept_cards``).

A card is signed in the transaction that records it (no two-phase intent as for
certificates: nothing else waits on it, and a crash before commit leaves no row and no
published entry).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from certificates import publication, repository
from certificates.cose import SigningKey, decode_sign1
from certificates.credential import seal
from certificates.cwt import MAX_CARD_SERIAL, GuardClaims, StatusRef, card_number
from certificates.envelope import GUARD_PREFIX, decode_text
from certificates.errors import CertificateError
from certificates.publication import StatusConfig
from registry import audit
from registry.audit import Actor
from registry.db import Cursor
from registry.errors import Conflict, NotFound

CARD_REISSUED = "certificate-reissued"
_ACTIONS = {"revoked": "card.revoke", "suspended": "card.suspend", "valid": "card.reinstate"}


def card_claims_json(claims: GuardClaims) -> dict[str, Any]:
    out = claims.to_json()
    out.pop("device_key", None)
    return out


def issue_card(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
               signer: SigningKey, status_signer: SigningKey,
               config: StatusConfig) -> dict[str, Any]:
    """Issue a new card for the guard's valid certificate; the previous live card (if
    any) is revoked (``superseded``). Returns the card row."""
    cert = repository.live_certificate(cur, guard_id, for_update=True)
    if cert is None or not cert["text"]:
        raise NotFound("no current certificate to print a card for")
    if cert["status"] != "valid":
        raise Conflict("the certificate is suspended: no card can be printed",
                       reason="certificate-suspended", number=cert["number"])
    serial = repository.next_card_serial(cur, int(cert["id"]))
    if serial > MAX_CARD_SERIAL:
        raise Conflict("too many cards printed for this certificate", reason="card-limit")
    base = GuardClaims.decode(bytes(cert["payload"]))
    shard, idx, uri = publication.allocate(cur, config=config)
    number = card_number(str(cert["number"]), serial)
    issued = now.replace(microsecond=0)
    claims = replace(base, certificate_number=number, issued_at=issued, not_before=None,
                     token_id=None, device_key=None, card=serial,
                     status=StatusRef(uri=uri, idx=idx))
    payload = claims.encode()
    text = seal(claims, signer)
    signed = decode_sign1(decode_text(text, GUARD_PREFIX))
    if signed.payload != payload or signed.kid != signer.kid:
        raise CertificateError("the signed card does not carry the recorded payload")
    shards = {shard}
    old = repository.live_card(cur, guard_id, for_update=True)
    if old is not None:
        repository.change_status(cur, int(old["id"]), to="revoked",
                                 from_statuses=("valid", "suspended"), reason="superseded",
                                 at=now)
        shards.add(int(old["status_shard"]))
        audit.record(cur, actor=actor, action="card.revoke", target_type="certificate",
                     target_id=old["number"], data={"reason": "superseded", "by": number},
                     now=now)
    card_id = repository.insert_certificate(cur, {
        "number": number, "guard_id": guard_id, "status": "pending", "status_shard": shard,
        "status_idx": idx, "claims": card_claims_json(claims), "payload": payload,
        "employer_id": cert["employer_id"], "skill_level": cert["skill_level"],
        "issued_at": claims.issued_at, "expires_at": claims.expires_at,
        "issued_by": actor.label, "kind": "card", "card_of": cert["id"], "card_serial": serial,
    })
    if not repository.mark_signed(cur, card_id, text=text, kid=signer.kid, alg=signer.alg):
        raise CertificateError("the card row vanished before signing")  # pragma: no cover
    for s in sorted(shards):
        publication.publish(cur, shard=s, signer=status_signer, config=config, now=now)
    audit.record(cur, actor=actor, action="card.issue", target_type="certificate",
                 target_id=number, data={"guard_id": guard_id, "certificate": cert["number"],
                                         "kid": signer.kid.hex()}, now=now)
    row = repository.get_by_id(cur, card_id)
    assert row is not None
    return row


def current_card(cur: Cursor, *, actor: Actor, now: dt.datetime, guard_id: int,
                 signer: SigningKey, status_signer: SigningKey,
                 config: StatusConfig) -> dict[str, Any]:
    """The live card of the guard's current certificate, issuing card 1 (or the next)
    when there is none: what the card PDF prints."""
    # Locked first: two downloads at once print one card, not C1 then C2 (which would
    # leave the first PDF carrying a revoked card).
    cert = repository.live_certificate(cur, guard_id, for_update=True)
    card = repository.live_card(cur, guard_id)
    if cert is not None and card is not None and card["card_of"] == cert["id"] \
            and card["status"] == "valid":
        return card
    return issue_card(cur, actor=actor, now=now, guard_id=guard_id, signer=signer,
                      status_signer=status_signer, config=config)


def follow_certificate(cur: Cursor, *, actor: Actor, now: dt.datetime, cert_id: int,
                       to: str, reason: str) -> set[int]:
    """Move the live cards printed for certificate ``cert_id`` with it: ``to`` is the
    certificate's new status (``revoked``: the cards are revoked with ``reason``;
    ``suspended`` / ``valid``: suspended / reinstated). Returns the shards touched (the
    caller republishes them, in the same transaction)."""
    shards: set[int] = set()
    moves = {"revoked": ("valid", "suspended"), "suspended": ("valid",), "valid": ("suspended",)}
    if to not in moves:
        return shards
    for card in repository.cards_of_certificate(cur, cert_id, live_only=True, for_update=True):
        row = repository.change_status(cur, int(card["id"]), to=to, from_statuses=moves[to],
                                       reason=reason, at=now)
        if row is not None:
            shards.add(int(card["status_shard"]))
            audit.record(cur, actor=actor, action=_ACTIONS[to], target_type="certificate",
                         target_id=card["number"], data={"reason": reason, "follows": cert_id},
                         now=now)
    return shards
