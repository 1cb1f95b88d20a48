"""Strategies: one small interface, and the classic SMA crossover (the other shipped one is
:class:`engine.core.rsi_reversion.RsiReversion`; :mod:`engine.core.strategy_loader` builds the configured one).

A strategy sees each closed candle of each symbol in market-time order and may answer with a :class:`Signal`.
It does not size orders or know about cash: risk checks and the broker do that. ``docs/strategies.md`` shows how to
write one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np

from engine.core.indicators import MovingSum
from engine.core.models import Candle


class SignalKind(StrEnum):
    ENTER_LONG = "ENTER_LONG"
    EXIT_LONG = "EXIT_LONG"


@dataclass(frozen=True, slots=True)
class Signal:
    symbol: str
    kind: SignalKind
    reason: str


@runtime_checkable
class Strategy(Protocol):
    """The plug-in interface.

    ``warmup`` is how many closed candles per symbol the strategy needs before it can signal (the engine bootstraps
    at least that many over REST, and a replay feeds that many before trading).

    :meth:`on_candle` is called once for every closed candle (of ``trading.interval``) of every traded symbol, in
    market-time order — the warm-up candles included, whose signals are ignored — and its answer may depend only on
    the candles it has been given: no clock, no I/O, no randomness (a replay and a restart must decide the same).
    A signal names the candle's symbol. ENTER_LONG asks for an entry at the next candle's open (the risk checks may
    deny it); EXIT_LONG sells an open position of the symbol (nothing without one).
    """

    warmup: int

    def on_candle(self, candle: Candle) -> Signal | None:
        """Consume one closed candle; return a signal or ``None``."""
        ...


class SmaCrossover:
    """Long when the ``fast``-period SMA of closes crosses above the ``slow`` one; exit when it crosses below.

    Parameters (``[strategy.params]``): ``fast`` (default 9, at least 1) and ``slow`` (default 21, above ``fast``)
    periods in candles.
    A cross is a change of sign of (fast SMA − slow SMA) between two consecutive closed candles. The sign is exact:
    closes in units of 10⁻⁸ (Binance prices have at most 8 decimals), sign(Σfast / fast − Σslow / slow) =
    sign(slow · Σfast − fast · Σslow) in integers, so no rounding can make or miss a cross — and a replay that
    computes it over whole columns (:meth:`signals`) finds exactly the same ones.

    Raises:
        ValueError: ``fast`` below 1, or not below ``slow``.
    """

    def __init__(self, *, fast: int = 9, slow: int = 21) -> None:
        if fast < 1:
            raise ValueError(f"fast period must be at least 1, got {fast}")
        if fast >= slow:
            raise ValueError(f"fast period ({fast}) must be below slow period ({slow})")
        self.fast, self.slow = fast, slow
        self.warmup = slow + 1
        self._state: dict[str, tuple[MovingSum, MovingSum, int | None]] = {}
        self._above = f"SMA{fast} crossed above SMA{slow}"
        self._below = f"SMA{fast} crossed below SMA{slow}"

    def on_candle(self, candle: Candle) -> Signal | None:
        fast, slow, prev_diff = self._state.get(candle.symbol) or (MovingSum(self.fast), MovingSum(self.slow), None)
        close = int(candle.close.scaleb(8))
        f, s = fast.update(close), slow.update(close)
        diff = None if f is None or s is None else self.slow * f - self.fast * s
        self._state[candle.symbol] = (fast, slow, diff)
        if diff is None or prev_diff is None:
            return None
        if prev_diff <= 0 < diff:
            return Signal(candle.symbol, SignalKind.ENTER_LONG, self._above)
        if prev_diff >= 0 > diff:
            return Signal(candle.symbol, SignalKind.EXIT_LONG, self._below)
        return None

    def signals(self, symbol: str, close_units: np.ndarray) -> dict[int, Signal]:
        """The signals :meth:`on_candle` would return for ``symbol``'s closes ``close_units`` (int64, units of
        10⁻⁸, oldest first) fed to a fresh strategy, keyed by index — computed over the whole column at once (a
        replay's precomputation): the same integer sums and the same sign test, so exactly the same crossings."""
        fast, slow = self.fast, self.slow
        if len(close_units) <= slow:
            return {}
        windows = np.lib.stride_tricks.sliding_window_view(close_units, slow)  # index t: closes t .. t + slow − 1
        slow_sums = windows.sum(axis=1, dtype=np.int64)
        fast_sums = windows[:, slow - fast :].sum(axis=1, dtype=np.int64)
        diff = slow * fast_sums - fast * slow_sums  # diff[t] belongs to candle t + slow − 1
        prev, cur = diff[:-1], diff[1:]  # cur[j] belongs to candle j + slow
        above = np.flatnonzero((prev <= 0) & (cur > 0)) + slow
        below = np.flatnonzero((prev >= 0) & (cur < 0)) + slow
        found = {int(i): Signal(symbol, SignalKind.ENTER_LONG, self._above) for i in above}
        found.update((int(i), Signal(symbol, SignalKind.EXIT_LONG, self._below)) for i in below)
        return found

