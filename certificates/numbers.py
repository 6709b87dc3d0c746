"""Readable, unique certificate numbers: city code + year + sequence + check character.

``1201 2026 0000123 X``: 4-digit city code, 4-digit year of issue, a 7-digit sequence
from a database sequence (never reused), and an ISO 7064 MOD 11-2 check character
(0-9 or X) so a mistyped number is caught before any lookup.
"""

from __future__ import annotations

_CHECK = "10X98765432"


def check_character(digits: str) -> str:
    total = 0
    for i, c in enumerate(reversed(digits), start=2):
        total += int(c) * (pow(2, i - 1, 11))
    return _CHECK[total % 11]


def make_number(city_code: str, year: int, sequence: int) -> str:
    if not (city_code.isdigit() and len(city_code) == 4):
        raise ValueError("city code must be 4 digits")
    if not 0 < sequence < 10**7:
        raise ValueError("sequence out of range")
    body = f"{city_code}{year:04d}{sequence:07d}"
    return body + check_character(body)


def is_well_formed(number: str) -> bool:
    n = number.strip().upper()
    return (len(n) == 16 and n[:15].isascii() and n[:15].isdigit()
            and check_character(n[:15]) == n[15])
