"""Filtered fills and closed trades for the Trades page, on a real DuckDB file with hand-made rows."""

from __future__ import annotations

import pytest

from storage import trade_queries


@pytest.fixture
def seeded(write, rows) -> None:
    """Fills at minutes 1 (BTC buy), 2 (BTC sell), 3 (ETH buy); trades exiting at minutes 2 (BTC) and 60 (ETH)."""
    write(
        "fills",
        rows.fill(1),
        rows.fill(2, side="SELL"),
        rows.fill(3, symbol="ETHUSDT"),
    )
    write("trades", rows.trade(2), rows.trade(60, symbol="ETHUSDT"))


def test_without_filters_everything_newest_first(cur, seeded) -> None:
    assert trade_queries.fills(cur)["order_id"].tolist() == ["o3", "o2", "o1"]
    assert trade_queries.closed_trades(cur)["trade_id"].tolist() == ["t60", "t2"]


def test_symbol_side_and_since_filters_combine(cur, seeded, rows) -> None:
    assert trade_queries.fills(cur, symbols=["BTCUSDT"])["order_id"].tolist() == ["o2", "o1"]
    assert trade_queries.fills(cur, side="SELL")["order_id"].tolist() == ["o2"]
    assert trade_queries.fills(cur, symbols=["BTCUSDT"], side="BUY", since=rows.at(1))["order_id"].tolist() == ["o1"]
    assert trade_queries.closed_trades(cur, since=rows.at(3))["trade_id"].tolist() == ["t60"]
    assert trade_queries.closed_trades(cur, symbols=["ETHUSDT", "BTCUSDT"])["trade_id"].tolist() == ["t60", "t2"]


def test_money_is_float_and_time_is_utc(cur, seeded, rows) -> None:
    fills = trade_queries.fills(cur)
    assert fills["quantity"].tolist() == [0.12345678] * 3
    assert str(fills["ts"].dt.tz) == "UTC"
    assert trade_queries.closed_trades(cur)["pnl"].tolist() == [207.75, 207.75]


def test_newest_fill_time_anchors_the_time_ranges(cur, seeded, rows) -> None:
    assert trade_queries.newest_fill_time(cur) == rows.at(3)


def test_no_fills_no_anchor(cur) -> None:
    assert trade_queries.newest_fill_time(cur) is None
    assert trade_queries.fills(cur).empty
