"""The engine's market clock against the wall clock, read from the candles it processed.

Rows written at a wall time only (the audit log, REST attempts, rate-limit samples, WebSocket events: their ``ts``
is wall time) are placed on market time through this map: at wall time *w* the engine had reached the market time of
the newest candle close recorded by *w*. Each ``candles`` row carries both clocks (``close_time`` market,
``recorded_at`` wall), and the table is small (one row per symbol and minute), so the map is cheap to read on any
history. Backfilled candles (old market times recorded late) never move the map back: it is a running maximum.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from storage.frames import frame

CLOCK_COLUMNS = ("wall", "market")


def clock_map(cur: duckdb.DuckDBPyConnection, *, max_points: int = 2000) -> pd.DataFrame:
    """At most ``max_points`` points of the wall → market clock, for interpolation.

    The wall-time span of the ``candles`` rows is cut into ``max_points`` equal buckets; each non-empty bucket gives
    one point: its latest ``recorded_at`` and the newest ``close_time`` recorded up to then.

    Returns:
        Ascending by ``wall`` (strictly): ``wall`` (UTC wall time), ``market`` (UTC market time, never decreasing);
        empty before the first candle.

    Raises:
        ValueError: ``max_points`` < 2.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    return frame(
        cur,
        """
        WITH span AS (SELECT epoch_us(min(recorded_at)) AS lo, epoch_us(max(recorded_at)) AS hi FROM candles),
             points AS (
                 SELECT max(recorded_at) AS wall, max(close_time) AS market
                 FROM candles, span
                 GROUP BY (epoch_us(recorded_at) - lo) * $buckets // (hi - lo + 1)
             )
        SELECT wall, max(market) OVER (ORDER BY wall ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS market
        FROM points ORDER BY wall
        """,
        {"buckets": max_points},
    )
