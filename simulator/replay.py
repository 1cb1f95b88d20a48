"""Replay time: the market clock, and what a candle looks like part-way through its minute.

Market time runs ``speed`` times faster than the injected wall clock (``speed`` = market seconds per wall second;
60 replays one 1m candle per wall second). The simulator's server time *is* this market time.

An in-progress candle is synthesised from the full candle's OHLC by walking a fixed price path at constant speed:
open → low → high → close when close ≥ open, else open → high → low → close. At fraction *f* of the minute the
price has travelled *f* of the path's length; the partial candle's close is that price, its high/low are the
extremes reached so far, its volume is volume × *f* and its trade count ⌊trades × *f*⌋. The price is rounded to the
finest decimal place among the candle's own OHLC, so it stays on the price grid and within [low, high].
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal
from itertools import pairwise

from simulator.kline import INTERVAL_MS, Candle

_EIGHT_DECIMALS = Decimal("1e-8")


class ReplayClock:
    """Market time in Unix ms: ``start_ms`` + (``clock()`` − ``clock()`` at creation) × ``speed`` × 1000.

    Args:
        start_ms: market time at creation (Unix ms).
        speed: market seconds per wall second, > 0.
        clock: monotonic wall clock in seconds; inject a fake one in tests.

    Raises:
        ValueError: ``speed`` is not a positive finite number.
    """

    def __init__(self, start_ms: int, speed: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"replay speed must be a positive number of market seconds per wall second, got {speed!r}")
        self.start_ms = start_ms
        self.speed = speed
        self._clock = clock
        self._origin_s = clock()

    def now_ms(self) -> int:
        """Current market time, Unix ms (floored)."""
        return self.start_ms + math.floor((self._clock() - self._origin_s) * self.speed * 1000)


def partial_candle(candle: Candle, fraction: Decimal) -> Candle:
    """``candle`` as it stood at ``fraction`` ∈ [0, 1) of its minute (see the module docstring for the path).

    Raises:
        ValueError: ``fraction`` outside [0, 1), or a price of ``candle`` is not finite.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    o, h, lo, c = candle.open, candle.high, candle.low, candle.close
    path = (o, lo, h, c) if c >= o else (o, h, lo, c)
    distance = fraction * sum((abs(b - a) for a, b in pairwise(path)), Decimal(0))
    price = o
    reached = [o]
    for target in path[1:]:
        leg = abs(target - price)
        if distance < leg:
            price += distance if target > price else -distance
            break
        distance -= leg
        price = target
        reached.append(price)
    grid = Decimal(1).scaleb(min(_exponent(p) for p in (o, h, lo, c)))
    price = price.quantize(grid)
    reached.append(price)
    return replace(
        candle,
        high=max(reached),
        low=min(reached),
        close=price,
        volume=(candle.volume * fraction).quantize(_EIGHT_DECIMALS, rounding=ROUND_DOWN),
        trades=math.floor(candle.trades * fraction),
    )


def candle_at(candle: Candle, now_ms: int) -> tuple[Candle, bool]:
    """``(candle as seen at market time now_ms, closed)`` for a candle that has opened (open time ≤ ``now_ms``).

    A candle is closed once ``now_ms`` ≥ open time + 60,000; before that it is the partial candle at
    fraction (``now_ms`` − open time) / 60,000.
    """
    elapsed_ms = now_ms - candle.open_time_ms
    if elapsed_ms >= INTERVAL_MS:
        return candle, True
    return partial_candle(candle, Decimal(elapsed_ms) / INTERVAL_MS), False


def _exponent(price: Decimal) -> int:
    """The decimal exponent of a finite ``price`` (``Decimal("0.01")`` → -2)."""
    exponent = price.as_tuple().exponent
    if not isinstance(exponent, int):  # 'n', 'N' or 'F': NaN, sNaN or an infinity
        raise ValueError(f"a candle price must be finite, got {price}")
    return exponent
