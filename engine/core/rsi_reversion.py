"""RSI mean reversion, the second classic signal (``strategy.name = "rsi_reversion"``)."""

from __future__ import annotations

import numpy as np

from engine.core.indicators import RSI
from engine.core.models import Candle
from engine.core.strategy import Signal, SignalKind


class RsiReversion:
    """Buy a dip, sell the recovery: ENTER_LONG when RSI(``period``) of closes falls below ``oversold``, EXIT_LONG
    when it rises above ``overbought`` (Wilder's thresholds, J. W. Wilder, 1978).

    A signal is a crossing between two consecutive closed candles — from ≥ ``oversold`` to < ``oversold``, from
    ≤ ``overbought`` to > ``overbought`` — so a long stay below the line is one entry, not one a candle. Stops,
    targets and the trailing stop still close positions as for every strategy (``[trading]``).

    Parameters (``[strategy.params]``):
        period: candles of the RSI, at least 2 (default 14).
        oversold: the entry line, in (0, ``overbought``) (default 30).
        overbought: the exit line, in (``oversold``, 100) (default 70).

    ``warmup`` is ``period + 2`` candles: the first RSI needs ``period + 1`` closes, a crossing two RSIs.

    Raises:
        ValueError: a parameter out of its range, named.
    """

    def __init__(self, *, period: int = 14, oversold: float = 30.0, overbought: float = 70.0) -> None:
        if period < 2:
            raise ValueError(f"period must be at least 2, got {period}")
        if not 0 < oversold < 100:
            raise ValueError(f"oversold must be between 0 and 100, got {oversold:g}")
        if not 0 < overbought < 100:
            raise ValueError(f"overbought must be between 0 and 100, got {overbought:g}")
        if oversold >= overbought:
            raise ValueError(f"oversold ({oversold:g}) must be below overbought ({overbought:g})")
        self.period, self.oversold, self.overbought = period, oversold, overbought
        self.warmup = period + 2
        self._state: dict[str, tuple[RSI, float | None]] = {}

    def on_candle(self, candle: Candle) -> Signal | None:
        rsi, previous = self._state.get(candle.symbol) or (RSI(self.period), None)
        value = rsi.update(int(candle.close.scaleb(8)))
        self._state[candle.symbol] = (rsi, value)
        return self._signal(candle.symbol, previous, value)

    def signals(self, symbol: str, close_units: np.ndarray) -> dict[int, Signal]:
        """The signals :meth:`on_candle` would return for ``symbol``'s closes ``close_units`` (int64, units of 10⁻⁸,
        oldest first) fed to a fresh strategy, keyed by index: the same :class:`~engine.core.indicators.RSI` over
        the same integers, so the same floats and the same crossings (a replay's precomputation)."""
        rsi = RSI(self.period)
        found: dict[int, Signal] = {}
        previous: float | None = None
        for i, close in enumerate(close_units.tolist()):
            value = rsi.update(close)
            signal = self._signal(symbol, previous, value)
            if signal is not None:
                found[i] = signal
            previous = value
        return found

    def _signal(self, symbol: str, previous: float | None, value: float | None) -> Signal | None:
        if previous is None or value is None:
            return None
        if previous >= self.oversold > value:
            return Signal(symbol, SignalKind.ENTER_LONG, f"RSI{self.period} {value:.1f} fell below {self.oversold:g}")
        if previous <= self.overbought < value:
            return Signal(symbol, SignalKind.EXIT_LONG, f"RSI{self.period} {value:.1f} rose above {self.overbought:g}")
        return None
