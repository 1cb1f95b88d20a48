"""Speed and size of the dashboard's chart queries on a long run.

Run::

    .venv/bin/python benchmarks/dashboard_queries.py [--equity-rows 10000000] [--api-calls 1000000] [--repeats 5]
        [--database PATH]

Builds a migrated DuckDB file (in a temporary directory unless ``--database`` names one to reuse) with
synthetic history generated in SQL with ``range()``: ``--equity-rows`` equity snapshots one market second apart
(a random walk), ``--api-calls`` REST attempts one wall second apart over two endpoints (about 3 % failures:
429, 5xx, timeout), a rate-limit sample per second, 1-minute candles of one symbol over the equity span, a fill
every 6 hours, WebSocket events with a reconnect every ~10 minutes, breaker events and risk denials.

Then runs every query of ``storage.queries`` and ``storage.guard_queries`` that feeds a chart or table of the
dashboard ``--repeats`` times and prints the median and slowest wall time, the rows returned and the most points any
one trace would get (per host, endpoint/reason or symbol). Targets (``../shared/SPEC.md`` §5): ≤ 100 ms and ≤ 5,000 points per trace.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

from storage import guard_queries, queries
from storage.store import Store

TARGET_MS = 100.0
TARGET_POINTS = 5_000
SYMBOL = "BTCUSDT"
START_S = 1_704_067_200  # 2024-01-01 00:00 UTC

Query = Callable[[duckdb.DuckDBPyConnection], pd.DataFrame]


def build(cur: duckdb.DuckDBPyConnection, *, equity_rows: int, api_calls: int) -> None:
    """Fill every history table with synthetic rows, one ``INSERT … SELECT … FROM range()`` each."""
    cur.execute(
        f"""
        INSERT INTO equity (ts, equity, cash, positions_value, realised_pnl, unrealised_pnl, peak_equity, drawdown_pct,
                            day_start_equity, daily_pnl_pct, recorded_at, symbol, source)
        SELECT to_timestamp({START_S} + i), e, e, 0, 0, 0, max(e) OVER w, 0, 10000, 0, now(), 'BTCUSDT', 'candle'
        FROM (SELECT i, 10000 + 500 * sin(i / 50000) + 50 * sin(i / 997) + (hash(i) % 100) / 10.0 AS e
              FROM range({equity_rows}) r(i))
        WINDOW w AS (ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        """
    )
    cur.execute(
        """
        UPDATE equity SET drawdown_pct = (peak_equity - equity) / peak_equity * 100,
                          daily_pnl_pct = (equity - day_start_equity) / day_start_equity * 100
        """
    )
    cur.execute(
        f"""
        INSERT INTO api_calls
        SELECT to_timestamp({START_S} + i), 'sim.local', CASE WHEN i % 2 = 0 THEN '/api/v3/klines' ELSE '/api/v3/order' END,
               CASE f WHEN 0 THEN 429 WHEN 1 THEN 503 WHEN 2 THEN NULL ELSE 200 END, 20 + i % 30,
               CASE WHEN f < 3 THEN 1 ELSE 0 END, CASE WHEN f < 3 THEN 2.0 END,
               CASE WHEN f < 3 THEN 'retry' ELSE 'ok' END,
               CASE f WHEN 0 THEN '429' WHEN 1 THEN '5xx' WHEN 2 THEN 'timeout' ELSE 'ok' END, now()
        FROM (SELECT i, hash(i) % 100 AS f FROM range({api_calls}) r(i))
        """
    )
    cur.execute(
        f"""
        INSERT INTO rate_limit_samples
        SELECT to_timestamp({START_S} + i), 'sim.local', (hash(i) % 6000)::INTEGER, (hash(i) % 6000)::INTEGER, 6000,
               (hash(i) % 6000) / 60.0, 0, 0, 'CLOSED', NULL, now()
        FROM range({api_calls}) r(i)
        """
    )
    minutes = max(equity_rows // 60, 1)
    cur.execute(
        f"""
        INSERT INTO candles
        SELECT '{SYMBOL}', '1m', to_timestamp({START_S} + 60 * i), to_timestamp({START_S} + 60 * i + 59.999),
               p, p + 10, p - 10, p + 1, 1.0, 'stream', now()
        FROM (SELECT i, 42000 + 2000 * sin(i / 3000) + hash(i) % 50 AS p FROM range({minutes}) r(i))
        """
    )
    cur.execute(
        f"""
        INSERT INTO fills
        SELECT 'f' || i, 'o' || i, to_timestamp({START_S} + 21600 * i), '{SYMBOL}',
               CASE WHEN i % 2 = 0 THEN 'BUY' ELSE 'SELL' END, 42000, 0.1, 4200, 4.2, 42000, now(),
               CASE WHEN i % 2 = 1 THEN 'SIGNAL' END
        FROM range({max(equity_rows // 21600, 1)}) r(i)
        """
    )
    cur.execute(
        f"""
        INSERT INTO ws_events
        SELECT to_timestamp({START_S} + 300 * i), CASE i % 4 WHEN 0 THEN 'CONNECTED' WHEN 1 THEN 'BAD_MESSAGE'
               WHEN 2 THEN 'DISCONNECTED' ELSE 'BACKFILL' END, 'ws://sim.local/stream', NULL, '', 1.0, 1,
               CASE WHEN i % 4 = 3 THEN 2 END, now()
        FROM range({max(equity_rows // 300, 1)}) r(i)
        """
    )
    cur.execute(
        f"""
        INSERT INTO breaker_events
        SELECT to_timestamp({START_S} + 86400 * i), 'BreakerTripped', 'ACTIVE', 'TRIPPED', 9500, 5.0, 5.0,
               'daily loss', 'engine', now(), 10000, 10000
        FROM range({max(equity_rows // 86400, 1)}) r(i)
        """
    )
    cur.execute(
        f"""
        INSERT INTO risk_denials
        SELECT to_timestamp({START_S} + 60 * i), '{SYMBOL}',
               ['STOP_TOO_TIGHT', 'MAX_POSITIONS', 'BREAKER_TRIPPED', 'INVALID_PRICE'][1 + i % 4], '', now()
        FROM range({max(equity_rows // 600, 1)}) r(i)
        """
    )
    cur.execute("CHECKPOINT")


def chart_queries() -> dict[str, tuple[Query, list[str]]]:
    """Query name → (query, the columns whose value combination makes one trace)."""
    return {
        "equity_curve": (queries.equity_curve, []),
        "breaker_gauges": (guard_queries.breaker_gauges, []),
        "daily_pnl": (queries.daily_pnl, []),
        "price_series": (lambda cur: queries.price_series(cur, SYMBOL), []),
        "trade_markers": (lambda cur: queries.trade_markers(cur, SYMBOL), ["kind"]),
        "rate_limit_series": (guard_queries.rate_limit_series, ["host"]),
        "retry_counts": (guard_queries.retry_counts, ["endpoint", "reason"]),
        "api_call_totals": (guard_queries.api_call_totals, []),
        "api_breaker_states": (guard_queries.api_breaker_states, []),
        "breaker_history": (guard_queries.breaker_history, []),
        "ws_timeline": (guard_queries.ws_timeline, []),
        "ws_spans": (guard_queries.ws_spans, ["state"]),
        "denials_by_reason": (guard_queries.denials_by_reason, []),
    }


def points_per_trace(frame: pd.DataFrame, keys: list[str]) -> int:
    """The most rows any one trace gets (the whole frame when it draws one trace)."""
    if frame.empty or not keys:
        return len(frame)
    return int(frame.groupby(keys, dropna=False).size().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--equity-rows", type=int, default=10_000_000)
    parser.add_argument("--api-calls", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database", type=Path, help="reuse (or create) this file instead of a temporary one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.database or Path(tmp) / "bench.duckdb"
        fresh = not path.exists()
        with Store(path) as store, store.cursor() as cur:
            if fresh:
                started = time.perf_counter()
                build(cur, equity_rows=args.equity_rows, api_calls=args.api_calls)
                print(f"built {path} in {time.perf_counter() - started:.1f} s")
            counts = queries.table_counts(cur)
            print("rows: " + ", ".join(f"{name} {n:,}" for name, n in counts.items() if n))
            print(f"\n{'query':<20} {'median ms':>10} {'max ms':>8} {'rows':>7} {'pts/trace':>10}  verdict")
            for name, (query, keys) in chart_queries().items():
                query(cur)  # warm-up: first touch of the columns
                times_ms, frame = [], pd.DataFrame()
                for _ in range(args.repeats):
                    started = time.perf_counter()
                    frame = query(cur)
                    times_ms.append((time.perf_counter() - started) * 1000)
                median, points = statistics.median(times_ms), points_per_trace(frame, keys)
                verdict = "ok" if median <= TARGET_MS and points <= TARGET_POINTS else "OVER TARGET"
                print(f"{name:<20} {median:>10.1f} {max(times_ms):>8.1f} {len(frame):>7,} {points:>10,}  {verdict}")


if __name__ == "__main__":
    main()
