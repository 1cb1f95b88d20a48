"""Strategies: one small interface, and the classic SMA crossover.

A strategy sees each closed candle of each symbol in market-time order and may answer with a :class:`Signal`.
It does not size orders or know about cash: risk checks and the broker do that.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from engine.core.indicators import SMA
from engine.core.models import Candle


class SignalKind(StrEnum):
    ENTER_LONG = "ENTER_LONG"
    EXIT_LONG = "EXIT_LONG"


@dataclass(frozen=True, slots=True)
class Signal:
    symbol: str
    kind: SignalKind
    reason: str


class Strategy(Protocol):
    """The plug-in interface.

    ``warmup`` is how many closed candles per symbol the strategy needs before it can signal
    (the engine bootstraps at least that many over REST).
    """

    warmup: int

    def on_candle(self, candle: Candle) -> Signal | None:
        """Consume one closed candle; return a signal or ``None``."""
        ...


class SmaCrossover:
    """Long when the ``fast``-period SMA of closes crosses above the ``slow`` one; exit when it crosses below.

    Parameters (``[strategy]`` in the config): ``fast`` (default 9) and ``slow`` (default 21) periods in candles.
    A cross is a change of sign of (fast − slow) between two consecutive closed candles.
    """

    def __init__(self, *, fast: int = 9, slow: int = 21) -> None:
        if fast >= slow:
            raise ValueError(f"fast period ({fast}) must be below slow period ({slow})")
        self.fast, self.slow = fast, slow
        self.warmup = slow + 1
        self._state: dict[str, tuple[SMA, SMA, float | None]] = {}

    def on_candle(self, candle: Candle) -> Signal | None:
        fast, slow, prev_diff = self._state.get(candle.symbol) or (SMA(self.fast), SMA(self.slow), None)
        close = candle.floats()[3]
        f, s = fast.update(close), slow.update(close)
        diff = None if f is None or s is None else f - s
        self._state[candle.symbol] = (fast, slow, diff)
        if diff is None or prev_diff is None:
            return None
        if prev_diff <= 0 < diff:
            return Signal(candle.symbol, SignalKind.ENTER_LONG, f"SMA{self.fast} crossed above SMA{self.slow}")
        if prev_diff >= 0 > diff:
            return Signal(candle.symbol, SignalKind.EXIT_LONG, f"SMA{self.fast} crossed below SMA{self.slow}")
        return None
