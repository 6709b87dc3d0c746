"""The public certificate-number check: valid or not, and what the card shows.

Anyone may ask (rate-limited per client address by the caller: numbers are sequential);
the answer names no more than the printed card does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from certificates import repository as cert_repo
from certificates.numbers import is_well_formed
from registry.db import Cursor
from registry.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class PublicVerdict:
    number: str
    valid: bool
    status: str  # "expired" for a valid certificate past its expiry
    guard_name: str | None
    skill_level: int | None
    employer_name: str | None
    expires_at: dt.datetime
    card: bool  # the number is a printed card's (<certificate number>-C<n>)


def parse_number(number: str) -> str:
    """The number as stored (upper case, trimmed): a certificate's, or a printed card's
    ``<certificate number>-C<n>``; anything else is refused before any lookup."""
    n = number.strip().upper()
    base, sep, serial = n.rpartition("-C")
    card = bool(sep) and serial.isascii() and serial.isdigit() and is_well_formed(base)
    if not card and not is_well_formed(n):
        raise InvalidInput("not a well-formed certificate number (check character)",
                           field="number")
    return n


def public_verdict(cur: Cursor, *, number: str, now: dt.datetime) -> PublicVerdict:
    """The verdict on a parsed number (:func:`parse_number`); one never issued (or still
    pending, or failed) is not found."""
    cert = cert_repo.get_by_number(cur, number)
    if cert is None or cert["status"] in ("pending", "failed"):
        raise NotFound("no such certificate")
    claims = cert["claims"]
    valid = cert["status"] == "valid" and cert["expires_at"] > now
    return PublicVerdict(
        number=number, valid=valid,
        status="expired" if cert["status"] == "valid" and not valid else str(cert["status"]),
        guard_name=claims.get("guard_name"), skill_level=claims.get("skill_level"),
        employer_name=claims.get("employer_name"), expires_at=cert["expires_at"],
        card=cert.get("kind") == "card")
