"""The synthetic order book around the last price that ``depth``, ``ticker/bookTicker`` and ``ticker/24hr`` share.

The book is one tick wide: the best bid is the last price floored to the symbol's tick size, the best ask one tick
above; levels are one tick apart, and level *k* (0-based) on either side holds (k + 1) × :data:`LEVEL_NOTIONAL`
quote worth of base asset at its price, floored to the lot step. There are no bids at or below zero.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from simulator.market import Market

LEVEL_NOTIONAL = Decimal(1000)
"""Quote-asset value of the best level of either side."""

Level = tuple[Decimal, Decimal]
"""(price, quantity): quote asset per base asset, base asset."""


def book(market: Market, symbol: str, *, levels: int) -> tuple[list[Level], list[Level]]:
    """``(bids, asks)`` of ``symbol`` at market now, best first, at most ``levels`` per side.

    Raises:
        simulator.market.UnknownSymbolError: ``symbol`` is not traded here.
    """
    rules = market.rules(symbol)
    tick = rules.tick_size
    best_bid = floor_to(market.last_price(symbol), tick)

    def level(price: Decimal, k: int) -> Level:
        return price, floor_to(LEVEL_NOTIONAL * (k + 1) / price, rules.step_size)

    bids = [level(best_bid - k * tick, k) for k in range(min(levels, int(best_bid / tick)))]
    asks = [level(best_bid + (k + 1) * tick, k) for k in range(levels)]
    return bids, asks


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a multiple of ``step``."""
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step
