"""RsiReversion: ENTER_LONG when RSI falls below ``oversold``, EXIT_LONG when it rises above ``overbought`` — on the
crossing only, symbols apart — the column method equal to the candle-by-candle one on real data, and parameters out
of range refused by name."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from engine.core.indicators import RSI
from engine.core.models import Candle
from engine.core.rsi_reversion import RsiReversion
from engine.core.strategy import Signal, SignalKind
from simulator.dataset import load_candles

MINUTE = 60_000


def candle(close: float, i: int, symbol: str = "BTCUSDT") -> Candle:
    c = Decimal(str(close))
    return Candle(symbol, i * MINUTE, i * MINUTE + MINUTE - 1, c, c, c, c, Decimal(1))


def run(strategy: RsiReversion, closes: list[float], symbol: str = "BTCUSDT") -> list[Signal | None]:
    return [strategy.on_candle(candle(c, i, symbol)) for i, c in enumerate(closes)]


# RSI(2) of the closes (changes, then Wilder's averages of gains and losses):
#   #0 10  —
#   #1 11  +1
#   #2 12  +1   gain 1, loss 0        RSI 100
#   #3  9  −3   gain 0.5, loss 1.5    RSI 25    fell below 30 → ENTER_LONG
#   #4  8  −1   gain 0.25, loss 1.25  RSI 16.7  still below: nothing
#   #5 12  +4   gain 2.125, loss 0.625 RSI 77.3 rose above 70 → EXIT_LONG
CLOSES = [10.0, 11.0, 12.0, 9.0, 8.0, 12.0]


def test_signals_when_rsi_crosses_the_lines_only() -> None:
    signals = run(RsiReversion(period=2), CLOSES)

    assert [s.kind if s else None for s in signals] == [None, None, None, SignalKind.ENTER_LONG, None, SignalKind.EXIT_LONG]
    assert signals[3] is not None and signals[3].reason == "RSI2 25.0 fell below 30"
    assert signals[5] is not None and signals[5].reason == "RSI2 77.3 rose above 70"


def test_symbols_are_tracked_separately() -> None:
    strategy = RsiReversion(period=2)
    got = []
    for i, c in enumerate(CLOSES):
        got.append(strategy.on_candle(candle(c, i, "BTCUSDT")))
        got.append(strategy.on_candle(candle(100.0, i, "ETHUSDT")))  # flat: no RSI, no signal

    assert [s.symbol for s in got if s is not None] == ["BTCUSDT", "BTCUSDT"]


def test_the_column_method_finds_the_candle_by_candle_signals_on_real_data() -> None:
    """A replay precomputes the signals over the whole column: the same ones, at the same candles, as one by one."""
    ds = load_candles("ETHUSDT")
    strategy = RsiReversion(period=14, oversold=25, overbought=75)
    one_by_one = {}
    for i, (open_ms, text) in enumerate(zip(ds.open_time_ms, ds.close, strict=True)):
        close = Decimal(text)
        signal = strategy.on_candle(Candle("ETHUSDT", open_ms, open_ms + MINUTE - 1, close, close, close, close, Decimal(0)))
        if signal is not None:
            one_by_one[i] = signal
    closes = np.array([int(Decimal(c).scaleb(8)) for c in ds.close], dtype=np.int64)

    assert len(one_by_one) > 100
    assert RsiReversion(period=14, oversold=25, overbought=75).signals("ETHUSDT", closes) == one_by_one


def test_warmup_is_enough_for_the_first_crossing() -> None:
    strategy = RsiReversion(period=5)
    rsi = RSI(5)

    assert strategy.warmup == 7  # the first RSI with the 6th close, a crossing needs the 7th
    assert [rsi.update(x) is None for x in range(1, 8)] == [True] * 5 + [False] * 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": 1}, "period must be at least 2, got 1"),
        ({"oversold": 0}, "oversold must be between 0 and 100, got 0"),
        ({"overbought": 100}, "overbought must be between 0 and 100, got 100"),
        ({"oversold": 60, "overbought": 40}, "oversold (60) must be below overbought (40)"),
    ],
)
def test_parameters_out_of_range_are_refused_by_name(params: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RsiReversion(**params)  # type: ignore[arg-type]
