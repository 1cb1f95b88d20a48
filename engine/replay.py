"""Fast replay: candle datasets through the full engine path, as fast as the CPU allows.

The same synchronous core the live engine runs (:class:`~engine.core.core.TradingCore`: strategy, pre-trade risk
checks, paper broker, portfolio, circuit breaker) and the same recording sink
(:class:`~engine.sinks.record.RecordSink` → :class:`~storage.recorder.Recorder` → DuckDB), fed from column-wise
datasets in one thread with no asyncio, no network and no wall-clock waits:

1. the exchange rules come with the datasets (the CLI passes the simulator's own, so rounding and LOT_SIZE /
   NOTIONAL rejections match ``sim``);
2. the first ``max(strategy warm-up, ATR period + 1)`` candles of each symbol in the window warm the indicators
   (``TradingCore.warm_up``, recorded with source ``bootstrap``), as the live warm-up gap does over REST;
3. every later candle of every symbol goes to ``TradingCore.on_candle`` (source ``replay``) in market-time order
   (ties: in the order of the datasets).

Recording. Every row goes through :meth:`Recorder.record_many <storage.recorder.Recorder.record_many>` (validated
in bulk every :data:`DRAIN_EVERY_CANDLES` candles, with the same checks and errors as ``Recorder.record`` live)
and is written by :meth:`Recorder.flush <storage.recorder.Recorder.flush>` in Arrow batches. The live engine also
flushes after every fill and breaker event, for crash safety; measured, those ~800 one-transaction flushes (≈ 14 ms
each, DuckDB commit) took 87 % of a 30-day replay (7 k candles/s). A replay has nothing to recover (a failed run is
re-run with ``--force``), so the engine gets a :class:`_BatchedRecorder` whose ``flush`` only defers, and the replay
flushes every :data:`FLUSH_EVERY_CANDLES` candles itself: no background thread, bounded memory, a deterministic run.
"""

from __future__ import annotations

import gc
import heapq
import operator
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice, repeat
from pathlib import Path
from typing import Any, Protocol

from engine.config import Settings
from engine.core.core import TradingCore
from engine.core.filters import parse_exchange_info
from engine.core.models import MINUTE_MS, Candle
from engine.core.portfolio import Portfolio
from engine.core.strategy import SmaCrossover
from engine.sinks.record import RecordSink
from storage.recorder import Recorder
from storage.replay_queries import replay_totals
from storage.store import Store

FLUSH_EVERY_CANDLES = 20_000
PROGRESS_EVERY_CANDLES = 2_000
DRAIN_EVERY_CANDLES = 2_000
"""Rows the engine records are validated and buffered in the Recorder in bulk this often (and before each flush)."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``: candles processed so far and in all (warm-up included)."""


class CandleColumns(Protocol):
    """One symbol's 1m candles, column-wise (``simulator.dataset.Dataset`` is one): ``open_time_ms`` ascending (Unix
    ms), prices and volumes as decimal strings; index ``i`` is the same candle in every column."""

    @property
    def symbol(self) -> str: ...
    @property
    def open_time_ms(self) -> Sequence[int]: ...
    @property
    def open(self) -> Sequence[str]: ...
    @property
    def high(self) -> Sequence[str]: ...
    @property
    def low(self) -> Sequence[str]: ...
    @property
    def close(self) -> Sequence[str]: ...
    @property
    def volume(self) -> Sequence[str]: ...

    def __len__(self) -> int: ...

    def index_at_or_after(self, time_ms: int) -> int: ...


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
        elapsed_s: wall seconds of the replay loop (candle building, engine, recording, flushes).
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
    ``progress`` is called every :data:`PROGRESS_EVERY_CANDLES` candles and at the end.

    Raises:
        FileExistsError: ``db_path`` exists and ``force`` is false (with ``force`` it is deleted first).
        ValueError: no datasets, a symbol missing from ``exchange_info``, or no candle in the window.
        storage.errors.StoreError: the database cannot be created or written.
    """
    if not datasets:
        raise ValueError("replay needs at least one symbol")
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

    store = Store(db_path)
    gc_was_enabled = gc.isenabled()
    try:
        recorder = Recorder(
            store, flush_interval_ms=settings.storage.flush_interval_ms, max_buffered_rows=settings.storage.max_buffered_rows
        )
        strategy = SmaCrossover(fast=settings.strategy.fast, slow=settings.strategy.slow)
        starting_balance = settings.trading.starting_balance
        batched = _BatchedRecorder(recorder)
        sink = RecordSink(batched, interval=settings.trading.interval)
        core = TradingCore(settings, strategy=strategy, portfolio=Portfolio(starting_balance))
        core.set_filters(filters)
        warmup = max(strategy.warmup, settings.trading.atr_period + 1)

        gc.disable()  # see _collect_garbage
        started = time.perf_counter()
        done = warmed = 0
        for ds, (lo, hi) in zip(datasets, windows, strict=True):
            for candle in _candles(ds, lo, min(lo + warmup, hi)):
                sink.handle_all(core.warm_up(candle))
                warmed += 1
        done = warmed
        streams = [_stream(ds, k, lo + warmup, hi) for k, (ds, (lo, hi)) in enumerate(zip(datasets, windows, strict=True))]
        on_candle, record = core.on_candle, sink.handle_all
        for _, _, candle in heapq.merge(*streams):
            record(on_candle(candle, source="replay"))
            done += 1
            if done % DRAIN_EVERY_CANDLES == 0:
                batched.drain()
            if done % FLUSH_EVERY_CANDLES == 0:
                batched.drain()
                recorder.flush()
                _collect_garbage()
            if progress is not None and done % PROGRESS_EVERY_CANDLES == 0:
                progress(done, total)
        batched.drain()
        recorder.stop()
        elapsed_s = time.perf_counter() - started
        if gc_was_enabled:
            gc.enable()
        if progress is not None:
            progress(done, total)

        final_equity = core.portfolio.equity()
        with store.cursor() as cur:
            candles, trades, fills, max_dd, trips, denials = replay_totals(cur)
    finally:
        if gc_was_enabled and not gc.isenabled():
            gc.enable()
        store.close()
    return ReplaySummary(
        candles=candles,
        warmup_candles=warmed,
        trades=trades,
        fills=fills,
        pnl=final_equity - starting_balance,
        final_equity=final_equity,
        max_drawdown_pct=float(max_dd),
        breaker_trips=trips,
        denials=denials,
        elapsed_s=elapsed_s,
    )


class _BatchedRecorder:
    """The recording sink's recorder in a replay: rows are collected per table and handed to
    :meth:`Recorder.record_many <storage.recorder.Recorder.record_many>` by :meth:`drain` (every
    :data:`DRAIN_EVERY_CANDLES` candles, before every flush), which validates them in bulk, column by column,
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
    """The replay loop runs with the cyclic garbage collector off and collects here, at each periodic flush.

    The loop allocates millions of short-lived objects (rows, snapshots, Decimals) but almost no reference cycles,
    while the buffered rows and the datasets are large: automatic collections kept re-traversing them and took
    ≈ 20 % of a replay. Collecting the young generations once per :data:`FLUSH_EVERY_CANDLES` candles still frees
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


def _stream(ds: CandleColumns, order: int, lo: int, hi: int) -> Iterator[tuple[int, int, Candle]]:
    """``(open_time_ms, order, candle)`` for the candles ``lo <= index < hi``: sorted, so ``heapq.merge``
    interleaves symbols by market time (ties by ``order``; candles themselves are never compared)."""
    return zip(ds.open_time_ms[lo:hi], repeat(order), _candles(ds, lo, hi))


def _candles(ds: CandleColumns, lo: int, hi: int) -> Iterator[Candle]:
    """The candles ``lo <= index < hi`` of ``ds``, built lazily (one at a time, as the replay consumes them) by
    C-level iterators: prices parsed from the dataset's strings once, straight into ``Decimal``."""
    hi = max(lo, hi)
    times = ds.open_time_ms[lo:hi]
    return map(
        Candle,
        repeat(ds.symbol),
        times,
        map(operator.add, times, repeat(MINUTE_MS - 1)),
        map(Decimal, islice(ds.open, lo, hi)),
        map(Decimal, islice(ds.high, lo, hi)),
        map(Decimal, islice(ds.low, lo, hi)),
        map(Decimal, islice(ds.close, lo, hi)),
        map(Decimal, islice(ds.volume, lo, hi)),
    )

