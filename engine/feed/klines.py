"""Parse Binance klines (REST rows and stream events) into :class:`~engine.core.models.Candle`.

Sources: Binance spot REST docs, "Kline/Candlestick data" (12-field rows, prices as strings) and
Binance WebSocket Streams docs, "Kline/Candlestick Streams" (``k`` object; ``x`` = closed).
Prices are parsed as exact decimals; anything ≤ 0, NaN, ±inf or unparsable is a :class:`ProtocolError`,
never a silent 0.0.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from engine.core.models import Candle
from engine.errors import ProtocolError


def parse_price(value: Any, *, field: str) -> Decimal:
    """A strictly positive, finite decimal from a Binance decimal string.

    Raises:
        ProtocolError: unparsable, NaN, ±inf, zero or negative.
    """
    try:
        price = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ProtocolError(f"{field}: unparsable price {value!r}") from exc
    if not price.is_finite() or price <= 0:
        raise ProtocolError(f"{field}: invalid price {value!r}")
    return price


def parse_quantity(value: Any, *, field: str) -> Decimal:
    """A finite, non-negative decimal (volumes may be zero). Raises :class:`ProtocolError` otherwise."""
    try:
        qty = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ProtocolError(f"{field}: unparsable quantity {value!r}") from exc
    if not qty.is_finite() or qty < 0:
        raise ProtocolError(f"{field}: invalid quantity {value!r}")
    return qty


def _candle(symbol: str, t: Any, close_t: Any, o: Any, h: Any, lo: Any, c: Any, v: Any, closed: bool) -> Candle:
    candle = Candle(
        symbol=symbol,
        open_time_ms=int(t),
        close_time_ms=int(close_t),
        open=parse_price(o, field="open"),
        high=parse_price(h, field="high"),
        low=parse_price(lo, field="low"),
        close=parse_price(c, field="close"),
        volume=parse_quantity(v, field="volume"),
        closed=closed,
    )
    if not (candle.low <= min(candle.open, candle.close) and candle.high >= max(candle.open, candle.close)):
        raise ProtocolError(f"{symbol} kline at {candle.open_time_ms}: OHLC out of order")
    return candle


def parse_rest_kline(symbol: str, row: list[Any], *, server_time_ms: int) -> Candle:
    """One 12-field REST row; ``closed`` is ``close_time < server_time_ms``.

    Raises:
        ProtocolError: wrong shape or invalid values.
    """
    try:
        return _candle(symbol, row[0], row[6], row[1], row[2], row[3], row[4], row[5], int(row[6]) < server_time_ms)
    except (IndexError, TypeError, ValueError) as exc:
        raise ProtocolError(f"{symbol} kline row breaks the documented format: {row!r}") from exc


def parse_stream_kline(data: dict[str, Any]) -> tuple[Candle, int]:
    """A ``kline`` stream event; returns the candle and the event time ``E`` (Unix ms).

    Raises:
        ProtocolError: not a kline event, missing fields or invalid values.
    """
    try:
        if data.get("e") != "kline":
            raise ProtocolError(f"not a kline event: {str(data)[:200]}")
        k = data["k"]
        return _candle(k["s"], k["t"], k["T"], k["o"], k["h"], k["l"], k["c"], k["v"], bool(k["x"])), int(data["E"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"kline event breaks the documented format: {str(data)[:200]}") from exc
