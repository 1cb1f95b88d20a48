"""A 1m candle as the simulator serves it: the :class:`Candle` value, its derived fields, and its two wire encodings.

The bundled datasets carry OHLCV only (so do the project-format files of a data directory; the public archive's
files also carry the trade count, which is then used as it is, see :mod:`simulator.klines_files`). The other fields
of a Binance kline are derived, deterministically:

- ``closeTime`` = ``openTime`` + 59,999 ms (exact, as Binance stamps 1m klines).
- ``quoteAssetVolume`` ≈ volume × typical price, typical price = (high + low + close) / 3.
- number of trades = ⌈quote volume / 1,000 USDT⌉ (one trade per 1,000 quote units, at least 1 when volume > 0),
  computed once per full candle at load time; an in-progress candle at fraction *f* has ⌊trades × f⌋.
- first / last trade id (stream ``f`` / ``L``): trade ids run contiguously through a dataset, starting at 1
  with its first candle; a candle with no trades (yet) has ``f`` = ``L`` = −1.
- taker-buy base volume = volume × close location value, CLV = (close − low) / (high − low)
  (½ when high = low): a candle closing at its high was all buying; taker-buy quote volume = quote volume × CLV.
- the 12th REST field ("Unused field, ignore") and the stream's ``B`` are ``"0"``.

Prices and volumes are :class:`~decimal.Decimal` (parsed from the dataset's strings, never ``float``) and are written
with 8 decimals, like Binance (``"56840.30000000"``). Times are Unix milliseconds (UTC).

Sources: Binance spot REST docs, "Kline/Candlestick data"; Binance WebSocket Streams docs, "Kline/Candlestick Streams".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

INTERVAL = "1m"
INTERVAL_MS = 60_000
QUOTE_PER_TRADE = Decimal(1000)
_EIGHT_DECIMALS = Decimal("1e-8")


@dataclass(frozen=True, slots=True)
class Candle:
    """One 1m candle, full or in progress.

    ``trades`` is the (estimated) number of trades; ``first_trade_id`` the id of its first trade, or the id its first
    trade would get when ``trades`` is 0 (the wire encodings then send −1).
    """

    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int
    first_trade_id: int

    @property
    def close_time_ms(self) -> int:
        return self.open_time_ms + INTERVAL_MS - 1

    @property
    def quote_volume(self) -> Decimal:
        return quote_volume(self.volume, self.high, self.low, self.close)

    @property
    def taker_buy_share(self) -> Decimal:
        """Close location value in [0, 1]: the share of volume estimated as taker buys."""
        span = self.high - self.low
        return (self.close - self.low) / span if span else Decimal("0.5")


def quote_volume(volume: Decimal, high: Decimal, low: Decimal, close: Decimal) -> Decimal:
    """Estimated quote-asset volume: ``volume`` × (high + low + close) / 3."""
    return volume * (high + low + close) / 3


def estimated_trades(quote: Decimal) -> int:
    """Estimated number of trades for a candle with quote volume ``quote``: ⌈quote / 1,000⌉."""
    return int((quote / QUOTE_PER_TRADE).to_integral_value(rounding=ROUND_CEILING))


def fmt8(value: Decimal) -> str:
    """``value`` with exactly 8 decimals (half-even rounding beyond them), as Binance writes prices and quantities."""
    return f"{value.quantize(_EIGHT_DECIMALS):f}"


def _trade_ids(candle: Candle) -> tuple[int, int]:
    if candle.trades == 0:
        return -1, -1
    return candle.first_trade_id, candle.first_trade_id + candle.trades - 1


def rest_row(candle: Candle) -> list[Any]:
    """The 12-field REST kline row.

    ``[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteAssetVolume", trades,
    "takerBuyBaseVolume", "takerBuyQuoteVolume", "0"]`` (Binance spot REST docs, "Kline/Candlestick data").
    """
    share = candle.taker_buy_share
    quote = candle.quote_volume
    return [
        candle.open_time_ms,
        fmt8(candle.open),
        fmt8(candle.high),
        fmt8(candle.low),
        fmt8(candle.close),
        fmt8(candle.volume),
        candle.close_time_ms,
        fmt8(quote),
        candle.trades,
        fmt8(candle.volume * share),
        fmt8(quote * share),
        "0",
    ]


def stream_event(symbol: str, candle: Candle, *, closed: bool, event_ms: int) -> dict[str, Any]:
    """The ``<symbol>@kline_1m`` stream event; ``closed`` is ``k.x``, ``event_ms`` is ``E`` (market time).

    Shape: Binance WebSocket Streams docs, "Kline/Candlestick Streams".
    """
    first_id, last_id = _trade_ids(candle)
    share = candle.taker_buy_share
    quote = candle.quote_volume
    return {
        "e": "kline",
        "E": event_ms,
        "s": symbol,
        "k": {
            "t": candle.open_time_ms,
            "T": candle.close_time_ms,
            "s": symbol,
            "i": INTERVAL,
            "f": first_id,
            "L": last_id,
            "o": fmt8(candle.open),
            "c": fmt8(candle.close),
            "h": fmt8(candle.high),
            "l": fmt8(candle.low),
            "v": fmt8(candle.volume),
            "n": candle.trades,
            "x": closed,
            "q": fmt8(quote),
            "V": fmt8(candle.volume * share),
            "Q": fmt8(quote * share),
            "B": "0",
        },
    }
