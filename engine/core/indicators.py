"""Incremental indicators over closed candles, O(1) per candle.

:class:`MovingSum` is exact (integers: prices in units of 10⁻⁸), so decisions made on it — the SMA crossover — are
the same whether computed candle by candle or over a whole column at once (a replay). :class:`ATR` is a float:
it sizes stops, never decides alone, and a replay computes it with this same class.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import numpy as np

from engine.core.models import Candle


class CandleIndicator(Protocol):
    """What the core needs of an indicator it keeps per symbol (the ATR): fed every processed closed candle, its
    ``value`` then read (``None`` until it has enough history)."""

    @property
    def value(self) -> float | None: ...

    def on_candle(self, candle: Candle) -> None: ...


class MovingSum:
    """The exact sum of the last ``period`` integers; ``None`` until ``period`` values were seen. The simple moving
    average is this sum / ``period``: comparing two of them needs no division (see
    :class:`engine.core.strategy.SmaCrossover`)."""

    def __init__(self, period: int) -> None:
        self.period = period
        self._window: deque[int] = deque(maxlen=period)
        self._sum = 0

    def update(self, x: int) -> int | None:
        window = self._window
        if len(window) == self.period:
            self._sum -= window[0]
        window.append(x)
        self._sum += x
        return self._sum if len(window) == self.period else None


class ATR:
    """Average True Range with Wilder's smoothing (J. W. Wilder, 1978), in price units.

    True range = max(high − low, |high − previous close|, |low − previous close|). The first value is the plain
    mean of the first ``period`` true ranges; then ATR = (ATR·(n−1) + TR) / n.
    """

    def __init__(self, period: int = 14) -> None:
        self.period = period
        self._prev_close: float | None = None
        self._seed: list[float] = []
        self.value: float | None = None

    def on_candle(self, candle: Candle) -> None:
        """:meth:`update` with the candle's high, low and close."""
        _, high, low, close, _ = candle.floats()
        self.update(high, low, close)

    def series(self, highs: np.ndarray, lows: np.ndarray, closes: np.ndarray) -> list[float | None]:
        """The values :meth:`update` returns for these candles (float64 columns, oldest first) fed to a fresh ATR of
        this period, for a whole column at once (a replay's precomputation): the same float operations in the same
        order — the true ranges element-wise (IEEE subtraction, ``abs`` and ``max`` are exact operations on the
        same operands), the seed summed left to right, then the smoothing — so the same values to the last bit."""
        n, period = len(highs), self.period
        if n == 0:
            return []
        previous = np.concatenate(([np.nan], closes[:-1]))
        true_range = np.maximum(np.maximum(highs - lows, np.abs(highs - previous)), np.abs(lows - previous))
        true_range[0] = highs[0] - lows[0]
        ranges = true_range.tolist()
        values: list[float | None] = [None] * min(n, period - 1)
        if n < period:
            return values
        value = sum(ranges[:period]) / period
        values.append(value)
        keep = period - 1
        for tr in ranges[period:]:
            value = (value * keep + tr) / period
            values.append(value)
        return values

    def update(self, high: float, low: float, close: float) -> float | None:
        tr = high - low if self._prev_close is None else max(high - low, abs(high - self._prev_close), abs(low - self._prev_close))
        self._prev_close = close
        if self.value is None:
            self._seed.append(tr)
            if len(self._seed) == self.period:
                self.value = sum(self._seed) / self.period
                self._seed.clear()
        else:
            self.value = (self.value * (self.period - 1) + tr) / self.period
        return self.value


class RSI:
    """Relative Strength Index with Wilder's smoothing (J. W. Wilder, 1978), in [0, 100], over closes in units of
    10⁻⁸ (integers, as :class:`MovingSum`).

    Change = close − previous close (exact), gain = max(change, 0), loss = max(−change, 0). The first averages are the
    plain means of the first ``period`` gains and losses (so the first value comes with the ``period + 1``-th close);
    then average = (average·(n−1) + x) / n, in floats. RSI = 100 · average gain / (average gain + average loss), which
    is Wilder's 100 − 100 / (1 + RS); ``None`` while both averages are 0 (no movement at all). A replay's column
    computation feeds the same closes through this same class, so the values are the same to the last bit.
    """

    def __init__(self, period: int = 14) -> None:
        self.period = period
        self._previous: int | None = None
        self._seed_gains = 0
        self._seed_losses = 0
        self._seen = 0
        self._average_gain: float | None = None
        self._average_loss = 0.0
        self.value: float | None = None

    def update(self, close_units: int) -> float | None:
        """Feed the next close (units of 10⁻⁸); returns the RSI after it (``None`` before ``period + 1`` closes)."""
        previous, self._previous = self._previous, close_units
        if previous is None:
            return None
        change = close_units - previous
        gain, loss = (change, 0) if change > 0 else (0, -change)
        n = self.period
        if self._average_gain is None:
            self._seed_gains += gain
            self._seed_losses += loss
            self._seen += 1
            if self._seen < n:
                return None
            self._average_gain, self._average_loss = self._seed_gains / n, self._seed_losses / n
        else:
            self._average_gain = (self._average_gain * (n - 1) + gain) / n
            self._average_loss = (self._average_loss * (n - 1) + loss) / n
        total = self._average_gain + self._average_loss
        self.value = None if total == 0 else 100 * self._average_gain / total
        return self.value
