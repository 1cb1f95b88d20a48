"""Filtered reads of fills and closed trades for the dashboard's Trades page.

Filters are optional: ``symbols`` empty means every symbol, ``side`` ``None`` both sides, ``since`` ``None`` all
time (``since`` is market time, aware). Money columns come back as floats in the quote asset, timestamps as UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

MAX_ROWS = 50_000
"""Row cap of one read, so a long run cannot exhaust the page."""


def fills(
    cur: duckdb.DuckDBPyConnection, *, symbols: Sequence[str] = (), side: str | None = None, since: datetime | None = None
) -> pd.DataFrame:
    """Fills, newest first: ``ts`` (market time), ``symbol``, ``side``, ``quantity`` (base), ``price``, ``quote_qty``,
    ``fee``, ``reference_price``, ``order_id``, ``fill_id``, ``exit_reason`` (sells: STOP, TARGET, TRAILING, SIGNAL,
    FLATTEN; None for buys)."""
    where, params = _filters(symbols=symbols, since=since, time_column="ts")
    if side is not None:
        where.append("side = $side")
        params["side"] = side
    return _frame(
        cur,
        f"""
        SELECT ts, symbol, side, quantity::DOUBLE AS quantity, price::DOUBLE AS price, quote_qty::DOUBLE AS quote_qty,
               fee::DOUBLE AS fee, reference_price::DOUBLE AS reference_price, order_id, fill_id, exit_reason
        FROM fills {_where(where)} ORDER BY ts DESC, recorded_at DESC LIMIT {MAX_ROWS}
        """,
        params,
    )


def closed_trades(
    cur: duckdb.DuckDBPyConnection, *, symbols: Sequence[str] = (), since: datetime | None = None
) -> pd.DataFrame:
    """Closed trades (every one is a long: BUY then SELL), newest exit first: ``trade_id``, ``symbol``,
    ``entry_time``, ``exit_time``, ``quantity``, ``entry_price``, ``exit_price``, ``fees``, ``pnl`` (net of fees),
    ``pnl_pct`` (percent of entry cost), ``exit_reason``. ``since`` filters on the exit time."""
    where, params = _filters(symbols=symbols, since=since, time_column="exit_time")
    return _frame(
        cur,
        f"""
        SELECT trade_id, symbol, entry_time, exit_time, quantity::DOUBLE AS quantity, entry_price::DOUBLE AS entry_price,
               exit_price::DOUBLE AS exit_price, fees::DOUBLE AS fees, pnl::DOUBLE AS pnl, pnl_pct, exit_reason
        FROM trades {_where(where)} ORDER BY exit_time DESC, recorded_at DESC LIMIT {MAX_ROWS}
        """,
        params,
    )


def newest_fill_time(cur: duckdb.DuckDBPyConnection) -> datetime | None:
    """Market time of the newest fill (UTC), the anchor of the Trades page's time ranges; ``None`` without fills."""
    [(ms,)] = cur.sql("SELECT epoch_ms(max(ts)) FROM fills").fetchall()
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def _filters(*, symbols: Sequence[str], since: datetime | None, time_column: str) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if symbols:
        where.append("list_contains($symbols, symbol)")
        params["symbols"] = list(symbols)
    if since is not None:
        where.append(f"{time_column} >= $since")
        params["since"] = since.astimezone(UTC)
    return where, params


def _where(clauses: list[str]) -> str:
    return "WHERE " + " AND ".join(clauses) if clauses else ""


def _frame(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    frame = cur.sql(sql, params=params or None).to_arrow_table().to_pandas()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_convert(UTC)
    return frame
