"""Column-wise appends: a history table's rows given as whole Arrow columns, written in one transaction.

A replay computes most of its ``candles`` and ``equity`` rows as columns (numpy, then Arrow) rather than row by row;
:class:`BulkWriter` appends them as they are, with the checks the :class:`~storage.recorder.Recorder` makes per value
made per column instead: exactly the table's columns (``recorded_at`` excluded), each of the table's Arrow type
(``DECIMAL(38, 8)`` as ``decimal128(38, 8)``; a ``VARCHAR`` may also come dictionary-encoded, as a column of a few
repeated names best does; a lossless cast is applied, e.g. ``int64`` → ``int32``), no NULL in
a ``NOT NULL`` column, every column the same length. ``recorded_at`` is stamped like the Recorder does: the wall
clock, unique and increasing per table across appends (consecutive microseconds).

One writer per database file and process, used by one thread (the replay's).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from storage.arrays import fixed
from storage.columns import RECORDED_AT, TableSpec, history_tables
from storage.store import Store

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_TIMESTAMP = pa.timestamp("us", tz="UTC")


class BulkWriter:
    """Appends whole columns to the history tables of ``store``.

    Args:
        store: an open read-write Store.
        clock: the wall clock for ``recorded_at``; returns an aware datetime.

    Raises:
        ValueError: the store is read-only.
    """

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC)) -> None:
        if store.read_only:
            raise ValueError("the BulkWriter needs a read-write store")
        self._cursor = store.cursor()
        self._tables = history_tables(self._cursor)
        self._clock = clock
        self._last_stamp_us: dict[str, int] = {}

    def append(self, table: str, columns: Mapping[str, pa.Array]) -> int:
        """Append the rows given by ``columns`` (column name → Arrow array, all of one length) to ``table`` in one
        transaction; return how many.

        Raises:
            ValueError: unknown table, names not exactly the table's columns, lengths that differ, a type that does
                not cast losslessly to the column's, or a NULL in a ``NOT NULL`` column (the message names the table
                and column); nothing is written.
            duckdb.Error: the write failed (rolled back).
        """
        spec = self._tables.get(table)
        if spec is None:
            raise ValueError(f"unknown table {table!r}; tables: {', '.join(self._tables)}")
        arrays = _checked(spec, columns)
        count = len(arrays[0]) if arrays else 0
        if count == 0:
            return 0
        first_us = max((self._clock() - _EPOCH) // _MICROSECOND, self._last_stamp_us.get(table, 0) + 1)
        arrays.append(fixed(np.arange(first_us, first_us + count, dtype=np.int64), _TIMESTAMP))
        view = f"_bulk_{table}"
        names = ", ".join(f'"{field.name}"' for field in spec.schema)
        cursor = self._cursor
        cursor.register(view, pa.Table.from_arrays(arrays, names=spec.schema.names))
        try:
            cursor.execute("BEGIN TRANSACTION")
            try:
                cursor.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM "{view}"')
                cursor.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    cursor.execute("ROLLBACK")
                raise
        finally:
            with contextlib.suppress(duckdb.Error):
                cursor.unregister(view)
        self._last_stamp_us[table] = first_us + count - 1
        return count

    def close(self) -> None:
        """Release the writer's cursor."""
        self._cursor.close()


def _checked(spec: TableSpec, columns: Mapping[str, pa.Array]) -> list[pa.Array]:
    """``columns`` in table order (``recorded_at`` excluded), each of its column's Arrow type."""
    if columns.keys() != spec.keys:
        raise spec.mismatch(columns)
    arrays: list[pa.Array] = []
    length: int | None = None
    for column, field in zip(spec.columns, spec.schema, strict=False):  # the schema ends with recorded_at
        array = columns[column.name]
        if length is None:
            length = len(array)
        elif len(array) != length:
            raise ValueError(f"{spec.name}.{column.name}: {len(array)} values, the other columns have {length}")
        if array.type != field.type and not (pa.types.is_dictionary(array.type) and array.type.value_type == field.type == pa.string()):
            try:
                array = array.cast(field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValueError(f"{spec.name}.{column.name} ({column.sql_type}) cannot take {array.type}: {exc}") from exc
        if not column.nullable and array.null_count:
            raise ValueError(f"{spec.name}.{column.name} is NOT NULL, got {array.null_count} NULL(s)")
        arrays.append(array)
    assert spec.schema.field(len(arrays)).name == RECORDED_AT
    return arrays
