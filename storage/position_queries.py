"""Open positions valued at their mark, for the dashboard's positions table.

A position's mark is the newest price the engine valued it at: the ``price`` of the symbol's latest ``equity`` row
(schema v4: "the symbol's mark after this row"). Unrealised P&L is counted as the account counts it (``equity``
table: "open positions at mark, net of entry fees"): quantity × mark − cost basis (which holds the entry fee).
Money comes back as ``float`` in the quote asset, timestamps as market time, tz-aware UTC.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from storage.frames import frame

POSITION_COLUMNS = (
    "symbol", "opened", "quantity", "avg_entry", "mark", "marked_at", "unrealised_pnl", "unrealised_pct",
    "stop_price", "target_price", "trailing", "cost_basis",
)


def open_positions(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every open position (the latest ``positions`` row of a symbol has quantity > 0) with its mark.

    Returns:
        One row per open symbol, by symbol: ``symbol``, ``opened`` (market time of the first row after the symbol
        was last flat), ``quantity`` (base asset), ``avg_entry``, ``mark`` (quote asset; NaN before the first mark
        after the entry), ``marked_at`` (market time of that mark), ``unrealised_pnl`` (quantity × mark − cost basis,
        quote asset), ``unrealised_pct`` (percent of the cost basis), ``stop_price`` (the trailing stop once it moved),
        ``target_price`` (NaN when unset), ``trailing`` (the trailing stop has activated) and ``cost_basis``.
    """
    positions = frame(
        cur,
        """
        WITH marked AS (
            SELECT *, max(recorded_at) FILTER (WHERE quantity = 0) OVER (PARTITION BY symbol) AS last_flat
            FROM positions
        )
        SELECT symbol, min(ts) AS opened,
               arg_max(quantity, recorded_at) AS quantity, arg_max(avg_entry, recorded_at) AS avg_entry,
               arg_max(cost_basis, recorded_at) AS cost_basis,
               arg_max_null(stop_price, recorded_at) AS stop_price,
               arg_max_null(target_price, recorded_at) AS target_price,
               arg_max_null(trail_high, recorded_at) IS NOT NULL AS trailing
        FROM marked
        WHERE last_flat IS NULL OR recorded_at > last_flat
        GROUP BY symbol
        HAVING arg_max(quantity, recorded_at) > 0
        ORDER BY symbol
        """,
    )
    marks = _marks(cur, positions)
    merged = positions.merge(marks, on="symbol", how="left")
    value = merged["quantity"] * merged["mark"]
    merged["unrealised_pnl"] = value - merged["cost_basis"]
    merged["unrealised_pct"] = merged["unrealised_pnl"] / merged["cost_basis"] * 100
    return merged[list(POSITION_COLUMNS)]


def _marks(cur: duckdb.DuckDBPyConnection, positions: pd.DataFrame) -> pd.DataFrame:
    """``symbol``, ``mark``, ``marked_at`` of each symbol in ``positions``, from the ``equity`` rows since the oldest
    opening (a constant bound, so DuckDB skips the older row groups); no read at all without positions."""
    if positions.empty:
        return pd.DataFrame({
            "symbol": pd.Series(dtype="object"), "mark": pd.Series(dtype="float64"),
            "marked_at": pd.Series(dtype="datetime64[us, UTC]"),
        })
    return frame(
        cur,
        """
        SELECT symbol, arg_max(price, recorded_at)::DOUBLE AS mark, arg_max(ts, recorded_at) AS marked_at
        FROM equity
        WHERE ts >= $since AND price IS NOT NULL AND list_contains($symbols, symbol)
        GROUP BY symbol
        """,
        {"since": positions["opened"].min(), "symbols": positions["symbol"].tolist()},
    )
