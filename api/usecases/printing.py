"""The printable card PDF's content: the guard's live card (certificates/cards.py) with
the portrait (biometrics). The printed card is its own credential: the first download
issues card C1 (or the next serial, after a re-issue); a replacement for a lost card is
``POST /v1/guards/{guard_id}/cards``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from api.access import actor_of, may_see_certificate
from api.cert_context import CertContext
from biometrics import enrollment
from biometrics.sealing import Sealer
from certificates import cards
from registry import repository as registry_repo
from registry.auth import Principal
from registry.db import Cursor
from registry.errors import NotFound


@dataclass(frozen=True)
class PrintableCard:
    number: str
    guard_name: str | None
    skill_level: int
    employer_name: str | None
    issued_at: dt.datetime
    expires_at: dt.datetime
    text: str  # the card's credential, printed as its QR code
    photo: bytes | None


def own_guard(cur: Cursor, principal: Principal) -> dict[str, Any]:
    """The signed-in guard's record."""
    guard = registry_repo.get_guard(cur, int(principal.guard_id or 0))
    if guard is None:
        raise NotFound("no such guard")
    return guard


def card_of(cur: Cursor, *, ctx: CertContext, sealer: Sealer, principal: Principal,
            guard: dict[str, Any], now: dt.datetime) -> PrintableCard:
    """What the guard's card PDF prints, issuing the card on the first download."""
    card = cards.current_card(cur, actor=actor_of(principal), now=now,
                              guard_id=int(guard["id"]), signer=ctx.signer("certificate"),
                              status_signer=ctx.signer("status-list"),
                              config=ctx.issuance.status)
    if not may_see_certificate(principal, card):
        # Issued under a previous employer (takeover by re-hire): not this company's to
        # print; the exception rolls back a card issued just now.
        raise NotFound("no current certificate to print")
    photo = enrollment.load_portrait(cur, subject=str(guard["biometric_subject"]),
                                     sealer=sealer)
    return PrintableCard(number=card["number"], guard_name=card["claims"].get("guard_name"),
                         skill_level=card["skill_level"],
                         employer_name=card["claims"].get("employer_name"),
                         issued_at=card["issued_at"], expires_at=card["expires_at"],
                         text=card["text"], photo=photo)
