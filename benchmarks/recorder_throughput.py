"""Write throughput of the Recorder (Arrow batches) against naive row-by-row ``executemany``.

Run::

    .venv/bin/python benchmarks/recorder_throughput.py [--rows 200000] [--baseline-rows 20000]
        [--flush-every 10000] [--repeats 5]

Each run writes realistic rows (per market minute: one candle per symbol and one equity snapshot; a fill with
``Decimal`` money every few minutes) into a fresh DuckDB file in a temporary directory:

* **recorder**: ``Recorder.record`` for every row (validation included) and ``Recorder.flush`` every
  ``--flush-every`` rows, as the 250 ms flusher does under load; one Arrow append per table per flush.
* **executemany**: the same rows, grouped by table, inserted with
  ``cursor.executemany("INSERT INTO t VALUES (?, ...)", rows)`` in one transaction. It is much slower, so it
  writes only the first ``--baseline-rows`` rows; both results are rates, so they compare fairly.

A small untimed warm-up precedes the timed runs. It prints, for each method, the rows written per run and the
median rows per second over ``--repeats`` runs (with every run's rate), then the ratio recorder / executemany.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from storage.recorder import Recorder
from storage.store import Store

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
FILL_EVERY_MINUTES = 5
START = datetime(2024, 1, 1, tzinfo=UTC)
WARM_UP_ROWS = 1_000

Row = tuple[str, dict[str, Any]]
Writer = Callable[[Store, Sequence[Row]], None]


def market_rows(count: int, *, seed: int = 7) -> list[Row]:
    """``count`` rows as ``(table, row)`` in the order an engine would record them (random walk prices)."""
    rng = random.Random(seed)
    prices = {"BTCUSDT": 42_000.0, "ETHUSDT": 2_300.0, "SOLUSDT": 100.0}
    out: list[Row] = []
    minute = 0
    while len(out) < count:
        open_time = START + timedelta(minutes=minute)
        for symbol in SYMBOLS:
            open_, close = prices[symbol], prices[symbol] * (1 + rng.gauss(0, 0.001))
            prices[symbol] = close
            out.append(("candles", {
                "symbol": symbol, "interval": "1m", "open_time": open_time,
                "close_time": open_time + timedelta(milliseconds=59_999),
                "open": open_, "high": max(open_, close) * 1.0005, "low": min(open_, close) * 0.9995,
                "close": close, "volume": rng.uniform(1, 50), "source": "stream",
            }))
        equity = 10_000 + rng.gauss(0, 50)
        out.append(("equity", {
            "ts": open_time + timedelta(minutes=1), "equity": equity, "cash": equity / 2,
            "positions_value": equity / 2, "realised_pnl": rng.gauss(0, 20), "unrealised_pnl": rng.gauss(0, 20),
            "peak_equity": 10_100.0, "drawdown_pct": max(0.0, (10_100 - equity) / 101),
            "day_start_equity": 10_000.0, "daily_pnl_pct": (equity - 10_000) / 100,
            "symbol": symbol, "source": "candle",
        }))
        if minute % FILL_EVERY_MINUTES == 0:
            price = Decimal(f"{prices['BTCUSDT']:.2f}")
            quantity = Decimal(rng.randint(1, 100_000)).scaleb(-5)
            out.append(("fills", {
                "fill_id": f"o{minute}-F", "order_id": f"o{minute}", "ts": open_time + timedelta(minutes=1),
                "symbol": "BTCUSDT", "side": "BUY", "price": price, "quantity": quantity,
                "quote_qty": price * quantity, "fee": (price * quantity / 1000).quantize(Decimal("0.00000001")),
                "reference_price": price - Decimal("0.01"),
            }))
        minute += 1
    return out[:count]


def write_with_recorder(store: Store, rows: Sequence[Row], *, flush_every: int) -> None:
    """The real path: record every row, flush every ``flush_every`` rows and at the end."""
    recorder = Recorder(store, max_buffered_rows=flush_every)
    for i, (table, row) in enumerate(rows, start=1):
        recorder.record(table, row)
        if i % flush_every == 0:
            recorder.flush()
    recorder.stop()


def write_with_executemany(store: Store, rows: Sequence[Row]) -> None:
    """The naive way: positional parameters (the row dicts list their columns in table order) plus one
    ``recorded_at`` for all, ``executemany`` per table, one transaction."""
    cursor = store.cursor()
    by_table: dict[str, list[tuple[Any, ...]]] = {}
    now = datetime.now(UTC)
    for table, row in rows:
        by_table.setdefault(table, []).append((*row.values(), now))
    cursor.execute("BEGIN TRANSACTION")
    for table, params in by_table.items():
        placeholders = ", ".join("?" * len(params[0]))
        cursor.executemany(f"INSERT INTO {table} VALUES ({placeholders})", params)
    cursor.execute("COMMIT")


def rows_per_second(write: Writer, rows: Sequence[Row]) -> float:
    """Time ``write(store, rows)`` into a fresh database file; check every row arrived; return rows per second."""
    with tempfile.TemporaryDirectory() as directory, Store(Path(directory) / "bench.duckdb") as store:
        started = time.perf_counter()
        write(store, rows)
        elapsed = time.perf_counter() - started
        [(written,)] = store.cursor().sql(
            "SELECT (SELECT count(*) FROM candles) + (SELECT count(*) FROM equity) + (SELECT count(*) FROM fills)"
        ).fetchall()
    if written != len(rows):
        raise RuntimeError(f"expected {len(rows)} rows in the database, found {written}")
    return len(rows) / elapsed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per Recorder run")
    parser.add_argument("--baseline-rows", type=int, default=20_000, help="rows per executemany run")
    parser.add_argument("--flush-every", type=int, default=10_000, help="Recorder rows per flush")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method (median reported)")
    args = parser.parse_args(argv)

    rows = market_rows(max(args.rows, args.baseline_rows))
    mix = {table: sum(1 for t, _ in rows[: args.rows] if t == table) for table in ("candles", "equity", "fills")}
    print(
        f"DuckDB {duckdb.__version__}; rows: "
        + ", ".join(f"{table} {n / args.rows:.0%}" for table, n in mix.items())
        + f"; {args.repeats} timed runs each"
    )

    methods: list[tuple[str, int, Writer]] = [
        (
            f"recorder (Arrow, flush every {args.flush_every:,} rows)",
            args.rows,
            functools.partial(write_with_recorder, flush_every=args.flush_every),
        ),
        ("executemany (row by row, one transaction)", args.baseline_rows, write_with_executemany),
    ]
    medians = []
    for name, count, write in methods:
        rows_per_second(write, rows[:WARM_UP_ROWS])
        rates = [rows_per_second(write, rows[:count]) for _ in range(args.repeats)]
        medians.append(statistics.median(rates))
        runs = ", ".join(f"{rate:,.0f}" for rate in rates)
        print(f"{name:<48} {count:>9,} rows  median {medians[-1]:>11,.0f} rows/s  (runs: {runs})")
    print(f"recorder / executemany: {medians[0] / medians[1]:.1f}x")


if __name__ == "__main__":
    main()
