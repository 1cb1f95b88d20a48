"""Shared fixtures: a market whose replay runs on a hand-advanced wall clock."""

from __future__ import annotations

import pytest

from simulator.kline import INTERVAL_MS
from simulator.market import Market


class FakeClock:
    """A wall clock in seconds that moves only when a test advances it."""

    def __init__(self, now_s: float = 0.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@pytest.fixture
def replay_clock() -> FakeClock:
    """The market's wall clock; at speed 60, advancing it 1 s moves the market one 1m candle."""
    return FakeClock()


@pytest.fixture
def market(replay_clock: FakeClock) -> Market:
    """BTCUSDT and ETHUSDT at speed 60 with 1000 candles of history, 30 s into a candle, frozen until
    ``replay_clock`` moves."""
    start = Market.replay(clock=replay_clock).now_ms() + 700 * INTERVAL_MS + 30_000
    return Market.replay(start_ms=start, speed=60.0, clock=replay_clock)


@pytest.fixture
def wall_clock() -> FakeClock:
    """A Unix wall clock for request-weight minutes, 15.5 s into a UTC minute."""
    return FakeClock(now_s=1_699_999_995.5)


@pytest.fixture
def faults_clock() -> FakeClock:
    """The faults' monotonic clock (IP bans, WebSocket connection ages)."""
    return FakeClock(now_s=1000.0)
