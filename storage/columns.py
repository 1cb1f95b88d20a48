"""How a row of a history table is checked and turned into Arrow.

A history table is a table of schema ``main`` with a ``recorded_at`` column; :func:`history_tables` reads them from
the database itself. Each column becomes a :class:`ColumnSpec` (the Python values it takes, how a value is checked
and rounded, the Arrow type that carries it), each table a :class:`TableSpec` (its columns in table order, a row
validator compiled from the schema, the Arrow schema and the ``INSERT`` of a flush). ``DECIMAL(38, 8)`` maps to
``decimal128(38, 8)``, so money stays exact.

``DECIMAL`` values are buffered as :class:`Units`: whole numbers of the column's last place (10⁻⁸ for
``DECIMAL(38, 8)``), so a flush builds the ``decimal128`` array from machine integers instead of converting Python
decimals one by one. A ``Decimal`` (or ``int``) is rounded half away from zero to the column's scale and converted when
it is recorded; a caller that already has units (the engine's hot ``equity`` rows) passes :class:`Units` and skips that.

The :class:`~storage.recorder.Recorder` checks every row with these specs when it is recorded and builds its Arrow
batches with them when it flushes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from itertools import repeat
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

RECORDED_AT = "recorded_at"
"""The column every history table ends with; the Recorder fills it, callers never pass it."""

_DECIMAL_TYPE = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_EXACT = Context(prec=80)
"""Shifting a decimal point is exact under this context (the default one rounds to 28 digits; a column holds 38)."""
_FAST = Context(prec=28)
_EIGHT_PLACES = Decimal(10**8)
_FAST_LIMIT = 10**27


class Units(int):
    """An exact amount as a whole number of a ``DECIMAL`` column's last place: ``Units(123456789)`` in a
    ``DECIMAL(38, 8)`` column is 1.23456789. :func:`units` converts a ``Decimal``."""

    __slots__ = ()


def units(value: Decimal, scale: int = 8, precision: int = 38) -> Units:
    """``value`` in units of ``10 ** -scale``, rounded half away from zero (as DuckDB casts), for a
    ``DECIMAL(precision, scale)`` column.

    Raises:
        ValueError: ``value`` is not finite, or has more than ``precision`` digits in those units.
    """
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if scale == 8 and precision >= 27:
        # Fast path (once per changed equity field per candle). Under 28 digits the product is exact, or rounded to
        # 28 significant digits; a whole result below 10**27 then still has fractional places, so what rounding
        # dropped is under 0.05 of a unit and the whole number is the half-up rounding of the exact one.
        scaled = _FAST.multiply(value, _EIGHT_PLACES)
        whole_units = int(scaled)
        if whole_units == scaled and -_FAST_LIMIT < whole_units < _FAST_LIMIT:
            return Units(whole_units)
    whole = value.scaleb(scale, _EXACT).to_integral_value(rounding=ROUND_HALF_UP, context=_EXACT)
    if whole.copy_abs() >= 10**precision:
        raise ValueError(f"{value!r} does not fit DECIMAL({precision}, {scale})")
    return Units(whole)


@dataclass(frozen=True, slots=True)
class ColumnSpec:
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
    scale: int = 0
    """``DECIMAL`` columns: digits after the point (8 for money)."""

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
            if type(value) is Units:
                return value
            return Units(self._decimal(table, value, self.quantum).scaleb(self.scale, _EXACT))
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
class TableSpec:
    """A history table: its recordable columns in table order (without ``recorded_at``)."""

    name: str
    columns: tuple[ColumnSpec, ...]
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
        """The row's values in column order, checked (see :meth:`ColumnSpec.check`).

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
            _decimal_array(values, column) if column.quantum is not None else pa.array(values, type=column.arrow_type)
            for values, column in zip(zip(*rows, strict=True), self.columns, strict=True)
        ]
        stamps = range(first_stamp_us, first_stamp_us + len(rows))
        arrays.append(pa.array(stamps, type=pa.timestamp("us", tz="UTC")))
        return pa.Table.from_arrays(arrays, schema=self.schema)


def history_tables(cursor: duckdb.DuckDBPyConnection) -> dict[str, TableSpec]:
    """Every table of schema ``main`` that has a ``recorded_at`` column, read from the database itself."""
    rows = cursor.execute(
        "SELECT table_name, column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name IN "
        f"(SELECT table_name FROM information_schema.columns WHERE column_name = '{RECORDED_AT}') "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    columns: dict[str, list[ColumnSpec]] = {}
    for table, name, sql_type, nullable in rows:
        if name != RECORDED_AT:
            columns.setdefault(table, []).append(_column(table, name, sql_type, nullable))
    return {table: _table(table, tuple(cols)) for table, cols in columns.items()}


def _column(table: str, name: str, sql_type: str, nullable: bool) -> ColumnSpec:
    if sql_type == "VARCHAR":
        return ColumnSpec(name, sql_type, pa.string(), (str,), nullable)
    if sql_type == "DOUBLE":
        return ColumnSpec(name, sql_type, pa.float64(), (float, int), nullable)
    if sql_type == "INTEGER":
        return ColumnSpec(name, sql_type, pa.int32(), (int,), nullable)
    if sql_type == "TIMESTAMP WITH TIME ZONE":
        return ColumnSpec(name, sql_type, pa.timestamp("us", tz="UTC"), (datetime,), nullable)
    if match := _DECIMAL_TYPE.fullmatch(sql_type):
        precision, scale = int(match[1]), int(match[2])
        return ColumnSpec(
            name,
            sql_type,
            pa.decimal128(precision, scale),
            (Decimal, int),
            nullable,
            quantum=Decimal(1).scaleb(-scale),
            context=Context(prec=precision, rounding=ROUND_HALF_UP),
            scale=scale,
        )
    raise ValueError(f"{table}.{name}: the Recorder has no Arrow mapping for column type {sql_type}")


def _table(name: str, columns: tuple[ColumnSpec, ...]) -> TableSpec:
    fields = [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in columns]
    fields.append(pa.field(RECORDED_AT, pa.timestamp("us", tz="UTC"), nullable=False))
    names = ", ".join(f'"{f.name}"' for f in fields)
    view = f"_recorder_batch_{name}"
    table = TableSpec(
        name=name,
        columns=columns,
        keys=frozenset(c.name for c in columns),
        schema=pa.schema(fields),
        view=view,
        insert_sql=f'INSERT INTO "{name}" ({names}) SELECT {names} FROM "{view}"',
        validate=lambda row: ((), ()),  # replaced just below (the validator needs the finished table)
        getter=_getter(tuple(c.name for c in columns)),
        simple_types=_simple_types(columns),
        aware=frozenset(i for i, c in enumerate(columns) if c.sql_type == "TIMESTAMP WITH TIME ZONE"),
    )
    object.__setattr__(table, "validate", _compile_validator(table))
    return table


# The value a column kind accepts as is, by exact type: anything else (None, a subclass, a naive datetime, any
# DECIMAL value, which is always rounded) goes through the full :meth:`ColumnSpec.check`, which returns the stored
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


def _fast_type(column: ColumnSpec) -> type | None:
    """The exact type ``column`` takes as is: :class:`Units` for ``DECIMAL`` columns."""
    return Units if column.quantum is not None else _FAST_TYPE_OF.get(column.sql_type)


def _simple_types(columns: tuple[ColumnSpec, ...]) -> tuple[set[type], ...] | None:
    fast = [_fast_type(c) for c in columns]
    return None if None in fast else tuple({t} for t in fast if t is not None)


def _decimal_array(values: Sequence[Units | None], column: ColumnSpec) -> pa.Array:
    """A ``decimal128`` array of ``column`` from :class:`Units`, built from their machine integers in one pass (see
    :func:`decimal_array`). Values beyond 64 bits, and columns with NULLs, go through Python decimals instead."""
    try:
        low = np.fromiter(values, dtype=np.int64, count=len(values))
    except (TypeError, OverflowError):  # a NULL, or a value beyond 64 bits
        return pa.array([None if v is None else Decimal(v).scaleb(-column.scale, _EXACT) for v in values], type=column.arrow_type)
    return decimal_array(low, column.arrow_type)


def decimal_array(units: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """``units`` (int64: whole numbers of the type's last place, e.g. 10⁻⁸ for ``decimal128(38, 8)``) as a
    ``decimal128`` array, exactly: each value's 128-bit two's complement, little-endian (the low word, then the
    sign-extended high word)."""
    words = np.empty(2 * len(units), dtype=np.int64)
    words[0::2] = units
    words[1::2] = units >> 63
    return pa.Array.from_buffers(arrow_type, len(units), [None, pa.py_buffer(words)])


_keys = operator.methodcaller("keys")
_tzinfo = operator.attrgetter("tzinfo")


def _getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:
        get = operator.itemgetter(names[0])
        return lambda row: (get(row),)
    return operator.itemgetter(*names)


def _compile_validator(table: TableSpec) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A function ``row -> values`` for ``table``, equivalent to checking the keys and then every column in
    order with :meth:`ColumnSpec.check` (same values, same first error), with the per-column-kind type checks
    precompiled into straight-line code."""
    env: dict[str, Any] = {"datetime": datetime, "Units": Units, "table": table, "name": table.name, "keys": table.keys}
    lines = ["def validate(row):", "    if row.keys() != keys:", "        raise table.mismatch(row)"]
    for i, column in enumerate(table.columns):
        v, c = f"v{i}", f"c{i}"
        env[c] = column
        lines.append(f"    {v} = row[{column.name!r}]")
        fast = _FAST_TYPES.get(column.sql_type) if column.quantum is None else "type({v}) is Units"
        if fast is None:
            lines.append(f"    {v} = {c}.check(name, {v})")
        else:
            lines.append(f"    if not ({fast.format(v=v)}):")
            lines.append(f"        {v} = {c}.check(name, {v})")
    lines.append("    return (" + "".join(f"v{i}, " for i in range(len(table.columns))) + ")")
    exec(compile("\n".join(lines), f"<recorder validator for {table.name}>", "exec"), env)  # code built from the schema
    return env["validate"]
