"""The exact moving sum (the SMA crossover's), Wilder's ATR and RSI on short hand-made series, each value worked out in a comment."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.indicators import ATR, RSI, MovingSum


def test_moving_sum_is_none_until_the_window_is_full_then_the_sum_of_the_last_period_values() -> None:
    window = MovingSum(3)

    # [1] [1,2] not full; 1+2+3 = 6; 2+3+4 = 9; 3+4+5 = 12; 4+5+9 = 18
    assert [window.update(x) for x in [1, 2, 3, 4, 5, 9]] == [None, None, 6, 9, 12, 18]


def test_moving_sum_of_one_is_the_last_value() -> None:
    window = MovingSum(1)

    assert [window.update(x) for x in [5, 7]] == [5, 7]


def test_moving_sum_is_exact_over_a_long_run() -> None:
    """Integers do not drift: after 100,000 prices of 0.1, 0.2, 0.3 … (in units of 1e-8), the last three sum exactly."""
    window = MovingSum(3)
    for i in range(1, 100_001):
        window.update(i * 10_000_000)

    # the last three: 9,999.9 + 10,000.0 + 10,000.1, in units of 1e-8
    assert window.update(100_001 * 10_000_000) == (99_999 + 100_000 + 100_001) * 10_000_000


def test_atr_seeds_with_the_mean_true_range_then_smooths_wilder_style() -> None:
    atr = ATR(3)
    bars = [
        # high, low, close
        (10.0, 8.0, 9.0),  # TR = H − L = 2 (no previous close)
        (11.0, 10.0, 10.5),  # TR = max(1, |11 − 9| = 2, |10 − 9| = 1) = 2 (gap up from 9)
        (13.0, 10.0, 12.0),  # TR = max(3, |13 − 10.5| = 2.5, |10 − 10.5| = 0.5) = 3 → seed (2 + 2 + 3) / 3 = 7/3
        (9.0, 8.0, 8.5),  # TR = max(1, |9 − 12| = 3, |8 − 12| = 4) = 4 → (7/3 × 2 + 4) / 3 = 26/9
        (9.5, 8.5, 9.0),  # TR = max(1, |9.5 − 8.5| = 1, |8.5 − 8.5| = 0) = 1 → (26/9 × 2 + 1) / 3 = 61/27
    ]

    values = [atr.update(*bar) for bar in bars]

    assert values[:2] == [None, None]
    assert values[2] == pytest.approx(7 / 3)
    assert values[3] == pytest.approx(26 / 9)
    assert values[4] == pytest.approx(61 / 27)
    assert atr.value == values[4]


def test_atr_of_a_constant_range_is_that_range() -> None:
    atr = ATR(14)
    for _i in range(30):
        atr.update(101.0, 99.0, 100.0)  # every TR = 2

    assert atr.value == pytest.approx(2.0)


@given(
    st.lists(
        st.tuples(st.floats(1, 1e5, allow_nan=False), st.floats(0, 0.05, allow_nan=False), st.floats(0, 1, allow_nan=False)),
        max_size=80,
    ),
    st.integers(min_value=1, max_value=15),
)
def test_atr_series_is_the_candle_by_candle_values_to_the_bit(bars: list[tuple[float, float, float]], period: int) -> None:
    """Random candles (a base price, a relative range, where the close sits in it): the column computation equals
    feeding them one by one, compared with ``==`` (no tolerance)."""
    highs = [base * (1 + spread) for base, spread, _ in bars]
    lows = [base for base, _, _ in bars]
    closes = [low + (high - low) * at for low, high, (_, _, at) in zip(lows, highs, bars, strict=True)]
    one_by_one = ATR(period)

    columns = (np.array(highs), np.array(lows), np.array(closes))
    assert ATR(period).series(*columns) == [one_by_one.update(*bar) for bar in zip(highs, lows, closes, strict=True)]


def test_rsi_seeds_with_plain_means_then_smooths_wilder_style() -> None:
    """Closes 10, 11, 10.5, 12, 11 (units of 1e-8 below) with period 3: changes +1, −0.5, +1.5, −1."""
    rsi = RSI(3)
    values = [rsi.update(int(c * 10**8)) for c in (10, 11, 10.5, 12, 11)]

    # seed after 3 changes: gain (1 + 1.5) / 3, loss 0.5 / 3 -> RSI = 100 · 2.5 / 3.0
    # then gain = (2.5/3 · 2 + 0) / 3 = 5/9, loss = (0.5/3 · 2 + 1) / 3 = 4/9 -> RSI = 100 · 5/9 / 1 = 55.5…
    assert values[:3] == [None, None, None]
    assert values[3] == pytest.approx(100 * 2.5 / 3.0, abs=1e-12)
    assert values[4] == pytest.approx(100 * 5 / 9, abs=1e-12)


def test_rsi_of_a_series_without_movement_is_none_and_of_a_rising_one_100() -> None:
    flat, rising = RSI(2), RSI(2)

    assert [flat.update(5) for _ in range(5)] == [None] * 5
    assert [rising.update(x) for x in (1, 2, 3, 4)] == [None, None, 100.0, 100.0]


@given(
    closes=st.lists(st.integers(min_value=1, max_value=10**13), min_size=0, max_size=60),
    period=st.integers(min_value=2, max_value=10),
)
def test_rsi_matches_an_exact_model_of_wilders_formula(closes: list[int], period: int) -> None:
    """Against the same formula in fractions: the float RSI is within 1e-9 of the exact one."""
    from fractions import Fraction

    rsi = RSI(period)
    gains: list[int] = []
    losses: list[int] = []
    avg: tuple[Fraction, Fraction] | None = None
    for i, close in enumerate(closes):
        got = rsi.update(close)
        if i == 0:
            assert got is None
            continue
        change = close - closes[i - 1]
        gains.append(max(change, 0))
        losses.append(max(-change, 0))
        if avg is None and len(gains) == period:
            avg = (Fraction(sum(gains), period), Fraction(sum(losses), period))
        elif avg is not None:
            avg = ((avg[0] * (period - 1) + gains[-1]) / period, (avg[1] * (period - 1) + losses[-1]) / period)
        if avg is None or avg[0] + avg[1] == 0:
            assert got is None
        else:
            assert got is not None and abs(got - float(100 * avg[0] / (avg[0] + avg[1]))) < 1e-9
