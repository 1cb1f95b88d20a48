"""The totals a replay summary reports, read back from the file it wrote (so the summary matches the file)."""

from __future__ import annotations

import duckdb


def replay_totals(cur: duckdb.DuckDBPyConnection) -> tuple[int, int, int, float, int, int]:
    """``(candles, trades, fills, max drawdown %, breaker trips, risk denials)`` of the database behind ``cur``."""
    row = cur.execute(
        "SELECT (SELECT count(*) FROM candles), (SELECT count(*) FROM trades), (SELECT count(*) FROM fills), "
        "(SELECT coalesce(max(drawdown_pct), 0) FROM equity), "
        "(SELECT count(*) FROM breaker_events WHERE kind = 'BreakerTripped'), "
        "(SELECT count(*) FROM risk_denials)"
    ).fetchone()
    assert row is not None
    candles, trades, fills, max_dd, trips, denials = row
    return int(candles), int(trades), int(fills), float(max_dd), int(trips), int(denials)
