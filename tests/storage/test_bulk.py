"""BulkWriter: whole Arrow columns appended to a history table, checked per column like the Recorder checks per
value, ``recorded_at`` unique and increasing across appends."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from storage.arrays import decimals
from storage.bulk import BulkWriter
from storage.store import Store

NOW = datetime(2025, 6, 1, tzinfo=UTC)
MONEY = pa.decimal128(38, 8)
US = pa.timestamp("us", tz="UTC")


def candles(n: int, **changes: pa.Array) -> dict[str, pa.Array]:
    open_us = np.arange(n, dtype=np.int64) * 60_000_000 + 1_618_876_800_000_000
    return {
        "symbol": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array(["BTCUSDT"])),
        "interval": pa.array(["1m"] * n),
        "open_time": pa.array(open_us, type=US),
        "close_time": pa.array(open_us + 59_999_000, type=US),
        "open": pa.array(np.full(n, 55_000.5)),
        "high": pa.array(np.full(n, 55_100.0)),
        "low": pa.array(np.full(n, 54_900.0)),
        "close": pa.array(np.full(n, 55_050.25)),
        "volume": pa.array(np.full(n, 1.5)),
        "source": pa.array(["replay"] * n),
    } | changes


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "bulk.duckdb") as opened:
        yield opened


def test_columns_land_as_rows_with_increasing_recorded_at(store: Store) -> None:
    writer = BulkWriter(store, clock=lambda: NOW)
    assert writer.append("candles", candles(3)) == 3
    assert writer.append("candles", candles(2)) == 2  # the clock has not moved: the stamps still increase

    rows = store.cursor().sql("SELECT symbol, open, close, source, recorded_at FROM candles ORDER BY rowid").fetchall()
    assert [r[:4] for r in rows] == [("BTCUSDT", 55_000.5, 55_050.25, "replay")] * 5
    stamps = [r[4] for r in rows]
    assert stamps == sorted(set(stamps)) and stamps[0] == NOW


def test_decimal_units_land_exactly(store: Store) -> None:
    units = np.array([123_456_789_012, -1, 10**18 + 7], dtype=np.int64)
    n = len(units)
    writer = BulkWriter(store)
    us = pa.array(np.full(n, 1_618_876_800_000_000), type=US)
    money = decimals(units, MONEY)
    writer.append(
        "equity",
        {"ts": us, "equity": money, "cash": money, "positions_value": money, "realised_pnl": money, "unrealised_pnl": money,
         "peak_equity": money, "drawdown_pct": pa.array(np.zeros(n)), "day_start_equity": money, "daily_pnl_pct": pa.array(np.zeros(n)),
         "symbol": pa.array(["BTCUSDT", None, "ETHUSDT"]), "source": pa.array(["candle", "reset", "fill"]),
         "candle_open_time": pa.array([1, None, 2], type=US), "price": pa.array([Decimal("1.5"), None, Decimal("2")], type=MONEY)},
    )  # fmt: skip

    assert store.cursor().sql("SELECT equity, price FROM equity ORDER BY rowid").fetchall() == [
        (Decimal("1234.56789012"), Decimal("1.5")),
        (Decimal("-1E-8"), None),
        (Decimal("10000000000.00000007"), Decimal("2")),
    ]


@pytest.mark.parametrize(
    ("table", "columns", "message"),
    [
        ("nope", candles(1), "unknown table 'nope'"),
        ("candles", {k: v for k, v in candles(1).items() if k != "volume"}, "missing ['volume']"),
        ("candles", candles(1, extra=pa.array([1])), "unknown ['extra']"),
        ("candles", candles(2, open=pa.array([1.0])), "candles.open: 1 values, the other columns have 2"),
        ("candles", candles(1, open=pa.array(["abc"])), "candles.open (DOUBLE) cannot take string"),
        ("candles", candles(1, symbol=pa.array([None], type=pa.string())), "candles.symbol is NOT NULL"),
    ],
)
def test_bad_columns_are_refused_naming_table_and_column_and_nothing_is_written(
    store: Store, table: str, columns: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        BulkWriter(store).append(table, columns)
    assert store.cursor().sql("SELECT count(*) FROM candles").fetchall() == [(0,)]
