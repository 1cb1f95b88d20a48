"""Incremental indicators over closed candles, O(1) per candle (floats: they drive signals, not money)."""

from __future__ import annotations

from collections import deque


class SMA:
    """Simple moving average of the last ``period`` values; ``value`` is ``None`` until ``period`` values were seen."""

    def __init__(self, period: int) -> None:
        self.period = period
        self._window: deque[float] = deque(maxlen=period)
        self._sum = 0.0

    def update(self, x: float) -> float | None:
        window = self._window
        if len(window) == self.period:
            self._sum -= window[0]
        window.append(x)
        self._sum += x
        return self._sum / self.period if len(window) == self.period else None

    @property
    def value(self) -> float | None:
        return self._sum / self.period if len(self._window) == self.period else None


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
