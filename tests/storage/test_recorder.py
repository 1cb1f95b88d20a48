"""Recorder: validated rows, one transaction per flush, nothing lost when the database fails."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

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
    recorder.record("equity", rows.equity(1, equity=10_123.456789))
    recorder.record("positions", rows.position(1, stop_price=None, target_price=None))

    assert recorder.flush() == 3

    cur = store.cursor()
    [(price, quote_qty, fee, ts)] = cur.sql("SELECT price, quote_qty, fee, epoch_ms(ts) FROM fills").fetchall()
    assert (price, quote_qty, fee) == (Decimal("0.12345678"), big, Decimal("5.18518601"))
    assert ts == int(rows.at(1).timestamp() * 1000)
    assert cur.sql("SELECT equity FROM equity").fetchall() == [(10_123.456789,)]
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
        ("equity", {"equity": Decimal("1")}, "takes float or int, got Decimal"),
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
        ("equity", {"equity": Decimal("1")}, "takes float or int, got Decimal"),
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
    batch = [rows.equity(m, equity=10_000.0 + m) for m in range(5)] + [rows.equity(5, equity=10_005)]  # an int too
    for row in batch:
        one.record("equity", row)
    one.flush()
    first = store.cursor().sql("SELECT epoch_ms(ts), * EXCLUDE (recorded_at, ts) FROM equity ORDER BY recorded_at").fetchall()
    store.cursor().execute("DELETE FROM equity")
    many.record_many("equity", batch)
    many.flush()
    assert store.cursor().sql("SELECT epoch_ms(ts), * EXCLUDE (recorded_at, ts) FROM equity ORDER BY recorded_at").fetchall() == first


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
