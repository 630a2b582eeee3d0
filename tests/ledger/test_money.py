from decimal import Decimal

import pytest

from app.ledger.errors import InvalidAmount
from app.ledger.money import MAX_AMOUNT_MINOR, format_amount, parse_amount


@pytest.mark.parametrize("value,scale,minor", [
    ("100.00", 2, 10000), ("0.25", 2, 25), ("1", 2, 100), (5, 0, 5), ("7", 0, 7),
    (Decimal("12.5"), 2, 1250), (Decimal("1E+2"), 0, 100), ("0.000000000000000001", 18, 1),
])
def test_parse_amount_accepts_exact_decimals(value, scale, minor):
    assert parse_amount(value, scale) == minor


@pytest.mark.parametrize("value,scale", [
    ("0.001", 2), ("0", 2), ("0.00", 2), ("-1", 2), ("1e3", 2), (" 1", 2), ("1.", 2), (".5", 2),
    ("abc", 2), (True, 0), (1.5, 2), (None, 2), ("NaN", 2), (Decimal("NaN"), 2), (Decimal("-3"), 0),
    ("1" * 61, 0), ("0x10", 0), ("١٢", 0),
])
def test_parse_amount_refuses_anything_inexact_or_non_positive(value, scale):
    with pytest.raises(InvalidAmount):
        parse_amount(value, scale)


def test_parse_amount_refuses_above_maximum():
    assert parse_amount(str(MAX_AMOUNT_MINOR), 0) == MAX_AMOUNT_MINOR
    with pytest.raises(InvalidAmount) as err:
        parse_amount(str(MAX_AMOUNT_MINOR + 1), 0)
    assert "maximum" in err.value.message


def test_too_many_decimals_names_the_scale():
    with pytest.raises(InvalidAmount) as err:
        parse_amount("1.234", 2)
    assert err.value.details["scale"] == 2


@pytest.mark.parametrize("minor,scale,text", [
    (9975, 2, "99.75"), (0, 2, "0.00"), (-80, 0, "-80"), (-5, 2, "-0.05"), (1, 18, "0.000000000000000001"),
])
def test_format_amount(minor, scale, text):
    assert format_amount(minor, scale) == text


def test_round_trip():
    for minor in (1, 99, 100, 123456789):
        assert parse_amount(format_amount(minor, 2), 2) == minor


def test_a_trailing_newline_is_not_a_valid_amount():
    with pytest.raises(InvalidAmount):
        parse_amount("1.00\n", 2)


def test_a_trailing_newline_is_not_a_valid_customer_id():
    from app.ledger.errors import InvalidRequest
    from app.services.ledger import check_customer_id
    with pytest.raises(InvalidRequest):
        check_customer_id("alice\n")
