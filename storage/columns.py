"""How a row of a history table is checked and turned into Arrow.

A history table is a table of schema ``main`` with a ``recorded_at`` column; :func:`history_tables` reads them from
the database itself. Each column becomes a :class:`ColumnSpec` (the Python values it takes, how a value is checked
and rounded, the Arrow type that carries it), each table a :class:`TableSpec` (its columns in table order, the Arrow
schema and the ``INSERT`` of a flush). ``DECIMAL(38, 8)`` maps to ``decimal128(38, 8)``, so money stays exact.

**Checking.** Every value is checked when it is recorded, and :meth:`ColumnSpec.check` alone says what a column takes:
it returns the value to store or raises the one-line ``ValueError`` naming table and column. A value of a type the
column takes *as is* (a ``str`` for ``VARCHAR``, a ``float`` for ``DOUBLE``, an aware ``datetime`` …) is stored
unchanged, so :meth:`TableSpec.values` only runs the checks such values still need (a time zone, a range), learnt once
per combination of value types; :meth:`TableSpec.bulk_values` runs them column by column in C loops
(``set(map(type, …))``, ``min``/``max``). Anything else goes through :meth:`ColumnSpec.check`: the same values, the
same first error.

**Arrow.** At flush, :meth:`ColumnSpec.arrow` builds each column's Arrow array from the checked values through
:mod:`storage.arrays` (from buffers: ``pyarrow.array`` would import pandas, which a replay never needs).

**Decimals.** A ``DECIMAL`` value is buffered as :class:`Units` — whole numbers of the column's last place (10⁻⁸ for
``DECIMAL(38, 8)``), what the engine's hot ``equity`` rows pass, built into ``decimal128`` from machine integers — or
as a finite ``Decimal`` within the column's range, which Arrow's cast converts exactly from its text at flush
(rounded half away from zero to the column's scale first, as DuckDB casts, when it has more places). Other numbers are converted to
:class:`Units` when recorded.

The :class:`~storage.recorder.Recorder` checks every row with these specs when it is recorded and builds its Arrow
batches with them when it flushes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from itertools import repeat
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from storage import arrays

RECORDED_AT = "recorded_at"
"""The column every history table ends with; the Recorder fills it, callers never pass it."""

_DECIMAL_TYPE = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_EXACT = Context(prec=80)
"""Shifting a decimal point is exact under this context (the default one rounds to 28 digits; a column holds 38)."""
_FAST = Context(prec=28)
_EIGHT_PLACES = Decimal(10**8)
_FAST_LIMIT = 10**27
_INT32 = 2**31
_EXACT_DOUBLE_INT = 2**53
_PLANS_PER_TABLE = 64
"""Combinations of value types a table remembers the checks of (beyond that, rows are checked value by value)."""
_NONE = type(None)
_TIMESTAMP = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_UNLEARNT: Any = object()
"""What :meth:`TableSpec.values` finds for a combination of value types it has not met yet."""


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
class AsIs:
    """What a value of a type a column takes as is still needs: ``one`` checks a value, ``many`` a list of them
    (``None``: nothing; a value that fails goes through :meth:`ColumnSpec.check`)."""

    one: Callable[[Any], bool] | None = None
    many: Callable[[list[Any]], bool] | None = None


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One recordable column: how a Python value is checked and which Arrow type carries it."""

    name: str
    sql_type: str
    arrow_type: pa.DataType
    accepts: tuple[type, ...]
    nullable: bool
    as_is: Mapping[type, AsIs]
    """The exact types stored unchanged (see :class:`AsIs`)."""
    quantum: Decimal | None = None
    """``DECIMAL`` columns: ``10 ** -scale``; values are rounded to it."""
    context: Context | None = None
    """``DECIMAL`` columns: precision of the column, rounding half away from zero (as DuckDB casts)."""
    scale: int = 0
    """``DECIMAL`` columns: digits after the point (8 for money)."""
    units_limit: int = 0
    """``DECIMAL`` columns: :class:`Units` must be smaller than this in magnitude (``10 ** precision``)."""

    def check(self, table: str, value: Any) -> Any:
        """``value`` as it will be stored (decimals and ints as :class:`Units` rounded to the column's scale, ints as
        floats in a ``DOUBLE`` column).

        Raises:
            ValueError: wrong type (``bool`` is no ``INTEGER``), ``None`` in a ``NOT NULL`` column, a naive
                datetime, a non-finite decimal or a number too large for the column.
        """
        if value is None:
            if not self.nullable:
                raise ValueError(f"{table}.{self.name} is NOT NULL, got None")
            return None
        accepted = isinstance(value, self.accepts) and not (isinstance(value, bool) and self.sql_type == "INTEGER")
        if not accepted:
            expected = " or ".join(t.__name__ for t in self.accepts)
            got = f"{type(value).__name__} {value!r}"
            raise ValueError(f"{table}.{self.name} ({self.sql_type}) takes {expected}, got {got}")
        if self.quantum is not None:  # DECIMAL columns accept exactly Decimal and int
            if type(value) is Units:
                if -self.units_limit < value < self.units_limit:
                    return value
                raise ValueError(f"{table}.{self.name} ({self.sql_type}) cannot hold {value!r} units")
            return Units(self._decimal(table, value, self.quantum).scaleb(self.scale, _EXACT))
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(f"{table}.{self.name} takes a timezone-aware datetime, got naive {value!r}")
        if self.sql_type == "INTEGER" and not -_INT32 <= value < _INT32:
            raise ValueError(f"{table}.{self.name} ({self.sql_type}) cannot hold {value!r}")
        if self.sql_type == "DOUBLE" and not isinstance(value, float):
            try:
                return float(value)
            except OverflowError as exc:
                raise ValueError(f"{table}.{self.name} ({self.sql_type}) cannot hold {value!r}") from exc
        return value

    def takes_as_is(self, values: list[Any]) -> bool:
        """Whether every value of ``values`` (one column of a batch) is stored unchanged (see :class:`AsIs`)."""
        kinds = set(map(type, values))
        for kind in kinds:
            if kind is _NONE:
                if not self.nullable:
                    return False
                continue
            as_is = self.as_is.get(kind)
            if as_is is None:
                return False
            if as_is.many is not None and not as_is.many(values if len(kinds) == 1 else [v for v in values if type(v) is kind]):
                return False
        return True

    def arrow(self, values: Sequence[Any]) -> pa.Array:
        """Values of this column as :meth:`check` returns them (``None``: NULL) as an Arrow array of its type, built
        by :mod:`storage.arrays` (no pandas import)."""
        if self.quantum is not None:
            return _decimal_array(values, self)
        if self.sql_type == "VARCHAR":
            return arrays.strings(values)
        null = _nulls(values)
        if self.sql_type == "TIMESTAMP WITH TIME ZONE":  # microseconds since the epoch: (value - epoch) // 1 µs
            present = values if null is None else [_EPOCH if v is None else v for v in values]
            since_epoch = map(operator.sub, present, repeat(_EPOCH))
            micros = np.fromiter(map(operator.floordiv, since_epoch, repeat(_MICROSECOND)), dtype=np.int64, count=len(values))
            return arrays.fixed(micros, self.arrow_type, null=null)
        dtype = np.float64 if self.sql_type == "DOUBLE" else np.int32
        return arrays.fixed(_numbers(values, dtype, null), self.arrow_type, null=null)

    def _decimal(self, table: str, value: Decimal | int, quantum: Decimal) -> Decimal:
        number = Decimal(value)
        if not number.is_finite():
            raise ValueError(f"{table}.{self.name} ({self.sql_type}) takes a finite number, got {value!r}")
        try:
            return number.quantize(quantum, context=self.context)
        except InvalidOperation as exc:
            raise ValueError(f"{table}.{self.name} ({self.sql_type}) cannot hold {value!r}") from exc


Plan = tuple[tuple[int, Callable[[Any], bool]], ...] | None
"""For one combination of value types: the checks left, as (column index, check); ``None``: check every value."""


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
    getter: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    """A row's values in column order, unchecked."""
    plans: dict[tuple[type, ...], Plan] = field(default_factory=dict)
    """Learnt by :meth:`values`: per combination of value types, the checks left."""

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The row's values in column order, checked (see :meth:`ColumnSpec.check`).

        Raises:
            ValueError: the keys are not exactly the table's columns (minus ``recorded_at``), or a value is invalid.
        """
        if row.keys() != self.keys:
            raise self.mismatch(row)
        values = self.getter(row)
        kinds = tuple(map(type, values))
        plan = self.plans.get(kinds, _UNLEARNT)
        if plan is _UNLEARNT:
            plan = self._plan(kinds)
        if plan is not None:
            for i, check in plan:
                if not check(values[i]):
                    break
            else:
                return values
        return tuple(column.check(self.name, value) for column, value in zip(self.columns, values, strict=True))

    def bulk_values(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """:meth:`values` of every row (same results, same first error), checked column by column when every value
        is stored as is."""
        if all(map(operator.eq, map(_keys, rows), repeat(self.keys))):
            values = list(map(self.getter, rows))
            # No rows means no columns to check: the outer zip may stop early.
            if all(c.takes_as_is(list(v)) for c, v in zip(self.columns, zip(*values, strict=True), strict=False)):
                return values
        return [self.values(row) for row in rows]

    def mismatch(self, row: Mapping[str, Any]) -> ValueError:
        """The error for a row whose keys are not exactly the table's columns."""
        missing, unknown = sorted(self.keys - row.keys()), sorted(row.keys() - self.keys)
        return ValueError(f"row for {self.name!r} does not match its columns: missing {missing}, unknown {unknown}")

    def arrow(self, rows: list[tuple[Any, ...]], *, first_stamp_us: int) -> pa.Table:
        """``rows`` as an Arrow table of this table's types, ``recorded_at`` = consecutive microseconds."""
        columns = [column.arrow(values) for values, column in zip(zip(*rows, strict=True), self.columns, strict=True)]
        stamps = np.arange(first_stamp_us, first_stamp_us + len(rows), dtype=np.int64)
        columns.append(arrays.fixed(stamps, _TIMESTAMP))
        return pa.Table.from_arrays(columns, schema=self.schema)

    def _plan(self, kinds: tuple[type, ...]) -> Plan:
        """The checks left for values of ``kinds`` (remembered for up to :data:`_PLANS_PER_TABLE` combinations)."""
        checks: list[tuple[int, Callable[[Any], bool]]] = []
        plan: Plan = None
        for i, (kind, column) in enumerate(zip(kinds, self.columns, strict=True)):
            if kind is _NONE and column.nullable:
                continue
            as_is = column.as_is.get(kind)
            if as_is is None:
                break
            if as_is.one is not None:
                checks.append((i, as_is.one))
        else:
            plan = tuple(checks)
        if len(self.plans) < _PLANS_PER_TABLE:
            self.plans[kinds] = plan
        return plan


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


def _aware(value: datetime) -> bool:
    return value.tzinfo is not None


def _all_aware(values: list[datetime]) -> bool:
    return None not in map(_tzinfo, values)


def _int32(value: int) -> bool:
    return -_INT32 <= value < _INT32


def _all_int32(values: list[int]) -> bool:
    return min(values) >= -_INT32 and max(values) < _INT32


def _column(table: str, name: str, sql_type: str, nullable: bool) -> ColumnSpec:
    if sql_type == "VARCHAR":
        return ColumnSpec(name, sql_type, pa.string(), (str,), nullable, {str: AsIs()})
    if sql_type == "DOUBLE":
        return ColumnSpec(name, sql_type, pa.float64(), (float, int), nullable, {float: AsIs()})
    if sql_type == "INTEGER":
        return ColumnSpec(name, sql_type, pa.int32(), (int,), nullable, {int: AsIs(_int32, _all_int32)})
    if sql_type == "TIMESTAMP WITH TIME ZONE":
        as_is: dict[type, AsIs] = {datetime: AsIs(_aware, _all_aware)}
        return ColumnSpec(name, sql_type, pa.timestamp("us", tz="UTC"), (datetime,), nullable, as_is)
    if match := _DECIMAL_TYPE.fullmatch(sql_type):
        precision, scale = int(match[1]), int(match[2])
        units_limit = 10**precision
        # The smallest magnitude that rounds (half up) to 10 ** (precision - scale): beyond the column.
        limit = Decimal(units_limit * 10 - 5).scaleb(-scale - 1)

        def decimal_fits(value: Decimal) -> bool:
            return value.is_finite() and -limit < value < limit

        def decimals_fit(values: list[Decimal]) -> bool:
            return all(map(Decimal.is_finite, values)) and -limit < min(values) and max(values) < limit

        def units_fit(value: Units) -> bool:
            return -units_limit < value < units_limit

        def all_units_fit(values: list[Units]) -> bool:
            return -units_limit < min(values) and max(values) < units_limit

        return ColumnSpec(
            name,
            sql_type,
            pa.decimal128(precision, scale),
            (Decimal, int),
            nullable,
            {Units: AsIs(units_fit, all_units_fit), Decimal: AsIs(decimal_fits, decimals_fit)},
            quantum=Decimal(1).scaleb(-scale),
            context=Context(prec=precision, rounding=ROUND_HALF_UP),
            scale=scale,
            units_limit=units_limit,
        )
    raise ValueError(f"{table}.{name}: the Recorder has no Arrow mapping for column type {sql_type}")


def _table(name: str, columns: tuple[ColumnSpec, ...]) -> TableSpec:
    fields = [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in columns]
    fields.append(pa.field(RECORDED_AT, pa.timestamp("us", tz="UTC"), nullable=False))
    names = ", ".join(f'"{f.name}"' for f in fields)
    view = f"_recorder_batch_{name}"
    return TableSpec(
        name=name,
        columns=columns,
        keys=frozenset(c.name for c in columns),
        schema=pa.schema(fields),
        view=view,
        insert_sql=f'INSERT INTO "{name}" ({names}) SELECT {names} FROM "{view}"',
        getter=_getter(tuple(c.name for c in columns)),
    )


def _nulls(values: Sequence[Any]) -> np.ndarray | None:
    """Which of ``values`` are ``None`` (``None`` when none is)."""
    if None not in values:
        return None
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


def _numbers(values: Sequence[Any], dtype: type[np.generic], null: np.ndarray | None) -> np.ndarray:
    """``values`` (ints or floats, ``None`` where ``null``) as a numpy array of ``dtype``, 0 in the NULLs' places."""
    return np.fromiter(values if null is None else (0 if v is None else v for v in values), dtype=dtype, count=len(values))


def _decimal_array(values: Sequence[Any], column: ColumnSpec) -> pa.Array:
    """A ``decimal128`` array of ``column`` from checked values (:class:`Units`, ``Decimal`` or ``None``).

    :class:`Units` that all fit 64 bits (NULLs aside): from their machine integers (:func:`storage.arrays.decimals`),
    in one pass. Otherwise from their decimal text (a :class:`Units` ``u`` as ``"<u>E-<scale>"``), which Arrow's cast
    converts exactly; a ``Decimal`` with more places than the column is rounded half away from zero to its scale
    first."""
    null = _nulls(values)
    if set(map(type, values)) <= {Units, _NONE}:
        try:
            low = _numbers(values, np.int64, null)
        except OverflowError:  # a value beyond 64 bits
            pass
        else:
            return arrays.decimals(low, column.arrow_type, null=null)
    try:
        return pc.cast(_decimal_text(values, column.scale), column.arrow_type)
    except pa.ArrowInvalid:  # "Rescaling Decimal value would cause data loss": more places than the column
        quantum = column.quantum
        assert quantum is not None  # a DECIMAL column's
        rounded = [v.quantize(quantum, context=column.context) if isinstance(v, Decimal) else v for v in values]
        return pc.cast(_decimal_text(rounded, column.scale), column.arrow_type)


def _decimal_text(values: Sequence[Any], scale: int) -> pa.Array:
    """Decimal values (:class:`Units` of ``10 ** -scale``, ``Decimal`` or ``None``) as an Arrow ``string`` array of
    their decimal text."""
    if set(map(type, values)) == {Decimal}:  # the common case, in one C loop
        return arrays.strings(list(map(str, values)))
    return arrays.strings([None if v is None else f"{v}E-{scale}" if type(v) is Units else str(v) for v in values])


_keys = operator.methodcaller("keys")
_tzinfo = operator.attrgetter("tzinfo")


def _getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:
        get = operator.itemgetter(names[0])
        return lambda row: (get(row),)
    return operator.itemgetter(*names)
