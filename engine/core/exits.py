"""Exits of an open long position: stop-loss and take-profit against a candle's range (``../shared/SPEC.md`` §2).

The same rule runs on closed candles and on in-progress ones (whose high and low are the extremes reached so far,
so an in-progress check triggers what the closed candle would, as soon as the price gets there):

* low ≤ stop → ``STOP`` at min(stop, open): a candle that opens below the stop fills at its open;
* else high ≥ target → ``TARGET`` at max(target, open);
* a candle that touches both hits the stop first.
"""

from __future__ import annotations

from decimal import Decimal

from engine.core.models import Candle, ExitReason
from engine.core.portfolio import Position


def exit_for(position: Position, candle: Candle) -> tuple[ExitReason, Decimal] | None:
    """The exit ``candle`` triggers for ``position`` and its reference price (before slippage), or ``None``."""
    stop, target = position.stop_price, position.target_price
    if stop is not None and candle.low <= stop:
        return ExitReason.STOP, min(stop, candle.open)
    if target is not None and candle.high >= target:
        return ExitReason.TARGET, max(target, candle.open)
    return None
