"""Validators for Chinese identity numbers.

- Resident identity number, GB 11643-1999: 6-digit region, 8-digit birth date,
  3-digit sequence (odd = male), ISO 7064 MOD 11-2 check character (0-9 or X).
- Unified social credit code, GB 32100-2015: 18 characters from a 31-character
  alphabet (no I, O, Z, S, V), check character by weighted sum modulo 31; positions
  9-17 are the organisation code, whose own GB 11714 check character is verified too.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from registry.errors import InvalidInput

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Province-level codes in use (GB/T 2260), including Hong Kong, Macao and Taiwan.
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_REGISTRATION_AUTHORITIES = frozenset("123456789ABCDEFGNY")


class InvalidIdNumber(InvalidInput):
    code = "invalid-id-number"
    title = "Invalid resident identity number"


class InvalidCreditCode(InvalidInput):
    code = "invalid-credit-code"
    title = "Invalid unified social credit code"


@dataclass(frozen=True)
class ResidentId:
    number: str
    region: str
    birth_date: dt.date
    sex: str  # "M" or "F"

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


def id_check_character(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def parse_resident_id(value: object, *, today: dt.date | None = None) -> ResidentId:
    """Validate and decode an 18-character resident identity number."""
    if not isinstance(value, str):
        raise InvalidIdNumber("the ID number must be a string", field="id_number")
    number = value.strip().upper()
    if len(number) != 18:
        raise InvalidIdNumber(
            f"the ID number must have 18 characters, not {len(number)}", field="id_number"
        )
    if not number[:17].isascii() or not number[:17].isdigit() or not (
        number[17].isdigit() or number[17] == "X"
    ):
        raise InvalidIdNumber(
            "the ID number must be 17 digits followed by a digit or X", field="id_number"
        )
    if int(number[:2]) not in _PROVINCES:
        raise InvalidIdNumber("the ID number's region code is not a province", field="id_number")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise InvalidIdNumber(
            "the ID number's birth date is not a real date", field="id_number"
        ) from exc
    today = today or dt.date.today()
    if birth.year < 1900 or birth > today:
        raise InvalidIdNumber("the ID number's birth date is out of range", field="id_number")
    if id_check_character(number[:17]) != number[17]:
        raise InvalidIdNumber("the ID number's check character is wrong", field="id_number")
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return ResidentId(number=number, region=number[:6], birth_date=birth, sex=sex)


def uscc_check_character(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_character(first8: str) -> str:
    def value(c: str) -> int:
        return int(c) if c.isdigit() else ord(c) - ord("A") + 10

    total = sum(value(c) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def validate_credit_code(value: object) -> str:
    """Validate an 18-character unified social credit code; return it normalised."""
    if not isinstance(value, str):
        raise InvalidCreditCode("the credit code must be a string", field="credit_code")
    code = value.strip().upper()
    if len(code) != 18:
        raise InvalidCreditCode(
            f"the credit code must have 18 characters, not {len(code)}", field="credit_code"
        )
    bad = sorted({c for c in code if c not in USCC_ALPHABET})
    if bad:
        raise InvalidCreditCode(
            f"the credit code contains characters outside its alphabet: {''.join(bad)}",
            field="credit_code",
        )
    if code[0] not in _REGISTRATION_AUTHORITIES:
        raise InvalidCreditCode("unknown registration authority code", field="credit_code")
    if not code[2:8].isdigit():
        raise InvalidCreditCode("the administrative division code must be digits",
                                field="credit_code")
    if uscc_check_character(code[:17]) != code[17]:
        raise InvalidCreditCode("the credit code's check character is wrong", field="credit_code")
    org = code[8:17]
    if all(c.isdigit() or "A" <= c <= "Z" for c in org[:8]) and org_code_check_character(
        org[:8]
    ) != org[8]:
        raise InvalidCreditCode(
            "the organisation code inside the credit code has a wrong check character",
            field="credit_code",
        )
    return code


def make_resident_id(region: str, birth: dt.date, sequence: int) -> str:
    """Build a valid ID number (for fixtures, bulk tests and demos)."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_character(first17)


def make_credit_code(division: str, org8: str, *, authority: str = "9", kind: str = "1") -> str:
    """Build a valid unified social credit code (fixtures and demos)."""
    org = org8 + org_code_check_character(org8)
    first17 = f"{authority}{kind}{division}{org}"
    return first17 + uscc_check_character(first17)


# -- names ------------------------------------------------------------------------------
class InvalidName(InvalidInput):
    code = "invalid-name"
    title = "Invalid name"


_WHITESPACE_RUN = re.compile(r"\s+")


def normalise_name(value: object, *, field: str = "name") -> str:
    """A person's or company's name as stored: Unicode NFC, trimmed, every inner run of
    whitespace one space. Refused (422 ``invalid-name``) when, once trimmed, it holds a
    control character (category Cc: tab, newline, escape...) or a format character (Cf):
    the bidi embeddings and overrides U+202A-202E, the isolates U+2066-2069, the marks
    U+200E/U+200F, zero-width characters and the like, which make a name display
    differently from what it is (reversed text on a certificate, a look-alike of another
    name, a broken CSV or log line)."""
    if not isinstance(value, str):
        raise InvalidName("the name must be a string", field=field)
    text = unicodedata.normalize("NFC", value).strip()
    bad = sorted({c for c in text if unicodedata.category(c) in ("Cc", "Cf")})
    if bad:
        shown = ", ".join(f"U+{ord(c):04X}" for c in bad[:5])
        raise InvalidName(f"the {field} contains control or formatting characters ({shown})",
                          field=field)
    text = _WHITESPACE_RUN.sub(" ", text)
    if not text:
        raise InvalidName(f"the {field} is empty", field=field)
    return text
