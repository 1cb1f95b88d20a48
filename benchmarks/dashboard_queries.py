"""Speed and size of every dashboard read query on a long run.

Run::

    .venv/bin/python benchmarks/dashboard_queries.py [--equity-rows 10000000] [--api-calls 1000000]
        [--candle-years 3] [--tail-rows 49999] [--rounds 7] [--database PATH]

Data. Builds a migrated DuckDB file (in a temporary directory unless ``--database`` names one to reuse: the build
takes a minute) with synthetic history generated in SQL with ``range()``, every column named (``INSERT … BY NAME``):
1-minute candles of three symbols over ``--candle-years`` years (the price chart's "All" span aggregates them), and
over the last ``--equity-rows`` seconds of that market time the trading run: equity snapshots one second apart (a
random walk, each with its mark), a fill every 6 hours (BUY then SELL, a position open at the end) with its orders,
closed trade and position rows (a trailing-stop move every 10 minutes), a breaker trip and reset a day and risk
denials every 10 minutes; in wall time ``--api-calls`` REST attempts one second apart over two endpoints (about 3 %
failures: 429, 5xx, timeout), a rate-limit sample per second, WebSocket events with a reconnect every ~10 minutes,
an audit-log command every 10 minutes and a gap a day. ``recorded_at`` grows by a microsecond per equity row and
candle, as the Recorder stamps them. The rows bypass the Recorder, so the build summarises them into the
level-of-detail rollups itself (``storage.rollups.rebuild``) before inserting the last ``--tail-rows`` equity rows and
candles: by default the longest tail the Recorder leaves unsummarised (``SUMMARISE_EVERY_ROWS`` − 1), which every
chart query then merges row by row — the slowest state a reader meets.

Methodology. Every query a dashboard page runs (the ``read(...)`` calls of ``dashboard/pages/*.py``), with the
arguments the page passes (the price chart at its default span and at "All", the Trades page's default filters), is
run once untimed (first touch of its columns), then in ``--rounds`` (≥ 5) interleaved rounds: each round runs every
query once, in turn (A, B, C …, A, B, C …), so a burst of load from elsewhere hits all of them alike. Per query: the
median CPU time of this process (``time.process_time``: every DuckDB thread counted, other processes' load not; on an
idle machine it is at least the wall time, as a query's threads only add to it), the median and slowest wall time
(what a page waits for, inflated by load on a shared machine), the rows returned and the most points any one trace
would get (per host, endpoint/reason, state, marker kind or reason/symbol); the load average is printed before and
after. Targets (``../shared/SPEC.md`` §5, issue 10), judged on the median CPU time: every query ≤ 100 ms and ≤ 5,000
points per trace, ``equity_curve`` ≤ 50 ms.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

from dashboard.market_events import VENUE_COMMANDS
from dashboard.reads import CHART_POINTS
from storage import (
    account_queries,
    audit_queries,
    clock_queries,
    denial_queries,
    guard_queries,
    position_queries,
    price_queries,
    queries,
    rollups,
    trade_queries,
)
from storage.store import Store

TARGET_MS = 100.0
TARGETS_MS = {"equity_curve": 50.0}
"""Queries with a tighter target than :data:`TARGET_MS`."""
TARGET_POINTS = 5_000
MIN_ROUNDS = 5
SYMBOL = "BTCUSDT"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
PRICE_WINDOWS = {"6 h": 6 * 3600, "All": None}
"""The price chart's spans measured (``window_s``): the Overview's default and the longest (``dashboard/pages/overview.py``)."""
START_S = 1_704_067_200  # 2024-01-01 00:00 UTC
RECORDED_FROM_US = 1_750_000_000 * 1_000_000
"""``recorded_at`` of the first equity row and candle (wall time, Unix microseconds); one microsecond apart."""

Query = Callable[[duckdb.DuckDBPyConnection], object]


def build(cur: duckdb.DuckDBPyConnection, *, equity_rows: int, api_calls: int, candle_years: float, tail_rows: int) -> None:
    """Fill every history table with synthetic rows, one ``INSERT … BY NAME SELECT … FROM range()`` each (columns
    named, so a column the schema adds later stays NULL instead of shifting the rest); the rollups then summarise all
    but the last ``tail_rows`` equity rows and candles, which are inserted after them as their tail.

    ``recorded_at`` is unique and increasing in row order in ``equity`` and ``candles``, as the Recorder stamps it.
    The equity snapshots, fills, orders, trades and positions cover the last ``equity_rows`` seconds of the candles'
    market time (the trading run after its candle history), so the price chart's spans hold their fills."""
    minutes = max(int(candle_years * 525_600), 1)
    run_s = _run_start_s(equity_rows, minutes)
    cur.execute(
        f"""
        CREATE TEMP TABLE equity_rows AS
        SELECT i, to_timestamp({run_s} + i) AS ts, e AS equity, e AS cash, 0 AS positions_value, 0 AS realised_pnl,
               0 AS unrealised_pnl, max(e) OVER w AS peak_equity, (max(e) OVER w - e) / max(e) OVER w * 100 AS drawdown_pct,
               10000 AS day_start_equity, (e - 10000) / 100 AS daily_pnl_pct,
               make_timestamptz({RECORDED_FROM_US} + i) AS recorded_at, '{SYMBOL}' AS symbol, 'candle' AS source,
               to_timestamp({run_s} + i // 60 * 60 - 60) AS candle_open_time, 42000 + 2000 * sin(i / 180000) AS price
        FROM (SELECT i, 10000 + 500 * sin(i / 50000) + 50 * sin(i / 997) + (hash(i) % 100) / 10.0 AS e
              FROM range({equity_rows}) r(i))
        WINDOW w AS (ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        """
    )
    symbols = ", ".join(f"('{symbol}', {i})" for i, symbol in enumerate(SYMBOLS))
    cur.execute(
        f"""
        CREATE TEMP TABLE candle_rows AS
        SELECT row_number() OVER (ORDER BY i, n) - 1 AS k, symbol, '1m' AS interval,
               to_timestamp({START_S} + 60 * i) AS open_time, to_timestamp({START_S} + 60 * i + 59.999) AS close_time,
               p AS open, p + 10 AS high, p - 10 AS low, p + 1 AS close, 1.0 AS volume, 'stream' AS source
        FROM (SELECT i, 42000 + 2000 * sin(i / 3000) + hash(i) % 50 AS p FROM range({minutes}) r(i)),
             (VALUES {symbols}) s(symbol, n)
        """
    )
    cut = {"equity": max(equity_rows - tail_rows, 0), "candles": max(len(SYMBOLS) * minutes - tail_rows, 0)}
    summarised = {"equity": f"i < {cut['equity']}", "candles": f"k < {cut['candles']}"}
    for where in (summarised, {table: f"NOT ({condition})" for table, condition in summarised.items()}):
        cur.execute(f"INSERT INTO equity BY NAME SELECT * EXCLUDE (i) FROM equity_rows WHERE {where['equity']} ORDER BY i")
        cur.execute(
            f"INSERT INTO candles BY NAME SELECT * EXCLUDE (k), make_timestamptz({RECORDED_FROM_US} + k) AS recorded_at "
            f"FROM candle_rows WHERE {where['candles']} ORDER BY k"
        )
        if where is summarised:
            rollups.rebuild(cur)
    _build_wall_time(cur, api_calls=api_calls, days=max(equity_rows // 86400, 1))
    _build_trading(cur, run_s=run_s, fills=max(equity_rows // 21600, 1))
    cur.execute("CHECKPOINT")


def _run_start_s(equity_rows: int, candle_minutes: int) -> int:
    """Market time of the first equity snapshot (Unix seconds): ``equity_rows`` seconds before the last candle closes."""
    return START_S + max(60 * candle_minutes - equity_rows, 0)


def _build_wall_time(cur: duckdb.DuckDBPyConnection, *, api_calls: int, days: int) -> None:
    """REST attempts and rate-limit samples (``api_calls`` of each, one wall second apart), and one WebSocket event
    every 5 minutes, an audit-log command every 10 minutes and a closed gap a day over the same wall-time span."""
    cur.execute(
        f"""
        INSERT INTO api_calls BY NAME
        SELECT to_timestamp({START_S} + i) AS ts, 'sim.local' AS host,
               CASE WHEN i % 2 = 0 THEN '/api/v3/klines' ELSE '/api/v3/order' END AS endpoint,
               CASE f WHEN 0 THEN 429 WHEN 1 THEN 503 WHEN 2 THEN NULL ELSE 200 END AS status, 20 + i % 30 AS latency_ms,
               CASE WHEN f < 3 THEN 1 ELSE 0 END AS attempt, CASE WHEN f < 3 THEN 2.0 END AS delay_s,
               CASE WHEN f < 3 THEN 'retry' ELSE 'ok' END AS outcome,
               CASE f WHEN 0 THEN '429' WHEN 1 THEN '5xx' WHEN 2 THEN 'timeout' ELSE 'ok' END AS reason,
               to_timestamp({START_S} + i) AS recorded_at
        FROM (SELECT i, hash(i) % 100 AS f FROM range({api_calls}) r(i))
        """
    )
    cur.execute(
        f"""
        INSERT INTO rate_limit_samples BY NAME
        SELECT to_timestamp({START_S} + i) AS ts, 'sim.local' AS host, (hash(i) % 6000)::INTEGER AS used_weight,
               (hash(i) % 6000)::INTEGER AS server_used_weight, 6000 AS weight_limit,
               (hash(i) % 6000) / 60.0 AS utilisation_pct, 0 AS waiting, 0 AS wait_s, 'CLOSED' AS api_breaker,
               NULL AS banned_until, to_timestamp({START_S} + i) AS recorded_at
        FROM range({api_calls}) r(i)
        """
    )
    span_s = max(api_calls, 86400 * days)
    cur.execute(
        f"""
        INSERT INTO ws_events BY NAME
        SELECT to_timestamp({START_S} + 300 * i) AS ts,
               ['CONNECTED', 'BAD_MESSAGE', 'DISCONNECTED', 'BACKFILL'][1 + i % 4] AS event,
               'ws://sim.local/stream' AS url, NULL AS code, '' AS reason, 1.0 AS retry_in_s, 1 AS attempt,
               CASE WHEN i % 4 = 3 THEN 2 END AS candles, to_timestamp({START_S} + 300 * i) AS recorded_at
        FROM range({span_s // 300}) r(i)
        """
    )
    cur.execute(
        f"""
        INSERT INTO commands BY NAME
        SELECT to_timestamp({START_S} + 600 * i) AS ts,
               ['PAUSE', 'RESUME', 'PRICE_SHOCK', 'SET_FAULTS', 'RESET_FAULTS'][1 + i % 5] AS command,
               'dashboard' AS actor, 'benchmark' AS reason, 'OK' AS result, '' AS detail,
               to_timestamp({START_S} + 600 * i) AS recorded_at, 'c' || i AS command_id
        FROM range({span_s // 600}) r(i)
        """
    )
    cur.execute(
        f"""
        INSERT INTO gaps BY NAME
        SELECT 'g' || i AS gap_id, '{SYMBOL}' AS symbol, 'gap' AS kind, to_timestamp({START_S} + 86400 * i) AS first_open_time,
               to_timestamp({START_S} + 86400 * i + 240) AS last_open_time, 5 AS candles,
               CASE WHEN closed THEN 'CLOSED' ELSE 'OPEN' END AS state, to_timestamp({START_S} + 86400 * i) AS opened_at,
               CASE WHEN closed THEN to_timestamp({START_S} + 86400 * i + 30) END AS closed_at, 0 AS attempts,
               '' AS last_error, CASE WHEN closed THEN 'filled' ELSE '' END AS detail,
               to_timestamp({START_S} + 86400 * i + CASE WHEN closed THEN 30 ELSE 0 END) AS recorded_at
        FROM range({days}) r(i), (VALUES (false), (true)) c(closed)
        """
    )


def _build_trading(cur: duckdb.DuckDBPyConnection, *, run_s: int, fills: int) -> None:
    """Over the run from ``run_s``: a fill every 6 hours (BUY, then SELL, …; odd in number, so a position is open at
    the end) with its order's NEW and FILLED rows, a closed trade per SELL, the position's rows (the fill, then a
    trailing-stop move every 10 minutes while it is open), a breaker trip and reset a day, and risk denials every
    10 minutes (one in four naming no symbol)."""
    fills += 1 - fills % 2
    ts = f"to_timestamp({run_s} + 21600 * i)"
    cur.execute(
        f"""
        INSERT INTO fills BY NAME
        SELECT 'f' || i AS fill_id, 'o' || i AS order_id, {ts} AS ts, '{SYMBOL}' AS symbol,
               CASE WHEN i % 2 = 0 THEN 'BUY' ELSE 'SELL' END AS side, 42000 AS price, 0.1 AS quantity,
               4200 AS quote_qty, 4.2 AS fee, 42000 AS reference_price, {ts} AS recorded_at,
               CASE WHEN i % 2 = 1 THEN ['STOP', 'TARGET', 'TRAILING', 'SIGNAL'][1 + i // 2 % 4] END AS exit_reason
        FROM range({fills}) r(i)
        """
    )
    cur.execute(
        f"""
        INSERT INTO orders BY NAME
        SELECT 'o' || i AS order_id, {ts} AS ts, '{SYMBOL}' AS symbol, CASE WHEN i % 2 = 0 THEN 'BUY' ELSE 'SELL' END AS side,
               'MARKET' AS type, 0.1 AS quantity, status, 'benchmark' AS reason,
               {ts} + INTERVAL (CASE status WHEN 'NEW' THEN 0 ELSE 1 END) MILLISECOND AS recorded_at,
               CASE WHEN i % 2 = 0 THEN 10000 END AS equity,
               CASE WHEN i % 2 = 0 AND status = 'FILLED' THEN 41000 END AS stop_price,
               CASE WHEN i % 2 = 0 AND status = 'FILLED' THEN 44000 END AS target_price
        FROM range({fills}) r(i), (VALUES ('NEW'), ('FILLED')) s(status)
        """
    )
    cur.execute(
        f"""
        INSERT INTO trades BY NAME
        SELECT 't' || i AS trade_id, '{SYMBOL}' AS symbol, to_timestamp({run_s} + 21600 * (i - 1)) AS entry_time,
               {ts} AS exit_time, 0.1 AS quantity, 42000 AS entry_price, 42000 + (hash(i) % 200) - 100 AS exit_price,
               8.4 AS fees, (hash(i) % 200) / 10.0 - 10 AS pnl, ((hash(i) % 200) / 10.0 - 10) / 42 AS pnl_pct,
               ['STOP', 'TARGET', 'TRAILING', 'SIGNAL'][1 + i // 2 % 4] AS exit_reason, {ts} AS recorded_at
        FROM range(1, {fills}, 2) r(i)
        """
    )
    cur.execute(
        f"""
        INSERT INTO positions BY NAME
        SELECT to_timestamp({run_s} + 21600 * i + 600 * k) AS ts, '{SYMBOL}' AS symbol,
               CASE WHEN i % 2 = 0 THEN 0.1 ELSE 0 END AS quantity, CASE WHEN i % 2 = 0 THEN 42000 ELSE 0 END AS avg_entry,
               CASE WHEN i % 2 = 0 THEN 4204.2 ELSE 0 END AS cost_basis,
               CASE WHEN i % 2 = 0 THEN 41000 + 10 * k END AS stop_price, CASE WHEN i % 2 = 0 THEN 44000 END AS target_price,
               CASE WHEN i % 2 = 0 THEN 1000 END AS stop_distance,
               CASE WHEN i % 2 = 0 AND k > 0 THEN 42000 + 10 * k END AS trail_high,
               to_timestamp({run_s} + 21600 * i + 600 * k) AS recorded_at
        FROM range({fills}) r(i), range(36) m(k)
        WHERE i % 2 = 0 OR k = 0
        """
    )
    days = max(fills * 21600 // 86400, 1)
    cur.execute(
        f"""
        INSERT INTO breaker_events BY NAME
        SELECT to_timestamp({run_s} + 86400 * i + CASE WHEN reset THEN 3600 ELSE 0 END) AS ts,
               CASE WHEN reset THEN 'BreakerReset' ELSE 'BreakerTripped' END AS kind,
               CASE WHEN reset THEN 'TRIPPED' ELSE 'ACTIVE' END AS state_from,
               CASE WHEN reset THEN 'ACTIVE' ELSE 'TRIPPED' END AS state_to, 9500 AS equity, 5.0 AS daily_loss_pct,
               5.0 AS drawdown_pct, CASE WHEN reset THEN 'benchmark' ELSE 'daily loss' END AS reason,
               CASE WHEN reset THEN 'dashboard' ELSE 'engine' END AS actor,
               to_timestamp({run_s} + 86400 * i + CASE WHEN reset THEN 3600 ELSE 0 END) AS recorded_at,
               10000 AS day_start_equity, 10500 AS peak_equity
        FROM range({days}) r(i), (VALUES (false), (true)) e(reset)
        """
    )
    cur.execute(
        f"""
        INSERT INTO risk_denials BY NAME
        SELECT to_timestamp({run_s} + 600 * i) AS ts, CASE WHEN i % 4 = 3 THEN NULL ELSE '{SYMBOL}' END AS symbol,
               ['STOP_TOO_TIGHT', 'MAX_POSITIONS', 'BREAKER_TRIPPED', 'INVALID_PRICE'][1 + i % 4] AS reason_code,
               '' AS detail, to_timestamp({run_s} + 600 * i) AS recorded_at
        FROM range({days * 144}) r(i)
        """
    )


def page_queries(cur: duckdb.DuckDBPyConnection) -> dict[str, tuple[Query, list[str]]]:
    """Query name → (query with the arguments a page passes, the columns whose value combination makes one trace):
    every read the dashboard's pages make (``dashboard/pages/*.py``), each once however many pages make it. Arguments
    a page takes from an earlier result (the price chart's first bar, the equity curve's span) or from the wall clock
    (``now``: here the end of the wall-time rows) are read from ``cur`` first, untimed."""
    bars = {span: price_queries.price_bars(cur, SYMBOL, window_s=window) for span, window in PRICE_WINDOWS.items()}
    curve = queries.equity_curve(cur, max_points=CHART_POINTS)
    chart_span_s = 0.0 if curve.empty else (curve["ts"].iloc[-1] - curve["ts"].iloc[0]).total_seconds()
    [(now,)] = cur.sql("SELECT max(ts) FROM api_calls").fetchall()
    named: dict[str, tuple[Query, list[str]]] = {
        # Overview
        "account_figures": (account_queries.account_figures, []),
        "breaker_history(1)": (lambda c: guard_queries.breaker_history(c, limit=1), []),
        "clock_map": (clock_queries.clock_map, []),
        "breaker_history(50)": (lambda c: guard_queries.breaker_history(c, limit=50), []),
        "audit_log(venue,200)": (lambda c: audit_queries.audit_log(c, commands=VENUE_COMMANDS, limit=200), []),
        "equity_curve": (lambda c: queries.equity_curve(c, max_points=CHART_POINTS), []),
        "daily_pnl": (queries.daily_pnl, []),
    }
    for span, window in PRICE_WINDOWS.items():
        since = bars[span].since
        named[f"price_bars({span})"] = (lambda c, w=window: price_queries.price_bars(c, SYMBOL, window_s=w), [])
        named[f"fill_markers({span})"] = (lambda c, s=since: price_queries.fill_markers(c, SYMBOL, since=s), ["kind"])
    named |= {
        "position_levels": (lambda c: price_queries.position_levels(c, SYMBOL), []),
        "open_positions": (position_queries.open_positions, []),
        "recent_trades": (lambda c: queries.recent_trades(c, limit=20), []),
        "recent_commands": (lambda c: queries.recent_commands(c, limit=20), []),
        # Guards (clock_map, equity_curve, account_figures and breaker_history(50) above)
        "breaker_gauges": (guard_queries.breaker_gauges, []),
        "rate_limit_series": (guard_queries.rate_limit_series, ["host"]),
        "api_breaker_states": (lambda c: guard_queries.api_breaker_states(c, now=now), []),
        "retry_counts": (guard_queries.retry_counts, ["endpoint", "reason"]),
        "api_call_totals": (guard_queries.api_call_totals, []),
        "ws_event_counts": (guard_queries.ws_event_counts, []),
        "ws_spans": (lambda c: guard_queries.ws_spans(c, now=now), ["state"]),
        "ws_timeline(500)": (lambda c: guard_queries.ws_timeline(c, limit=500), []),
        "gap_history(50)": (lambda c: guard_queries.gap_history(c, limit=50), []),
        "denials_over_time": (
            lambda c: denial_queries.denials_over_time(c, chart_span_s=chart_span_s), ["reason_code", "symbol"]
        ),
        "denials_by_reason": (guard_queries.denials_by_reason, []),
        # Trades (default filters: every symbol, both sides, all time)
        "newest_fill_time": (trade_queries.newest_fill_time, []),
        "fills": (trade_queries.fills, []),
        "closed_trades": (trade_queries.closed_trades, []),
        # Audit log (no command picked)
        "audit_log(all,1000)": (lambda c: audit_queries.audit_log(c, limit=1000), []),
        # Simulator: open_positions (above)
    }
    return named


def size(result: object) -> int:
    """Rows of a frame (the bars of :class:`~storage.price_queries.PriceBars`); 1 for a dict or a value, 0 for
    ``None``."""
    if isinstance(result, price_queries.PriceBars):
        return len(result.bars)
    if isinstance(result, pd.DataFrame):
        return len(result)
    return 0 if result is None else 1


def points_per_trace(result: object, keys: list[str]) -> int:
    """The most rows any one trace gets (the whole frame when it draws one trace)."""
    if not isinstance(result, pd.DataFrame) or result.empty or not keys:
        return size(result)
    return int(result.groupby(keys, dropna=False).size().max())


def _tail(cur: duckdb.DuckDBPyConnection, rollup: rollups.Rollup) -> int:
    [(rows,)] = cur.sql(f"SELECT count(*) FROM ({rollup.tail_sql()})").fetchall()
    return int(rows)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--equity-rows", type=int, default=10_000_000)
    parser.add_argument("--api-calls", type=int, default=1_000_000)
    parser.add_argument("--candle-years", type=float, default=3.0, help="years of 1m candles per symbol (3 symbols)")
    parser.add_argument(
        "--tail-rows", type=int, default=rollups.SUMMARISE_EVERY_ROWS - 1,
        help="equity rows and candles left out of the rollups (default: the longest tail the Recorder leaves)",
    )
    parser.add_argument("--rounds", type=int, default=7, help=f"interleaved timed rounds, at least {MIN_ROUNDS}")
    parser.add_argument("--database", type=Path, help="reuse (or create) this file instead of a temporary one")
    args = parser.parse_args()
    if args.rounds < MIN_ROUNDS:
        parser.error(f"--rounds must be at least {MIN_ROUNDS}")

    with tempfile.TemporaryDirectory() as tmp:
        path = args.database or Path(tmp) / "bench.duckdb"
        fresh = not path.exists()
        started = time.perf_counter()
        with Store(path) as store, store.cursor() as cur:
            print(f"opened {path} (migrated if older) in {time.perf_counter() - started:.1f} s")
            if fresh:
                started = time.perf_counter()
                build(
                    cur, equity_rows=args.equity_rows, api_calls=args.api_calls, candle_years=args.candle_years,
                    tail_rows=args.tail_rows,
                )
                print(f"built {path} in {time.perf_counter() - started:.1f} s")
            counts = queries.table_counts(cur)
            print("rows: " + ", ".join(f"{name} {n:,}" for name, n in counts.items() if n))
            tails = ", ".join(f"{r.source} {_tail(cur, r):,}" for r in rollups.ROLLUPS)
            print(f"rows not yet in the rollups (their tail): {tails}")
            threads = cur.sql("SELECT current_setting('threads')").fetchall()[0][0]
            print(f"DuckDB {duckdb.__version__}, {threads} threads; {args.rounds} interleaved rounds; before: {load()}")
            named = page_queries(cur)
            results = {name: query(cur) for name, (query, _) in named.items()}  # warm-up: first touch of the columns
            wall_ms: dict[str, list[float]] = {name: [] for name in named}
            cpu_ms: dict[str, list[float]] = {name: [] for name in named}
            for _ in range(args.rounds):
                for name, (query, _) in named.items():
                    wall, cpu = time.perf_counter(), time.process_time()
                    results[name] = query(cur)
                    cpu_ms[name].append((time.process_time() - cpu) * 1000)
                    wall_ms[name].append((time.perf_counter() - wall) * 1000)
            print(f"after: {load()}")
            print(f"\n{'query':<22} {'CPU ms':>7} {'wall ms':>8} {'max wall':>9} {'rows':>7} {'pts/trace':>10}  verdict (CPU)")
            for name, (_, keys) in named.items():
                cpu, wall = statistics.median(cpu_ms[name]), statistics.median(wall_ms[name])
                points = points_per_trace(results[name], keys)
                target = TARGETS_MS.get(name, TARGET_MS)
                verdict = f"ok (≤ {target:.0f} ms)" if cpu <= target and points <= TARGET_POINTS else "OVER TARGET"
                print(
                    f"{name:<22} {cpu:>7.1f} {wall:>8.1f} {max(wall_ms[name]):>9.1f} {size(results[name]):>7,} "
                    f"{points:>10,}  {verdict}"
                )


if __name__ == "__main__":
    main()
