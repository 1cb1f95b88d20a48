"""Klines of any interval built from the market's 1m candles, as Binance aggregates them.

A kline of an interval is its 1m klines merged (:func:`merge`): the open of the first, the highest high, the lowest
low, the close of the last, and the sums of volume, quote volume, number of trades and taker-buy base and quote
volumes; trade ids run contiguously through a dataset, so its first trade id is its first minute's and its last is
first + trades − 1. Its minutes are the 1m candles whose open time falls in [open time, next open time), aligned in
the interval's time zone (:mod:`simulator.intervals`). The 1m klines merged are exactly those ``interval=1m`` serves
at the same market time, so a client that sums them gets the longer kline to the last digit.

A kline is closed once market now reaches its close time + 1 ms; before that it is in progress and holds the minutes
that have opened so far, the last one as its partial (:mod:`simulator.replay`); its close time is already the full
interval's. Minutes the data lacks (an exchange outage) are absent: an interval without any minute has no kline, as
Binance has none where nothing was recorded.

Source: Binance spot REST docs, "Kline/Candlestick data" ("Klines are uniquely identified by their open time") and
"General API Information" (``startTime`` / ``endTime`` / ``limit`` paging).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from simulator.intervals import KlineInterval
from simulator.kline import Kline
from simulator.market import Market

_ZERO = Decimal(0)


def merge(klines: Sequence[Kline], *, open_time_ms: int, close_time_ms: int) -> Kline:
    """The kline spanning ``klines`` (consecutive, ascending, at least one), stamped ``open_time_ms`` /
    ``close_time_ms`` (Unix ms). Merging is associative: an already merged kline can be merged with more minutes.

    Raises:
        ValueError: ``klines`` is empty.
    """
    if not klines:
        raise ValueError("merging needs at least one kline")
    first, last = klines[0], klines[-1]
    if len(klines) == 1 and (first.open_time_ms, first.close_time_ms) == (open_time_ms, close_time_ms):
        return first  # a 1m kline as itself: REST's 1m pages are the engine's backfill path
    return Kline(
        open_time_ms=open_time_ms,
        close_time_ms=close_time_ms,
        open=first.open,
        high=max(k.high for k in klines),
        low=min(k.low for k in klines),
        close=last.close,
        volume=sum((k.volume for k in klines), start=_ZERO),
        quote_volume=sum((k.quote_volume for k in klines), start=_ZERO),
        trades=sum(k.trades for k in klines),
        first_trade_id=first.first_trade_id,
        taker_buy_volume=sum((k.taker_buy_volume for k in klines), start=_ZERO),
        taker_buy_quote_volume=sum((k.taker_buy_quote_volume for k in klines), start=_ZERO),
    )


def klines(
    market: Market,
    symbol: str,
    interval: KlineInterval,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int = 500,
) -> list[Kline]:
    """The ``interval`` klines of ``symbol`` that exist at market now, ascending, at most ``limit``, paged as
    Binance pages them (by open time, Unix ms):

    - with ``start_ms``: the first ``limit`` klines opening at or after ``start_ms`` (and at or before ``end_ms``);
    - without: the last ``limit`` klines opening at or before ``end_ms`` (default: now).

    The kline in progress, if any, is the last, as it stands now. A kline opening at or before ``end_ms`` is whole:
    it holds its minutes after ``end_ms`` too.

    Raises:
        simulator.market.UnknownSymbolError: ``symbol`` is not traded here.
    """
    dataset = market.dataset(symbol)
    times = dataset.open_time_ms
    now_ms = market.now_ms()
    horizon_ms = now_ms if end_ms is None else min(now_ms, end_ms)
    stop = min(
        dataset.index_after(now_ms),
        dataset.index_at_or_after(interval.next_open_ms(interval.open_time_ms(horizon_ms))),
    )
    groups: list[tuple[int, int, int]] = []
    """(open time, first minute index, index after the last minute) per kline, ascending."""
    if start_ms is not None:
        index = dataset.index_at_or_after(interval.first_open_at_or_after_ms(start_ms))
        while index < stop and len(groups) < limit:
            open_ms = interval.open_time_ms(times[index])
            after = min(stop, dataset.index_at_or_after(interval.next_open_ms(open_ms)))
            groups.append((open_ms, index, after))
            index = after
    else:
        after = stop
        while after > 0 and len(groups) < limit:
            open_ms = interval.open_time_ms(times[after - 1])
            index = dataset.index_at_or_after(open_ms)
            groups.append((open_ms, index, after))
            after = index
        groups.reverse()
    if not groups:
        return []
    first, last = groups[0][1], groups[-1][2]
    minutes = [
        Kline.of(candle)
        for candle in market.klines(symbol, start_ms=times[first], end_ms=times[last - 1], limit=last - first)
    ]
    return [
        merge(
            minutes[index - first : after - first],
            open_time_ms=open_ms,
            close_time_ms=interval.next_open_ms(open_ms) - 1,
        )
        for open_ms, index, after in groups
    ]
