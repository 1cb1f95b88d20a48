"""Read-only queries for the dashboard's Overview: a DuckDB cursor in, a pandas DataFrame (or a dict) out.

Every function takes a cursor of the calling thread (:meth:`storage.store.Store.cursor`) and returns:

* timestamps as tz-aware UTC (``datetime64[us, UTC]`` columns, or aware ``datetime`` in dicts);
* money as ``float`` in display frames (exact ``Decimal`` stays in the database); percentages in percent;
* an empty frame with the same columns when there is no data.

Queries run as relations (``cur.sql``) read through Arrow (:mod:`storage.frames`): nothing is left unfinished on the
cursor, and TIMESTAMPTZ values need no ``pytz``.
Long series are downsampled in SQL, never in Python (``../shared/SPEC.md`` §5), from the level-of-detail rollups
(:mod:`storage.downsample`).
The Guards page's reads are in :mod:`storage.guard_queries`.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from storage import downsample, rollups
from storage.frames import check_limit, frame

EQUITY_CURVE_COLUMNS = ("ts", "equity", "realised_pnl", "unrealised_pnl", "drawdown_pct")
DAILY_PNL_COLUMNS = ("day", "start_equity", "end_equity", "pnl", "pnl_pct")


def equity_curve(cur: duckdb.DuckDBPyConnection, *, max_points: int = 2000) -> pd.DataFrame:
    """The equity series for charts, ascending by ``ts``, at most ``max_points`` rows.

    Up to ``max_points`` snapshots are returned as they are. Beyond that, the time span is cut into at most
    ``(max_points - 1) // 3`` equal buckets (at least 2/3 that many: a bucket is a whole number of rollup buckets
    of 10 minutes, 1 hour or 6 hours once it spans two of them) and each bucket keeps its snapshots of lowest equity,
    highest equity and deepest drawdown (so spikes and dips survive in both charts; ties go to the earliest for the
    lowest, the latest otherwise), plus the latest snapshot, which is always the last row. Every value is the one
    recorded: ``drawdown_pct`` is from the all-time peak at that snapshot, not from the points returned. Read from
    ``equity_rollup`` and its tail (:mod:`storage.downsample`): milliseconds at 10 M rows.

    Returns:
        Columns ``ts`` (UTC), ``equity``, ``realised_pnl``, ``unrealised_pnl`` (quote asset), ``drawdown_pct``.

    Raises:
        ValueError: ``max_points`` < 4.
    """
    columns = ", ".join(f"s.{c} AS {c}" for c in EQUITY_CURVE_COLUMNS)
    return downsample.chart(cur, rollups.EQUITY, max_points=max_points, columns=columns)


def recent_trades(cur: duckdb.DuckDBPyConnection, *, limit: int = 20) -> pd.DataFrame:
    """The last ``limit`` closed trades, newest exit first.

    Returns:
        ``symbol``, ``entry_time``, ``exit_time`` (UTC), ``quantity``, ``entry_price``, ``exit_price``, ``fees``,
        ``pnl`` (floats, quote asset; pnl net of fees), ``pnl_pct`` (percent), ``exit_reason``.
    """
    return frame(
        cur,
        """
        SELECT symbol, entry_time, exit_time, quantity::DOUBLE AS quantity, entry_price::DOUBLE AS entry_price,
               exit_price::DOUBLE AS exit_price, fees::DOUBLE AS fees, pnl::DOUBLE AS pnl, pnl_pct, exit_reason
        FROM trades ORDER BY exit_time DESC, recorded_at DESC LIMIT $limit
        """,
        {"limit": check_limit(limit)},
    )


def recent_commands(cur: duckdb.DuckDBPyConnection, *, limit: int = 20) -> pd.DataFrame:
    """The last ``limit`` entries of the audit log, newest first.

    Returns:
        ``ts`` (UTC wall time the engine applied it), ``command``, ``actor``, ``reason``, ``result``, ``detail``.
    """
    return frame(
        cur,
        "SELECT ts, command, actor, reason, result, detail FROM commands "
        "ORDER BY ts DESC, recorded_at DESC LIMIT $limit",
        {"limit": check_limit(limit)},
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


def daily_pnl(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """P&L per UTC market day, from the ``equity`` snapshots.

    ``start_equity`` is the ``day_start_equity`` of the day's first snapshot (equity at 00:00 UTC, before any
    breaker reset re-bases it), ``end_equity`` the day's last equity; ``pnl`` = end − start. Read from the 6-hour
    buckets of ``equity_rollup`` (four per day, each with its first and last snapshot) and its tail, not every row.

    Returns:
        Ascending: ``day`` (UTC midnight), ``start_equity``, ``end_equity``, ``pnl`` (quote asset), ``pnl_pct``
        (percent of ``start_equity``).
    """
    rollup = rollups.EQUITY
    return frame(
        cur,
        f"""
        SELECT make_timestamptz(day * 86400000000) AS day, start_equity, end_equity,
               end_equity - start_equity AS pnl, (end_equity - start_equity) / nullif(start_equity, 0) * 100 AS pnl_pct
        FROM (
            SELECT day, arg_min(first, {rollup.time_key("first")}).day_start_equity AS start_equity,
                   arg_max(last, {rollup.time_key("last")}).equity AS end_equity
            FROM (
                SELECT epoch_us(bucket_start) // 86400000000 AS day, first, last
                FROM {rollup.name} WHERE width_s = {rollups.LEVELS_S[-1]}
                UNION ALL
                SELECT epoch_us(ts) // 86400000000, s, s FROM (SELECT ts, {rollup.snapshot} AS s FROM ({rollup.tail_sql()}))
            )
            GROUP BY day
        )
        ORDER BY day
        """,
    )
