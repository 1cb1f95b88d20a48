"""Domain values shared across the engine: candles, orders, fills, trades.

All are frozen dataclasses. Money and quantities are :class:`decimal.Decimal` (parsed from the
exchange's decimal strings, never through ``float``); times are Unix milliseconds (``*_ms``, UTC),
which is how Binance stamps klines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

MINUTE_MS = 60_000
INTERVAL_MS = {
    "1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS, "2h": 120 * MINUTE_MS, "4h": 240 * MINUTE_MS, "6h": 360 * MINUTE_MS, "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS, "1d": 1440 * MINUTE_MS,
}
"""Kline intervals from 1m to 1d and their length in ms (Binance spot REST docs, "Kline/Candlestick data")."""


def interval_ms(interval: str) -> int:
    """The length of a kline ``interval`` (``"1m"``, ``"1h"`` ...) in ms.

    Raises:
        ValueError: not an interval of :data:`INTERVAL_MS`.
    """
    try:
        return INTERVAL_MS[interval]
    except KeyError:
        raise ValueError(f"unknown kline interval {interval!r}; known: {', '.join(INTERVAL_MS)}") from None


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class ExitReason(StrEnum):
    """Why a position was closed."""

    STOP = "STOP"
    TARGET = "TARGET"
    TRAILING = "TRAILING"
    SIGNAL = "SIGNAL"
    FLATTEN = "FLATTEN"


@dataclass(frozen=True, slots=True)
class Candle:
    """One kline (Binance spot REST docs, "Kline/Candlestick data").

    ``open_time_ms`` is the candle's open, ``close_time_ms`` = open + interval − 1 ms.
    ``closed`` is the stream's ``x`` flag; REST rows are closed when ``close_time_ms`` < server time.
    Prices and volume are exact; :meth:`floats` gives them as floats for indicators and charts.
    """

    symbol: str
    open_time_ms: int
    close_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool = True
    _floats: tuple[float, float, float, float, float] | None = field(default=None, init=False, repr=False, compare=False)

    def floats(self) -> tuple[float, float, float, float, float]:
        """``(open, high, low, close, volume)`` as floats, converted once per candle (the indicators, the strategy
        and the candle's row all use them)."""
        values = self._floats
        if values is None:
            values = (float(self.open), float(self.high), float(self.low), float(self.close), float(self.volume))
            object.__setattr__(self, "_floats", values)
        return values


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """What an entry was decided with, at the signal; its size, stop and target are set at the fill from it.

    Attributes:
        equity: the account's equity at the signal, quote asset.
        risk_amount: what the stop may lose, quote asset (equity × ``risk_pct`` %).
        atr: the ATR at the signal, price units (a float indicator).
        stop_distance: ``stop_atr_multiple`` × ATR, price units: the stop sits this far below the fill price.
        correlation_factor: the size factor for the positions already open (1.0, 0.7, 0.5 …).
    """

    equity: Decimal
    risk_amount: Decimal
    atr: float
    stop_distance: Decimal
    correlation_factor: Decimal


@dataclass(frozen=True, slots=True)
class Sizing:
    """How an entry was sized at its fill price (``../shared/SPEC.md`` §3.2), so the file can explain it.

    Attributes:
        quantity: base asset, floored to the lot step.
        fill_price: the price the entry fills at (slippage and tick applied).
        stop_price: fill − stop distance, rounded down to the tick; ``target_price`` fill + reward_risk × (fill −
            stop), rounded up to the tick.
        stop_pct: (fill − stop) / fill × 100.
        equity, cash: the account at the fill, quote asset.
        bound: which cap set the size before the correlation factor: ``risk`` (the risk budget), ``position_cap``
            (``max_position_pct`` of equity) or ``cash`` (the free cash, fee included).
    """

    quantity: Decimal
    fill_price: Decimal
    stop_price: Decimal
    target_price: Decimal
    stop_pct: Decimal
    equity: Decimal
    cash: Decimal
    bound: str


@dataclass(frozen=True, slots=True)
class Order:
    """A market order the engine wants filled.

    ``created_ms`` is the market time of the decision; the broker fills it at the next price seen after it. An entry
    carries its ``plan`` and is sized at the fill (``quantity`` is 0 until then; ``sizing`` says how it was sized,
    ``stop_price``/``target_price`` come from it). A sell closes the position's whole ``quantity``.
    """

    order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    created_ms: int
    reason: str
    stop_price: Decimal | None = None
    target_price: Decimal | None = None
    plan: EntryPlan | None = None
    sizing: Sizing | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    """An executed (paper) market order: taker, fee paid in the quote asset.

    ``quote_qty`` = price × quantity (exact); ``fee`` = quote_qty × taker fee, rounded to 1e-8.
    """

    fill_id: str
    order_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    quote_qty: Decimal
    fee: Decimal
    time_ms: int
    reference_price: Decimal


@dataclass(frozen=True, slots=True)
class Trade:
    """A closed round trip (entry fill(s) to exit fill), P&L net of both fees, in the quote asset."""

    trade_id: str
    symbol: str
    entry_time_ms: int
    exit_time_ms: int
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    fees: Decimal
    pnl: Decimal
    pnl_pct: float
    exit_reason: ExitReason
