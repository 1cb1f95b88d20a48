"""A scripted price shock: a linear fall over a few candles that stays in the prices for the rest of the replay.

A shock of ``pct`` % over ``candles`` candles starting at ``start_ms`` scales the OHLC of the *k*-th candle from the
start (k = 1 … ``candles``) by 1 − ``pct``/100 × k/``candles``, and of every later candle by 1 − ``pct``/100: the
price falls by ``pct`` % in total, in equal steps, and stays shifted. Candles that opened before ``start_ms`` are
untouched. Several shocks compound (their factors multiply). Scaled prices are rounded half-even to the symbol's
tick size, so they stay on the PRICE_FILTER grid; volume, trade count and trade ids are kept.

Example: ``pct=8, candles=5`` scales the candles by 0.984, 0.968, 0.952, 0.936, 0.92, then 0.92 for good.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal

from simulator.kline import INTERVAL_MS, Candle


@dataclass(frozen=True, slots=True)
class PriceShock:
    """One shock: ``pct`` % (in percent, < 100; negative for a rise) over ``candles`` ≥ 1 candles, the first of
    which opens at ``start_ms`` (Unix ms).

    Raises:
        ValueError: ``pct`` is not a finite number below 100, or ``candles`` < 1.
    """

    start_ms: int
    pct: float
    candles: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.pct) and self.pct < 100):
            raise ValueError(f"a price shock must be a finite percentage below 100, got {self.pct!r}")
        if self.candles < 1:
            raise ValueError(f"a price shock lasts at least one candle, got {self.candles!r}")

    def factor(self, open_time_ms: int) -> Decimal:
        """The price multiplier of the candle opening at ``open_time_ms`` (1 before the shock starts)."""
        if open_time_ms < self.start_ms:
            return Decimal(1)
        step = min((open_time_ms - self.start_ms) // INTERVAL_MS + 1, self.candles)
        return 1 - Decimal(str(self.pct)) / 100 * step / self.candles


def shocked(candle: Candle, shocks: Iterable[PriceShock], *, tick_size: Decimal) -> Candle:
    """``candle`` with the OHLC scaled by every shock's factor, rounded to ``tick_size``; the same object when no
    shock applies to it."""
    factor = math.prod((shock.factor(candle.open_time_ms) for shock in shocks), start=Decimal(1))
    if factor == 1:
        return candle

    def scale(price: Decimal) -> Decimal:
        return (price * factor).quantize(tick_size, rounding=ROUND_HALF_EVEN)

    return replace(
        candle, open=scale(candle.open), high=scale(candle.high), low=scale(candle.low), close=scale(candle.close)
    )
