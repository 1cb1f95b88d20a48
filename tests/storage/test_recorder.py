"""Recorder: validated rows, one transaction per flush, nothing lost when the database fails."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.columns import Units, history_tables
from storage.errors import FlushError, StoreClosedError
from storage.recorder import Recorder
from storage.store import Store

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
WAIT_S = 5.0
"""Upper bound on waiting for the background thread; the tests normally wait a few milliseconds."""


@pytest.fixture
def recorder(store: Store) -> Iterator[Recorder]:
    """A Recorder without background thread (tests flush by hand), wall clock frozen at :data:`NOW`."""
    rec = Recorder(store, clock=lambda: NOW)
    yield rec
    rec.stop()


def _count(store: Store, table: str) -> int:
    [(count,)] = store.cursor().sql(f"SELECT count(*) FROM {table}").fetchall()
    return count


def _wait_until(condition) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the background flusher did not write in time"
        time.sleep(0.002)


def test_rows_land_exactly_with_decimals_unchanged(store, recorder, rows) -> None:
    big = Decimal("123456789012345678901234567890.12345678")
    recorder.record("fills", rows.fill(1, price=Decimal("0.12345678"), quote_qty=big))
    recorder.record("equity", rows.equity(1, equity=Decimal("10123.456789")))
    recorder.record("positions", rows.position(1, stop_price=None, target_price=None))

    assert recorder.flush() == 3

    cur = store.cursor()
    [(price, quote_qty, fee, ts)] = cur.sql("SELECT price, quote_qty, fee, epoch_ms(ts) FROM fills").fetchall()
    assert (price, quote_qty, fee) == (Decimal("0.12345678"), big, Decimal("5.18518601"))
    assert ts == int(rows.at(1).timestamp() * 1000)
    assert cur.sql("SELECT equity FROM equity").fetchall() == [(Decimal("10123.45678900"),)]
    assert cur.sql("SELECT stop_price, target_price FROM positions").fetchall() == [(None, None)]


def test_decimals_are_rounded_to_the_column_scale_like_duckdb_casts(store, recorder, rows) -> None:
    raw = ["0.123456785", "-0.123456785", "2.000000004"]
    for i, value in enumerate(raw):
        recorder.record("fills", rows.fill(i, fee=Decimal(value)))
    recorder.flush()

    cur = store.cursor()
    stored = [fee for (fee,) in cur.sql("SELECT fee FROM fills ORDER BY recorded_at").fetchall()]
    cast = [v for (v,) in cur.sql(" UNION ALL ".join(f"SELECT '{v}'::DECIMAL(38, 8)" for v in raw)).fetchall()]
    assert stored == cast == [Decimal("0.12345679"), Decimal("-0.12345679"), Decimal("2.00000000")]


def test_recorded_at_comes_from_the_clock_and_is_unique_and_increasing_in_record_order(store, recorder, rows) -> None:
    for minute in (3, 1, 2):
        recorder.record("equity", rows.equity(minute))
    recorder.flush()
    recorder.record("equity", rows.equity(0))
    recorder.flush()  # the clock has not moved: the stamps still increase

    stamped = store.cursor().sql("SELECT ts, recorded_at FROM equity ORDER BY recorded_at").to_arrow_table()
    assert stamped["ts"].to_pylist() == [rows.at(m) for m in (3, 1, 2, 0)]
    assert stamped["recorded_at"].to_pylist() == [NOW + timedelta(microseconds=i) for i in range(4)]


def test_recorded_at_keeps_increasing_across_restarts_even_if_the_clock_went_back(store, rows) -> None:
    """A new Recorder's first stamp follows the latest in the file: a rollup's ``max_recorded_at`` then always
    separates summarised rows from later ones."""
    first = Recorder(store, clock=lambda: NOW)
    first.record("equity", rows.equity(0))
    first.record("commands", rows.command(0))
    first.stop()

    second = Recorder(store, clock=lambda: NOW - timedelta(hours=1))
    second.record("equity", rows.equity(1))
    second.stop()

    stamps = [at for (at,) in store.cursor().sql("SELECT recorded_at FROM equity ORDER BY ts").fetchall()]
    assert stamps == [NOW, NOW + timedelta(microseconds=1)]


def test_a_failed_flush_commits_nothing_keeps_the_rows_and_the_next_flush_writes_them(store, recorder, rows) -> None:
    for minute in range(3):
        recorder.record("candles", rows.candle(minute))
        recorder.record("equity", rows.equity(minute))
    admin = store.cursor()
    admin.execute("ALTER TABLE equity RENAME TO equity_away")

    with pytest.raises(FlushError) as info:
        recorder.flush()

    assert info.value.rows == 6
    assert _count(store, "candles") == 0, "the candles of the failed flush were committed"
    status = recorder.status()
    assert (status.buffered_rows, status.failed_flushes, status.rows_written) == (6, 1, 0)
    assert "equity" in status.last_error

    recorder.record("candles", rows.candle(3))
    admin.execute("ALTER TABLE equity_away RENAME TO equity")
    assert recorder.flush() == 7
    opened = store.cursor().sql("SELECT epoch_ms(open_time) FROM candles ORDER BY recorded_at").fetchall()
    assert [ms for (ms,) in opened] == [int(rows.at(m).timestamp() * 1000) for m in range(4)]
    assert _count(store, "equity") == 3
    assert recorder.status().last_error is None


@pytest.mark.parametrize(
    ("table", "change", "message"),
    [
        ("equity_snapshots", {}, "unknown table"),
        ("equity", {"equty": 1.0}, "unknown ['equty']"),
        ("equity", {"recorded_at": NOW}, "unknown ['recorded_at']"),
        ("fills", {"price": 42_000.01}, "takes Decimal or int, got float"),
        ("equity", {"equity": 10_000.0}, "takes Decimal or int, got float"),  # money is DECIMAL since schema v4
        ("equity", {"drawdown_pct": Decimal("1")}, "takes float or int, got Decimal"),
        ("fills", {"symbol": None}, "NOT NULL"),
        ("fills", {"ts": datetime(2024, 1, 1)}, "naive"),
        ("fills", {"fee": Decimal("NaN")}, "finite"),
        ("fills", {"fee": Decimal("1E+31")}, "cannot hold"),
        ("commands", {"detail": 3}, "takes str"),
    ],
)
def test_invalid_rows_raise_value_error_at_once(recorder, rows, table, change, message) -> None:
    valid = {"equity": rows.equity(), "fills": rows.fill(), "commands": rows.command()}
    with pytest.raises(ValueError, match=re.escape(message)):
        recorder.record(table, valid.get(table, rows.equity()) | change)
    assert recorder.status().buffered_rows == 0


@pytest.mark.parametrize(
    ("table", "change", "message"),
    [
        ("equity", {"equty": 1.0}, "unknown ['equty']"),
        ("fills", {"price": 42_000.01}, "takes Decimal or int, got float"),
        ("equity", {"equity": 10_000.0}, "takes Decimal or int, got float"),  # money is DECIMAL since schema v4
        ("equity", {"drawdown_pct": Decimal("1")}, "takes float or int, got Decimal"),
        ("fills", {"symbol": None}, "NOT NULL"),
        ("fills", {"ts": datetime(2024, 1, 1)}, "naive"),
        ("commands", {"detail": 3}, "takes str"),
    ],
)
def test_record_many_refuses_a_batch_with_one_bad_row_and_buffers_none(recorder, rows, table, change, message) -> None:
    """The bulk path of the replay: the same errors as ``record``, all or nothing."""
    make = {"equity": rows.equity, "fills": rows.fill, "commands": rows.command}[table]
    batch = [make(0), make(1) | change, make(2)] if table != "commands" else [make(), make() | change]
    with pytest.raises(ValueError, match=re.escape(message)):
        recorder.record_many(table, batch)
    assert recorder.status().buffered_rows == 0


def test_record_many_writes_the_same_rows_as_record(store, rows) -> None:
    one, many = Recorder(store), Recorder(store)
    batch = [rows.equity(m, equity=Decimal("10000.123456789") + m) for m in range(5)] + [rows.equity(5, equity=10_005)]  # an int too
    for row in batch:
        one.record("equity", row)
    one.flush()
    first = store.cursor().sql("SELECT epoch_ms(ts), * EXCLUDE (recorded_at, ts) FROM equity ORDER BY recorded_at").fetchall()
    store.cursor().execute("DELETE FROM equity")
    many.record_many("equity", batch)
    many.flush()
    assert store.cursor().sql("SELECT epoch_ms(ts), * EXCLUDE (recorded_at, ts) FROM equity ORDER BY recorded_at").fetchall() == first


MONEY = ("equity", "cash", "positions_value", "realised_pnl", "unrealised_pnl", "peak_equity", "day_start_equity")
"""The ``DECIMAL(38, 8)`` columns of ``equity``."""


def _in_units(row: dict, **values: int) -> dict:
    """``row`` with every money column as :class:`Units` (10⁻⁸ of the quote asset), as the engine records equity."""
    return row | {name: Units(int(row[name].scaleb(8))) for name in MONEY} | {k: Units(v) for k, v in values.items()}


UNITS = [
    Units(1_012_345_678_912),  # 10123.45678912
    Units(-123_456_789),  # -1.23456789: the high word of a negative is all ones
    Units(2**63 - 1),  # the largest that fits 64 bits
    Units(-(2**63 - 1)),
    Units(2**64 + 1),  # beyond 64 bits
    Units(-(2**70) - 3),
    Units(-(10**28 - 1)),  # 28 digits
]


def _decimal(units: int) -> Decimal:
    """What ``units`` stand for, exactly (a string is converted without a context's precision)."""
    return Decimal(f"{units}E-8")


@pytest.mark.parametrize("bulk", [False, True], ids=["record", "record_many"])
def test_units_pass_unchanged_and_land_exactly(store, rows, bulk) -> None:
    """:class:`Units` are whole units of the column's last place: checked as they are, never converted, and
    stored exactly, whether every value of a column fits 64 bits or not, negative or not."""
    table = history_tables(store.cursor())["equity"]
    row = _in_units(rows.equity(0), equity=UNITS[0], realised_pnl=UNITS[1])
    checked = table.values(row)
    for name in MONEY:
        assert checked[[c.name for c in table.columns].index(name)] is row[name]  # the same object, no conversion

    small = [_in_units(rows.equity(m), equity=u, unrealised_pnl=-u) for m, u in enumerate(UNITS[:4])]  # 64-bit columns
    large = [_in_units(rows.equity(10 + m), equity=u, unrealised_pnl=-u) for m, u in enumerate(UNITS)]  # some beyond
    recorder = Recorder(store, clock=lambda: NOW)
    for batch in (small, large):
        if bulk:
            recorder.record_many("equity", batch)
        else:
            for one in batch:
                recorder.record("equity", one)
        recorder.flush()

    stored = store.cursor().sql("SELECT equity, unrealised_pnl, cash FROM equity ORDER BY recorded_at").fetchall()
    expected = [_decimal(u) for u in UNITS[:4] + UNITS]
    assert stored == [(e, -e, Decimal("10000")) for e in expected]
    assert stored[4][0] == Decimal("10123.45678912") and stored[5][0] == Decimal("-1.23456789")
    assert stored[8][0] == Decimal("184467440737.09551617")  # 2**64 + 1 units


def test_units_of_38_digits_land_exactly(store, recorder, rows) -> None:
    """DECIMAL(38, 8) holds 38 digits; Units of that size go through Python decimals and must not be rounded."""
    big = Units(12_345_678_901_234_567_890_123_456_789_012_345_678)
    recorder.record("equity", _in_units(rows.equity(0), equity=big))
    recorder.flush()

    assert store.cursor().sql("SELECT equity FROM equity").fetchall() == [(Decimal("123456789012345678901234567890.12345678"),)]


def test_units_and_nulls_in_one_column_land_exactly(store, recorder, rows) -> None:
    """A nullable ``DECIMAL`` column (``positions.trail_high``) mixing :class:`Units`, ``Decimal`` and ``None``."""
    values = [Units(3_050_012_345_678), None, Decimal("30500.12345678"), Units(-(2**65))]
    for minute, value in enumerate(values):
        recorder.record("positions", rows.position(minute, trail_high=value))
    recorder.flush()

    stored = [v for (v,) in store.cursor().sql("SELECT trail_high FROM positions ORDER BY recorded_at").fetchall()]
    assert stored == [Decimal("30500.12345678"), None, Decimal("30500.12345678"), _decimal(-(2**65))]


_MONEY_VALUES = st.one_of(
    st.none(),
    st.builds(Units, st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1)),
    st.builds(int, st.integers(min_value=-(10**29) + 1, max_value=10**29 - 1)),
    st.builds(  # any number of places, up to 38 significant digits, within the column once rounded
        lambda coefficient, exponent: Decimal(coefficient).scaleb(exponent),
        st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1),
        st.integers(min_value=-45, max_value=-9),
    ),
    st.builds(lambda cents: Decimal(cents).scaleb(-2), st.integers(min_value=-(10**31) + 1, max_value=10**31 - 1)),
    st.builds(lambda units: Decimal(10 * units + 5).scaleb(-9), st.integers(min_value=-(10**20), max_value=10**20)),  # ties
)


def _expected(value: Decimal | int | None) -> Decimal | None:
    """What a ``DECIMAL(38, 8)`` column must hold: :class:`Units` as 10⁻⁸ units, anything else rounded half away
    from zero to 8 places (computed without a precision limit)."""
    if value is None:
        return None
    if type(value) is Units:
        return Decimal(value).scaleb(-8, Context(prec=100))
    return Decimal(value).quantize(Decimal("1E-8"), rounding=ROUND_HALF_UP, context=Context(prec=100))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_MONEY_VALUES, min_size=1, max_size=12), bulk=st.booleans())
def test_any_money_value_lands_as_units_or_rounded_half_away_from_zero(store, recorder, rows, values, bulk) -> None:
    """Whatever mixes a nullable ``DECIMAL`` column gets (Units, ints, decimals of any places, NULLs), by ``record``
    or ``record_many``: each value as :func:`_expected` says, the same as :meth:`ColumnSpec.check` would give."""
    cur = store.cursor()
    cur.execute("DELETE FROM positions")
    batch = [rows.position(minute, trail_high=value) for minute, value in enumerate(values)]
    if bulk:
        recorder.record_many("positions", batch)
    else:
        for row in batch:
            recorder.record("positions", row)
    recorder.flush()

    stored = [v for (v,) in cur.sql("SELECT trail_high FROM positions ORDER BY recorded_at").fetchall()]
    assert stored == [_expected(v) for v in values]


def test_a_missing_column_raises_value_error_naming_it(recorder, rows) -> None:
    row = rows.equity()
    del row["cash"]
    with pytest.raises(ValueError, match=r"missing \['cash'\]"):
        recorder.record("equity", row)


def test_the_buffer_is_bounded_and_refuses_rows_loudly(store, rows) -> None:
    recorder = Recorder(store, max_buffered_rows=3)
    for minute in range(3):
        recorder.record("equity", rows.equity(minute))

    with pytest.raises(FlushError) as info:
        recorder.record("equity", rows.equity(3))
    assert info.value.rows == 3 and recorder.status().buffer_used == 1.0

    recorder.flush()
    recorder.record("equity", rows.equity(3))
    recorder.stop()
    assert _count(store, "equity") == 4


def test_the_background_thread_flushes_every_interval(store, rows) -> None:
    with Recorder(store, flush_interval_ms=10) as recorder:
        assert recorder.status().running
        recorder.record("equity", rows.equity(0))
        _wait_until(lambda: recorder.status().rows_written == 1)
        recorder.record("equity", rows.equity(1))
        _wait_until(lambda: recorder.status().rows_written == 2)
        assert recorder.status().flushes == 2
    assert _count(store, "equity") == 2


def test_the_background_thread_survives_a_failing_database(store, rows, caplog) -> None:
    admin = store.cursor()
    with Recorder(store, flush_interval_ms=5) as recorder:
        admin.execute("ALTER TABLE equity RENAME TO equity_away")
        recorder.record("equity", rows.equity(0))
        _wait_until(lambda: recorder.status().failed_flushes >= 2)
        assert recorder.status().running
        admin.execute("ALTER TABLE equity_away RENAME TO equity")
        _wait_until(lambda: recorder.status().rows_written == 1)
    assert "1 rows kept" in caplog.text


def test_stop_flushes_the_rest_and_later_records_raise(store, rows) -> None:
    recorder = Recorder(store, flush_interval_ms=60_000).start()
    recorder.record("commands", rows.command())

    recorder.stop()
    recorder.stop()

    assert _count(store, "commands") == 1
    assert not recorder.status().running
    with pytest.raises(StoreClosedError):
        recorder.record("commands", rows.command())
    with pytest.raises(StoreClosedError):
        recorder.start()


def test_concurrent_writers_lose_nothing_and_keep_their_order(store, rows) -> None:
    per_thread, threads = 2_000, 4

    def write(symbol: str) -> None:
        for minute in range(per_thread):
            recorder.record("candles", rows.candle(minute, symbol=symbol))
            if minute % 500 == 0:
                recorder.flush()

    with Recorder(store, flush_interval_ms=2) as recorder:
        workers = [threading.Thread(target=write, args=(f"S{i}",)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    per_symbol = store.cursor().sql(
        "SELECT symbol, count(*), bool_and(in_order) FROM ("
        "  SELECT symbol, open_time >= lag(open_time, 1, open_time) OVER (PARTITION BY symbol ORDER BY recorded_at)"
        "  AS in_order FROM candles) GROUP BY symbol"
    ).fetchall()
    assert sorted(per_symbol) == [(f"S{i}", per_thread, True) for i in range(threads)]


def test_a_read_only_store_is_refused(store) -> None:
    path = store.path
    store.close()
    with Store(path, read_only=True) as reader, pytest.raises(ValueError, match="read-write"):
        Recorder(reader)


def test_rows_recorded_in_an_atomic_block_land_in_one_flush(store, rows) -> None:
    """A flush started inside :meth:`Recorder.atomic` waits for the block: the equity row and the breaker event of one
    engine step are written together or not at all. (Without the block the flush would take the first row alone: it
    would stamp it, which the clock below reports, well within the 0.2 s given to it.)"""
    stamping = threading.Event()

    def clock() -> datetime:
        stamping.set()
        return NOW

    recorder = Recorder(store, clock=clock)
    written: list[int] = []
    with recorder.atomic():
        recorder.record("equity", rows.equity(0))
        flusher = threading.Thread(target=lambda: written.append(recorder.flush()))
        flusher.start()
        assert not stamping.wait(0.2), "a flush ran inside the atomic block"
        recorder.record("equity", rows.equity(1))
    flusher.join(timeout=30)

    assert written == [2]
