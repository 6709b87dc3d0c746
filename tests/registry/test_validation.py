import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.errors import InvalidInput
from registry.validation import (
    InvalidCreditCode,
    InvalidIdNumber,
    make_credit_code,
    make_resident_id,
    parse_resident_id,
    validate_credit_code,
)

TODAY = dt.date(2026, 11, 24)


def test_valid_id_number_decodes_birth_date_and_sex() -> None:
    rid = parse_resident_id("11010519491231002X", today=TODAY)
    assert rid.birth_date == dt.date(1949, 12, 31)
    assert rid.sex == "F"
    assert rid.age_on(TODAY) == 76


def test_lowercase_x_is_accepted() -> None:
    assert parse_resident_id("11010519491231002x", today=TODAY).number.endswith("X")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("110105194912310021", "check character"),
        ("11010519490230002X", "not a real date"),
        ("11010520991231002X", "out of range"),
        ("1101051949123100", "18 characters"),
        ("99010519491231002X", "region"),
        ("11010519491231A02X", "17 digits"),
        ("１１０１０５１９４９１２３１００２Ｘ", "17 digits"),
    ],
)
def test_invalid_id_numbers_are_rejected_with_reason(value: str, fragment: str) -> None:
    with pytest.raises(InvalidIdNumber) as err:
        parse_resident_id(value, today=TODAY)
    assert fragment in err.value.detail


def test_age_counts_birthday_not_yet_reached() -> None:
    number = make_resident_id("120101", dt.date(2008, 11, 25), 11)
    assert parse_resident_id(number, today=TODAY).age_on(TODAY) == 17
    number = make_resident_id("120101", dt.date(2008, 11, 24), 11)
    assert parse_resident_id(number, today=TODAY).age_on(TODAY) == 18


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L"])
def test_real_credit_codes_validate(code: str) -> None:
    assert validate_credit_code(code) == code


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("91350100M000100Y44", "check character"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100MO00100Y43", "alphabet"),
        ("Z1350100M000100Y43", "alphabet"),
        ("01350100M000100Y43", "registration authority"),
    ],
)
def test_invalid_credit_codes_are_rejected(code: str, fragment: str) -> None:
    with pytest.raises(InvalidCreditCode) as err:
        validate_credit_code(code)
    assert fragment in err.value.detail


def test_made_credit_code_is_valid_and_a_single_change_is_caught() -> None:
    code = make_credit_code("120101", "MA05L4R1")
    assert validate_credit_code(code) == code
    flipped = code[:10] + ("A" if code[10] != "A" else "B") + code[11:]
    with pytest.raises(InvalidCreditCode):
        validate_credit_code(flipped)


@given(st.text(max_size=40))
def test_id_validator_accepts_or_raises_invalid_input(text: str) -> None:
    try:
        rid = parse_resident_id(text, today=TODAY)
    except InvalidInput:
        return
    assert len(rid.number) == 18


@given(st.text(max_size=40))
def test_credit_code_validator_accepts_or_raises_invalid_input(text: str) -> None:
    try:
        code = validate_credit_code(text)
    except InvalidInput:
        return
    assert len(code) == 18


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY), st.integers(0, 999))
def test_made_ids_round_trip(birth: dt.date, seq: int) -> None:
    number = make_resident_id("120101", birth, seq)
    assert parse_resident_id(number, today=TODAY).birth_date == birth
