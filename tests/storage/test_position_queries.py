"""Open positions valued at their mark, over hand-made rows."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from storage import position_queries


def test_an_open_position_at_its_latest_mark_with_unrealised_pnl(cur, write, rows) -> None:
    """0.5 BTC at 42,000 (cost 21,021 with the fee) marked at 43,000: 21,500 − 21,021 = +479 (+2.28 %)."""
    write("positions", rows.position(1), rows.position(4, stop_price=Decimal("42100"), trail_high=Decimal("43100")))
    write(
        "equity",
        rows.equity(0, symbol="BTCUSDT", price=Decimal("41000")),  # before the opening: not its mark
        rows.equity(2, symbol="BTCUSDT", price=Decimal("42500")),
        rows.equity(3, symbol="ETHUSDT", price=Decimal("3000")),
        rows.equity(5, symbol="BTCUSDT", price=Decimal("43000")),
        rows.equity(6, symbol=None, source="reset", price=None),
    )

    [position] = position_queries.open_positions(cur).to_dict("records")

    assert list(position) == list(position_queries.POSITION_COLUMNS)
    assert (position["symbol"], position["quantity"], position["avg_entry"]) == ("BTCUSDT", 0.5, 42_000.0)
    assert (position["mark"], position["marked_at"]) == (43_000.0, pd.Timestamp(rows.at(5)))
    assert position["unrealised_pnl"] == pytest.approx(479.0)
    assert position["unrealised_pct"] == pytest.approx(479 / 21_021 * 100)
    assert (position["stop_price"], position["target_price"], position["trailing"]) == (42_100.0, 44_000.0, True)
    assert position["opened"] == pd.Timestamp(rows.at(1))


def test_closed_positions_are_not_listed(cur, write, rows) -> None:
    write("positions", rows.position(1), rows.position(2, quantity=Decimal(0), stop_price=None, target_price=None))
    frame = position_queries.open_positions(cur)
    assert frame.empty and list(frame.columns) == list(position_queries.POSITION_COLUMNS)


def test_a_position_not_marked_yet_has_no_mark(cur, write, rows) -> None:
    write("positions", rows.position(1, symbol="ETHUSDT"))
    [position] = position_queries.open_positions(cur).to_dict("records")
    assert pd.isna(position["mark"]) and pd.isna(position["unrealised_pnl"]) and not position["trailing"]


def test_no_positions_at_all(cur) -> None:
    assert position_queries.open_positions(cur).empty


def test_open_positions_show_the_latest_row_of_open_symbols_only(cur, write, rows) -> None:
    zero = Decimal(0)
    flat = {"quantity": zero, "avg_entry": zero, "cost_basis": zero, "stop_price": None, "target_price": None}
    write(
        "positions",
        rows.position(1, symbol="ETHUSDT"),
        rows.position(2, symbol="ETHUSDT") | flat,  # closed
        rows.position(3, symbol="BTCUSDT"),
        rows.position(4, symbol="BTCUSDT") | flat,
        rows.position(5, symbol="BTCUSDT", quantity=Decimal("0.25")),  # reopened
        rows.position(6, symbol="BTCUSDT", quantity=Decimal("0.75"), avg_entry=Decimal("42100.5")),  # added to
        rows.position(7, symbol="SOLUSDT", stop_price=None, target_price=None),
    )

    positions = position_queries.open_positions(cur)

    assert positions["symbol"].tolist() == ["BTCUSDT", "SOLUSDT"]
    btc, sol = positions.iloc[0], positions.iloc[1]
    assert (btc["quantity"], btc["avg_entry"], btc["stop_price"]) == (0.75, 42100.5, 41000.0)
    assert btc["opened"] == pd.Timestamp(rows.at(5))
    assert pd.isna(sol["stop_price"]) and pd.isna(sol["target_price"])
