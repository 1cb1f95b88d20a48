"""``dashboard.reads.SharedReads`` on a real DuckDB database: one computation per tick per query for every caller."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TypeVar

import duckdb
import pandas as pd
import pytest

from dashboard.reads import SharedReads, tick_now

T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def database() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE equity (ts INTEGER, equity DOUBLE)")
    con.execute("INSERT INTO equity VALUES (1, 100.0), (2, 101.0)")
    yield con
    con.close()


class Version:
    def __init__(self) -> None:
        self.flushes = 0

    def __call__(self) -> int:
        return self.flushes


def _reads(database: duckdb.DuckDBPyConnection, clock: Clock, version: Version, **kwargs: int) -> SharedReads:
    def cursor() -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return database.cursor()

    return SharedReads(cursor, version, clock=clock, **kwargs)


def curve(cur: duckdb.DuckDBPyConnection, *, since: int = 0) -> pd.DataFrame:
    return cur.execute("SELECT * FROM equity WHERE ts >= ? ORDER BY ts", [since]).df()


def latest(cur: duckdb.DuckDBPyConnection) -> dict[str, float]:
    row = cur.execute("SELECT max(equity) FROM equity").fetchone()
    assert row is not None
    return {"equity": row[0]}


def test_concurrent_sessions_of_one_tick_share_one_computation(database: duckdb.DuckDBPyConnection) -> None:
    """Twenty threads asking at once, however they interleave, run the query once and all get its rows."""
    reads = _reads(database, Clock(), Version())
    results = _at_once(20, lambda: reads.read(curve))
    assert reads.computations == 1
    assert len(results) == 20 and all(frame["equity"].tolist() == [100.0, 101.0] for frame in results)


def test_a_result_is_recomputed_once_the_tick_is_over_and_rows_were_committed(database: duckdb.DuckDBPyConnection) -> None:
    clock, version = Clock(), Version()
    reads = _reads(database, clock, version)
    assert len(reads.read(curve)) == 2
    database.execute("INSERT INTO equity VALUES (3, 99.0)")
    version.flushes += 1
    clock.now += 0.25
    assert len(reads.read(curve)) == 2, "within the tick every session gets the same result"
    clock.now += 0.25
    assert len(reads.read(curve)) == 3
    assert reads.computations == 2


def test_without_new_rows_a_result_lives_on_after_its_tick_up_to_max_age(database: duckdb.DuckDBPyConnection) -> None:
    clock = Clock()
    reads = _reads(database, clock, Version())
    reads.read(latest)
    clock.now += 29.9
    assert reads.read(latest) == {"equity": 101.0}
    assert reads.computations == 1
    clock.now += 0.1
    reads.read(latest)
    assert reads.computations == 2


def test_each_set_of_arguments_is_its_own_result(database: duckdb.DuckDBPyConnection) -> None:
    reads = _reads(database, Clock(), Version())
    assert len(reads.read(curve, since=2)) == 1
    assert len(reads.read(curve, since=0)) == 2
    assert len(reads.read(curve, since=2)) == 1
    assert reads.computations == 2


def test_list_arguments_are_keys_and_unhashable_ones_are_refused(database: duckdb.DuckDBPyConnection) -> None:
    reads = _reads(database, Clock(), Version())

    def by_symbols(cur: duckdb.DuckDBPyConnection, *, symbols: list[str]) -> int:
        return len(symbols)

    assert reads.read(by_symbols, symbols=["BTCUSDT", "ETHUSDT"]) == 2
    assert reads.read(by_symbols, symbols=["BTCUSDT", "ETHUSDT"]) == 2
    assert reads.computations == 1
    with pytest.raises(TypeError):
        reads.read(by_symbols, symbols=[bytearray(b"x")])  # type: ignore[list-item]


def test_every_caller_gets_its_own_copy(database: duckdb.DuckDBPyConnection) -> None:
    reads = _reads(database, Clock(), Version())
    mine = reads.read(curve)
    mine.loc[0, "equity"] = -1.0
    mine["extra"] = 1
    theirs = reads.read(curve)
    assert theirs["equity"].tolist() == [100.0, 101.0] and "extra" not in theirs
    latest_mine = reads.read(latest)
    latest_mine["equity"] = 0.0
    assert reads.read(latest) == {"equity": 101.0}


def test_the_least_recently_used_result_is_dropped_beyond_max_entries(database: duckdb.DuckDBPyConnection) -> None:
    reads = _reads(database, Clock(), Version(), max_entries=2)
    reads.read(curve, since=0)
    reads.read(curve, since=1)
    reads.read(curve, since=0)  # most recent now
    reads.read(curve, since=2)  # drops since=1
    assert reads.computations == 3
    reads.read(curve, since=0)
    assert reads.computations == 3
    reads.read(curve, since=1)
    assert reads.computations == 4


def test_a_failing_query_is_not_stored_and_the_next_caller_tries_again(database: duckdb.DuckDBPyConnection) -> None:
    reads = _reads(database, Clock(), Version())
    attempts = []

    def flaky(cur: duckdb.DuckDBPyConnection) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            cur.execute("SELECT * FROM no_such_table")
        return len(attempts)

    with pytest.raises(duckdb.CatalogException):
        reads.read(flaky)
    assert reads.read(flaky) == 2
    assert reads.read(flaky) == 2


def summary(reads: SharedReads, *, scale: float = 1.0) -> dict[str, float]:
    """A value made of two reads, as a chart is made of its queries."""
    points, top = reads.read(curve), reads.read(latest)
    return {"points": len(points), "top": top["equity"] * scale}


def report(reads: SharedReads) -> str:
    """A value made of another shared value."""
    return f"{reads.shared(summary, reads)['points']} points"


def test_a_shared_value_is_built_once_per_tick_from_the_shared_reads_and_not_copied(
    database: duckdb.DuckDBPyConnection,
) -> None:
    clock, version = Clock(), Version()
    reads = _reads(database, clock, version)
    first = reads.shared(summary, reads)
    assert first == {"points": 2, "top": 101.0}
    assert reads.shared(summary, reads) is first, "not copied: a figure costs as much to copy as to build"
    assert reads.read(curve)["equity"].tolist() == [100.0, 101.0]
    assert reads.computations == 3, "two queries and one build: the reads are the ones every caller shares"
    database.execute("INSERT INTO equity VALUES (3, 105.0)")
    version.flushes += 1
    clock.now += 0.25
    assert reads.shared(summary, reads) is first, "within the tick"
    clock.now += 0.25
    assert reads.shared(summary, reads) == {"points": 3, "top": 105.0}
    assert reads.computations == 6


def test_a_shared_value_lives_on_without_new_rows_up_to_max_age(database: duckdb.DuckDBPyConnection) -> None:
    clock = Clock()
    reads = _reads(database, clock, Version())
    first = reads.shared(summary, reads)
    clock.now += 29.9
    assert reads.shared(summary, reads) is first
    clock.now += 0.1
    assert reads.shared(summary, reads) is not first


def test_shared_values_may_be_built_of_shared_values(database: duckdb.DuckDBPyConnection) -> None:
    reads = _reads(database, Clock(), Version())
    assert reads.shared(report, reads) == "2 points"
    assert reads.shared(summary, reads) == {"points": 2, "top": 101.0}
    assert reads.computations == 4, "report, summary and its two queries, each once"


class Unhashable:
    __hash__ = None  # type: ignore[assignment]

    def __call__(self, reads: SharedReads) -> int:
        return 0


def test_equal_arguments_are_one_shared_value_and_unhashable_ones_are_refused(database: duckdb.DuckDBPyConnection) -> None:
    reads = _reads(database, Clock(), Version())
    doubled = reads.shared(summary, reads, scale=2.0)
    assert reads.shared(summary, reads, scale=2.0) is doubled
    assert reads.shared(summary, reads, scale=3.0) == {"points": 2, "top": 303.0}
    with pytest.raises(TypeError):
        reads.shared(summary, reads, scale=bytearray(b"2"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        reads.shared(Unhashable(), reads)


def test_concurrent_sessions_of_one_tick_share_one_build(database: duckdb.DuckDBPyConnection) -> None:
    """Twenty threads asking at once for a value made of two reads: one build, two queries, one object for all."""
    reads = _reads(database, Clock(), Version())
    results = _at_once(20, lambda: reads.shared(summary, reads))
    assert reads.computations == 3
    assert len(results) == 20 and all(result is results[0] for result in results)


def test_a_failing_build_is_not_stored_and_the_next_caller_tries_again(database: duckdb.DuckDBPyConnection) -> None:
    reads = _reads(database, Clock(), Version())
    attempts: list[int] = []

    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first build fails")
        return len(attempts)

    with pytest.raises(RuntimeError):
        reads.shared(flaky)
    assert reads.shared(flaky) == 2
    assert reads.shared(flaky) == 2


def test_tick_now_is_the_same_for_every_session_within_a_tick() -> None:
    assert tick_now(clock=lambda: 1_700_000_000.5) == tick_now(clock=lambda: 1_700_000_000.99)
    assert tick_now(clock=lambda: 1_700_000_000.49) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert tick_now(clock=lambda: 1_700_000_000.5) > tick_now(clock=lambda: 1_700_000_000.49)


def _at_once(sessions: int, ask: Callable[[], T]) -> list[T]:
    """``ask()`` from ``sessions`` threads released together (a barrier): what each got."""
    results: list[T] = []
    start = threading.Barrier(sessions)

    def session() -> None:
        start.wait()
        results.append(ask())

    threads = [threading.Thread(target=session) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
