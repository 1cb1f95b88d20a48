"""Read-only queries for the dashboard: a DuckDB cursor in, a pandas DataFrame (or a dict) out.

Every function takes a cursor of the calling thread (:meth:`storage.store.Store.cursor`) and returns:

* timestamps as tz-aware UTC (``datetime64[us, UTC]`` columns, or aware ``datetime`` in dicts);
* money as ``float`` in display frames (exact ``Decimal`` stays in the database); percentages in percent;
* an empty frame with the same columns when there is no data.

Queries run as relations (``cur.sql``) read through Arrow: nothing is left unfinished on the cursor, and
TIMESTAMPTZ values need no ``pytz``.
Long series are downsampled in SQL, never in Python (``../shared/SPEC.md`` §5).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

EQUITY_CURVE_COLUMNS = ("ts", "equity", "realised_pnl", "unrealised_pnl", "drawdown_pct")


def latest_equity(cur: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The newest ``equity`` snapshot (by ``ts``, then ``recorded_at``) as ``{column: value}``, or ``None``.

    Every column of the table is present; ``ts`` and ``recorded_at`` are aware UTC datetimes, the rest floats.
    """
    rows = _arrow(cur, "SELECT * FROM equity ORDER BY ts DESC, recorded_at DESC LIMIT 1").to_pylist()
    if not rows:
        return None
    return {key: value.astimezone(UTC) if isinstance(value, datetime) else value for key, value in rows[0].items()}


def equity_curve(cur: duckdb.DuckDBPyConnection, *, max_points: int = 2000) -> pd.DataFrame:
    """The equity series for charts, ascending by ``ts``, at most ``max_points`` rows.

    Up to ``max_points`` snapshots are returned as they are. Beyond that, the time span is cut into
    ``(max_points - 1) // 2`` equal buckets and each bucket keeps its lowest- and highest-equity snapshot
    (so spikes and dips survive), plus the latest snapshot, which is always the last row.

    Returns:
        Columns ``ts`` (UTC), ``equity``, ``realised_pnl``, ``unrealised_pnl`` (quote asset), ``drawdown_pct``.

    Raises:
        ValueError: ``max_points`` < 3.
    """
    if max_points < 3:
        raise ValueError(f"max_points must be at least 3, got {max_points}")
    columns = ", ".join(EQUITY_CURVE_COLUMNS)
    [(total,)] = cur.sql("SELECT count(*) FROM equity").fetchall()
    if total <= max_points:
        return _frame(cur, f"SELECT {columns} FROM equity ORDER BY ts, recorded_at")
    return _frame(
        cur,
        f"""
        WITH span AS (SELECT epoch_us(min(ts)) AS lo, epoch_us(max(ts)) AS hi FROM equity),
        bucketed AS (
            SELECT rowid AS id, equity, (epoch_us(ts) - lo) * $buckets // (hi - lo + 1) AS bucket
            FROM equity, span
        ),
        kept AS (
            SELECT arg_min(id, equity) AS id FROM bucketed GROUP BY bucket
            UNION SELECT arg_max(id, equity) FROM bucketed GROUP BY bucket
            UNION (SELECT rowid FROM equity ORDER BY ts DESC, recorded_at DESC LIMIT 1)
        )
        SELECT {columns} FROM equity WHERE rowid IN (SELECT id FROM kept) ORDER BY ts, recorded_at
        """,
        {"buckets": (max_points - 1) // 2},
    )


def open_positions(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Open positions: per symbol, the latest ``positions`` row (by ``recorded_at``) when its quantity is > 0.

    Returns:
        One row per open symbol, by symbol: ``symbol``, ``quantity`` (base asset), ``avg_entry``, ``stop_price``,
        ``target_price`` (quote asset, floats; stop/target NaN when unset) and ``opened`` (UTC market time of the
        first row after the symbol was last flat).
    """
    return _frame(
        cur,
        """
        WITH marked AS (
            SELECT *, max(recorded_at) FILTER (WHERE quantity = 0) OVER (PARTITION BY symbol) AS last_flat
            FROM positions
        )
        SELECT symbol,
               arg_max(quantity, recorded_at)::DOUBLE AS quantity,
               arg_max(avg_entry, recorded_at)::DOUBLE AS avg_entry,
               arg_max_null(stop_price, recorded_at)::DOUBLE AS stop_price,
               arg_max_null(target_price, recorded_at)::DOUBLE AS target_price,
               min(ts) AS opened
        FROM marked
        WHERE last_flat IS NULL OR recorded_at > last_flat
        GROUP BY symbol
        HAVING arg_max(quantity, recorded_at) > 0
        ORDER BY symbol
        """,
    )


def recent_trades(cur: duckdb.DuckDBPyConnection, *, limit: int = 20) -> pd.DataFrame:
    """The last ``limit`` closed trades, newest exit first.

    Returns:
        ``symbol``, ``entry_time``, ``exit_time`` (UTC), ``quantity``, ``entry_price``, ``exit_price``, ``fees``,
        ``pnl`` (floats, quote asset; pnl net of fees), ``pnl_pct`` (percent), ``exit_reason``.
    """
    return _frame(
        cur,
        """
        SELECT symbol, entry_time, exit_time, quantity::DOUBLE AS quantity, entry_price::DOUBLE AS entry_price,
               exit_price::DOUBLE AS exit_price, fees::DOUBLE AS fees, pnl::DOUBLE AS pnl, pnl_pct, exit_reason
        FROM trades ORDER BY exit_time DESC, recorded_at DESC LIMIT $limit
        """,
        {"limit": _limit(limit)},
    )


def recent_commands(cur: duckdb.DuckDBPyConnection, *, limit: int = 20) -> pd.DataFrame:
    """The last ``limit`` entries of the audit log, newest first.

    Returns:
        ``ts`` (UTC wall time the engine applied it), ``command``, ``actor``, ``reason``, ``result``, ``detail``.
    """
    return _frame(
        cur,
        "SELECT ts, command, actor, reason, result, detail FROM commands "
        "ORDER BY ts DESC, recorded_at DESC LIMIT $limit",
        {"limit": _limit(limit)},
    )


def recent_fills(cur: duckdb.DuckDBPyConnection, *, limit: int = 20) -> pd.DataFrame:
    """The last ``limit`` fills, newest first.

    Returns:
        ``ts`` (UTC market time), ``symbol``, ``side``, ``quantity`` (base asset), ``price``, ``quote_qty``,
        ``fee``, ``reference_price`` (quote asset, floats), ``order_id``, ``fill_id``.
    """
    return _frame(
        cur,
        """
        SELECT ts, symbol, side, quantity::DOUBLE AS quantity, price::DOUBLE AS price,
               quote_qty::DOUBLE AS quote_qty, fee::DOUBLE AS fee, reference_price::DOUBLE AS reference_price,
               order_id, fill_id
        FROM fills ORDER BY ts DESC, recorded_at DESC LIMIT $limit
        """,
        {"limit": _limit(limit)},
    )


def table_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every history table (those with a ``recorded_at`` column), by table name."""
    tables = [
        name
        for (name,) in cur.sql(
            "SELECT table_name FROM information_schema.columns WHERE table_catalog = current_database() "
            "AND table_schema = 'main' AND column_name = 'recorded_at' ORDER BY table_name"
        ).fetchall()
    ]
    if not tables:
        return {}
    union = " UNION ALL ".join(f"SELECT '{name}' AS name, count(*) AS n FROM \"{name}\"" for name in tables)
    return {name: int(count) for name, count in cur.sql(union).fetchall()}


def _limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return limit


def _arrow(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
    return cur.sql(sql, params=params).to_arrow_table()


def _frame(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """``sql`` as a DataFrame with every timestamp column converted to UTC (whatever the session time zone)."""
    frame = _arrow(cur, sql, params).to_pandas()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_convert(UTC)
    return frame
