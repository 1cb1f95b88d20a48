"""Fast replay: candle datasets through the engine's decisions, every table persisted, as fast as the CPU allows.

The same synchronous core the live engine runs (:class:`~engine.core.core.TradingCore`: strategy, pre-trade risk
checks, paper broker, portfolio, circuit breaker) decides, in one thread with no asyncio, no network and no
wall-clock waits; ``tests/engine/test_replay_equivalence.py`` proves every stored row equal to feeding each candle
to the core and recording its events as the live engine does. What makes it fast is doing per candle only what
can matter:

1. the datasets are parsed once into columns (:mod:`engine.replay.columns`) and merged into market-time order
   (ties: in the order of the datasets); the exchange rules come with them (the CLI passes the simulator's own, so
   rounding and LOT_SIZE / NOTIONAL rejections match ``sim``);
2. the strategy's signals and the ATR are computed over whole columns beforehand (:mod:`engine.replay.precomputed`:
   the same values as candle by candle), and the core asks those; a strategy that has no column method
   (``signals``, as the shipped ones have) is fed every candle by the core instead, as live;
3. the first ``max(strategy warm-up, ATR period + 1)`` candles of each symbol warm the core (``TradingCore.warm_up``,
   stored with source ``bootstrap``), as the live warm-up gap does over REST;
4. every later candle (source ``replay``) on which something can happen — an entry signal (any candle, without
   precomputed signals), the first candle of a UTC day, and every candle while a position is open or an order
   pending — goes to ``TradingCore.on_candle``; the
   runs of candles in between (flat symbols, no entry signal) cannot change the account or make a decision, and
   are skipped at once (``TradingCore.advance``);
5. the ``candles`` rows come straight from the columns, the ``equity`` rows from the core's marks plus one unchanged
   row per skipped candle (:mod:`engine.replay.equity`), both appended as Arrow columns
   (:class:`~storage.bulk.BulkWriter`); the core's other events go through the recording sink
   (:class:`~engine.sinks.record.RecordSink`) and :meth:`Recorder.record_many
   <storage.recorder.Recorder.record_many>`, validated in bulk.

The ``candles`` and ``equity`` rows are written once per batch of :data:`BATCH_CANDLES` candles, the other rows every
:data:`FLUSH_EVERY_CANDLES` (memory stays bounded). The live engine also flushes after every fill and breaker event,
for crash safety; a replay has nothing to recover (a failed run is re-run with ``--force``), so the engine's sink gets
a :class:`_BatchedRecorder` whose ``flush`` only defers.
"""

from __future__ import annotations

import gc
import time
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from engine.config import Settings
from engine.core.core import TradingCore
from engine.core.events import CandleClosed, Marked
from engine.core.filters import parse_exchange_info
from engine.core.models import MINUTE_MS
from engine.core.portfolio import DAY_MS, Portfolio
from engine.core.strategy import SignalKind, Strategy
from engine.replay import precomputed
from engine.replay.columns import CandleColumns, MergedOrder, SymbolColumns
from engine.replay.equity import EquityColumns
from engine.sinks.record import RecordSink
from storage.arrays import dictionary, fixed, repeated
from storage.bulk import BulkWriter
from storage.recorder import Recorder
from storage.replay_queries import replay_totals
from storage.store import Store

BATCH_CANDLES = 50_000
"""Candles per batch: their ``candles`` and ``equity`` rows are built as columns and appended at the end of each (and
the progress reported), so that only one batch's columns, and DuckDB's copy of them, are in memory at a time.
Measured on the bundled replay (≈ 86,000 candles, ``benchmarks/replay_speed.py``): peak RSS ≈ 225 MB against
≈ 250 MB in one batch, for ≈ 3 % more CPU time (25,000: ≈ 218 MB for ≈ 8 %)."""

FLUSH_EVERY_CANDLES = 200_000
"""The core's other rows (orders, fills, trades, denials, …: a few per hundred candles) are flushed through the
Recorder after the batch that reaches this many candles since the last flush, and at the end: each flush costs a
transaction per table (≈ 30 ms, ≈ 6 % of the bundled replay's CPU time), whatever the rows."""

DUCKDB_THREADS = 1
"""DuckDB's worker threads in a replay (the live engine keeps DuckDB's default, one per core). A replay hands DuckDB
a few large appends from one thread: a second worker only added memory and CPU time (bundled replay,
``benchmarks/replay_speed.py``: peak RSS 7–17 MB higher, varying from run to run, and ≈ 4 % more CPU time)."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``: candles processed so far and in all (warm-up included)."""

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_PRICES = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    """What a replay did, read back from the database it wrote (so it matches the file).

    Attributes:
        candles: candles fed to the engine (warm-up included) = rows of ``candles``.
        warmup_candles: of those, fed to ``Engine.warm_up`` (no trading).
        trades: closed round trips (rows of ``trades``).
        fills: rows of ``fills``.
        pnl: final equity − starting balance, quote asset, net of fees (open positions at their last mark).
        final_equity: quote asset.
        max_drawdown_pct: the largest ``equity.drawdown_pct``, percent.
        breaker_trips: ``BreakerTripped`` rows of ``breaker_events``.
        denials: rows of ``risk_denials`` (pre-trade checks that refused an entry).
        elapsed_s: wall seconds of the replay: parsing and precomputing the columns, the engine, recording, and
            closing the file (its last checkpoint); not the dataset load.
    """

    candles: int
    warmup_candles: int
    trades: int
    fills: int
    pnl: Decimal
    final_equity: Decimal
    max_drawdown_pct: float
    breaker_trips: int
    denials: int
    elapsed_s: float

    @property
    def candles_per_s(self) -> float:
        return self.candles / self.elapsed_s if self.elapsed_s > 0 else float("inf")

    def lines(self) -> list[str]:
        """The summary as human-readable lines."""
        return [
            f"candles          {self.candles:,} ({self.warmup_candles} warm-up) in {self.elapsed_s:.2f} s "
            f"({self.candles_per_s:,.0f} candles/s)",
            f"trades           {self.trades:,} ({self.fills:,} fills)",
            f"P&L              {self.pnl:,.2f} (final equity {self.final_equity:,.2f})",
            f"max drawdown     {self.max_drawdown_pct:.2f} %",
            f"breaker trips    {self.breaker_trips}",
            f"risk denials     {self.denials}",
        ]


def replay(
    settings: Settings,
    *,
    datasets: Sequence[CandleColumns],
    exchange_info: Mapping[str, Any],
    start_ms: int | None = None,
    end_ms: int | None = None,
    db_path: Path,
    force: bool = False,
    progress: Progress | None = None,
) -> ReplaySummary:
    """Replay ``datasets`` (one per symbol) with open time in ``[start_ms, end_ms)`` (Unix ms; ``None``: the
    dataset's first / last candle) through the engine, recording everything into a new DuckDB file ``db_path``.

    ``exchange_info`` is an ``/api/v3/exchangeInfo`` payload with the symbols' filters. ``settings`` supplies strategy,
    trading, risk, breaker and storage batching; its ``trading.symbols`` is replaced by the datasets' symbols.
    ``progress`` is called after every batch of :data:`BATCH_CANDLES` candles.

    Raises:
        FileExistsError: ``db_path`` exists and ``force`` is false (with ``force`` it is deleted first).
        ValueError: no datasets, ``trading.interval`` is not ``1m``, a symbol missing from ``exchange_info``, no
            candle in the window, or a close with more than 8 decimals.
        storage.errors.StoreError: the database cannot be created or written.
    """
    if not datasets:
        raise ValueError("replay needs at least one symbol")
    if settings.trading.interval != "1m":
        raise ValueError(f"the replay trades 1m candles; trading.interval is {settings.trading.interval} (run the engine for it)")
    symbols = tuple(ds.symbol for ds in datasets)
    filters = parse_exchange_info(dict(exchange_info))
    unknown = [s for s in symbols if s not in filters]
    if unknown:
        raise ValueError(f"no trading rules for {', '.join(unknown)}")
    db_path = Path(db_path)
    _claim(db_path, force=force)
    settings = settings.model_copy(update={"trading": settings.trading.model_copy(update={"symbols": symbols})})
    windows = [_window(ds, start_ms, end_ms) for ds in datasets]
    total = sum(hi - lo for lo, hi in windows)
    if total == 0:
        raise ValueError(f"no candle of {', '.join(symbols)} opens in the window [{start_ms}, {end_ms})")

    store = Store(db_path, threads=DUCKDB_THREADS)
    gc_was_enabled = gc.isenabled()
    try:
        recorder = Recorder(
            store, flush_interval_ms=settings.storage.flush_interval_ms, max_buffered_rows=settings.storage.max_buffered_rows
        )
        bulk = BulkWriter(store)
        starting_balance = settings.trading.starting_balance
        started = time.perf_counter()
        gc.disable()  # see _collect_garbage
        run = _Run(settings, [SymbolColumns.parse(ds, lo, hi) for ds, (lo, hi) in zip(datasets, windows, strict=True)])
        run.core.set_filters(filters)
        batched = _BatchedRecorder(recorder)
        run.warm_up(bulk, RecordSink(batched, interval=settings.trading.interval))
        flushed = 0
        for done in run.batches(bulk):
            if done - flushed >= FLUSH_EVERY_CANDLES:
                batched.drain()
                recorder.flush()
                flushed = done
            _collect_garbage()
            if progress is not None:
                progress(run.warmed + done, total)
        batched.drain()
        recorder.stop()
        final_equity = run.core.portfolio.equity()
        with store.cursor() as cur:
            candles, trades, fills, max_dd, trips, denials = replay_totals(cur)
        bulk.close()
    finally:
        if gc_was_enabled and not gc.isenabled():
            gc.enable()
        store.close()  # the last checkpoint: everything in the file itself
    elapsed_s = time.perf_counter() - started
    return ReplaySummary(
        candles=candles,
        warmup_candles=run.warmed,
        trades=trades,
        fills=fills,
        pnl=final_equity - starting_balance,
        final_equity=final_equity,
        max_drawdown_pct=float(max_dd),
        breaker_trips=trips,
        denials=denials,
        elapsed_s=elapsed_s,
    )


class _Run:
    """One replay's state: the columns, the merged order, the core over precomputed indicators, the candles that
    matter, and the equity rows being built."""

    def __init__(self, settings: Settings, columns: list[SymbolColumns]) -> None:
        self.columns = columns
        self.interval = settings.trading.interval
        strategy = settings.strategy.build()
        warmup = max(strategy.warmup, settings.trading.atr_period + 1)
        self.starts = [min(warmup, len(c)) for c in columns]
        self.warmed = sum(self.starts)
        self.order = MergedOrder.of(columns, self.starts)
        deciding: Strategy = strategy
        if isinstance(strategy, precomputed.ColumnStrategy):  # the signals over whole columns: the fast path
            signals = precomputed.signals(strategy, columns, warmup=warmup)
            deciding = precomputed.PrecomputedSignals(signals, warmup=strategy.warmup)
            entries = {(s, t) for (s, t), signal in signals.items() if signal.kind is SignalKind.ENTER_LONG}
            must_see = [np.isin(c.open_ms, [t for s, t in entries if s == c.symbol]) for c in columns]
        else:  # signals one candle at a time: every candle goes to the core, which feeds the strategy itself
            must_see = [np.ones(len(c), dtype=bool) for c in columns]
        self.core = TradingCore(
            settings,
            strategy=deciding,
            portfolio=Portfolio(settings.trading.starting_balance),
            atr={c.symbol: precomputed.atr(c, period=settings.trading.atr_period) for c in columns},
        )
        self._offsets = np.cumsum([0, *(len(c) for c in columns)])[:-1]
        self._names = [c.symbol for c in columns]
        self._must_see = self._flat(must_see)
        """Per candle (symbols one after the other): the core must see it whatever the account — an entry signal,
        or any candle of a strategy without a column method."""

    def warm_up(self, bulk: BulkWriter, sink: RecordSink) -> None:
        """Each symbol's first candles warm the core (stored with source ``bootstrap``; the core's events for them
        are only :class:`CandleClosed`, whose rows come from the columns); ``sink`` records what comes after."""
        for s, (col, n) in enumerate(zip(self.columns, self.starts, strict=True)):
            for i in range(n):
                self.core.warm_up(col.candle(i))
            bulk.append("candles", self._candle_rows(np.full(n, s), np.arange(n), "bootstrap"))
        self.sink = sink

    def batches(self, bulk: BulkWriter) -> Any:
        """Run every later candle, a batch at a time; yield the candles done after each batch, its rows appended."""
        order, core = self.order, self.core
        n = len(order)
        day = order.open_ms // DAY_MS
        first_day = -1 if core.portfolio.day_index is None else core.portfolio.day_index
        new_day = day > np.maximum.accumulate(np.concatenate([[first_day], day]))[:-1]
        matter = np.flatnonzero(self._must_see[self._offsets[order.symbol] + order.row] | new_day).tolist()
        # per symbol, its candles' positions in the order (array("q"): 8 bytes each, where a list of ints takes 36)
        self._at = at = {c.symbol: array("q", np.flatnonzero(order.symbol == s).tobytes()) for s, c in enumerate(self.columns)}
        equity = self.equity = EquityColumns([c.symbol for c in self.columns], order, first=core.portfolio.snapshot(0))
        positions, pending = core.portfolio.positions, core.desk.pending
        p, k = 0, 0
        for stop in range(min(BATCH_CANDLES, n), n + BATCH_CANDLES, BATCH_CANDLES):
            stop = min(stop, n)
            start = k
            while k < stop:
                # the next candle that matters: an entry signal or a new day, or one of a symbol with a position or
                # a pending order; those in between are skipped at once
                while p < len(matter) and matter[p] < k:
                    p += 1
                nxt = matter[p] if p < len(matter) else stop
                for symbol in positions.keys() | pending.keys():
                    candles = at[symbol]
                    j = bisect_left(candles, k)
                    if j < len(candles) and candles[j] < nxt:
                        nxt = candles[j]
                if nxt > k:
                    nxt = min(nxt, stop)
                    self._skip(k, nxt)
                    k = nxt
                    continue
                self._process(k)
                k += 1
            bulk.append("candles", self._candle_rows(order.symbol[start:stop], order.row[start:stop], "replay"))
            bulk.append("equity", equity.columns())
            yield stop
            if stop == n:
                break

    def _process(self, k: int) -> None:
        order = self.order
        candle = self.columns[order.symbol[k]].candle(int(order.row[k]))
        equity, handle = self.equity, self.sink.handle
        for event in self.core.on_candle(candle, source="replay"):
            kind = type(event)
            if kind is Marked:
                equity.marked(k, event)  # type: ignore[arg-type]
            elif kind is not CandleClosed:
                handle(event)

    def _skip(self, start: int, stop: int) -> None:
        last: dict[str, tuple[int, Decimal]] = {}
        for col in self.columns:
            candles = self._at[col.symbol]
            j = bisect_left(candles, stop) - 1
            if j >= 0 and candles[j] >= start:
                row = int(self.order.row[candles[j]])
                last[col.symbol] = (int(col.open_ms[row]), Decimal(col.dataset.close[col.lo + row]))
        self.core.advance(last, candles=stop - start)
        self.equity.quiet(start, stop)

    def _flat(self, per_symbol: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(per_symbol) if per_symbol else np.empty(0)

    def _candle_rows(self, symbol: np.ndarray, row: np.ndarray, source: str) -> dict[str, pa.Array]:
        open_ms = self._gather("open_ms", symbol, row)
        columns = {
            "symbol": dictionary(symbol, self._names),
            "interval": repeated(self.interval, len(row)),
            "open_time": fixed(open_ms * 1000, _TIMESTAMP),
            "close_time": fixed((open_ms + MINUTE_MS - 1) * 1000, _TIMESTAMP),
            "source": repeated(source, len(row)),
        }
        for name in _PRICES:
            columns[name] = fixed(self._gather(name, symbol, row), pa.float64())
        return columns

    def _gather(self, name: str, symbol: np.ndarray, row: np.ndarray) -> np.ndarray:
        """Column ``name`` of :class:`SymbolColumns` at each (``symbol``, ``row``)."""
        values = np.empty(len(row), dtype=getattr(self.columns[0], name).dtype)
        for s, col in enumerate(self.columns):
            mine = symbol == s
            values[mine] = getattr(col, name)[row[mine]]
        return values


class _BatchedRecorder:
    """The recording sink's recorder in a replay: rows are collected per table and handed to
    :meth:`Recorder.record_many <storage.recorder.Recorder.record_many>` by :meth:`drain` (before every flush,
    :data:`FLUSH_EVERY_CANDLES`), which validates them in bulk, column by column,
    with the same checks and errors as ``record``; the flushes the live engine makes after each fill and breaker
    event are deferred to the replay's periodic flush. An invalid row therefore raises its ``ValueError`` at the
    next drain rather than at once; a replay stops on it either way."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._rows: defaultdict[str, list[Mapping[str, Any]]] = defaultdict(list)

    def record(self, table: str, row: Mapping[str, Any]) -> None:
        self._rows[table].append(row)

    def flush(self) -> int:
        return 0

    def drain(self) -> None:
        """Buffer the collected rows in the Recorder (validated), table by table, in record order."""
        rows, self._rows = self._rows, defaultdict(list)
        for table, table_rows in rows.items():
            self._recorder.record_many(table, table_rows)


def _collect_garbage() -> None:
    """The replay loop runs with the cyclic garbage collector off and collects here, after each batch.

    The loop allocates millions of short-lived objects (rows, snapshots, Decimals) but almost no reference cycles,
    while the buffered rows and the datasets are large: automatic collections kept re-traversing them and took
    ≈ 20 % of a replay. Collecting the young generations once per batch of :data:`BATCH_CANDLES` candles still frees
    the cycles made in the loop, with memory bounded; the collector is re-enabled when the loop ends."""
    gc.collect(1)


def _claim(db_path: Path, *, force: bool) -> None:
    """Refuse an existing database file unless ``force``, which deletes it (and its write-ahead log)."""
    wal = db_path.with_name(db_path.name + ".wal")
    if db_path.exists():
        if not force:
            raise FileExistsError(f"{db_path} already exists; choose another --db or pass --force to overwrite it")
        db_path.unlink()
    wal.unlink(missing_ok=True)
    db_path.parent.mkdir(parents=True, exist_ok=True)


def _window(ds: CandleColumns, start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
    lo = 0 if start_ms is None else ds.index_at_or_after(start_ms)
    hi = len(ds) if end_ms is None else ds.index_at_or_after(end_ms)
    return lo, max(lo, hi)

