"""Units: a decimal as whole numbers of the column's last place, exact, rounded half away from zero as DuckDB casts."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.columns import units

WIDE = Context(prec=100)


def reference(value: Decimal) -> int:
    """The slow, obviously exact conversion: shift by 8 places and round half up, with room for every digit."""
    return int(value.scaleb(8, WIDE).to_integral_value(rounding=ROUND_HALF_UP, context=WIDE))


@given(
    st.integers(min_value=-(10**37), max_value=10**37),  # up to 38 significant digits: a column's worth, and more
    st.integers(min_value=-20, max_value=4),  # the exponent: 20 places after the point to 4 zeros before it
)
def test_units_equal_the_exact_half_up_shift(coefficient: int, exponent: int) -> None:
    value = Decimal(coefficient).scaleb(exponent, WIDE)
    expected = reference(value)
    if abs(expected) >= 10**38:
        with pytest.raises(ValueError, match="does not fit DECIMAL"):
            units(value)
    else:
        assert units(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("51234.56", 5_123_456_000_000),
        ("0.000000005", 1),  # half a unit: away from zero
        ("-0.000000005", -1),
        ("0.0000000049999999999999999999999999", 0),  # 35 digits: the fast path's product is rounded, the result is not
        ("1.00000000000000000000000000000000001", 100_000_000),
        ("999999999999999999.999999995", 100_000_000_000_000_000_000_000_000),  # rounds up to 10**27 units: exact too
        ("999999999999999999999999999999.99999999", 10**38 - 1),  # the largest DECIMAL(38, 8)
    ],
)
def test_units_at_the_edges(text: str, expected: int) -> None:
    assert units(Decimal(text)) == expected


def test_units_beyond_the_column_or_not_finite_are_refused() -> None:
    with pytest.raises(ValueError, match="does not fit DECIMAL"):
        units(Decimal("1e30"))
    with pytest.raises(ValueError, match="not a finite number"):
        units(Decimal("NaN"))
