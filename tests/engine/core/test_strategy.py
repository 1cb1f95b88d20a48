"""SmaCrossover: an ENTER_LONG when the fast SMA crosses above the slow one, an EXIT_LONG when it crosses
below, nothing during warmup, symbols tracked apart, and fast ≥ slow refused."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.models import Candle
from engine.core.strategy import Signal, SignalKind, SmaCrossover

MINUTE = 60_000


def candle(close: float, i: int, symbol: str = "BTCUSDT") -> Candle:
    c = Decimal(str(close))
    return Candle(symbol, i * MINUTE, i * MINUTE + MINUTE - 1, c, c, c, c, Decimal(1))


def run(strategy: SmaCrossover, closes: list[float], symbol: str = "BTCUSDT") -> list[Signal | None]:
    return [strategy.on_candle(candle(c, i, symbol)) for i, c in enumerate(closes)]


# SMA2 / SMA3 of the closes, and their difference (fast − slow):
#   #0 10   —      —
#   #1  9   9.5    —
#   #2  8   8.5    9.0    −0.5   (first difference: nothing to cross from)
#   #3  7   7.5    8.0    −0.5
#   #4 10   8.5    8.33   +0.17  crossed above → ENTER_LONG
#   #5 11  10.5    9.33   +1.17
#   #6  8   9.5    9.67   −0.17  crossed below → EXIT_LONG
#   #7  7   7.5    8.67   −1.17
CLOSES = [10.0, 9.0, 8.0, 7.0, 10.0, 11.0, 8.0, 7.0]


def test_signals_on_the_crossings_only() -> None:
    signals = run(SmaCrossover(fast=2, slow=3), CLOSES)

    kinds = [s.kind if s else None for s in signals]
    assert kinds == [None, None, None, None, SignalKind.ENTER_LONG, None, SignalKind.EXIT_LONG, None]
    assert signals[4] is not None and signals[4].symbol == "BTCUSDT"
    assert signals[4].reason == "SMA2 crossed above SMA3"
    assert signals[6] is not None and signals[6].reason == "SMA2 crossed below SMA3"


def test_no_signal_during_warmup_even_when_fast_starts_above_slow() -> None:
    """A rising series has fast > slow from the first computable candle: that is no crossing."""
    strategy = SmaCrossover(fast=2, slow=3)

    assert strategy.warmup == 4  # slow + 1: two differences are needed for a cross
    assert run(strategy, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) == [None] * 6


def test_symbols_are_tracked_separately() -> None:
    strategy = SmaCrossover(fast=2, slow=3)
    signals = []
    for i, close in enumerate(CLOSES):
        signals.append(strategy.on_candle(candle(close, i, "BTCUSDT")))
        assert strategy.on_candle(candle(1000.0 + i, i, "ETHUSDT")) is None  # ETH rises steadily: no cross

    assert [s.kind if s else None for s in signals][4:7] == [SignalKind.ENTER_LONG, None, SignalKind.EXIT_LONG]


def test_defaults_are_nine_and_twenty_one() -> None:
    strategy = SmaCrossover()

    assert (strategy.fast, strategy.slow, strategy.warmup) == (9, 21, 22)


@pytest.mark.parametrize(("fast", "slow"), [(21, 21), (30, 21)])
def test_fast_not_below_slow_is_refused(fast: int, slow: int) -> None:
    with pytest.raises(ValueError, match="fast"):
        SmaCrossover(fast=fast, slow=slow)


def units_candle(units: int, i: int, symbol: str = "BTCUSDT") -> Candle:
    c = Decimal(units).scaleb(-8)
    return Candle(symbol, i * MINUTE, i * MINUTE + MINUTE - 1, c, c, c, c, Decimal(1))


@given(
    st.lists(st.integers(min_value=1, max_value=12), min_size=0, max_size=300),  # few distinct values: many ties
    st.sampled_from([(2, 3), (3, 7), (9, 21)]),
)
def test_column_signals_are_exactly_the_candle_by_candle_ones(steps: list[int], periods: tuple[int, int]) -> None:
    fast, slow = periods
    closes = [5_000_000_000 + 100_000_000 * step for step in steps]  # 50.00 + 1.00 × step: flat runs and exact ties
    one_by_one = SmaCrossover(fast=fast, slow=slow)
    expected = {i: s for i, c in enumerate(closes) if (s := one_by_one.on_candle(units_candle(c, i))) is not None}

    assert SmaCrossover(fast=fast, slow=slow).signals("BTCUSDT", np.array(closes, dtype=np.int64)) == expected


def test_column_signals_on_a_real_month_match() -> None:
    """The bundled BTCUSDT month (42,915 closes): the same crossings, every one."""
    from simulator.dataset import load_candles

    closes = [int(Decimal(c).scaleb(8)) for c in load_candles("BTCUSDT").close]
    one_by_one = SmaCrossover()
    expected = {i: s for i, c in enumerate(closes) if (s := one_by_one.on_candle(units_candle(c, i))) is not None}

    assert len(expected) > 1_000
    assert SmaCrossover().signals("BTCUSDT", np.array(closes, dtype=np.int64)) == expected
