"""The Recorder: buffers rows in memory and writes them in batches, one transaction per flush.

Any thread calls :meth:`Recorder.record` (cheap: validate, append to a per-table buffer). A background thread
calls :meth:`Recorder.flush` every ``flush_interval_ms``; the engine also calls it directly when rows must be on
disk before it acts further (fills). A flush turns each table's buffer into a ``pyarrow.Table`` with the exact
column types of the database (``DECIMAL(38, 8)`` as ``decimal128(38, 8)``, so money stays exact) and appends it
with ``INSERT INTO t (...) SELECT ... FROM <registered arrow table>``, never row by row (``../shared/SPEC.md`` §4).
How a row is checked and mapped to Arrow is :mod:`storage.columns`.

A flush that brings the ``equity`` or ``candles`` rows not yet summarised to
:data:`~storage.rollups.SUMMARISE_EVERY_ROWS` also folds them into their level-of-detail rollup
(:mod:`storage.rollups`), in the same transaction: a rollup always summarises exactly the rows on disk up to its
``max_recorded_at``.

``recorded_at`` is stamped at flush time from the wall clock (UTC) and is unique and increasing in record order
within each table, across flushes and restarts (a Recorder's first stamp follows the latest already in the file,
even if the clock went back): rows of one flush get consecutive microseconds. Queries can therefore pick
"the latest row" with ``arg_max(..., recorded_at)`` even when several rows of one key land in the same flush.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import duckdb

from storage.columns import RECORDED_AT as RECORDED_AT  # re-exported: the name has always lived here
from storage.columns import history_tables
from storage.errors import FlushError, StoreClosedError
from storage.rollups import ROLLUPS, SUMMARISE_EVERY_ROWS
from storage.store import Store

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def utc_now() -> datetime:
    """The wall clock as an aware UTC datetime (the Recorder's default ``clock``)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    """A snapshot of the Recorder, for telemetry and the dashboard.

    Attributes:
        running: the background flusher is running.
        buffered_rows: rows recorded but not yet committed (including a flush in progress).
        max_buffered_rows: the bound beyond which :meth:`Recorder.record` raises.
        rows_written: rows committed since the Recorder was created.
        flushes: flushes that committed at least one row.
        failed_flushes: flushes that raised; their rows stayed buffered.
        last_flush_ms: wall duration of the latest committed flush in milliseconds, ``None`` before the first.
        last_error: the error of the latest flush if it failed, ``None`` once a flush succeeds.
    """

    running: bool
    buffered_rows: int
    max_buffered_rows: int
    rows_written: int
    flushes: int
    failed_flushes: int
    last_flush_ms: float | None
    last_error: str | None

    @property
    def buffer_used(self) -> float:
        """``buffered_rows / max_buffered_rows``, 0..1."""
        return self.buffered_rows / self.max_buffered_rows


class Recorder:
    """Batched, transactional writer of history rows into a :class:`~storage.store.Store`.

    Args:
        store: an open read-write Store; its tables that have a ``recorded_at`` column are recordable.
        flush_interval_ms: period of the background flusher started by :meth:`start`, in milliseconds.
        max_buffered_rows: how many unwritten rows may pile up (e.g. while the database fails) before
            :meth:`record` refuses more. Rows are never dropped silently.
        clock: the wall clock for ``recorded_at``; returns an aware datetime.
        summarise_every_rows: fold a rollup's unsummarised rows in once there are this many
            (:data:`storage.rollups.SUMMARISE_EVERY_ROWS`).

    Thread-safe: any thread may :meth:`record` and :meth:`flush`; flushes run one at a time, each on a DuckDB
    cursor owned by the flushing thread.

    Raises:
        ValueError: the store is read-only, or a table has a column type the Recorder cannot carry.
        StoreClosedError: the store is closed.
    """

    def __init__(
        self,
        store: Store,
        *,
        flush_interval_ms: int = 250,
        max_buffered_rows: int = 200_000,
        clock: Callable[[], datetime] = utc_now,
        summarise_every_rows: int = SUMMARISE_EVERY_ROWS,
    ) -> None:
        if store.read_only:
            raise ValueError("the Recorder needs a read-write store")
        if flush_interval_ms <= 0 or max_buffered_rows <= 0 or summarise_every_rows <= 0:
            raise ValueError("flush_interval_ms, max_buffered_rows and summarise_every_rows must be positive")
        self._store = store
        self._interval_s = flush_interval_ms / 1000
        self._max_buffered = max_buffered_rows
        self._clock = clock
        cursor = store.cursor()
        try:
            self._tables = history_tables(cursor)
            stamps = " UNION ALL ".join(f'SELECT epoch_us(max("{RECORDED_AT}")) FROM "{name}"' for name in self._tables)
            [(last_stamp_us,)] = cursor.sql(f"SELECT coalesce(max(m), 0) FROM ({stamps}) AS t(m)").fetchall()
            # rows written since a rollup's last fold, by source table
            self._unsummarised = {r.source: _count(cursor, r.tail_sql()) for r in ROLLUPS}
        finally:
            cursor.close()
        self._buffers: dict[str, list[tuple[Any, ...]]] = {name: [] for name in self._tables}
        self._merges = {r.source: r.merge_sql() for r in ROLLUPS}
        self._summarise_every = summarise_every_rows
        self._pending = 0
        self._lock = threading.RLock()  # re-entered by record() inside atomic()
        self._flush_lock = threading.Lock()
        self._local = threading.local()
        self._last_stamp_us = int(last_stamp_us)
        self._closed = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._rows_written = 0
        self._flushes = 0
        self._failed_flushes = 0
        self._last_flush_ms: float | None = None
        self._last_error: str | None = None

    @property
    def tables(self) -> tuple[str, ...]:
        """The recordable tables, by name."""
        return tuple(self._tables)

    def record(self, table: str, row: Mapping[str, Any]) -> None:
        """Buffer one row of ``table`` for the next flush. Constant time; never touches the database.

        Args:
            table: a history table, e.g. ``"fills"``.
            row: exactly the table's columns except ``recorded_at``. Money columns (``DECIMAL``) take ``Decimal``
                or ``int``, rounded half away from zero to the column's 8 places; ``DOUBLE`` takes ``float`` or
                ``int``; ``INTEGER`` takes ``int``; ``TIMESTAMPTZ`` takes an aware ``datetime``; ``VARCHAR`` takes ``str``.

        Raises:
            ValueError: unknown table, keys not matching the columns, or an invalid value (see ``row``).
            StoreClosedError: the Recorder is stopped.
            FlushError: ``max_buffered_rows`` rows are already waiting (flushes keep failing); the row is refused.
        """
        spec = self._tables.get(table)
        if spec is None:
            raise ValueError(f"unknown table {table!r}; recordable tables: {', '.join(self._tables)}")
        values = spec.values(row)
        with self._lock:
            if self._closed:
                raise StoreClosedError("the recorder is stopped")
            if self._pending >= self._max_buffered:
                raise FlushError(
                    f"{self._pending} rows are waiting to be written (max_buffered_rows={self._max_buffered}); "
                    f"refusing a row for {table!r}. Last flush error: {self._last_error}",
                    rows=self._pending,
                )
            self._buffers[table].append(values)
            self._pending += 1

    def record_many(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Buffer ``rows`` of ``table``, in order, for the next flush: the same as :meth:`record` on each row, but
        validated as a batch and all or nothing (a refused batch buffers no row).

        The batch is first checked column by column (exact keys, and each column's values of the type the column
        takes as is: see :meth:`storage.columns.TableSpec.bulk_values`); a batch that is not that simple (``None``,
        ``int`` in a ``DOUBLE`` column, a ``DECIMAL`` column, a bad row...) is checked row by row exactly as
        :meth:`record` does.

        Raises:
            ValueError: unknown table, or the error :meth:`record` raises for the first invalid row.
            StoreClosedError: the Recorder is stopped.
            FlushError: the rows would take the buffer beyond ``max_buffered_rows``; none is buffered.
        """
        spec = self._tables.get(table)
        if spec is None:
            raise ValueError(f"unknown table {table!r}; recordable tables: {', '.join(self._tables)}")
        if not rows:
            return
        values = spec.bulk_values(rows)
        with self._lock:
            if self._closed:
                raise StoreClosedError("the recorder is stopped")
            if self._pending + len(values) > self._max_buffered:
                raise FlushError(
                    f"{self._pending} rows are waiting to be written (max_buffered_rows={self._max_buffered}); "
                    f"refusing {len(values)} rows for {table!r}. Last flush error: {self._last_error}",
                    rows=self._pending,
                )
            self._buffers[table].extend(values)
            self._pending += len(values)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Rows recorded inside the block (by this thread) land in the same flush: a flush started meanwhile waits
        until the block ends (microseconds: recording never touches the database), so a crash keeps all of them or
        none — e.g. an equity row and the breaker transition it caused.

        Other threads' :meth:`record` calls wait for the block too; keep it to recording.
        """
        with self._lock:
            yield

    def flush(self) -> int:
        """Write every buffered row of every table in one transaction; return how many rows were committed.

        Synchronous: when it returns, the rows are committed. Rows recorded while it writes go to the next flush.
        Still allowed after :meth:`stop`, to retry rows a failed final flush kept.

        Raises:
            FlushError: the write failed and was rolled back; every row stays buffered, in order, for the next
                flush (``rows``: how many). The duckdb error is chained.
            StoreClosedError: the store is closed; the rows stay buffered.
        """
        with self._flush_lock:
            with self._lock:
                if not self._pending:
                    return 0
                batch = {name: rows for name, rows in self._buffers.items() if rows}
                for name in batch:
                    self._buffers[name] = []
                count = self._pending
            started = time.perf_counter()
            try:
                self._write(batch)
            except BaseException as exc:
                with self._lock:
                    for name, rows in batch.items():
                        self._buffers[name] = rows + self._buffers[name]
                    self._failed_flushes += 1
                    self._last_error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, duckdb.Error):
                    raise FlushError(f"flush of {count} rows failed and was rolled back: {exc}", rows=count) from exc
                raise
            with self._lock:
                self._pending -= count
                self._rows_written += count
                self._flushes += 1
                self._last_flush_ms = (time.perf_counter() - started) * 1000
                self._last_error = None
            return count

    def start(self) -> Recorder:
        """Start the background flusher (a daemon thread flushing every ``flush_interval_ms``); return self.

        A failed background flush is retried at the next interval; the first failure of a run of failures is
        logged (error, with the buffered row count) and so is the recovery (warning). :meth:`status` has the rest.

        Raises:
            StoreClosedError: the Recorder is stopped.
            RuntimeError: it is already started.
        """
        with self._lock:
            if self._closed:
                raise StoreClosedError("the recorder is stopped")
            if self._thread is not None:
                raise RuntimeError("the recorder is already started")
            self._thread = threading.Thread(target=self._run, name="recorder-flush", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Refuse further rows, stop the background flusher and flush what is left. Idempotent.

        Raises:
            FlushError: the final flush failed; its rows stay buffered and :meth:`flush` may retry them.
            StoreClosedError: the store was closed before the final flush.
        """
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._stopping.set()
        if thread is not None:
            thread.join()
        self.flush()

    def status(self) -> RecorderStatus:
        """A consistent snapshot of the counters."""
        with self._lock:
            return RecorderStatus(
                running=self._thread is not None,
                buffered_rows=self._pending,
                max_buffered_rows=self._max_buffered,
                rows_written=self._rows_written,
                flushes=self._flushes,
                failed_flushes=self._failed_flushes,
                last_flush_ms=self._last_flush_ms,
                last_error=self._last_error,
            )

    def __enter__(self) -> Recorder:
        """Start the background flusher; leaving the block stops it (with a final flush)."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        s = self.status()
        return f"Recorder(buffered={s.buffered_rows}, written={s.rows_written}, running={s.running})"

    # ------------------------------------------------------------------ internals
    def _write(self, batch: dict[str, list[tuple[Any, ...]]]) -> None:
        """Append ``batch`` in one transaction (rolled back on any error). Caller holds the flush lock."""
        cursor = self._cursor()
        first_us = max((self._clock() - _EPOCH) // _MICROSECOND, self._last_stamp_us + 1)
        specs = [self._tables[name] for name in batch]
        try:
            for spec in specs:
                cursor.register(spec.view, spec.arrow(batch[spec.name], first_stamp_us=first_us))
            cursor.execute("BEGIN TRANSACTION")
            unsummarised = {name: self._unsummarised[name] + len(batch.get(name, ())) for name in self._unsummarised}
            due = [name for name, rows in unsummarised.items() if rows >= self._summarise_every]
            try:
                for spec in specs:
                    cursor.execute(spec.insert_sql)
                for name in due:
                    cursor.execute(self._merges[name])
                cursor.execute("COMMIT")
            except BaseException:
                # A failed COMMIT has already ended the transaction, so ROLLBACK may find none: nothing to undo.
                with contextlib.suppress(duckdb.Error):
                    cursor.execute("ROLLBACK")
                raise
        finally:
            # Dropping the views only releases the Arrow batches early; the next flush replaces them anyway.
            for spec in specs:
                with contextlib.suppress(duckdb.Error):
                    cursor.unregister(spec.view)
        self._last_stamp_us = first_us + max(len(rows) for rows in batch.values()) - 1
        self._unsummarised = unsummarised | dict.fromkeys(due, 0)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """The calling thread's own cursor (a DuckDB cursor must not be shared between threads)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._store.cursor()
        return cursor

    def _run(self) -> None:
        failing = False
        try:
            while not self._stopping.wait(self._interval_s):
                try:
                    self.flush()
                except Exception as exc:  # the flusher must outlive a failing database; the rows stay buffered
                    if not failing:
                        log.error(
                            "background flush failed, %d rows kept and retried every %.0f ms: %s",
                            self.status().buffered_rows,
                            self._interval_s * 1000,
                            exc,
                        )
                    failing = True
                else:
                    if failing:
                        failed = self.status().failed_flushes
                        log.warning("background flush succeeded again; %d flushes have failed so far", failed)
                    failing = False
        finally:
            cursor = getattr(self._local, "cursor", None)
            if cursor is not None:
                cursor.close()


def _count(cursor: duckdb.DuckDBPyConnection, query: str) -> int:
    [(count,)] = cursor.sql(f"SELECT count(*) FROM ({query})").fetchall()
    return int(count)
