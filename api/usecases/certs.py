"""Certificates as a principal reaches them: look-ups, the guard's own certificate,
status changes (revoke, suspend, reinstate) and the printed cards.

Reach is the registry's (``api.access``: another company's guard, or a certificate
issued under a previous employer, is a 404), so these live in the composition root; the
certificates package does the work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from api.access import actor_of, guard_for, may_see_certificate
from api.cert_context import CertContext
from certificates import cards, revocation
from certificates import repository as cert_repo
from certificates.revocation import StatusChange
from registry.auth import Principal
from registry.db import Cursor
from registry.errors import NotFound

StatusOp = Literal["revoke", "suspend", "reinstate"]


def certificate_for(cur: Cursor, principal: Principal, number: str) -> dict[str, Any]:
    """The certificate ``number`` (as typed: case and spaces do not matter), if the
    principal may see it; 404 otherwise, as for an unknown number."""
    cert = cert_repo.get_by_number(cur, number.strip().upper())
    if cert is None:
        raise NotFound("no such certificate")
    guard_for(cur, principal, int(cert["guard_id"]))  # 404 outside the caller's reach
    if not may_see_certificate(principal, cert):
        raise NotFound("no such certificate")
    return cert


def certificates_of(cur: Cursor, principal: Principal, guard_id: int) -> list[dict[str, Any]]:
    """The guard's certificates the principal may see, newest last (failed issuances
    left out)."""
    guard_for(cur, principal, guard_id)
    return [r for r in cert_repo.certificates_of_guard(cur, guard_id)
            if r["status"] != "failed" and may_see_certificate(principal, r)]


@dataclass(frozen=True)
class OwnCertificate:
    certificate: dict[str, Any]
    replaces: dict[str, Any] | None  # the certificate it superseded (number, status_reason)


def own_certificate(cur: Cursor, principal: Principal) -> dict[str, Any]:
    """The guard's current signed certificate (valid, suspended or revoked); 404 if none."""
    rows = [r for r in cert_repo.certificates_of_guard(cur, int(principal.guard_id or 0))
            if r["status"] in ("valid", "suspended", "revoked") and r["text"]]
    if not rows:
        raise NotFound("no certificate has been issued to you")
    return rows[-1]


def own_certificate_with_history(cur: Cursor, principal: Principal) -> OwnCertificate:
    """:func:`own_certificate` and what it replaced: a re-issued certificate (e.g. after a
    signing-key compromise) says so, so the holder knows the old QR no longer verifies."""
    cert = own_certificate(cur, principal)
    return OwnCertificate(cert, cert_repo.replaced_by(cur, int(cert["id"])))


def change_status(cur: Cursor, ctx: CertContext, principal: Principal, number: str, *,
                  op: StatusOp, reason: str | None, now: dt.datetime) -> StatusChange:
    """Revoke, suspend or reinstate a certificate the principal may see (the reasons each
    role may give are the certificates package's rule)."""
    cert = certificate_for(cur, principal, number)
    kwargs: dict[str, Any] = {"actor": actor_of(principal), "now": now,
                              "number": cert["number"],
                              "status_signer": ctx.signer("status-list"),
                              "config": ctx.issuance.status}
    if op == "revoke":
        return revocation.revoke(cur, reason=str(reason), **kwargs)
    if op == "suspend":
        return revocation.suspend(cur, reason=str(reason), **kwargs)
    return revocation.reinstate(cur, **kwargs)


# -- printed cards (their own credential, certificates/cards.py) -----------------------------
@dataclass(frozen=True)
class Card:
    card: dict[str, Any]
    certificate_number: str | None


def issue_card(cur: Cursor, ctx: CertContext, principal: Principal, guard_id: int,
               now: dt.datetime) -> Card:
    """Print a new card for the guard's current certificate (the previous card is
    revoked). Raising rolls the new card back."""
    guard_for(cur, principal, guard_id, for_update=True)
    card = cards.issue_card(cur, actor=actor_of(principal), now=now, guard_id=guard_id,
                            signer=ctx.signer("certificate"),
                            status_signer=ctx.signer("status-list"),
                            config=ctx.issuance.status)
    if not may_see_certificate(principal, card):
        # Issued under a previous employer (takeover by re-hire): not this company's
        # to print; raising rolls the new card back.
        raise NotFound("no current certificate to print")
    cert = cert_repo.get_by_id(cur, int(card["card_of"]))
    return Card(card, cert["number"] if cert else None)


def cards_of(cur: Cursor, principal: Principal, guard_id: int) -> list[Card]:
    """The guard's printed cards the principal may see, newest last."""
    guard_for(cur, principal, guard_id)
    rows = [r for r in cert_repo.cards_of_guard(cur, guard_id)
            if may_see_certificate(principal, r)]
    numbers = {int(r["card_of"]): r["number"].rpartition("-C")[0] for r in rows}
    return [Card(r, numbers.get(int(r["card_of"]))) for r in rows]
