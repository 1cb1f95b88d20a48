"""Guards-page queries over hand-made rows: breaker, rate limit, retries, API breaker, stream, gaps, denials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from storage import guard_queries

WALL = datetime(2025, 6, 1, tzinfo=UTC)


T0 = datetime(2024, 1, 1, tzinfo=UTC)
"""Market time of minute 0, as in ``conftest.at``."""


def _breaker_event(minute: float, kind: str, state_to: str, **values) -> dict:
    return {
        "ts": T0 + timedelta(minutes=minute), "kind": kind, "state_from": "ACTIVE", "state_to": state_to,
        "equity": Decimal("9500"), "daily_loss_pct": 5.0, "drawdown_pct": 5.0, "reason": "test", "actor": "engine",
        "day_start_equity": Decimal("10000"), "peak_equity": Decimal("10000"),
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
        _breaker_event(5, "BreakerReset", "ACTIVE", actor="alice", equity=Decimal("9499.12345678")),
    )

    history = guard_queries.breaker_history(cur, limit=1)

    assert list(history.columns) == list(guard_queries.BREAKER_HISTORY_COLUMNS)
    assert history["kind"].tolist() == ["BreakerReset"] and history["actor"].tolist() == ["alice"]
    assert history["equity"].tolist() == [9499.12345678] and history["equity"].dtype == "float64"  # for display


def _gap(gap_id: str, minute: float, *, state: str = "OPEN", attempts: int = 0, error: str = "") -> dict[str, Any]:
    return {
        "gap_id": gap_id, "symbol": "BTCUSDT", "kind": "gap", "first_open_time": T0 + timedelta(minutes=minute),
        "last_open_time": T0 + timedelta(minutes=minute + 2), "candles": 3, "state": state,
        "opened_at": T0 + timedelta(hours=1, minutes=minute), "attempts": attempts, "last_error": error, "detail": "",
        "closed_at": T0 + timedelta(hours=2) if state == "CLOSED" else None,
    }


def test_gap_history_shows_each_gap_once_in_its_latest_state_newest_first(cur, write) -> None:
    write("gaps", _gap("a", 1), _gap("b", 5), _gap("a", 1, attempts=2, error="HTTP 429"), _gap("a", 1, state="CLOSED", attempts=2))

    history = guard_queries.gap_history(cur)

    assert list(history.columns) == list(guard_queries.GAP_COLUMNS)
    assert history[["first_open_time", "state", "attempts"]].values.tolist() == [
        [pd.Timestamp(T0 + timedelta(minutes=5)), "OPEN", 0],
        [pd.Timestamp(T0 + timedelta(minutes=1)), "CLOSED", 2],
    ]
    assert history["closed_at"].isna().tolist() == [True, False]


def test_breaker_gauges_come_from_the_newest_snapshot(cur, write, rows) -> None:
    """Daily loss = (day start − equity) / day start × 100, never below 0; drawdown as stored."""
    write(
        "equity",
        rows.equity(1, equity=Decimal("9000"), day_start_equity=Decimal("10000"), drawdown_pct=10.0),
        rows.equity(2, equity=Decimal("9700"), day_start_equity=Decimal("10000"), drawdown_pct=3.0),
    )

    gauges = guard_queries.breaker_gauges(cur)

    assert list(gauges.columns) == list(guard_queries.BREAKER_GAUGE_COLUMNS)
    assert gauges["daily_loss_pct"].iloc[0] == pytest.approx(3.0)
    assert gauges["drawdown_pct"].iloc[0] == 3.0
    assert gauges[["equity", "day_start_equity", "peak_equity"]].iloc[0].tolist() == [9_700.0, 10_000.0, 10_000.0]
    assert (gauges[["equity", "day_start_equity", "peak_equity", "daily_loss_pct"]].dtypes == "float64").all()  # for display

    write("equity", rows.equity(3, equity=Decimal("10500"), day_start_equity=Decimal("10000")))
    assert guard_queries.breaker_gauges(cur)["daily_loss_pct"].iloc[0] == 0.0


def test_rate_limit_series_returns_samples_as_they_are_up_to_max_points(cur, write) -> None:
    write("rate_limit_samples", _sample(2, used=300), _sample(1, used=200))

    series = guard_queries.rate_limit_series(cur, max_points=10)

    assert list(series.columns) == list(guard_queries.RATE_LIMIT_COLUMNS)
    assert series["used_weight"].tolist() == [200, 300]
    assert str(series["ts"].dt.tz) == "UTC"


def test_rate_limit_series_downsampling_keeps_the_peak_per_host(cur, write) -> None:
    """Beyond max_points, every host gets at most max_points rows and the highest usage survives."""
    samples = [_sample(s, host=host, used=s % 50) for s in range(2_000) for host in ("a", "b")]
    samples[1_001] = _sample(500, host="b", used=5_999)
    write("rate_limit_samples", *samples)

    series = guard_queries.rate_limit_series(cur, max_points=40)

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

    counts = guard_queries.retry_counts(cur, buckets=60)

    assert list(counts.columns) == list(guard_queries.RETRY_COUNT_COLUMNS)
    assert set(counts["width_s"]) == {60.0}
    assert counts[["endpoint", "reason", "calls"]].values.tolist() == [
        ["/api/v3/klines", "429", 2], ["/api/v3/klines", "5xx", 1], ["/api/v3/order", "timeout", 1],
        ["/api/v3/klines", "429", 1],
    ]
    assert counts["ts"].iloc[0] == pd.Timestamp(WALL) and counts["ts"].iloc[-1] == pd.Timestamp(WALL + timedelta(minutes=30))


def test_retry_counts_never_exceed_the_bucket_count(cur, write) -> None:
    write("api_calls", *(_api_call(s * 37.3) for s in range(1_000)))

    counts = guard_queries.retry_counts(cur, buckets=20)

    assert counts["ts"].nunique() <= 20 and counts["calls"].sum() == 1_000


def test_api_call_totals_count_every_attempt(cur, write) -> None:
    write("api_calls", _api_call(1), _api_call(2), _api_call(3, outcome="ok", reason="ok"))

    totals = guard_queries.api_call_totals(cur)

    assert totals[["outcome", "reason", "calls"]].values.tolist() == [["retry", "429", 2], ["ok", "ok", 1]]


def test_api_breaker_states_show_the_latest_sample_per_host_with_the_ban_left(cur, write) -> None:
    ban_end = WALL + timedelta(seconds=130)
    write(
        "rate_limit_samples",
        _sample(1, host="a", api_breaker="OPEN"),
        _sample(2, host="a", api_breaker="HALF_OPEN", banned_until=ban_end),
        _sample(1, host="b"),
    )

    states = guard_queries.api_breaker_states(cur, now=WALL + timedelta(seconds=100))

    assert states[["host", "api_breaker"]].values.tolist() == [["a", "HALF_OPEN"], ["b", "CLOSED"]]
    assert states["ban_left_s"].tolist() == [pytest.approx(30.0), 0.0]
    assert states["banned_until"].iloc[0] == pd.Timestamp(ban_end) and pd.isna(states["banned_until"].iloc[1])


def test_ws_timeline_is_newest_first(cur, write) -> None:
    write("ws_events", _ws(1, "CONNECTED"), _ws(2, "BAD_MESSAGE"), _ws(3, "BACKFILL", candles=4))

    timeline = guard_queries.ws_timeline(cur, limit=2)

    assert list(timeline.columns) == list(guard_queries.WS_EVENT_COLUMNS)
    assert timeline["event"].tolist() == ["BACKFILL", "BAD_MESSAGE"]


def test_ws_spans_merge_repeated_states_and_mark_reconnects(cur, write) -> None:
    """Failed connects in a row are one disconnected span; the last span runs to now; other events are ignored."""
    write(
        "ws_events",
        _ws(0, "CONNECTED"), _ws(5, "BAD_MESSAGE"), _ws(10, "DISCONNECTED", attempt=1),
        _ws(12, "DISCONNECTED", attempt=2), _ws(16, "CONNECTED", attempt=2), _ws(17, "BACKFILL", candles=3),
    )

    spans = guard_queries.ws_spans(cur, now=WALL + timedelta(seconds=30))

    assert list(spans.columns) == list(guard_queries.WS_SPAN_COLUMNS)
    assert spans["state"].tolist() == ["connected", "disconnected", "connected"]
    assert spans["events"].tolist() == [1, 2, 1]
    assert spans["reconnect"].tolist() == [False, False, True]
    seconds = [(t - pd.Timestamp(WALL)).total_seconds() for t in spans["end"]]
    assert seconds == [10.0, 16.0, 30.0]
    assert guard_queries.ws_spans(cur, now=WALL, limit=1)["state"].tolist() == ["connected"]


def test_ws_event_counts_total_each_kind(cur, write) -> None:
    write(
        "ws_events",
        _ws(0, "CONNECTED"), _ws(1, "DISCONNECTED", attempt=1), _ws(2, "CONNECTED", attempt=1),
        _ws(3, "BACKFILL", candles=3), _ws(4, "BACKFILL", candles=2), _ws(5, "BAD_MESSAGE"),
    )

    assert guard_queries.ws_event_counts(cur) == {
        "connects": 2, "reconnects": 1, "disconnects": 1, "bad_messages": 1, "backfills": 2, "backfilled_candles": 5,
    }


def test_denials_by_reason_most_frequent_first(cur, write) -> None:
    denial = {"ts": T0, "symbol": "BTCUSDT", "detail": ""}
    write("risk_denials", *(denial | {"reason_code": code} for code in ("MAX_POSITIONS", "STOP_TOO_TIGHT", "STOP_TOO_TIGHT")))

    denials = guard_queries.denials_by_reason(cur)

    assert denials[["reason_code", "denials"]].values.tolist() == [["STOP_TOO_TIGHT", 2], ["MAX_POSITIONS", 1]]


@pytest.mark.parametrize(
    ("query", "columns"),
    [
        (guard_queries.breaker_history, guard_queries.BREAKER_HISTORY_COLUMNS),
        (guard_queries.breaker_gauges, guard_queries.BREAKER_GAUGE_COLUMNS),
        (guard_queries.rate_limit_series, guard_queries.RATE_LIMIT_COLUMNS),
        (guard_queries.retry_counts, guard_queries.RETRY_COUNT_COLUMNS),
        (guard_queries.ws_timeline, guard_queries.WS_EVENT_COLUMNS),
        (guard_queries.ws_spans, guard_queries.WS_SPAN_COLUMNS),
        (guard_queries.gap_history, guard_queries.GAP_COLUMNS),
        (guard_queries.denials_by_reason, ("reason_code", "denials", "last_ts")),
        (guard_queries.api_call_totals, ("endpoint", "outcome", "reason", "calls", "avg_latency_ms", "last_ts")),
        (
            guard_queries.api_breaker_states,
            ("host", "ts", "api_breaker", "banned_until", "ban_left_s", "used_weight", "weight_limit", "utilisation_pct"),
        ),
    ],
)
def test_guard_queries_on_empty_tables_give_empty_frames_with_the_right_columns(cur, query, columns) -> None:
    frame = query(cur)
    assert frame.empty and list(frame.columns) == list(columns)
