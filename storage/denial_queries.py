"""Pre-trade risk denials over market time, by reason code and symbol, for the Guards page's chart.

Counts are aggregated in SQL into at most ``max_buckets`` epoch-aligned buckets of a Binance kline interval
(:mod:`storage.intervals`), so the chart's payload is bounded whatever the history.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from storage.frames import frame
from storage.intervals import interval_for

DENIAL_COLUMNS = ("ts", "width_s", "reason_code", "symbol", "denials")

NO_SYMBOL = "—"
"""The ``symbol`` of a denial whose bad input named none (stored as NULL)."""


def denials_over_time(
    cur: duckdb.DuckDBPyConnection, *, max_buckets: int = 60, chart_span_s: float = 0.0
) -> pd.DataFrame:
    """Risk denials (table ``risk_denials``) counted per time bucket, reason code and symbol.

    The bucket is the shortest interval that cuts the longer of the denials' own span and ``chart_span_s`` (the
    span the chart shows, seconds) into at most ``max_buckets``: a few denials in a long run get bars that can be
    seen on its axis.

    Returns:
        Ascending by ``ts``: ``ts`` (bucket open, UTC market time), ``width_s`` (bucket width, seconds),
        ``reason_code`` (DATA_GAP, MAX_POSITIONS, STOP_TOO_TIGHT ...), ``symbol`` (:data:`NO_SYMBOL` when none),
        ``denials``; only non-empty buckets appear.

    Raises:
        ValueError: ``max_buckets`` < 2.
    """
    [(lo, hi)] = cur.sql("SELECT epoch_us(min(ts)), epoch_us(max(ts)) FROM risk_denials").fetchall()
    own_span_s = 0 if lo is None else (hi - lo) / 1e6
    _, width_s = interval_for(max(own_span_s, chart_span_s), max_buckets=max_buckets)
    return frame(
        cur,
        """
        SELECT make_timestamptz(bucket * $width_us) AS ts, $width_s::DOUBLE AS width_s, reason_code,
               coalesce(symbol, $none) AS symbol, count(*) AS denials
        FROM (SELECT epoch_us(ts) // $width_us AS bucket, reason_code, symbol FROM risk_denials)
        GROUP BY ALL ORDER BY ts, reason_code, symbol
        """,
        {"width_us": width_s * 1_000_000, "width_s": width_s, "none": NO_SYMBOL},
    )
