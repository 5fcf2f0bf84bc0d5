"""大写金额: the total in Chinese capital numerals, as printed on invoices."""

from decimal import Decimal

import pytest

from invoicing.numerals import NEGATIVE_RED_LETTER, amount_in_words


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0.50", "伍角"),
        ("100.00", "壹佰元整"),
        ("200.00", "贰佰元整"),
        ("1000200.05", "壹佰万零贰佰元零伍分"),
        ("10000000.00", "壹仟万元整"),
        ("0.00", "零元整"),
        ("0.05", "伍分"),
        ("1.05", "壹元零伍分"),
        ("10.50", "壹拾元伍角"),
        ("110.00", "壹佰壹拾元整"),
        ("1010.00", "壹仟零壹拾元整"),
        ("188.68", "壹佰捌拾捌元陆角捌分"),
        ("100000001.00", "壹亿零壹元整"),
        ("100010000.00", "壹亿零壹万元整"),
        ("10000100.00", "壹仟万零壹佰元整"),
    ],
)
def test_it_writes_amounts_in_capital_numerals(amount, words):
    assert amount_in_words(Decimal(amount)) == words


def test_a_negative_amount_is_marked_for_a_red_letter_invoice():
    assert amount_in_words(Decimal("-200.00")) == "负贰佰元整"
    assert amount_in_words(Decimal("-0.50")) == "负伍角"
    assert amount_in_words(Decimal("-200.00"), negative_prefix=NEGATIVE_RED_LETTER) == (
        "(负数)贰佰元整"
    )


def test_it_rounds_half_up_to_the_fen_and_refuses_floats():
    assert amount_in_words(Decimal("0.005")) == "壹分"
    assert amount_in_words("12") == "壹拾贰元整"
    with pytest.raises(TypeError):
        amount_in_words(0.5)
