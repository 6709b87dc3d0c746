"""CWT claims of a guard certificate (RFC 8392 + a private claim map).

Claim map (CBOR, integer keys)::

    1  iss  tstr              issuer (e.g. "guardreg-dev")
    4  exp  uint              expiry, epoch seconds
    5  nbf  uint (optional)   not before, epoch seconds
    6  iat  uint              issued at, epoch seconds
    7  cti  bstr (optional)   token id
    8  cnf  {1: COSE_Key} (optional)  the guard phone's P-256 key (RFC 8747; device
                              binding, see certificates/presentation.py)
    65535 status {"status_list": {"idx": uint, "uri": tstr}}   (IETF Token Status List)
    -65537 guard {            (private-use claim, one map with short integer keys)
        1: tstr  certificate number, e.g. "120120260000123X"
        2: tstr  guard name
        3: uint  skill level 1 (highest) .. 5 (entry)
        4: tstr / uint (optional) employer id
        5: tstr (optional)        employer name
        6: uint (optional)        card serial n: this credential is the PRINTED CARD
                                  number n of the certificate; the number then ends in
                                  "-C<n>" and the claims carry no cnf (a card has no phone)
    }

No national ID number and no biometric data are ever put in the claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cbor2

from certificates.cose import loads_strict
from certificates.errors import DecodeError, Malformed
from certificates.presentation import CLAIM_CNF, DeviceKey

CLAIM_ISS = 1
CLAIM_SUB = 2
CLAIM_EXP = 4
CLAIM_NBF = 5
CLAIM_IAT = 6
CLAIM_CTI = 7
CLAIM_STATUS_LIST = 65533
CLAIM_TTL = 65534
CLAIM_STATUS = 65535
CLAIM_GUARD = -65537

G_NUMBER = 1
G_NAME = 2
G_LEVEL = 3
G_EMPLOYER_ID = 4
G_EMPLOYER_NAME = 5
G_CARD = 6

MAX_CARD_SERIAL = 9999

MAX_TEXT = 256
MAX_EPOCH = 2**34  # year 2514: keeps date arithmetic far from datetime.max


def to_epoch(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return int(dt.timestamp())


def from_epoch(value: Any, name: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(Malformed.CLAIMS, f"{name} must be a number")
    if not 0 <= value <= MAX_EPOCH:
        raise DecodeError(Malformed.CLAIMS, f"{name} out of range")
    return datetime.fromtimestamp(int(value), UTC)


def _text(value: Any, name: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise DecodeError(Malformed.CLAIMS, f"{name} must be a non-empty text string")
    return value


def card_number(certificate_number: str, serial: int) -> str:
    """The printed card's own number: the certificate's number + ``-C<serial>``."""
    return f"{certificate_number}-C{serial}"


def check_card(value: Any, number: str, *, has_cnf: bool) -> int | None:
    """The card rule (the same in api/static/lib/verify.js): a card serial is a uint
    1..9999, the number ends in ``-C<serial>``, and a card carries no ``cnf``; a number
    with a ``-C<n>`` suffix needs the card claim."""
    head, sep, tail = number.rpartition("-C")
    suffixed = bool(sep) and bool(head) and tail.isascii() and tail.isdigit()
    if value is None:
        if suffixed:
            raise DecodeError(Malformed.CLAIMS, "a card number (-C<n>) needs the card claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CARD_SERIAL:
        raise DecodeError(Malformed.CLAIMS, "card serial must be a uint 1..9999")
    if not suffixed or tail != str(value):
        raise DecodeError(Malformed.CLAIMS, "card number must end in -C<serial>")
    if has_cnf:
        raise DecodeError(Malformed.CLAIMS, "a card is bound to no device (no cnf)")
    return value


@dataclass(frozen=True)
class StatusRef:
    """Where the certificate's status lives: entry ``idx`` of the list at ``uri``."""

    uri: str
    idx: int

    def to_cbor(self) -> dict[str, Any]:
        return {"status_list": {"idx": self.idx, "uri": self.uri}}

    @classmethod
    def from_cbor(cls, value: Any) -> StatusRef:
        if not isinstance(value, dict) or not isinstance(value.get("status_list"), dict):
            raise DecodeError(Malformed.CLAIMS, "status claim must hold a status_list map")
        sl = value["status_list"]
        idx, uri = sl.get("idx"), sl.get("uri")
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0 or idx >= 2**32:
            raise DecodeError(Malformed.CLAIMS, "status idx must be a uint32")
        return cls(uri=str(_text(uri, "status uri")), idx=idx)


@dataclass(frozen=True)
class GuardClaims:
    """Decoded claims of a guard certificate. Datetimes are UTC, whole seconds."""

    issuer: str
    issued_at: datetime
    expires_at: datetime
    certificate_number: str
    guard_name: str
    skill_level: int
    status: StatusRef
    employer_id: str | int | None = None
    employer_name: str | None = None
    not_before: datetime | None = None
    token_id: bytes | None = None
    device_key: DeviceKey | None = None
    card: int | None = None  # the printed card's serial (number suffix "-C<card>")

    def to_cbor_map(self) -> dict[int, Any]:
        if not 1 <= self.skill_level <= 5:
            raise ValueError("skill_level must be 1..5")
        guard: dict[int, Any] = {
            G_NUMBER: self.certificate_number,
            G_NAME: self.guard_name,
            G_LEVEL: self.skill_level,
        }
        if self.employer_id is not None:
            guard[G_EMPLOYER_ID] = self.employer_id
        if self.employer_name is not None:
            guard[G_EMPLOYER_NAME] = self.employer_name
        if self.card is not None:
            guard[G_CARD] = self.card
        m: dict[int, Any] = {
            CLAIM_ISS: self.issuer,
            CLAIM_EXP: to_epoch(self.expires_at),
            CLAIM_IAT: to_epoch(self.issued_at),
        }
        if self.not_before is not None:
            m[CLAIM_NBF] = to_epoch(self.not_before)
        if self.token_id is not None:
            m[CLAIM_CTI] = self.token_id
        if self.device_key is not None:
            m[CLAIM_CNF] = self.device_key.to_cnf()
        m[CLAIM_STATUS] = self.status.to_cbor()
        m[CLAIM_GUARD] = guard
        return m

    def encode(self) -> bytes:
        """Canonical CBOR bytes of the claim map (the COSE payload)."""
        return cbor2.dumps(self.to_cbor_map(), canonical=True)

    @classmethod
    def from_cbor_map(cls, m: Any) -> GuardClaims:
        if not isinstance(m, dict):
            raise DecodeError(Malformed.CLAIMS, "CWT claims must be a map")
        guard = m.get(CLAIM_GUARD)
        if not isinstance(guard, dict):
            raise DecodeError(Malformed.CLAIMS, "guard claim missing")
        level = guard.get(G_LEVEL)
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
            raise DecodeError(Malformed.CLAIMS, "skill level must be 1..5")
        employer_id = guard.get(G_EMPLOYER_ID)
        if employer_id is not None and (
            isinstance(employer_id, bool) or not isinstance(employer_id, str | int)
        ):
            raise DecodeError(Malformed.CLAIMS, "employer id must be text or integer")
        if CLAIM_EXP not in m or CLAIM_IAT not in m:
            raise DecodeError(Malformed.CLAIMS, "exp and iat are required")
        cti = m.get(CLAIM_CTI)
        if cti is not None and not isinstance(cti, bytes):
            raise DecodeError(Malformed.CLAIMS, "cti must be a bstr")
        number = str(_text(guard.get(G_NUMBER), "certificate number"))
        card = check_card(guard.get(G_CARD), number, has_cnf=CLAIM_CNF in m)
        return cls(
            issuer=str(_text(m.get(CLAIM_ISS), "iss")),
            issued_at=from_epoch(m[CLAIM_IAT], "iat"),
            expires_at=from_epoch(m[CLAIM_EXP], "exp"),
            not_before=from_epoch(m[CLAIM_NBF], "nbf") if CLAIM_NBF in m else None,
            certificate_number=number,
            guard_name=str(_text(guard.get(G_NAME), "guard name")),
            skill_level=level,
            employer_id=employer_id,
            employer_name=_text(guard.get(G_EMPLOYER_NAME), "employer name", optional=True),
            status=StatusRef.from_cbor(m.get(CLAIM_STATUS)),
            token_id=cti,
            device_key=DeviceKey.from_cnf(m[CLAIM_CNF]) if CLAIM_CNF in m else None,
            card=card,
        )

    @classmethod
    def decode(cls, payload: bytes) -> GuardClaims:
        """Claims from COSE payload bytes; ``DecodeError(Malformed.CLAIMS)`` if invalid."""
        return cls.from_cbor_map(loads_strict(payload, Malformed.CLAIMS))

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly form (for API responses and golden vectors)."""
        return {
            "issuer": self.issuer,
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "certificate_number": self.certificate_number,
            "guard_name": self.guard_name,
            "skill_level": self.skill_level,
            "employer_id": self.employer_id,
            "employer_name": self.employer_name,
            "status": {"uri": self.status.uri, "idx": self.status.idx},
            **({"device_key": self.device_key.to_json()} if self.device_key else {}),
            **({"card": self.card} if self.card is not None else {}),
        }
