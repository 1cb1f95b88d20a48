"""Trades page totals and downloads as plain values: arithmetic checked by hand, bytes read back."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq

from dashboard.exports import csv_bytes, fill_totals, parquet_bytes, trade_totals

FILLS = pd.DataFrame(
    {
        "ts": pd.to_datetime(["2021-04-20 00:01", "2021-04-20 00:05"], utc=True),
        "side": ["BUY", "SELL"],
        "quote_qty": [1_000.0, 1_050.0],
        "fee": [1.0, 1.05],
    }
)
TRADES = pd.DataFrame({"pnl": [47.95, -10.0, 0.0], "fees": [2.05, 1.0, 1.0]})


def test_fill_totals() -> None:
    """2 fills, 1 buy, 1 sell; volume 1,000 + 1,050 = 2,050; fees 1 + 1.05 = 2.05."""
    totals = fill_totals(FILLS)
    assert (totals.count, totals.buys, totals.sells) == (2, 1, 1)
    assert totals.volume == 2_050.0
    assert round(totals.fees, 2) == 2.05


def test_trade_totals_count_only_positive_pnl_as_wins() -> None:
    """3 trades, 1 win → 33.3 %; pnl 47.95 − 10 + 0 = 37.95; fees 4.05."""
    totals = trade_totals(TRADES)
    assert (totals.count, totals.wins) == (3, 1)
    assert round(totals.win_rate_pct, 1) == 33.3
    assert round(totals.pnl, 2) == 37.95
    assert round(totals.fees, 2) == 4.05


def test_no_trades_has_no_win_rate() -> None:
    assert trade_totals(TRADES.iloc[:0]).win_rate_pct is None


def test_csv_has_header_and_utc_timestamps() -> None:
    lines = csv_bytes(FILLS).decode().splitlines()
    assert lines[0] == "ts,side,quote_qty,fee"
    assert lines[1].startswith("2021-04-20 00:01:00+00:00,BUY")


def test_parquet_round_trips_with_types() -> None:
    table = pq.read_table(io.BytesIO(parquet_bytes(FILLS)))
    assert table.to_pandas().equals(FILLS)
    assert table.schema.field("ts").type.tz == "UTC"
