"""The account's headline figures on their true baselines, next to the breaker's own (re-based) ones.

A breaker reset re-bases the ``equity`` rows' ``day_start_equity`` and ``peak_equity`` to the equity at the reset
(``../shared/SPEC.md`` §3.1), so that the breaker is armed again. Those are the breaker's figures. A trader's
figures keep their calendar meaning (§5): P&L today is measured from the equity at 00:00 UTC of the market day, the
drawdown from the all-time peak. Both are read here without scanning the history:

* the equity at 00:00 UTC is the ``day_start_equity`` of the market day's first row (set when the day rolled, before
  any reset of that day re-based it); rows are filtered on ``ts`` from that midnight, so only the day is read;
* the all-time peak is the greatest of the newest ``peak_equity`` and the peaks each ``BreakerReset`` overrode
  (stored with the event since schema v4; a reset recorded before that is covered by reading the whole history).

Money comes back as ``float`` in the quote asset, timestamps as tz-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from storage.frames import display_table

ACCOUNT_KEYS = (
    "ts", "equity", "realised_pnl", "unrealised_pnl", "day_start_equity", "peak_equity", "drawdown_pct",
    "calendar_day_start_equity", "all_time_peak_equity", "last_reset_ts", "last_reset_actor", "last_reset_reason",
)


def account_figures(cur: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The newest ``equity`` row's figures with the calendar and all-time baselines; ``None`` before the first row.

    Returns:
        ``ts`` (market time of the newest row), ``equity``, ``realised_pnl``, ``unrealised_pnl`` (quote asset),
        ``day_start_equity`` and ``peak_equity`` (the breaker's baselines, re-based by a reset), ``drawdown_pct``
        (the breaker's drawdown, percent below its peak), ``calendar_day_start_equity`` (equity at 00:00 UTC of the
        newest row's market day), ``all_time_peak_equity`` (highest equity ever), and the latest breaker reset:
        ``last_reset_ts`` (market time; ``None`` when there was none), ``last_reset_actor``, ``last_reset_reason``.
    """
    rows = display_table(
        cur,
        """
        SELECT ts, equity, realised_pnl, unrealised_pnl, day_start_equity, peak_equity, drawdown_pct
        FROM equity ORDER BY ts DESC, recorded_at DESC LIMIT 1
        """,
    ).to_pylist()
    if not rows:
        return None
    latest = rows[0]
    ts: datetime = latest["ts"].astimezone(UTC)
    midnight = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    [(calendar_day_start,)] = cur.sql(
        "SELECT arg_min(day_start_equity, (ts, recorded_at))::DOUBLE FROM equity WHERE ts >= $midnight",
        params={"midnight": midnight},
    ).fetchall()
    [(reset_peak, legacy_resets)] = cur.sql(
        "SELECT max(peak_equity)::DOUBLE, count(*) FILTER (WHERE peak_equity IS NULL) FROM breaker_events "
        "WHERE kind = 'BreakerReset'"
    ).fetchall()
    peaks = [latest["peak_equity"], reset_peak]
    if legacy_resets:
        [(history_peak,)] = cur.sql("SELECT max(peak_equity)::DOUBLE FROM equity").fetchall()
        peaks.append(history_peak)
    resets = display_table(
        cur, "SELECT ts, actor, reason FROM breaker_events WHERE kind = 'BreakerReset' ORDER BY recorded_at DESC LIMIT 1"
    ).to_pylist()
    reset = resets[0] if resets else {"ts": None, "actor": None, "reason": None}
    return latest | {
        "ts": ts,
        "calendar_day_start_equity": calendar_day_start,
        "all_time_peak_equity": max(p for p in peaks if p is not None),
        "last_reset_ts": None if reset["ts"] is None else reset["ts"].astimezone(UTC),
        "last_reset_actor": reset["actor"],
        "last_reset_reason": reset["reason"],
    }
