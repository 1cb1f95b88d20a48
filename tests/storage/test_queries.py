"""Dashboard queries over hand-made rows: latest values, downsampling, open positions, empty results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from storage import queries

WALL = datetime(2025, 6, 1, tzinfo=UTC)


def test_latest_equity_is_none_without_snapshots(cur) -> None:
    assert queries.latest_equity(cur) is None


def test_latest_equity_is_the_newest_ts_then_the_last_recorded(cur, write, rows) -> None:
    write("equity", rows.equity(5, equity=1.0), rows.equity(5, equity=2.0), rows.equity(4, equity=3.0))

    latest = queries.latest_equity(cur)

    assert latest is not None
    assert latest["equity"] == 2.0 and latest["ts"] == rows.at(5)
    assert latest["ts"].tzinfo is not None and latest["ts"].utcoffset() == timedelta(0)
    assert set(latest) == {c for (c,) in cur.sql("SELECT column_name FROM (DESCRIBE equity)").fetchall()}


def test_equity_curve_returns_every_point_up_to_max_points(cur, write, rows) -> None:
    write("equity", *(rows.equity(m, equity=10_000.0 + m) for m in (2, 0, 1)))

    curve = queries.equity_curve(cur, max_points=3)

    assert list(curve.columns) == list(queries.EQUITY_CURVE_COLUMNS)
    assert curve["equity"].tolist() == [10_000.0, 10_001.0, 10_002.0]
    assert str(curve["ts"].dt.tz) == "UTC"


def test_equity_curve_downsampling_keeps_extremes_and_the_latest_point(cur, write, rows) -> None:
    snapshots = [rows.equity(m, equity=10_000.0 + (m % 7)) for m in range(5_000)]
    snapshots[1_234]["equity"] = 50_000.0  # spike
    snapshots[3_210]["equity"] = 1.0  # dip
    snapshots[-1]["equity"] = 10_003.5
    write("equity", *snapshots)

    curve = queries.equity_curve(cur, max_points=101)

    assert len(curve) <= 101
    assert curve["ts"].is_monotonic_increasing
    assert {50_000.0, 1.0} <= set(curve["equity"])
    last = curve.iloc[-1]
    assert (last["ts"], last["equity"]) == (pd.Timestamp(rows.at(4_999)), 10_003.5)


def test_equity_curve_rejects_fewer_than_three_points(cur) -> None:
    with pytest.raises(ValueError, match="max_points must be at least 3"):
        queries.equity_curve(cur, max_points=2)


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

    positions = queries.open_positions(cur)

    assert list(positions.columns) == ["symbol", "quantity", "avg_entry", "stop_price", "target_price", "opened"]
    assert positions["symbol"].tolist() == ["BTCUSDT", "SOLUSDT"]
    btc, sol = positions.iloc[0], positions.iloc[1]
    assert (btc["quantity"], btc["avg_entry"], btc["stop_price"]) == (0.75, 42100.5, 41000.0)
    assert btc["opened"] == pd.Timestamp(rows.at(5))
    assert pd.isna(sol["stop_price"]) and pd.isna(sol["target_price"])


def test_recent_trades_are_newest_first_with_money_as_float(cur, write, rows) -> None:
    write("trades", *(rows.trade(m, pnl=Decimal(m) + Decimal("0.5")) for m in (10, 30, 20)))

    trades = queries.recent_trades(cur, limit=2)

    assert trades["pnl"].tolist() == [30.5, 20.5]
    assert trades["pnl"].dtype == "float64" and str(trades["exit_time"].dt.tz) == "UTC"


def test_recent_commands_are_newest_first(cur, write, rows) -> None:
    write("commands", rows.command(1, command="PAUSE"), rows.command(2, command="RESUME"))

    commands = queries.recent_commands(cur)

    assert commands["command"].tolist() == ["RESUME", "PAUSE"]
    assert list(commands.columns) == ["ts", "command", "actor", "reason", "result", "detail"]


def test_recent_fills_are_newest_first(cur, write, rows) -> None:
    write("fills", rows.fill(1), rows.fill(3), rows.fill(2))

    fills = queries.recent_fills(cur, limit=20)

    assert fills["order_id"].tolist() == ["o3", "o2", "o1"]
    assert fills["quantity"].tolist() == [0.12345678] * 3


def test_timestamps_come_back_in_utc_whatever_the_session_time_zone(cur, write, rows) -> None:
    write("commands", rows.command(1))
    cur.execute("SET TimeZone = 'Asia/Tokyo'")

    assert str(queries.recent_commands(cur)["ts"].dt.tz) == "UTC"
    assert queries.recent_commands(cur)["ts"].iloc[0] == pd.Timestamp(rows.at(1))


@pytest.mark.parametrize(
    ("query", "columns"),
    [
        (queries.equity_curve, list(queries.EQUITY_CURVE_COLUMNS)),
        (queries.open_positions, ["symbol", "quantity", "avg_entry", "stop_price", "target_price", "opened"]),
        (
            queries.recent_trades,
            ["symbol", "entry_time", "exit_time", "quantity", "entry_price", "exit_price", "fees", "pnl", "pnl_pct", "exit_reason"],
        ),
        (queries.recent_commands, ["ts", "command", "actor", "reason", "result", "detail"]),
        (
            queries.recent_fills,
            ["ts", "symbol", "side", "quantity", "price", "quote_qty", "fee", "reference_price", "order_id", "fill_id"],
        ),
    ],
)
def test_empty_tables_give_empty_frames_with_the_right_columns(cur, query, columns) -> None:
    frame = query(cur)
    assert frame.empty and list(frame.columns) == columns


def test_limits_below_one_are_refused(cur) -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        queries.recent_trades(cur, limit=0)


def test_table_counts_cover_every_history_table(cur, write, rows) -> None:
    write("equity", rows.equity(1), rows.equity(2))
    write("candles", rows.candle(1))

    assert queries.table_counts(cur) == {
        "api_calls": 0,
        "breaker_events": 0,
        "candles": 1,
        "commands": 0,
        "equity": 2,
        "fills": 0,
        "gaps": 0,
        "orders": 0,
        "positions": 0,
        "rate_limit_samples": 0,
        "risk_denials": 0,
        "trades": 0,
        "ws_events": 0,
    }


# ---------------------------------------------------------------------------------------------------- guards

T0 = datetime(2024, 1, 1, tzinfo=UTC)
"""Market time of minute 0, as in ``conftest.at``."""


def _breaker_event(minute: float, kind: str, state_to: str, **values) -> dict:
    return {
        "ts": T0 + timedelta(minutes=minute), "kind": kind, "state_from": "ACTIVE", "state_to": state_to,
        "equity": 9_500.0, "daily_loss_pct": 5.0, "drawdown_pct": 5.0, "reason": "test", "actor": "engine",
    } | values


def _api_call(second: float, *, endpoint: str = "/api/v3/klines", outcome: str = "retry", reason: str = "429") -> dict:
    return {
        "ts": WALL + timedelta(seconds=second), "host": "api.binance.com", "endpoint": endpoint,
        "status": None if reason == "timeout" else 200 if outcome == "ok" else 429, "latency_ms": 12.0, "attempt": 0,
        "delay_s": None, "outcome": outcome, "reason": reason,
    }


def _sample(second: float, *, host: str = "api.binance.com", used: int = 100, **values) -> dict:
    return {
        "ts": WALL + timedelta(seconds=second), "host": host, "used_weight": used, "server_used_weight": used + 1,
        "weight_limit": 6000, "utilisation_pct": used / 60, "waiting": 0, "wait_s": 0.0, "api_breaker": "CLOSED",
        "banned_until": None,
    } | values


def _ws(second: float, event: str, **values) -> dict:
    return {
        "ts": WALL + timedelta(seconds=second), "event": event, "url": "ws://x", "code": None, "reason": "",
        "retry_in_s": None, "attempt": 0, "candles": None,
    } | values


def test_breaker_history_is_newest_recorded_first(cur, write) -> None:
    """Order is the order things happened (recorded_at), even when a reset's wall-time ts sorts differently."""
    write(
        "breaker_events",
        _breaker_event(10, "BreakerTripped", "TRIPPED"),
        _breaker_event(5, "BreakerReset", "ACTIVE", actor="alice"),
    )

    history = queries.breaker_history(cur, limit=1)

    assert list(history.columns) == list(queries.BREAKER_HISTORY_COLUMNS)
    assert history["kind"].tolist() == ["BreakerReset"] and history["actor"].tolist() == ["alice"]


def _gap(gap_id: str, minute: float, *, state: str = "OPEN", attempts: int = 0, error: str = "") -> dict[str, Any]:
    return {
        "gap_id": gap_id, "symbol": "BTCUSDT", "kind": "gap", "first_open_time": T0 + timedelta(minutes=minute),
        "last_open_time": T0 + timedelta(minutes=minute + 2), "candles": 3, "state": state,
        "opened_at": T0 + timedelta(hours=1, minutes=minute), "attempts": attempts, "last_error": error, "detail": "",
        "closed_at": T0 + timedelta(hours=2) if state == "CLOSED" else None,
    }


def test_gap_history_shows_each_gap_once_in_its_latest_state_newest_first(cur, write) -> None:
    write("gaps", _gap("a", 1), _gap("b", 5), _gap("a", 1, attempts=2, error="HTTP 429"), _gap("a", 1, state="CLOSED", attempts=2))

    history = queries.gap_history(cur)

    assert list(history.columns) == list(queries.GAP_COLUMNS)
    assert history[["first_open_time", "state", "attempts"]].values.tolist() == [
        [pd.Timestamp(T0 + timedelta(minutes=5)), "OPEN", 0],
        [pd.Timestamp(T0 + timedelta(minutes=1)), "CLOSED", 2],
    ]
    assert history["closed_at"].isna().tolist() == [True, False]


def test_breaker_gauges_come_from_the_newest_snapshot(cur, write, rows) -> None:
    """Daily loss = (day start − equity) / day start × 100, never below 0; drawdown as stored."""
    write(
        "equity",
        rows.equity(1, equity=9_000.0, day_start_equity=10_000.0, drawdown_pct=10.0),
        rows.equity(2, equity=9_700.0, day_start_equity=10_000.0, drawdown_pct=3.0),
    )

    gauges = queries.breaker_gauges(cur)

    assert list(gauges.columns) == list(queries.BREAKER_GAUGE_COLUMNS)
    assert gauges["daily_loss_pct"].iloc[0] == pytest.approx(3.0)
    assert gauges["drawdown_pct"].iloc[0] == 3.0

    write("equity", rows.equity(3, equity=10_500.0, day_start_equity=10_000.0))
    assert queries.breaker_gauges(cur)["daily_loss_pct"].iloc[0] == 0.0


def test_rate_limit_series_returns_samples_as_they_are_up_to_max_points(cur, write) -> None:
    write("rate_limit_samples", _sample(2, used=300), _sample(1, used=200))

    series = queries.rate_limit_series(cur, max_points=10)

    assert list(series.columns) == list(queries.RATE_LIMIT_COLUMNS)
    assert series["used_weight"].tolist() == [200, 300]
    assert str(series["ts"].dt.tz) == "UTC"


def test_rate_limit_series_downsampling_keeps_the_peak_per_host(cur, write) -> None:
    """Beyond max_points, every host gets at most max_points rows and the highest usage survives."""
    samples = [_sample(s, host=host, used=s % 50) for s in range(2_000) for host in ("a", "b")]
    samples[1_001] = _sample(500, host="b", used=5_999)
    write("rate_limit_samples", *samples)

    series = queries.rate_limit_series(cur, max_points=40)

    per_host = series.groupby("host").size()
    assert set(per_host.index) == {"a", "b"} and per_host.max() <= 40
    assert series.loc[series["host"] == "b", "used_weight"].max() == 5_999
    assert series["ts"].is_monotonic_increasing


def test_retry_counts_group_failures_by_bucket_endpoint_and_reason(cur, write) -> None:
    """Only outcomes other than ok count; buckets are the smallest nice width that fits, here 1 minute."""
    write(
        "api_calls",
        _api_call(0), _api_call(10), _api_call(20, reason="5xx"), _api_call(30, outcome="ok", reason="ok"),
        _api_call(65, endpoint="/api/v3/order", reason="timeout", outcome="giveup"),
        _api_call(30 * 60),
    )

    counts = queries.retry_counts(cur, buckets=60)

    assert list(counts.columns) == list(queries.RETRY_COUNT_COLUMNS)
    assert set(counts["width_s"]) == {60.0}
    assert counts[["endpoint", "reason", "calls"]].values.tolist() == [
        ["/api/v3/klines", "429", 2], ["/api/v3/klines", "5xx", 1], ["/api/v3/order", "timeout", 1],
        ["/api/v3/klines", "429", 1],
    ]
    assert counts["ts"].iloc[0] == pd.Timestamp(WALL) and counts["ts"].iloc[-1] == pd.Timestamp(WALL + timedelta(minutes=30))


def test_retry_counts_never_exceed_the_bucket_count(cur, write) -> None:
    write("api_calls", *(_api_call(s * 37.3) for s in range(1_000)))

    counts = queries.retry_counts(cur, buckets=20)

    assert counts["ts"].nunique() <= 20 and counts["calls"].sum() == 1_000


def test_api_call_totals_count_every_attempt(cur, write) -> None:
    write("api_calls", _api_call(1), _api_call(2), _api_call(3, outcome="ok", reason="ok"))

    totals = queries.api_call_totals(cur)

    assert totals[["outcome", "reason", "calls"]].values.tolist() == [["retry", "429", 2], ["ok", "ok", 1]]


def test_api_breaker_states_show_the_latest_sample_per_host_with_the_ban_left(cur, write) -> None:
    ban_end = WALL + timedelta(seconds=130)
    write(
        "rate_limit_samples",
        _sample(1, host="a", api_breaker="OPEN"),
        _sample(2, host="a", api_breaker="HALF_OPEN", banned_until=ban_end),
        _sample(1, host="b"),
    )

    states = queries.api_breaker_states(cur, now=WALL + timedelta(seconds=100))

    assert states[["host", "api_breaker"]].values.tolist() == [["a", "HALF_OPEN"], ["b", "CLOSED"]]
    assert states["ban_left_s"].tolist() == [pytest.approx(30.0), 0.0]
    assert states["banned_until"].iloc[0] == pd.Timestamp(ban_end) and pd.isna(states["banned_until"].iloc[1])


def test_ws_timeline_is_newest_first(cur, write) -> None:
    write("ws_events", _ws(1, "CONNECTED"), _ws(2, "BAD_MESSAGE"), _ws(3, "BACKFILL", candles=4))

    timeline = queries.ws_timeline(cur, limit=2)

    assert list(timeline.columns) == list(queries.WS_EVENT_COLUMNS)
    assert timeline["event"].tolist() == ["BACKFILL", "BAD_MESSAGE"]


def test_ws_spans_merge_repeated_states_and_mark_reconnects(cur, write) -> None:
    """Failed connects in a row are one disconnected span; the last span runs to now; other events are ignored."""
    write(
        "ws_events",
        _ws(0, "CONNECTED"), _ws(5, "BAD_MESSAGE"), _ws(10, "DISCONNECTED", attempt=1),
        _ws(12, "DISCONNECTED", attempt=2), _ws(16, "CONNECTED", attempt=2), _ws(17, "BACKFILL", candles=3),
    )

    spans = queries.ws_spans(cur, now=WALL + timedelta(seconds=30))

    assert list(spans.columns) == list(queries.WS_SPAN_COLUMNS)
    assert spans["state"].tolist() == ["connected", "disconnected", "connected"]
    assert spans["events"].tolist() == [1, 2, 1]
    assert spans["reconnect"].tolist() == [False, False, True]
    seconds = [(t - pd.Timestamp(WALL)).total_seconds() for t in spans["end"]]
    assert seconds == [10.0, 16.0, 30.0]
    assert queries.ws_spans(cur, now=WALL, limit=1)["state"].tolist() == ["connected"]


def test_ws_event_counts_total_each_kind(cur, write) -> None:
    write(
        "ws_events",
        _ws(0, "CONNECTED"), _ws(1, "DISCONNECTED", attempt=1), _ws(2, "CONNECTED", attempt=1),
        _ws(3, "BACKFILL", candles=3), _ws(4, "BACKFILL", candles=2), _ws(5, "BAD_MESSAGE"),
    )

    assert queries.ws_event_counts(cur) == {
        "connects": 2, "reconnects": 1, "disconnects": 1, "bad_messages": 1, "backfills": 2, "backfilled_candles": 5,
    }


def test_denials_by_reason_most_frequent_first(cur, write) -> None:
    denial = {"ts": T0, "symbol": "BTCUSDT", "detail": ""}
    write("risk_denials", *(denial | {"reason_code": code} for code in ("MAX_POSITIONS", "STOP_TOO_TIGHT", "STOP_TOO_TIGHT")))

    denials = queries.denials_by_reason(cur)

    assert denials[["reason_code", "denials"]].values.tolist() == [["STOP_TOO_TIGHT", 2], ["MAX_POSITIONS", 1]]


def test_daily_pnl_is_last_equity_minus_the_days_first_baseline(cur, write, rows) -> None:
    """Days are cut at 00:00 UTC; a breaker reset re-basing day_start mid-day does not change the day's P&L."""
    day = 24 * 60
    write(
        "equity",
        rows.equity(1, equity=10_100.0, day_start_equity=10_000.0),
        rows.equity(600, equity=9_400.0, day_start_equity=9_400.0),  # reset re-based the baseline
        rows.equity(day - 1, equity=9_800.0, day_start_equity=9_400.0),
        rows.equity(day, equity=9_900.0, day_start_equity=9_800.0),
    )

    daily = queries.daily_pnl(cur)

    assert list(daily.columns) == list(queries.DAILY_PNL_COLUMNS)
    assert daily["day"].tolist() == [pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(days=1))]
    assert daily["pnl"].tolist() == pytest.approx([-200.0, 100.0])
    assert daily["pnl_pct"].tolist() == pytest.approx([-2.0, 100 / 98])


def test_price_series_downsampling_keeps_extremes_and_the_last_close(cur, write, rows) -> None:
    candles = [rows.candle(m, close=42_000.0 + m % 11) for m in range(3_000)]
    candles[777]["close"] = 99_999.0
    candles[2_222]["close"] = 1.0
    candles[-1]["close"] = 42_005.5
    write("candles", *candles, rows.candle(5, symbol="ETHUSDT", close=7.0))

    prices = queries.price_series(cur, "BTCUSDT", max_points=51)

    assert list(prices.columns) == list(queries.PRICE_COLUMNS)
    assert 3 <= len(prices) <= 51 and prices["ts"].is_monotonic_increasing
    assert {99_999.0, 1.0} <= set(prices["close"]) and 7.0 not in set(prices["close"])
    assert prices["close"].iloc[-1] == 42_005.5
    assert prices["ts"].iloc[-1] == pd.Timestamp(rows.at(3_000)) - pd.Timedelta(milliseconds=1)
    assert len(queries.price_series(cur, "ETHUSDT")) == 1


def test_trade_markers_map_buys_to_entries_and_sells_to_exits(cur, write, rows) -> None:
    write("fills", rows.fill(2, side="SELL"), rows.fill(1), rows.fill(3, symbol="ETHUSDT"))

    markers = queries.trade_markers(cur, "BTCUSDT")

    assert list(markers.columns) == list(queries.TRADE_MARKER_COLUMNS)
    assert markers[["side", "kind"]].values.tolist() == [["BUY", "entry"], ["SELL", "exit"]]
    assert markers["price"].tolist() == [42000.01, 42000.01]


@pytest.mark.parametrize(
    ("query", "columns"),
    [
        (queries.breaker_history, queries.BREAKER_HISTORY_COLUMNS),
        (queries.breaker_gauges, queries.BREAKER_GAUGE_COLUMNS),
        (queries.rate_limit_series, queries.RATE_LIMIT_COLUMNS),
        (queries.retry_counts, queries.RETRY_COUNT_COLUMNS),
        (queries.ws_timeline, queries.WS_EVENT_COLUMNS),
        (queries.ws_spans, queries.WS_SPAN_COLUMNS),
        (queries.daily_pnl, queries.DAILY_PNL_COLUMNS),
        (queries.gap_history, queries.GAP_COLUMNS),
        (lambda cur: queries.price_series(cur, "BTCUSDT"), queries.PRICE_COLUMNS),
        (lambda cur: queries.trade_markers(cur, "BTCUSDT"), queries.TRADE_MARKER_COLUMNS),
        (queries.denials_by_reason, ("reason_code", "denials", "last_ts")),
        (queries.api_call_totals, ("endpoint", "outcome", "reason", "calls", "avg_latency_ms", "last_ts")),
        (
            queries.api_breaker_states,
            ("host", "ts", "api_breaker", "banned_until", "ban_left_s", "used_weight", "weight_limit", "utilisation_pct"),
        ),
    ],
)
def test_guard_queries_on_empty_tables_give_empty_frames_with_the_right_columns(cur, query, columns) -> None:
    frame = query(cur)
    assert frame.empty and list(frame.columns) == list(columns)
