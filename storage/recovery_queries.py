"""The reads (and the one write) a restart needs to resume from the database (``engine.recovery`` builds the state).

Every function takes a cursor of the calling thread; times come back as Unix ms (``epoch_ms``), computed in SQL
(fetching a ``TIMESTAMPTZ`` into Python would need pytz). Money comes back as ``Decimal`` from ``DECIMAL(38, 8)``
columns (the equity baselines too, since schema v4); candle prices are ``DOUBLE`` chart series.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import duckdb

FillRow = tuple[str, str, str, str, Decimal, Decimal, Decimal, Decimal, int, Decimal]
"""fill_id, order_id, symbol, side, price, quantity, quote_qty, fee, ts (Unix ms), reference_price."""


def fills(cur: duckdb.DuckDBPyConnection) -> list[FillRow]:
    """Every fill, in the order it was made."""
    return cur.execute(
        "SELECT fill_id, order_id, symbol, side, price, quantity, quote_qty, fee, epoch_ms(ts), reference_price "
        "FROM fills ORDER BY ts, recorded_at, fill_id"
    ).fetchall()


ExitRow = tuple[str, Decimal | None, Decimal | None, Decimal | None, Decimal | None]
"""symbol, stop_price, target_price, stop_distance, trail_high."""


def latest_exits(cur: duckdb.DuckDBPyConnection) -> list[ExitRow]:
    """``(symbol, stop_price, target_price, stop_distance, trail_high)`` of the latest ``positions`` row per symbol."""
    return cur.execute(
        "SELECT symbol, arg_max_null(stop_price, recorded_at), arg_max_null(target_price, recorded_at), "
        "arg_max_null(stop_distance, recorded_at), arg_max_null(trail_high, recorded_at) FROM positions GROUP BY symbol"
    ).fetchall()


def candle_intervals(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """The kline intervals of the stored candles, sorted (``[]`` for a new database)."""
    return [row[0] for row in cur.execute("SELECT DISTINCT interval FROM candles ORDER BY interval").fetchall()]


def last_candles(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, int, float]]:
    """``(symbol, open time of the last processed candle in Unix ms, its close)`` per symbol."""
    return cur.execute("SELECT symbol, epoch_ms(max(open_time)), arg_max(close, open_time) FROM candles GROUP BY symbol").fetchall()


def recent_candles(cur: duckdb.DuckDBPyConnection, symbol: str, limit: int) -> list[tuple[int, int, float, float, float, float, float]]:
    """The last ``limit`` processed candles of ``symbol``, oldest first: ``(open_ms, close_ms, open, high, low,
    close, volume)``."""
    return cur.execute(
        "SELECT * FROM (SELECT epoch_ms(open_time) AS t, epoch_ms(close_time), open, high, low, close, volume FROM candles "
        "WHERE symbol = ? ORDER BY open_time DESC LIMIT ?) ORDER BY t",
        [symbol, limit],
    ).fetchall()


def last_marks(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, Decimal]]:
    """``(symbol, price)``: each symbol's latest mark, from the newest ``equity`` row that names one (schema v4)."""
    return cur.execute(
        "SELECT symbol, arg_max(price, (ts, recorded_at)) FROM equity WHERE symbol IS NOT NULL AND price IS NOT NULL "
        "GROUP BY symbol"
    ).fetchall()


def last_equity(cur: duckdb.DuckDBPyConnection) -> tuple[int, Decimal, Decimal] | None:
    """``(latest market time in Unix ms, peak_equity, day_start_equity)``: the baselines of the last equity row written
    (exact since schema v4; a backfilled candle may be written after newer prices, so by ``recorded_at``, not ``ts``),
    and the newest ``ts`` of any row (the account's UTC day never goes back). ``None`` for no rows."""
    row = cur.execute(
        "SELECT max(epoch_ms(ts)), arg_max(peak_equity, recorded_at), arg_max(day_start_equity, recorded_at) FROM equity"
    ).fetchone()
    return None if row is None or row[0] is None else row


def paused(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether the last applied PAUSE/RESUME command was a PAUSE."""
    row = cur.execute(
        "SELECT command FROM commands WHERE command IN ('PAUSE', 'RESUME') AND result = 'OK' "
        "ORDER BY ts DESC, recorded_at DESC LIMIT 1"
    ).fetchone()
    return row is not None and row[0] == "PAUSE"


def cancel_open_orders(cur: duckdb.DuckDBPyConnection, *, wall_now: datetime) -> int:
    """Append a CANCELLED row for every order whose rows are all NEW (accepted, never filled: the process died);
    returns how many."""
    row = cur.execute(
        "INSERT INTO orders (order_id, ts, symbol, side, type, quantity, status, reason, recorded_at) "
        "SELECT order_id, arg_max(ts, recorded_at), arg_max(symbol, recorded_at), "
        "arg_max(side, recorded_at), 'MARKET', arg_max(quantity, recorded_at), 'CANCELLED', "
        "'engine restarted before the fill', ? FROM orders GROUP BY order_id HAVING bool_and(status = 'NEW')",
        [wall_now],
    ).fetchone()
    return int(row[0]) if row else 0


def breaker_state(cur: duckdb.DuckDBPyConnection) -> str | None:
    """``state_to`` of the latest breaker event, or ``None``."""
    row = cur.execute("SELECT state_to FROM breaker_events ORDER BY recorded_at DESC LIMIT 1").fetchone()
    return None if row is None else row[0]


def entries_on_latest_day(cur: duckdb.DuckDBPyConnection, *, day_ms: int) -> tuple[int, int] | None:
    """``(day index = ts // day_ms, BUY fills that day)`` for the latest day with a BUY fill, or ``None``."""
    row = cur.execute(
        "SELECT epoch_ms(ts) // ? AS day, count(*) FROM fills WHERE side = 'BUY' GROUP BY day ORDER BY day DESC LIMIT 1",
        [day_ms],
    ).fetchone()
    return None if row is None or row[0] is None else (int(row[0]), int(row[1]))


GapRow = tuple[str, str, str, int, int, float, int, str]
"""gap_id, symbol, kind, first open time (Unix ms), last open time (Unix ms), opened_at (Unix s), attempts, last_error."""


def open_gaps(cur: duckdb.DuckDBPyConnection) -> list[GapRow]:
    """The gaps whose latest row is OPEN, oldest first."""
    return cur.execute(
        "SELECT gap_id, symbol, kind, epoch_ms(first_open_time), epoch_ms(last_open_time), epoch_ms(opened_at) / 1000.0, "
        "attempts, last_error FROM (SELECT *, row_number() OVER (PARTITION BY gap_id ORDER BY recorded_at DESC) AS n "
        "FROM gaps) WHERE n = 1 AND state = 'OPEN' ORDER BY first_open_time"
    ).fetchall()
