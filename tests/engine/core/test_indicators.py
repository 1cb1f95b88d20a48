"""SMA and Wilder's ATR on short hand-made series, each value worked out in a comment."""

from __future__ import annotations

import pytest

from engine.core.indicators import ATR, SMA


def test_sma_is_none_until_the_window_is_full_then_the_mean_of_the_last_period_values() -> None:
    sma = SMA(3)

    # [1] [1,2] not full; (1+2+3)/3 = 2; (2+3+4)/3 = 3; (3+4+5)/3 = 4; (4+5+9)/3 = 6
    assert [sma.update(x) for x in [1.0, 2.0, 3.0, 4.0, 5.0, 9.0]] == [None, None, 2.0, 3.0, 4.0, 6.0]
    assert sma.value == 6.0


def test_sma_of_one_is_the_last_value() -> None:
    sma = SMA(1)

    assert [sma.update(x) for x in [5.0, 7.0]] == [5.0, 7.0]


def test_sma_stays_accurate_over_a_long_run() -> None:
    """The running sum does not drift: after 100,000 updates of 0.1, 0.2, 0.3 … the mean of the last three is right to 1e-6."""
    sma = SMA(3)
    for i in range(1, 100_001):
        sma.update(i / 10)

    # last three: 9,999.8, 9,999.9, 10,000.0 → mean 9,999.9
    assert sma.value == pytest.approx(9999.9, abs=1e-6)


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
