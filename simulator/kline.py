"""A 1m candle as the simulator stores it (:class:`Candle`), a kline of any interval as it is sent (:class:`Kline`),
and a kline's two wire encodings.

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

A :class:`Kline` carries every field explicitly, the derived volumes rounded to 8 decimals as they are sent, so that
a kline of a longer interval is the exact sum of the 1m klines a client can fetch (see
:mod:`simulator.interval_klines`). Prices and volumes are :class:`~decimal.Decimal` (parsed from the dataset's
strings, never ``float``) and are written with 8 decimals, like Binance (``"56840.30000000"``). Times are Unix
milliseconds (UTC), or microseconds when a client asks for them (:mod:`simulator.time_unit`).

Sources: Binance spot REST docs, "Kline/Candlestick data"; Binance WebSocket Streams docs, "Kline/Candlestick Streams".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from simulator.time_unit import TimeUnit

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


@dataclass(frozen=True, slots=True)
class Kline:
    """One kline of any interval, closed or in progress, with the fields Binance sends.

    ``open_time_ms`` / ``close_time_ms`` are Unix ms (close = the next kline's open − 1); ``trades`` is the number of
    trades and ``first_trade_id`` the id of the first (or the id it would get when ``trades`` is 0; the wire
    encodings then send −1). Volumes are base asset, ``quote_volume`` and ``taker_buy_quote_volume`` quote asset.
    """

    open_time_ms: int
    close_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int
    first_trade_id: int
    taker_buy_volume: Decimal
    taker_buy_quote_volume: Decimal

    @classmethod
    def of(cls, candle: Candle) -> Kline:
        """The 1m kline of ``candle``, its derived volumes (module docstring) rounded half-even to 8 decimals."""
        share = candle.taker_buy_share
        quote = candle.quote_volume
        return cls(
            open_time_ms=candle.open_time_ms,
            close_time_ms=candle.close_time_ms,
            open=candle.open,
            high=candle.high,
            low=candle.low,
            close=candle.close,
            volume=candle.volume,
            quote_volume=quote.quantize(_EIGHT_DECIMALS),
            trades=candle.trades,
            first_trade_id=candle.first_trade_id,
            taker_buy_volume=(candle.volume * share).quantize(_EIGHT_DECIMALS),
            taker_buy_quote_volume=(quote * share).quantize(_EIGHT_DECIMALS),
        )

    @property
    def last_trade_id(self) -> int:
        """Id of the last trade, −1 when there is none (then :attr:`first_trade_id` is sent as −1 too)."""
        return self.first_trade_id + self.trades - 1 if self.trades else -1


def rest_row(kline: Kline, *, unit: TimeUnit = TimeUnit.MILLISECOND) -> list[Any]:
    """The 12-field REST kline row, times in ``unit``.

    ``[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteAssetVolume", trades,
    "takerBuyBaseVolume", "takerBuyQuoteVolume", "0"]`` (Binance spot REST docs, "Kline/Candlestick data").
    """
    return [
        unit.stamp(kline.open_time_ms),
        fmt8(kline.open),
        fmt8(kline.high),
        fmt8(kline.low),
        fmt8(kline.close),
        fmt8(kline.volume),
        unit.end_stamp(kline.close_time_ms),
        fmt8(kline.quote_volume),
        kline.trades,
        fmt8(kline.taker_buy_volume),
        fmt8(kline.taker_buy_quote_volume),
        "0",
    ]


def stream_event(
    symbol: str, kline: Kline, *, interval: str, closed: bool, event_ms: int, unit: TimeUnit = TimeUnit.MILLISECOND
) -> dict[str, Any]:
    """The ``<symbol>@kline_<interval>`` stream event; ``closed`` is ``k.x``, ``event_ms`` is ``E`` (market time),
    times in ``unit``.

    Shape: Binance WebSocket Streams docs, "Kline/Candlestick Streams".
    """
    first_id = kline.first_trade_id if kline.trades else -1
    return {
        "e": "kline",
        "E": unit.stamp(event_ms),
        "s": symbol,
        "k": {
            "t": unit.stamp(kline.open_time_ms),
            "T": unit.end_stamp(kline.close_time_ms),
            "s": symbol,
            "i": interval,
            "f": first_id,
            "L": kline.last_trade_id,
            "o": fmt8(kline.open),
            "c": fmt8(kline.close),
            "h": fmt8(kline.high),
            "l": fmt8(kline.low),
            "v": fmt8(kline.volume),
            "n": kline.trades,
            "x": closed,
            "q": fmt8(kline.quote_volume),
            "V": fmt8(kline.taker_buy_volume),
            "Q": fmt8(kline.taker_buy_quote_volume),
            "B": "0",
        },
    }
