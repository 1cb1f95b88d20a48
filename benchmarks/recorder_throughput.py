"""Recorder efficiency: the Recorder against a raw DuckDB Arrow insert of the same rows, in CPU time.

Run::

    .venv/bin/python benchmarks/recorder_throughput.py [--rows 100000] [--flush-every 10000] [--rounds 7]
        [--executemany-rows 5000]

Methodology
-----------
* **Rows.** Per hot table (``equity``, ``candles``), ``--rows`` rows built once as the Python dicts a caller hands
  over: aware UTC datetimes, candle prices as floats, ``equity`` money as ``Decimal`` with 8 places (the raw path
  cannot take the engine's :class:`storage.columns.Units`, so both paths get decimals: the Recorder's dearer case).
* **Methods.** Each run writes the rows of one table into a fresh migrated file (created outside the timing), in
  chunks of ``--flush-every`` rows, one transaction per chunk:

  - ``raw``: ``pyarrow.Table.from_pylist(chunk, schema=<the table's Arrow types>)`` then
    ``INSERT INTO t BY NAME SELECT *, $stamp AS recorded_at FROM <that table>``: the fair raw path (pyarrow converts and type-checks,
    nothing else is checked or derived);
  - ``record``: :meth:`Recorder.record` per row, :meth:`Recorder.flush` per chunk (every value checked, decimals
    rounded exactly; a flush of ``equity`` also keeps its level-of-detail rollup, ``docs/schema.md``);
  - ``record_many``: :meth:`Recorder.record_many` per chunk, then a flush.
* **Fresh process each.** Every run is a new Python process (this script with ``--one METHOD TABLE``): it builds
  the rows untimed, writes one chunk with the same method into a scratch file untimed (so neither side pays the
  imports and first calls, e.g. pyarrow's ≈ 0.3 s pandas import, inside the timing), then writes every row into a
  fresh file, checks every row arrived and prints its rate. No run inherits another's heap, caches or DuckDB state.
* **Clock.** CPU time of that process (``time.process_time``: every thread, so DuckDB's workers count, and other
  processes' load does not), from the first row handed over to the last commit.
* **Interleaved rounds.** Each of ``--rounds`` (≥ 5) rounds runs raw, record, record_many on ``equity`` then on
  ``candles``; one untimed warm-up round precedes them. Reported: each method's median rate (rows per CPU
  second), the ratio ``method rate / raw rate`` of every round and their median. The load average is printed
  before and after. Speed is measured here, never asserted in tests.
* **Footnote.** ``executemany`` (row-by-row parameter binding, DuckDB's slowest path) on ``--executemany-rows`` rows,
  once per table (a fresh process each), for scale only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from storage.columns import RECORDED_AT, history_tables
from storage.recorder import Recorder
from storage.store import Store

START = datetime(2024, 1, 1, tzinfo=UTC)
TABLES = ("equity", "candles")
METHODS = ("raw", "record", "record_many")
MIN_ROUNDS = 5

Row = dict[str, Any]
Writer = Callable[[Store, str, Sequence[Row], int], float]
"""Writes the rows into the store; returns the CPU seconds it took (file creation and teardown excluded)."""


def equity_rows(count: int, *, seed: int = 7) -> list[Row]:
    """``count`` equity snapshots one minute apart: a random walk, money as 8-place decimals."""
    rng = random.Random(seed)
    units = 10_000 * 10**8
    out = []
    for i in range(count):
        units += rng.randint(-5 * 10**8, 5 * 10**8)
        equity, price = Decimal(units).scaleb(-8), Decimal(rng.randint(4_000_000, 4_400_000)).scaleb(-2)
        ts = START + timedelta(minutes=i + 1)
        out.append({
            "ts": ts, "equity": equity, "cash": equity - Decimal("2100.5"), "positions_value": Decimal("2100.5"),
            "realised_pnl": Decimal("-12.34567891"), "unrealised_pnl": equity - Decimal(10_000),
            "peak_equity": Decimal("10250.12345678"), "drawdown_pct": rng.random(), "day_start_equity": Decimal(10_000),
            "daily_pnl_pct": rng.gauss(0, 1), "symbol": "BTCUSDT", "source": "candle",
            "candle_open_time": ts - timedelta(minutes=1), "price": price,
        })
    return out


def candle_rows(count: int, *, seed: int = 11) -> list[Row]:
    """``count`` closed 1m candles of one symbol: a random walk of float prices."""
    rng = random.Random(seed)
    close = 42_000.0
    out = []
    for i in range(count):
        open_, close = close, close * (1 + rng.gauss(0, 0.001))
        open_time = START + timedelta(minutes=i)
        out.append({
            "symbol": "BTCUSDT", "interval": "1m", "open_time": open_time,
            "close_time": open_time + timedelta(milliseconds=59_999), "open": open_,
            "high": max(open_, close) * 1.0005, "low": min(open_, close) * 0.9995, "close": close,
            "volume": rng.uniform(1, 50), "source": "stream",
        })
    return out


def chunks(rows: Sequence[Row], size: int) -> list[Sequence[Row]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def write_raw(store: Store, table: str, rows: Sequence[Row], flush_every: int) -> float:
    """The raw path: ``Table.from_pylist`` with the table's Arrow schema, one ``INSERT … SELECT`` per chunk."""
    cur = store.cursor()
    schema = pa.schema([f for f in history_tables(cur)[table].schema if f.name != RECORDED_AT])
    started = time.process_time()
    for chunk in chunks(rows, flush_every):
        cur.register("arrow_chunk", pa.Table.from_pylist(list(chunk), schema=schema))
        cur.execute("BEGIN TRANSACTION")
        cur.execute(f"INSERT INTO {table} BY NAME SELECT *, $stamp AS {RECORDED_AT} FROM arrow_chunk", {"stamp": datetime.now(UTC)})
        cur.execute("COMMIT")
    return time.process_time() - started


def write_record(store: Store, table: str, rows: Sequence[Row], flush_every: int) -> float:
    recorder = Recorder(store, max_buffered_rows=flush_every)
    started = time.process_time()
    for chunk in chunks(rows, flush_every):
        for row in chunk:
            recorder.record(table, row)
        recorder.flush()
    elapsed = time.process_time() - started
    recorder.stop()
    return elapsed


def write_record_many(store: Store, table: str, rows: Sequence[Row], flush_every: int) -> float:
    recorder = Recorder(store, max_buffered_rows=flush_every)
    started = time.process_time()
    for chunk in chunks(rows, flush_every):
        recorder.record_many(table, chunk)
        recorder.flush()
    elapsed = time.process_time() - started
    recorder.stop()
    return elapsed


def write_executemany(store: Store, table: str, rows: Sequence[Row], flush_every: int) -> float:
    """The footnote: positional parameters in the table's column order, ``executemany`` per chunk."""
    cur = store.cursor()
    names = [c.name for c in history_tables(cur)[table].columns]
    placeholders = ", ".join("?" * (len(names) + 1))
    started = time.process_time()
    for chunk in chunks(rows, flush_every):
        now = datetime.now(UTC)
        cur.execute("BEGIN TRANSACTION")
        cur.executemany(
            f"INSERT INTO {table} ({', '.join(names)}, {RECORDED_AT}) VALUES ({placeholders})",
            [[row[name] for name in names] + [now] for row in chunk],
        )
        cur.execute("COMMIT")
    return time.process_time() - started



WRITERS: dict[str, Writer] = {
    "raw": write_raw, "record": write_record, "record_many": write_record_many, "executemany": write_executemany,
}


def rate(method: str, table: str, rows: Sequence[Row], flush_every: int) -> float:
    """Rows per CPU second of one run of ``method`` into a fresh file (in this process); checks every row arrived."""
    with tempfile.TemporaryDirectory() as directory, Store(Path(directory) / "bench.duckdb") as store:
        elapsed = WRITERS[method](store, table, rows, flush_every)
        [(written,)] = store.cursor().sql(f"SELECT count(*) FROM {table}").fetchall()
    if written != len(rows):
        raise RuntimeError(f"{method}: expected {len(rows)} rows in {table}, found {written}")
    return len(rows) / elapsed


def run(method: str, table: str, *, rows: int, flush_every: int) -> float:
    """:func:`rate` of one run in a fresh Python process (this script with ``--one``)."""
    command = [
        sys.executable, __file__, "--one", method, table, "--rows", str(rows), "--flush-every", str(flush_every),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return float(json.loads(done.stdout)["rows_per_cpu_s"])


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per table and run")
    parser.add_argument("--flush-every", type=int, default=10_000, help="rows per flush (per raw transaction)")
    parser.add_argument("--rounds", type=int, default=7, help=f"interleaved timed rounds, at least {MIN_ROUNDS}")
    parser.add_argument("--executemany-rows", type=int, default=5_000, help="rows of the executemany footnote")
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "TABLE"), help=argparse.SUPPRESS)  # a child run
    args = parser.parse_args(argv)
    if args.rounds < MIN_ROUNDS:
        parser.error(f"--rounds must be at least {MIN_ROUNDS}")
    if args.rows < 1 or args.flush_every < 1:
        parser.error("--rows and --flush-every must be positive")
    if args.one:
        method, table = args.one
        if method not in WRITERS or table not in TABLES:
            parser.error(f"--one takes a method of {', '.join(WRITERS)} and a table of {', '.join(TABLES)}")
        rows = equity_rows(args.rows) if table == "equity" else candle_rows(args.rows)
        rate(method, table, rows[: args.flush_every], args.flush_every)  # untimed: imports and first calls
        print(json.dumps({"rows_per_cpu_s": rate(method, table, rows, args.flush_every)}))
        return

    print(f"DuckDB {duckdb.__version__}, pyarrow {pa.__version__}; {args.rows:,} rows per table and run, "
          f"flush every {args.flush_every:,}; {args.rounds} interleaved rounds, a fresh process per run; CPU time")
    print(f"before: {load()}")
    for table in TABLES:  # warm-up round, untimed (the file system's and the OS's caches)
        for method in METHODS:
            run(method, table, rows=args.flush_every, flush_every=args.flush_every)
    rates: dict[tuple[str, str], list[float]] = {(t, m): [] for t in TABLES for m in METHODS}
    for _ in range(args.rounds):
        for table in TABLES:
            for method in METHODS:
                rates[table, method].append(run(method, table, rows=args.rows, flush_every=args.flush_every))
    print(f"after:  {load()}\n")

    print(f"{'table':<8} {'method':<12} {'median rows/s':>14} {'× raw, median':>14}  × raw per round")
    for table in TABLES:
        raw = rates[table, "raw"]
        for method in METHODS:
            runs = rates[table, method]
            ratios = [r / b for r, b in zip(runs, raw, strict=True)]
            print(f"{table:<8} {method:<12} {statistics.median(runs):>14,.0f} {statistics.median(ratios):>14.2f}  "
                  + " ".join(f"{r:.2f}" for r in ratios))

    footnote = {table: run("executemany", table, rows=args.executemany_rows, flush_every=args.flush_every) for table in TABLES}
    print("\nfootnote, executemany (one run of " + f"{args.executemany_rows:,} rows): "
          + ", ".join(f"{table} {r:,.0f} rows/s" for table, r in footnote.items()))


if __name__ == "__main__":
    main()
