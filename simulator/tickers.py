"""The ticker answers: 24-hour rolling statistics, the book ticker and the current average price of a symbol.

Everything is built from the 1m klines that exist at market now (the one in progress as its partial), so the
statistics agree with what ``klines`` serves at the same moment (Binance spot REST docs, "Market Data endpoints"):

- ``ticker/24hr`` ("24hr ticker price change statistics"): the rolling window is the last 24 hours, ``openTime`` =
  now − 24 h, ``closeTime`` = now; it holds the 1m klines that opened after ``openTime`` (:func:`window`).
  ``openPrice`` is the first one's open, ``lastPrice`` the last price, ``prevClosePrice`` the close of the kline
  before the window ("0.00000000" when there is none), ``weightedAvgPrice`` quote volume ÷ volume, ``firstId`` /
  ``lastId`` / ``count`` the window's trades (−1, −1, 0 when none), ``priceChangePercent`` with 3 decimals as Binance
  writes it. There are no single trades here, so ``lastQty`` is the mean trade size of the latest kline with trades,
  floored to the lot step. ``bidPrice`` … ``askQty`` are the best levels of the synthetic book (:mod:`simulator.book`).
  An empty window (no kline in the last 24 hours) has every price at the last price and zero volumes.
  ``type=MINI`` keeps the fields of Binance's "Response - MINI": ``symbol``, ``openPrice``, ``highPrice``,
  ``lowPrice``, ``lastPrice``, ``volume``, ``quoteVolume``, ``openTime``, ``closeTime``, ``firstId``, ``lastId``,
  ``count``.
- ``ticker/bookTicker`` ("Symbol order book ticker"): the best bid and ask of the synthetic book.
- ``avgPrice`` ("Current average price"): the volume-weighted average price of the klines opened in the last
  ``avgPriceMins`` minutes of the symbol's NOTIONAL filter (Binance "Filters": "the volume weighted average price over
  the preceding avgPriceMins minutes"), the last price when they have no volume; ``closeTime`` ("Last trade time")
  is market now.

Times are Unix ms, or µs in :class:`~simulator.time_unit.TimeUnit.MICROSECOND`.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any

from simulator.book import book
from simulator.interval_klines import merge
from simulator.kline import Kline, fmt8
from simulator.market import Market
from simulator.time_unit import TimeUnit

WINDOW_MS = 24 * 60 * 60_000
MINUTE_MS = 60_000
_PERCENT_PLACES = Decimal("0.001")
_ZERO = Decimal(0)
_MINI_FIELDS = (
    "symbol",
    "openPrice",
    "highPrice",
    "lowPrice",
    "lastPrice",
    "volume",
    "quoteVolume",
    "openTime",
    "closeTime",
    "firstId",
    "lastId",
    "count",
)
"""The ``MINI`` object's keys, in Binance's order (Binance spot REST docs, "Response - MINI")."""


def window(market: Market, symbol: str, *, span_ms: int) -> list[Kline]:
    """The 1m klines of ``symbol`` that opened within the last ``span_ms`` (open time > now − ``span_ms``) as they
    stand at market now, ascending."""
    now_ms = market.now_ms()
    minutes = -(-span_ms // MINUTE_MS)
    return [Kline.of(candle) for candle in market.klines(symbol, start_ms=now_ms - span_ms + 1, limit=minutes)]


def ticker_24hr(market: Market, symbol: str, *, mini: bool, unit: TimeUnit) -> dict[str, Any]:
    """``symbol``'s ``ticker/24hr`` object, ``FULL`` or (``mini``) ``MINI``, keys in Binance's order (fields in the
    module docstring)."""
    now_ms = market.now_ms()
    last = market.last_price(symbol)
    klines = window(market, symbol, span_ms=WINDOW_MS)
    stats = merge(klines or [_no_trades(last)], open_time_ms=now_ms - WINDOW_MS, close_time_ms=now_ms)
    change = last - stats.open
    (bid_price, bid_qty), (ask_price, ask_qty) = (side[0] for side in book(market, symbol, levels=1))
    full = {
        "symbol": symbol,
        "priceChange": fmt8(change),
        "priceChangePercent": f"{(change * 100 / stats.open).quantize(_PERCENT_PLACES):f}",
        "weightedAvgPrice": fmt8(stats.quote_volume / stats.volume if stats.volume else _ZERO),
        "prevClosePrice": fmt8(_previous_close(market, symbol, klines)),
        "lastPrice": fmt8(last),
        "lastQty": fmt8(_last_quantity(market, symbol, klines)),
        "bidPrice": fmt8(bid_price),
        "bidQty": fmt8(bid_qty),
        "askPrice": fmt8(ask_price),
        "askQty": fmt8(ask_qty),
        "openPrice": fmt8(stats.open),
        "highPrice": fmt8(stats.high),
        "lowPrice": fmt8(stats.low),
        "volume": fmt8(stats.volume),
        "quoteVolume": fmt8(stats.quote_volume),
        "openTime": unit.stamp(stats.open_time_ms),
        "closeTime": unit.stamp(stats.close_time_ms),
        "firstId": stats.first_trade_id if stats.trades else -1,
        "lastId": stats.last_trade_id,
        "count": stats.trades,
    }
    return {key: full[key] for key in _MINI_FIELDS} if mini else full


def book_ticker(market: Market, symbol: str) -> dict[str, str]:
    """``symbol``'s ``ticker/bookTicker`` object: the synthetic book's best bid and ask."""
    (bid_price, bid_qty), (ask_price, ask_qty) = (side[0] for side in book(market, symbol, levels=1))
    return {
        "symbol": symbol,
        "bidPrice": fmt8(bid_price),
        "bidQty": fmt8(bid_qty),
        "askPrice": fmt8(ask_price),
        "askQty": fmt8(ask_qty),
    }


def avg_price(market: Market, symbol: str, *, unit: TimeUnit) -> dict[str, Any]:
    """``symbol``'s ``avgPrice`` object: ``{"mins": <int>, "price": <8 decimals>, "closeTime": <now>}``."""
    mins = market.rules(symbol).avg_price_mins
    klines = window(market, symbol, span_ms=mins * MINUTE_MS)
    volume = sum((k.volume for k in klines), start=_ZERO)
    quote = sum((k.quote_volume for k in klines), start=_ZERO)
    price = quote / volume if volume else market.last_price(symbol)
    return {"mins": mins, "price": fmt8(price), "closeTime": unit.stamp(market.now_ms())}


def _no_trades(price: Decimal) -> Kline:
    """A kline without trades at ``price``: what an empty window's statistics are made of."""
    return Kline(0, 0, price, price, price, price, _ZERO, _ZERO, 0, 0, _ZERO, _ZERO)


def _previous_close(market: Market, symbol: str, klines: list[Kline]) -> Decimal:
    """Close of the 1m kline before the window (it has closed: it opened more than 24 h ago), 0 when none."""
    dataset = market.dataset(symbol)
    first = dataset.index_at_or_after(klines[0].open_time_ms) if klines else dataset.index_after(market.now_ms())
    return market.candle(symbol, first - 1).close if first > 0 else _ZERO


def _last_quantity(market: Market, symbol: str, klines: list[Kline]) -> Decimal:
    """Mean trade size of the latest kline with trades, floored to the lot step; 0 when the window has none."""
    latest = next((k for k in reversed(klines) if k.trades), None)
    if latest is None:
        return _ZERO
    step = market.rules(symbol).step_size
    return (latest.volume / latest.trades / step).to_integral_value(rounding=ROUND_FLOOR) * step
