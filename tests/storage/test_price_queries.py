"""The price chart's reads over hand-made rows: bars aggregated in SQL, fill markers, open-position levels."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from storage import price_queries


def _minutes(rows, count: int, *, symbol: str = "BTCUSDT") -> list[dict]:
    """``count`` 1m candles from minute 0: open = 100 + minute, high = open + 2, low = open − 1, close = open + 1."""
    return [
        rows.candle(m, symbol=symbol, open=100.0 + m, high=102.0 + m, low=99.0 + m, close=101.0 + m, volume=1.0)
        for m in range(count)
    ]


def test_bars_are_the_candles_themselves_while_they_fit(cur, write, rows) -> None:
    write("candles", *_minutes(rows, 3))

    bars = price_queries.price_bars(cur, "BTCUSDT", max_bars=10)

    assert (bars.interval, bars.interval_s) == ("1m", 60)
    assert list(bars.bars.columns) == list(price_queries.BAR_COLUMNS)
    assert bars.bars[["open", "high", "low", "close", "volume"]].values.tolist() == [
        [100.0, 102.0, 99.0, 101.0, 1.0], [101.0, 103.0, 100.0, 102.0, 1.0], [102.0, 104.0, 101.0, 103.0, 1.0],
    ]
    assert list(bars.bars["ts"]) == [pd.Timestamp(rows.at(m)) for m in range(3)]
    assert bars.since == rows.at(0)


def test_long_spans_are_aggregated_as_binance_aggregates_klines(cur, write, rows) -> None:
    """60 minutes in at most 25 bars: 3m bars, each the first open, highest high, lowest low, last close, summed volume."""
    write("candles", *_minutes(rows, 60))

    bars = price_queries.price_bars(cur, "BTCUSDT", max_bars=25)

    assert (bars.interval, len(bars.bars)) == ("3m", 20)
    first = bars.bars.iloc[0]
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (100.0, 104.0, 99.0, 103.0, 3.0)
    assert bars.bars["ts"].diff().dropna().eq(pd.Timedelta(minutes=3)).all()


def test_a_window_keeps_the_newest_candles_only(cur, write, rows) -> None:
    write("candles", *_minutes(rows, 60), *_minutes(rows, 5, symbol="ETHUSDT"))

    bars = price_queries.price_bars(cur, "BTCUSDT", window_s=10 * 60, max_bars=100)

    assert bars.bars["open"].tolist() == [100.0 + m for m in range(50, 60)]


def test_no_candles_is_an_empty_typed_frame(cur) -> None:
    bars = price_queries.price_bars(cur, "BTCUSDT")
    assert bars.bars.empty and list(bars.bars.columns) == list(price_queries.BAR_COLUMNS)
    assert bars.since is None


def test_a_window_below_one_candle_is_refused(cur) -> None:
    with pytest.raises(ValueError, match="window_s must be at least 60"):
        price_queries.price_bars(cur, "BTCUSDT", window_s=59)


def test_markers_carry_the_entry_plan_and_the_exit_trade(cur, write, rows) -> None:
    """The entry marker has the stop and target set at its fill; the exit marker the trade's P&L and exit reason."""
    write("orders", {
        "order_id": "o1", "ts": rows.at(1), "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
        "quantity": Decimal("0.1"), "status": "FILLED", "reason": "signal", "stop_price": Decimal("41000"),
        "target_price": Decimal("44000"), "equity": None, "risk_amount": None, "atr": None, "stop_distance": None,
        "correlation_factor": None, "stop_pct": None, "size_cap": "risk", "cash": None,
    })
    write(
        "fills",
        rows.fill(1, order_id="o1", price=Decimal("42000.01"), quantity=Decimal("0.1")),
        rows.fill(9, order_id="o2", side="SELL", price=Decimal("44000"), quantity=Decimal("0.1"), exit_reason="TARGET"),
        rows.fill(20, symbol="ETHUSDT"),
    )
    write("trades", rows.trade(9, pnl=Decimal("191.2"), pnl_pct=4.55, exit_reason="TARGET"))

    markers = price_queries.fill_markers(cur, "BTCUSDT")

    assert list(markers.columns) == list(price_queries.MARKER_COLUMNS)
    entry, exit_ = markers.to_dict("records")
    assert (entry["kind"], entry["price"], entry["stop_price"], entry["target_price"]) == ("entry", 42000.01, 41000.0, 44000.0)
    assert pd.isna(entry["exit_reason"]) and pd.isna(entry["pnl"])  # None (pandas 2) or NaN (pandas 3)
    assert (exit_["kind"], exit_["exit_reason"], exit_["pnl"], exit_["pnl_pct"]) == ("exit", "TARGET", 191.2, 4.55)
    assert pd.isna(exit_["stop_price"])


def test_markers_since_and_limit_keep_the_newest(cur, write, rows) -> None:
    write("fills", *(rows.fill(m) for m in range(10)))

    assert price_queries.fill_markers(cur, "BTCUSDT", since=rows.at(7))["ts"].tolist() == [
        pd.Timestamp(rows.at(m)) for m in (7, 8, 9)
    ]
    assert len(price_queries.fill_markers(cur, "BTCUSDT", limit=4)) == 4
    assert price_queries.fill_markers(cur, "BTCUSDT", limit=4)["ts"].is_monotonic_increasing


def test_levels_follow_the_open_position_from_its_opening(cur, write, rows) -> None:
    """A closed position's rows are not levels; the open one's are, the trailing stop's moves included."""
    write(
        "positions",
        rows.position(1),
        rows.position(5, quantity=Decimal(0), avg_entry=Decimal(0), cost_basis=Decimal(0), stop_price=None, target_price=None),
        rows.position(8, stop_price=Decimal("41500")),
        rows.position(9, stop_price=Decimal("41800"), trail_high=Decimal("42800")),
    )

    levels = price_queries.position_levels(cur, "BTCUSDT")

    assert list(levels.columns) == list(price_queries.LEVEL_COLUMNS)
    assert levels["stop_price"].tolist() == [41500.0, 41800.0]
    assert levels["trail_high"].isna().tolist() == [True, False]
    assert price_queries.position_levels(cur, "ETHUSDT").empty


def test_no_levels_once_flat(cur, write, rows) -> None:
    write("positions", rows.position(1), rows.position(2, quantity=Decimal(0), stop_price=None, target_price=None))
    assert price_queries.position_levels(cur, "BTCUSDT").empty
