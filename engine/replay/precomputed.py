"""Indicators and signals worked out over whole columns before a replay runs, handed to the core as its strategy
and its ATR.

The core keeps asking the same questions (:meth:`Strategy.on_candle`, ``atr[symbol].value`` after
``atr[symbol].on_candle``); the answers were computed in one pass per symbol — by the strategy's own column method
(:class:`ColumnStrategy`: :meth:`engine.core.strategy.SmaCrossover.signals`, exact integer sums, the same crossings;
:meth:`engine.core.rsi_reversion.RsiReversion.signals`, the same RSI code over the same integers) and by
:meth:`engine.core.indicators.ATR.series` (the same float operations as the candle-by-candle ATR). So the core may
skip the candles on which nothing can happen (:meth:`engine.core.core.TradingCore.advance`) and still decide
exactly as if it had seen each one. A strategy without a column method is not precomputed: the replay feeds it
every candle through the core (:mod:`engine.replay.run`).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from engine.core.indicators import ATR
from engine.core.models import Candle
from engine.core.strategy import Signal
from engine.replay.columns import SymbolColumns


@runtime_checkable
class ColumnStrategy(Protocol):
    """A strategy that can also give its signals for a whole column of closes at once (as
    :meth:`~engine.core.strategy.SmaCrossover.signals`)."""

    warmup: int

    def on_candle(self, candle: Candle) -> Signal | None: ...

    def signals(self, symbol: str, close_units: np.ndarray) -> dict[int, Signal]: ...


class PrecomputedSignals:
    """A :class:`~engine.core.strategy.Strategy` answering from signals keyed by ``(symbol, open time in ms)``."""

    def __init__(self, signals: Mapping[tuple[str, int], Signal], *, warmup: int) -> None:
        self._signals = signals
        self.warmup = warmup

    def on_candle(self, candle: Candle) -> Signal | None:
        return self._signals.get((candle.symbol, candle.open_time_ms))


class PrecomputedATR:
    """An ATR answering from its values per candle: ``on_candle`` looks up the candle's value (by open time)."""

    def __init__(self, open_ms: Sequence[int], values: Sequence[float | None]) -> None:
        self._open_ms = array("q", open_ms)  # 8 bytes a time, where a list of ints takes 36
        self._values = values
        self.value: float | None = None

    def on_candle(self, candle: Candle) -> None:
        self.value = self._values[bisect_left(self._open_ms, candle.open_time_ms)]


def signals(strategy: ColumnStrategy, columns: Sequence[SymbolColumns], *, warmup: int) -> dict[tuple[str, int], Signal]:
    """Every signal ``strategy`` gives over the replay, keyed by ``(symbol, open time)``, from its column method; the
    signals of each symbol's first ``warmup`` candles are left out, as the core ignores them."""
    found: dict[tuple[str, int], Signal] = {}
    for col in columns:
        for i, signal in strategy.signals(col.symbol, col.close_units).items():
            if i >= warmup:
                found[(col.symbol, int(col.open_ms[i]))] = signal
    return found


def atr(columns: SymbolColumns, *, period: int) -> PrecomputedATR:
    """The ATR of ``period`` over ``columns``, from its first candle."""
    values = ATR(period).series(columns.high, columns.low, columns.close)
    return PrecomputedATR(columns.open_ms.tolist(), values)
