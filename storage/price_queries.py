"""Read-only queries for the price chart of one symbol: candles aggregated in SQL, the fills as entry/exit markers,
and the stop/target levels of its open position.

Every function takes a cursor of the calling thread (:meth:`storage.store.Store.cursor`). Timestamps are market time,
tz-aware UTC; prices and quantities are ``float`` (exact ``DECIMAL`` stays in the database). The chart's payload is
bounded: candles are aggregated in SQL into at most ``max_bars`` bars of a Binance kline interval
(:mod:`storage.intervals`), markers are capped by ``limit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pandas as pd

from storage.frames import check_limit, frame
from storage.intervals import interval_for

BAR_COLUMNS = ("ts", "open", "high", "low", "close", "volume")
MARKER_COLUMNS = (
    "ts", "side", "kind", "price", "quantity", "exit_reason", "stop_price", "target_price", "pnl", "pnl_pct",
)
LEVEL_COLUMNS = ("ts", "quantity", "avg_entry", "stop_price", "target_price", "trail_high")

_US = 1_000_000


@dataclass(frozen=True, slots=True)
class PriceBars:
    """Candles of ``symbol`` aggregated to ``interval`` (``interval_s`` seconds): ``bars`` has :data:`BAR_COLUMNS`,
    ascending, ``ts`` the bar's open (market time, UTC), prices in the quote asset, ``volume`` in the base asset.
    ``bars`` is empty (``interval`` ``"1m"``) when the symbol has no candle."""

    symbol: str
    interval: str
    interval_s: int
    bars: pd.DataFrame

    @property
    def since(self) -> datetime | None:
        """Open time of the first bar (market time), or ``None`` without bars."""
        return None if self.bars.empty else self.bars["ts"].iloc[0].to_pydatetime()


def price_bars(
    cur: duckdb.DuckDBPyConnection, symbol: str, *, window_s: int | None = None, max_bars: int = 360
) -> PriceBars:
    """OHLC bars of ``symbol``'s closed 1m candles (table ``candles``) over the last ``window_s`` seconds of market
    time before its newest candle (``None``: every candle), aggregated in SQL as Binance aggregates klines: per
    epoch-aligned bucket the first open, highest high, lowest low, last close and summed volume. The bucket is the
    shortest kline interval that keeps the span within ``max_bars`` bars.

    Raises:
        ValueError: ``max_bars`` < 2, or ``window_s`` < 60.
    """
    if window_s is not None and window_s < 60:
        raise ValueError(f"window_s must be at least 60, got {window_s}")
    params = {"symbol": symbol}
    [(first_us, last_us)] = cur.sql(
        "SELECT epoch_us(min(open_time)), epoch_us(max(open_time)) FROM candles WHERE symbol = $symbol", params=params
    ).fetchall()
    if first_us is None:  # no candle: the same query, empty, with its columns typed
        first_us = last_us = 0
    start_us = first_us if window_s is None else max(first_us, last_us - (window_s - 60) * _US)
    name, seconds = interval_for((last_us - start_us) / _US + 60, max_buckets=max_bars)
    width_us = seconds * _US
    since = datetime.fromtimestamp(start_us // width_us * width_us / _US, tz=UTC)
    bars = frame(
        cur,
        """
        SELECT make_timestamptz(bucket * $width_us) AS ts, arg_min(open, open_time) AS open, max(high) AS high,
               min(low) AS low, arg_max(close, open_time) AS close, sum(volume) AS volume
        FROM (SELECT epoch_us(open_time) // $width_us AS bucket, open_time, open, high, low, close, volume
              FROM candles WHERE symbol = $symbol AND open_time >= $since)
        GROUP BY bucket ORDER BY bucket
        """,
        params | {"width_us": width_us, "since": since},
    )
    return PriceBars(symbol, name, seconds, bars)


def fill_markers(
    cur: duckdb.DuckDBPyConnection, symbol: str, *, since: datetime | None = None, limit: int = 500
) -> pd.DataFrame:
    """The newest ``limit`` fills of ``symbol`` at or after ``since`` (market time; ``None``: all), as chart markers
    (spot, long only: a BUY opens, a SELL closes).

    Returns:
        Ascending by ``ts`` (market time of the fill): ``ts``, ``side`` (BUY | SELL), ``kind`` (entry | exit),
        ``price`` (fill price, quote asset), ``quantity`` (base asset), ``exit_reason`` (sells: STOP, TARGET,
        TRAILING, SIGNAL, FLATTEN; None for buys), ``stop_price`` and ``target_price`` (entries: set at the fill, from
        the order's FILLED row), ``pnl`` (exits: the closed trade's P&L net of fees, quote asset) and ``pnl_pct``
        (percent of the entry cost); NaN where they do not apply.

    Raises:
        ValueError: ``limit`` < 1.
    """
    return frame(
        cur,
        """
        SELECT * FROM (
            SELECT f.ts, f.side, CASE f.side WHEN 'BUY' THEN 'entry' ELSE 'exit' END AS kind,
                   f.price::DOUBLE AS price, f.quantity::DOUBLE AS quantity, f.exit_reason,
                   o.stop_price::DOUBLE AS stop_price, o.target_price::DOUBLE AS target_price,
                   t.pnl::DOUBLE AS pnl, t.pnl_pct
            FROM fills f
            LEFT JOIN (SELECT order_id, any_value(stop_price) AS stop_price, any_value(target_price) AS target_price
                       FROM orders WHERE symbol = $symbol AND status = 'FILLED' AND ts >= $since GROUP BY order_id) o
                   ON f.side = 'BUY' AND o.order_id = f.order_id
            LEFT JOIN (SELECT exit_time, any_value(pnl) AS pnl, any_value(pnl_pct) AS pnl_pct
                       FROM trades WHERE symbol = $symbol AND exit_time >= $since GROUP BY exit_time) t
                   ON f.side = 'SELL' AND t.exit_time = f.ts
            WHERE f.symbol = $symbol AND f.ts >= $since
            ORDER BY f.ts DESC, f.recorded_at DESC LIMIT $limit
        ) ORDER BY ts
        """,
        {"symbol": symbol, "since": since or datetime(1970, 1, 1, tzinfo=UTC), "limit": check_limit(limit)},
    )


def position_levels(cur: duckdb.DuckDBPyConnection, symbol: str) -> pd.DataFrame:
    """Every change of ``symbol``'s open position since it was opened (table ``positions``: the fill, each move of the
    trailing stop); empty when the symbol is flat.

    Returns:
        In the order they happened: ``ts`` (market time), ``quantity`` (base asset), ``avg_entry``, ``stop_price``,
        ``target_price`` (quote asset; stop/target NaN when unset) and ``trail_high`` (the highest high the trailing
        stop follows; NaN until it has activated).
    """
    return frame(
        cur,
        """
        WITH rows AS (SELECT * FROM positions WHERE symbol = $symbol),
             flat AS (SELECT max(recorded_at) AS at FROM rows WHERE quantity = 0)
        SELECT ts, quantity::DOUBLE AS quantity, avg_entry::DOUBLE AS avg_entry, stop_price::DOUBLE AS stop_price,
               target_price::DOUBLE AS target_price, trail_high::DOUBLE AS trail_high
        FROM rows, flat
        WHERE flat.at IS NULL OR rows.recorded_at > flat.at
        ORDER BY rows.recorded_at
        """,
        {"symbol": symbol},
    )
