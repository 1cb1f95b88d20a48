"""Store: one DuckDB file, migrated on open, one read-write process at a time."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from storage.errors import (
    NotAPapertraderDatabase,
    SchemaVersionError,
    StoreClosedError,
    StoreError,
    StoreLockedError,
)
from storage.schema import MIGRATIONS, SCHEMA_VERSION
from storage.store import MEMORY, Store

TABLES = {
    "candles", "equity", "orders", "fills", "trades", "positions", "commands", "schema_version",
    "breaker_events", "risk_denials", "api_calls", "rate_limit_samples", "ws_events", "gaps",
    "equity_rollup", "candle_rollup",
}

_HOLD_FILE = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
"""


def _tables(cur: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in cur.sql("SELECT table_name FROM information_schema.tables").fetchall()}


def test_a_new_file_is_created_and_migrated_to_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "papertrader.duckdb"
    with Store(path) as store:
        assert path.exists()
        assert store.schema_version == SCHEMA_VERSION
        cur = store.cursor()
        assert _tables(cur) == TABLES
        versions = cur.sql("SELECT max(version), count(*) FROM schema_version").fetchall()
        assert versions == [(SCHEMA_VERSION, SCHEMA_VERSION)]


def test_reopening_keeps_the_data_and_does_not_migrate_again(store: Store) -> None:
    path = store.path
    store.cursor().execute(
        "INSERT INTO commands (ts, command, actor, reason, result, detail, recorded_at) "
        "VALUES (now(), 'PAUSE', 'test', 'r', 'OK', 'd', now())"
    )
    store.close()
    with Store(path) as again:
        cur = again.cursor()
        assert cur.sql("SELECT count(*) FROM commands").fetchall() == [(1,)]
        assert cur.sql("SELECT count(*) FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_read_only_open_reads_but_cannot_write(store: Store) -> None:
    path = store.path
    store.close()
    with Store(path, read_only=True) as reader:
        assert reader.read_only and reader.schema_version == SCHEMA_VERSION
        cur = reader.cursor()
        assert cur.sql("SELECT count(*) FROM equity").fetchall() == [(0,)]
        with pytest.raises(duckdb.Error):
            cur.execute("DELETE FROM equity")


def test_read_only_open_of_a_missing_file_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Store(tmp_path / "missing.duckdb", read_only=True)


def test_a_file_from_a_newer_papertrader_is_refused(store: Store) -> None:
    path = store.path
    store.cursor().execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
    store.close()
    with pytest.raises(SchemaVersionError) as info:
        Store(path)
    assert (info.value.found, info.value.supported) == (SCHEMA_VERSION + 1, SCHEMA_VERSION)


def test_a_file_held_by_another_process_raises_store_locked_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD_FILE, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "holding"
            for read_only in (False, True):
                with pytest.raises(StoreLockedError) as info:
                    Store(path, read_only=read_only)
                assert info.value.holder_pid == holder.pid
                assert info.value.path == path
        finally:
            holder.stdin.close()  # the holder exits at end of input


def test_cursors_use_the_utc_session_time_zone(store: Store) -> None:
    assert store.cursor().sql("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]


def test_duckdb_worker_threads_default_to_one_per_core_or_are_set(tmp_path: Path) -> None:
    threads = "SELECT current_setting('threads')"
    with duckdb.connect() as plain, Store(tmp_path / "default.duckdb") as default:
        assert default.cursor().sql(threads).fetchall() == plain.sql(threads).fetchall()
    with Store(tmp_path / "one.duckdb", threads=1) as one:
        assert one.cursor().sql(threads).fetchall() == [(1,)]


def test_a_closed_store_refuses_cursors_and_closing_again_is_harmless(store: Store) -> None:
    store.close()
    store.close()
    assert store.closed
    with pytest.raises(StoreClosedError):
        store.cursor()


def test_an_in_memory_store_cannot_be_read_only() -> None:
    with pytest.raises(ValueError, match="in-memory database cannot be opened read-only"):
        Store(MEMORY, read_only=True)


def test_a_version_1_file_is_migrated_forward_keeping_its_rows(tmp_path: Path) -> None:
    """A database written before the guard tables existed gains them on open; its history stays."""
    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.execute("INSERT INTO commands VALUES (now(), 'PAUSE', 'test', 'r', 'OK', 'd', now())")
    con.close()

    with Store(path) as store:
        cur = store.cursor()
        assert store.schema_version == SCHEMA_VERSION == 5
        assert _tables(cur) == TABLES
        assert cur.sql("SELECT command FROM commands").fetchall() == [("PAUSE",)]


def test_version_4_makes_the_equity_and_breaker_amounts_exact_keeping_their_rows(tmp_path: Path) -> None:
    """A version-3 file's DOUBLE amounts become DECIMAL(38, 8), rounded to the 8th place; the added columns are NULL."""
    path = tmp_path / "v3.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
    for version, migration in enumerate(MIGRATIONS[:3], start=1):
        con.execute(migration)
        con.execute("INSERT INTO schema_version VALUES (?, now())", [version])
    con.execute(
        "INSERT INTO equity (ts, equity, cash, positions_value, realised_pnl, unrealised_pnl, peak_equity, drawdown_pct, "
        "day_start_equity, daily_pnl_pct, recorded_at, symbol, source) "
        "VALUES (now(), 10123.45678912, 6997.1, 3126.35678912, -2.9, 123.35678912, 10300.5, 1.7, 10000.0, 1.2, now(), 'BTCUSDT', 'candle')"
    )
    con.execute(
        "INSERT INTO breaker_events (ts, kind, state_from, state_to, equity, daily_loss_pct, drawdown_pct, reason, actor, recorded_at) "
        "VALUES (now(), 'BreakerTripped', 'ACTIVE', 'TRIPPED', 9499.99, 5.0, 7.8, 'test', 'engine', now())"
    )
    con.close()

    with Store(path) as store:
        cur = store.cursor()
        assert store.schema_version == SCHEMA_VERSION
        equity = cur.sql(
            "SELECT equity, cash, positions_value, realised_pnl, unrealised_pnl, peak_equity, day_start_equity, "
            "drawdown_pct, candle_open_time FROM equity"
        ).fetchall()
        assert equity == [
            (
                Decimal("10123.45678912"), Decimal("6997.1"), Decimal("3126.35678912"), Decimal("-2.9"),
                Decimal("123.35678912"), Decimal("10300.5"), Decimal("10000"), 1.7, None,
            )
        ]
        breaker = cur.sql("SELECT equity, day_start_equity, peak_equity, drawdown_pct FROM breaker_events").fetchall()
        assert breaker == [(Decimal("9499.99"), None, None, 7.8)]
        types = dict(cur.sql("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'equity'").fetchall())
        assert types["equity"] == types["peak_equity"] == types["day_start_equity"] == "DECIMAL(38,8)"


# ---------------------------------------------------------------------------------------------------- not papertrader's
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _foreign_schema_version(path: Path) -> None:
    """Another program's migration table happens to be called ``schema_version``."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE schema_version (installed_rank INTEGER, version VARCHAR, script VARCHAR)")
        con.execute("INSERT INTO schema_version VALUES (1, '1', 'V1__init.sql')")


@pytest.fixture(params=["common", "foreign-schema-version"])
def not_ours(request: pytest.FixtureRequest, not_papertrader: tuple[Callable[[Path], None], str]) -> tuple[Callable[[Path], None], str]:
    """Every kind of the shared ``not_papertrader`` fixture, plus another program's ``schema_version`` table."""
    if request.param == "common":
        return not_papertrader
    return _foreign_schema_version, "its schema_version table is not papertrader's"


@pytest.mark.parametrize("read_only", [False, True], ids=["read-write", "read-only"])
def test_a_file_that_is_not_a_papertrader_database_is_refused_and_left_unchanged(
    tmp_path: Path, not_ours: tuple[Callable[[Path], None], str], read_only: bool
) -> None:
    make, reason = not_ours
    path = tmp_path / "x.duckdb"
    make(path)
    before, files = _digest(path), sorted(tmp_path.iterdir())

    with pytest.raises(NotAPapertraderDatabase) as info:
        Store(path, read_only=read_only)

    assert str(info.value) == (
        f"{path} is not a papertrader database ({reason}); move it away or choose another storage.path"
    )
    assert (info.value.path, info.value.reason) == (path, reason)
    assert isinstance(info.value, StoreError)
    assert _digest(path) == before  # byte-for-byte
    assert sorted(tmp_path.iterdir()) == files  # no write-ahead log or other file left behind


def test_a_papertrader_file_missing_tables_of_its_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
        con.execute("INSERT INTO schema_version VALUES (1, now())")
        con.execute("CREATE TABLE candles (symbol VARCHAR)")
    before = _digest(path)

    with pytest.raises(NotAPapertraderDatabase, match=r"schema version 1 but no table commands, equity, fills"):
        Store(path)

    assert _digest(path) == before


def test_a_directory_is_not_a_papertrader_database(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    path.mkdir()

    with pytest.raises(NotAPapertraderDatabase, match=r"x\.duckdb is not a papertrader database \(a directory\)"):
        Store(path)


def test_an_empty_duckdb_file_becomes_a_papertrader_database(tmp_path: Path) -> None:
    """A DuckDB file without any table (e.g. created by ``duckdb x.duckdb`` and left) is taken as new."""
    path = tmp_path / "x.duckdb"
    duckdb.connect(str(path)).close()

    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert _tables(store.cursor()) == TABLES
