"""The dashboard's pure table builders: what matters first, human column names, rounding by tick and step."""

from __future__ import annotations

import pandas as pd

from dashboard import tables
from dashboard.tables import OPEN_GAP_COLUMNS, open_gaps_table
from engine.sinks.status import GapStatus

T0_MS = 1_619_114_400_000  # 2021-04-22 18:00 UTC
T0 = pd.Timestamp(T0_MS, unit="ms", tz="UTC")


def test_open_gaps_show_span_age_attempts_and_error_oldest_first() -> None:
    newer = GapStatus("ETHUSDT", T0_MS, T0_MS + 60_000, 2, "gap", opened_at_s=1_000.0, attempts=0, last_error="", fetched=True)
    older = GapStatus(
        "BTCUSDT", T0_MS, T0_MS + 180_000, 4, "gap", opened_at_s=900.0, attempts=3, last_error="HTTP 429", fetched=False
    )

    table = open_gaps_table([newer, older], now_s=1_030.4)

    assert list(table.columns) == list(OPEN_GAP_COLUMNS)
    assert table.values.tolist() == [
        ["BTCUSDT", "2021-04-22 18:00", "2021-04-22 18:03", 4, "gap", "130 s", 3, "HTTP 429", "no"],
        ["ETHUSDT", "2021-04-22 18:00", "2021-04-22 18:01", 2, "gap", "30 s", 0, "", "yes"],
    ]


def test_no_gaps_is_an_empty_table_with_its_columns() -> None:
    table = open_gaps_table([], now_s=0.0)
    assert table.empty and list(table.columns) == list(OPEN_GAP_COLUMNS)


def test_decimals_follow_the_tick_and_the_step_read_from_the_values() -> None:
    assert tables.decimals([42_000.01, 42_000.1, 42_000.0], at_least=2) == 2
    assert tables.decimals([0.15234, 0.1], at_least=2) == 5
    assert tables.decimals([0.03839, 0.8412]) == 5
    assert tables.decimals([float("nan"), 3.0]) == 0
    assert tables.price_format([2_357.74]) == "%,.2f" and tables.quantity_format([0.8412]) == "%.4f"


def test_open_positions_lead_with_unrealised_pnl_and_mark() -> None:
    positions = pd.DataFrame({
        "symbol": ["BTCUSDT"], "opened": [T0], "quantity": [0.5], "avg_entry": [42_000.0], "mark": [43_000.0],
        "marked_at": [T0], "unrealised_pnl": [479.0], "unrealised_pct": [2.28], "stop_price": [42_100.0],
        "target_price": [44_000.0], "trailing": [True], "cost_basis": [21_021.0],
    })

    view = tables.positions_table(positions)

    assert list(view.frame.columns)[:6] == ["Symbol", "Unrealised P&L (USDT)", "Unrealised %", "Mark", "Entry", "Stop"]
    assert view.frame["Stop kind"].tolist() == ["trailing"]
    assert view.formats["Unrealised P&L (USDT)"] == "%+,.2f" and view.formats["Mark"] == "%,.2f"
    assert view.formats["Quantity"] == "%.1f" and view.formats["Opened"] == tables.TIME_FORMAT


def test_trades_show_pnl_pct_and_exit_reason_first_with_human_names() -> None:
    trades = pd.DataFrame({
        "trade_id": ["t1"], "symbol": ["ETHUSDT"], "entry_time": [T0], "exit_time": [T0 + pd.Timedelta(minutes=65)],
        "quantity": [0.8412], "entry_price": [2_357.74], "exit_price": [2_340.4], "fees": [3.95], "pnl": [-18.54],
        "pnl_pct": [-0.93], "exit_reason": ["STOP"],
    })

    view = tables.trades_table(trades)

    assert list(view.frame.columns)[:5] == ["Exit", "Symbol", "P&L (USDT)", "P&L %", "Exit reason"]
    assert view.frame["Held"].tolist() == ["1 h 05 m"] and view.frame["Trade id"].tolist() == ["t1"]
    assert (view.formats["P&L (USDT)"], view.formats["P&L %"], view.formats["Entry price"]) == ("%+,.2f", "%+.2f %%", "%,.2f")
    assert "Trade id" not in tables.trades_table(trades.drop(columns="trade_id")).frame


def test_fills_have_no_raw_column_names() -> None:
    fills = pd.DataFrame({
        "ts": [T0], "symbol": ["BTCUSDT"], "side": ["BUY"], "quantity": [0.03839], "price": [51_566.46],
        "quote_qty": [1_979.64], "fee": [1.9796], "reference_price": [51_556.15], "order_id": ["o"], "fill_id": ["f"],
        "exit_reason": [None],
    })

    view = tables.fills_table(fills)

    assert "quote_qty" not in view.frame and "reference_price" not in view.frame
    assert view.frame["Exit reason"].tolist() == [""]
    assert (view.formats["Value (USDT)"], view.formats["Fee (USDT)"], view.formats["Quantity"]) == ("%,.2f", "%,.2f", "%.5f")


def test_the_audit_log_puts_market_time_first_and_wall_time_beside_it() -> None:
    commands = pd.DataFrame({
        "ts": [pd.Timestamp("2026-03-01 12:00", tz="UTC")], "market": [T0], "command": ["SET_FAULTS"],
        "actor": ["dashboard"], "reason": [""], "result": ["OK"], "detail": ["faults: rest_429_storm=True"],
    })

    view = tables.audit_table(commands)

    assert list(view.frame.columns) == ["Market time", "Wall time", "Command", "Result", "Who", "Reason", "Detail"]
    assert view.frame["Detail"].tolist() == ["faults: REST 429 storm = True"]


def test_breaker_events_are_named_and_carry_both_clocks() -> None:
    history = pd.DataFrame({
        "ts": [T0], "kind": ["BreakerTripped"], "state_from": ["WARNING"], "state_to": ["TRIPPED"], "equity": [9_400.0],
        "daily_loss_pct": [6.0], "drawdown_pct": [6.0], "reason": ["daily loss"], "actor": ["breaker"],
        "recorded_at": [pd.Timestamp("2026-03-01 12:00", tz="UTC")],
    })

    view = tables.breaker_table(history)

    assert view.frame[["Event", "State"]].values.tolist() == [["tripped", "WARNING → TRIPPED"]]
    columns = list(view.frame.columns)
    assert (columns[0], columns[-1]) == ("Market time", "Wall time")
