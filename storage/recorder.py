"""The Recorder: buffers rows in memory and writes them in batches, one transaction per flush.

Any thread calls :meth:`Recorder.record` (cheap: validate, append to a per-table buffer). A background thread
calls :meth:`Recorder.flush` every ``flush_interval_ms``; the engine also calls it directly when rows must be on
disk before it acts further (fills). A flush turns each table's buffer into a ``pyarrow.Table`` with the exact
column types of the database (``DECIMAL(38, 8)`` as ``decimal128(38, 8)``, so money stays exact) and appends it
with ``INSERT INTO t (...) SELECT ... FROM <registered arrow table>``, never row by row (``../shared/SPEC.md`` §4).

``recorded_at`` is stamped at flush time from the wall clock (UTC) and is unique and increasing in record order
within each table, across flushes: rows of one flush get consecutive microseconds. Queries can therefore pick
"the latest row" with ``arg_max(..., recorded_at)`` even when several rows of one key land in the same flush.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from itertools import repeat
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from storage.errors import FlushError, StoreClosedError
from storage.store import Store

log = logging.getLogger(__name__)

RECORDED_AT = "recorded_at"
"""The column every history table ends with; the Recorder fills it, callers never pass it."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DECIMAL_TYPE = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


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


@dataclass(frozen=True, slots=True)
class _Column:
    """One recordable column: how a Python value is checked and which Arrow type carries it."""

    name: str
    sql_type: str
    arrow_type: pa.DataType
    accepts: tuple[type, ...]
    nullable: bool
    quantum: Decimal | None = None
    """``DECIMAL`` columns: ``10 ** -scale``; values are rounded to it."""
    context: Context | None = None
    """``DECIMAL`` columns: precision of the column, rounding half away from zero (as DuckDB casts)."""

    def check(self, table: str, value: Any) -> Any:
        """``value`` as it will be stored (decimals rounded to the column's scale).

        Raises:
            ValueError: wrong type, ``None`` in a ``NOT NULL`` column, a naive datetime, a non-finite decimal or
                one too large for the column.
        """
        if value is None:
            if not self.nullable:
                raise ValueError(f"{table}.{self.name} is NOT NULL, got None")
            return None
        if not isinstance(value, self.accepts):
            expected = " or ".join(t.__name__ for t in self.accepts)
            got = f"{type(value).__name__} {value!r}"
            raise ValueError(f"{table}.{self.name} ({self.sql_type}) takes {expected}, got {got}")
        if self.quantum is not None and isinstance(value, (Decimal, int)):  # DECIMAL columns accept exactly these
            return self._decimal(table, value, self.quantum)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(f"{table}.{self.name} takes a timezone-aware datetime, got naive {value!r}")
        return value

    def _decimal(self, table: str, value: Decimal | int, quantum: Decimal) -> Decimal:
        number = Decimal(value)
        if not number.is_finite():
            raise ValueError(f"{table}.{self.name} ({self.sql_type}) takes a finite number, got {value!r}")
        try:
            return number.quantize(quantum, context=self.context)
        except InvalidOperation as exc:
            raise ValueError(f"{table}.{self.name} ({self.sql_type}) cannot hold {value!r}") from exc


@dataclass(frozen=True, slots=True)
class _Table:
    """A history table: its recordable columns in table order (without ``recorded_at``)."""

    name: str
    columns: tuple[_Column, ...]
    keys: frozenset[str]
    schema: pa.Schema
    view: str
    """Name under which a flush registers its Arrow batch on the cursor."""
    insert_sql: str

    validate: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    """:meth:`values`, compiled for this table (see :func:`_compile_validator`)."""
    getter: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    """A row's values in column order, unchecked."""
    simple_types: tuple[set[type], ...] | None
    """Per column, ``{the type it takes as is}``; ``None`` if a column has none (``DECIMAL``)."""
    aware: frozenset[int]
    """Indexes of the ``TIMESTAMPTZ`` columns (their datetimes must have a tzinfo)."""

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The row's values in column order, checked (see :meth:`_Column.check`).

        Raises:
            ValueError: the keys are not exactly the table's columns (minus ``recorded_at``), or a value is invalid.
        """
        return self.validate(row)

    def bulk_values(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """:meth:`values` of every row (same results, same first error), checked column by column when every value
        has the type its column takes as is."""
        simple = self.simple_types
        if simple is not None and all(map(operator.eq, map(_keys, rows), repeat(self.keys))):
            values = list(map(self.getter, rows))
            # No rows means no columns to check: the outer zip may stop early.
            for i, (column, kind) in enumerate(zip(zip(*values, strict=True), simple, strict=False)):
                if set(map(type, column)) != kind or (i in self.aware and None in list(map(_tzinfo, column))):
                    break
            else:
                return values
        return [self.validate(row) for row in rows]

    def mismatch(self, row: Mapping[str, Any]) -> ValueError:
        """The error for a row whose keys are not exactly the table's columns."""
        missing, unknown = sorted(self.keys - row.keys()), sorted(row.keys() - self.keys)
        return ValueError(f"row for {self.name!r} does not match its columns: missing {missing}, unknown {unknown}")

    def arrow(self, rows: list[tuple[Any, ...]], *, first_stamp_us: int) -> pa.Table:
        """``rows`` as an Arrow table of this table's types, ``recorded_at`` = consecutive microseconds."""
        arrays = [
            pa.array(values, type=column.arrow_type) for values, column in zip(zip(*rows, strict=True), self.columns, strict=True)
        ]
        stamps = range(first_stamp_us, first_stamp_us + len(rows))
        arrays.append(pa.array(stamps, type=pa.timestamp("us", tz="UTC")))
        return pa.Table.from_arrays(arrays, schema=self.schema)


class Recorder:
    """Batched, transactional writer of history rows into a :class:`~storage.store.Store`.

    Args:
        store: an open read-write Store; its tables that have a ``recorded_at`` column are recordable.
        flush_interval_ms: period of the background flusher started by :meth:`start`, in milliseconds.
        max_buffered_rows: how many unwritten rows may pile up (e.g. while the database fails) before
            :meth:`record` refuses more. Rows are never dropped silently.
        clock: the wall clock for ``recorded_at``; returns an aware datetime.

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
    ) -> None:
        if store.read_only:
            raise ValueError("the Recorder needs a read-write store")
        if flush_interval_ms <= 0 or max_buffered_rows <= 0:
            raise ValueError("flush_interval_ms and max_buffered_rows must be positive")
        self._store = store
        self._interval_s = flush_interval_ms / 1000
        self._max_buffered = max_buffered_rows
        self._clock = clock
        cursor = store.cursor()
        try:
            self._tables = _history_tables(cursor)
        finally:
            cursor.close()
        self._buffers: dict[str, list[tuple[Any, ...]]] = {name: [] for name in self._tables}
        # pyarrow imports pandas (≈ 0.3 s) on its first conversion of a Python sequence: pay that once here rather
        # than in the middle of the first flush (which the engine may be waiting on after a fill).
        pa.array([], type=pa.string())
        self._pending = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._local = threading.local()
        self._last_stamp_us = 0
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
        values = spec.validate(row)
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
        takes as is: see :data:`_FAST_TYPES`); a batch that is not that simple (``None``, ``int`` in a ``DOUBLE``
        column, a ``DECIMAL`` column, a bad row...) is checked row by row exactly as :meth:`record` does.

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
            try:
                for spec in specs:
                    cursor.execute(spec.insert_sql)
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


def _history_tables(cursor: duckdb.DuckDBPyConnection) -> dict[str, _Table]:
    """Every table of schema ``main`` that has a ``recorded_at`` column, read from the database itself."""
    rows = cursor.execute(
        "SELECT table_name, column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name IN "
        f"(SELECT table_name FROM information_schema.columns WHERE column_name = '{RECORDED_AT}') "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    columns: dict[str, list[_Column]] = {}
    for table, name, sql_type, nullable in rows:
        if name != RECORDED_AT:
            columns.setdefault(table, []).append(_column(table, name, sql_type, nullable))
    return {table: _table(table, tuple(cols)) for table, cols in columns.items()}


def _column(table: str, name: str, sql_type: str, nullable: bool) -> _Column:
    if sql_type == "VARCHAR":
        return _Column(name, sql_type, pa.string(), (str,), nullable)
    if sql_type == "DOUBLE":
        return _Column(name, sql_type, pa.float64(), (float, int), nullable)
    if sql_type == "INTEGER":
        return _Column(name, sql_type, pa.int32(), (int,), nullable)
    if sql_type == "TIMESTAMP WITH TIME ZONE":
        return _Column(name, sql_type, pa.timestamp("us", tz="UTC"), (datetime,), nullable)
    if match := _DECIMAL_TYPE.fullmatch(sql_type):
        precision, scale = int(match[1]), int(match[2])
        return _Column(
            name,
            sql_type,
            pa.decimal128(precision, scale),
            (Decimal, int),
            nullable,
            quantum=Decimal(1).scaleb(-scale),
            context=Context(prec=precision, rounding=ROUND_HALF_UP),
        )
    raise ValueError(f"{table}.{name}: the Recorder has no Arrow mapping for column type {sql_type}")


def _table(name: str, columns: tuple[_Column, ...]) -> _Table:
    fields = [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in columns]
    fields.append(pa.field(RECORDED_AT, pa.timestamp("us", tz="UTC"), nullable=False))
    names = ", ".join(f'"{f.name}"' for f in fields)
    view = f"_recorder_batch_{name}"
    table = _Table(
        name=name,
        columns=columns,
        keys=frozenset(c.name for c in columns),
        schema=pa.schema(fields),
        view=view,
        insert_sql=f'INSERT INTO "{name}" ({names}) SELECT {names} FROM "{view}"',
        validate=lambda row: ((), ()),  # replaced just below (the validator needs the finished table)
        getter=_getter(tuple(c.name for c in columns)),
        simple_types=None if any(c.sql_type not in _FAST_TYPE_OF for c in columns) else tuple({_FAST_TYPE_OF[c.sql_type]} for c in columns),
        aware=frozenset(i for i, c in enumerate(columns) if c.sql_type == "TIMESTAMP WITH TIME ZONE"),
    )
    object.__setattr__(table, "validate", _compile_validator(table))
    return table


# The value a column kind accepts as is, by exact type: anything else (None, a subclass, a naive datetime, any
# DECIMAL value, which is always rounded) goes through the full :meth:`_Column.check`, which returns the stored
# value or raises the documented ValueError. Same results and errors as checking every value, at a fraction of
# the cost on the hot tables (candles, equity: strings, floats and aware datetimes).
_FAST_TYPES: dict[str, str] = {
    "VARCHAR": "type({v}) is str",
    "DOUBLE": "type({v}) is float",
    "INTEGER": "type({v}) is int",
    "TIMESTAMP WITH TIME ZONE": "type({v}) is datetime and {v}.tzinfo is not None",
}


_FAST_TYPE_OF: dict[str, type] = {
    "VARCHAR": str,
    "DOUBLE": float,
    "INTEGER": int,
    "TIMESTAMP WITH TIME ZONE": datetime,
}
"""The exact type of :data:`_FAST_TYPES`, for checking a whole column at once."""

_keys = operator.methodcaller("keys")
_tzinfo = operator.attrgetter("tzinfo")


def _getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:
        get = operator.itemgetter(names[0])
        return lambda row: (get(row),)
    return operator.itemgetter(*names)


def _compile_validator(table: _Table) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A function ``row -> values`` for ``table``, equivalent to checking the keys and then every column in
    order with :meth:`_Column.check` (same values, same first error), with the per-column-kind type checks
    precompiled into straight-line code."""
    env: dict[str, Any] = {"datetime": datetime, "table": table, "name": table.name, "keys": table.keys}
    lines = ["def validate(row):", "    if row.keys() != keys:", "        raise table.mismatch(row)"]
    for i, column in enumerate(table.columns):
        v, c = f"v{i}", f"c{i}"
        env[c] = column
        lines.append(f"    {v} = row[{column.name!r}]")
        fast = _FAST_TYPES.get(column.sql_type) if column.quantum is None else None
        if fast is None:
            lines.append(f"    {v} = {c}.check(name, {v})")
        else:
            lines.append(f"    if not ({fast.format(v=v)}):")
            lines.append(f"        {v} = {c}.check(name, {v})")
    lines.append("    return (" + "".join(f"v{i}, " for i in range(len(table.columns))) + ")")
    exec(compile("\n".join(lines), f"<recorder validator for {table.name}>", "exec"), env)  # code built from the schema
    return env["validate"]
