"""Indicators and signals worked out over whole columns before a replay runs, handed to the core as its strategy
and its ATR.

The core keeps asking the same questions (:meth:`Strategy.on_candle`, ``atr[symbol].value`` after
``atr[symbol].on_candle``); the answers were computed in one pass per symbol — by the strategy's own column method
when it has one (:meth:`engine.core.strategy.SmaCrossover.signals`: exact integer sums, the same crossings) or by
feeding it every candle in the replay's order otherwise, and by :meth:`engine.core.indicators.ATR.series` (the
same float operations as the candle-by-candle ATR). So the core may skip the candles on which nothing can happen
(:meth:`engine.core.core.TradingCore.advance`) and still decide exactly as if it had seen each one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from engine.core.indicators import ATR
from engine.core.models import Candle
from engine.core.strategy import Signal, Strategy
from engine.replay.columns import MergedOrder, SymbolColumns


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
        self._open_ms = list(open_ms)
        self._values = values
        self.value: float | None = None

    def on_candle(self, candle: Candle) -> None:
        self.value = self._values[bisect_left(self._open_ms, candle.open_time_ms)]


def signals(strategy: Strategy, columns: Sequence[SymbolColumns], *, warmup: int, order: MergedOrder) -> dict[tuple[str, int], Signal]:
    """Every signal ``strategy`` gives over the replay, keyed by ``(symbol, open time)``: from its column method, or
    by feeding it the candles as the replay would (each symbol's first ``warmup`` ones, then ``order``)."""
    if isinstance(strategy, ColumnStrategy):
        found: dict[tuple[str, int], Signal] = {}
        for col in columns:
            for i, signal in strategy.signals(col.symbol, col.close_units).items():
                if i >= warmup:  # a warm-up candle's signal is ignored, as the core ignores it
                    found[(col.symbol, int(col.open_ms[i]))] = signal
        return found
    for col in columns:
        for i in range(min(warmup, len(col))):
            strategy.on_candle(col.candle(i))
    fed: dict[tuple[str, int], Signal] = {}
    for s, row in zip(order.symbol.tolist(), order.row.tolist(), strict=True):
        candle = columns[s].candle(row)
        given = strategy.on_candle(candle)
        if given is not None:
            fed[(candle.symbol, candle.open_time_ms)] = given
    return fed


def atr(columns: SymbolColumns, *, period: int) -> PrecomputedATR:
    """The ATR of ``period`` over ``columns``, from its first candle."""
    values = ATR(period).series(columns.high, columns.low, columns.close)
    return PrecomputedATR(columns.open_ms.tolist(), values)
