"""Names are normalised (NFC, trimmed, inner whitespace collapsed); control and bidi
characters are refused with the characters named (issue 14)."""

from __future__ import annotations

import unicodedata

import pytest

from registry.errors import InvalidInput
from registry.validation import InvalidName, normalise_name


@pytest.mark.parametrize(("raw", "stored"), [
    ("  李明  ", "李明"),
    ("李\u3000\u3000明", "李 明"),  # ideographic spaces
    ("Zhang\u00a0 San", "Zhang San"),  # no-break space and a space: one space
    ("阿依古丽·买买提", "阿依古丽·买买提"),
    ("\nWang Wu\t", "Wang Wu"),  # trimmed first, so edge whitespace is not refused
    (unicodedata.normalize("NFD", "José Müller"), "José Müller"),
])
def test_names_are_normalised(raw: str, stored: str) -> None:
    assert normalise_name(raw) == stored
    assert unicodedata.is_normalized("NFC", normalise_name(raw))


@pytest.mark.parametrize("char", [
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
    "\u200e", "\u200f",  # LRM, RLM
    "\u200b", "\ufeff", "\u00ad",  # zero-width space, BOM, soft hyphen (Cf)
    "\x00", "\x1b", "\x7f", "\t", "\n", "\r",  # controls inside the name
])
def test_control_and_format_characters_are_refused(char: str) -> None:
    with pytest.raises(InvalidName) as caught:
        normalise_name(f"李{char}明")
    assert isinstance(caught.value, InvalidInput) and caught.value.status == 422
    assert f"U+{ord(char):04X}" in caught.value.detail


@pytest.mark.parametrize("raw", ["", "   ", "\u3000"])
def test_empty_names_are_refused(raw: str) -> None:
    with pytest.raises(InvalidName, match="empty"):
        normalise_name(raw)


def test_non_strings_are_refused() -> None:
    with pytest.raises(InvalidName):
        normalise_name(42)
