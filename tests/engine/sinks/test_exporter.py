"""The exporter: every metric family from one set of readings, in the Prometheus text format as prometheus_client
writes and parses it; names and types per the conventions; a private registry per exporter."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from engine.core.portfolio import Snapshot
from engine.feed.rest import RestGuardStatus
from engine.feed.stream_events import Connected
from engine.guards.api_breaker import ApiBreakerState, ApiBreakerStatus
from engine.guards.host_ban import HostBanStatus
from engine.guards.rate_limiter import RateLimiterStatus
from engine.guards.retry import RetryAttempt
from engine.sinks.exporter import Exporter, Readings
from engine.sinks.metrics import MetricsSink
from engine.sinks.status import EngineState, EngineStatus, GapStatus
from storage.recorder import RecorderStatus

HOST = "api.binance.com"


def guards(*, breaker: ApiBreakerState = ApiBreakerState.CLOSED, bans: int = 0) -> RestGuardStatus:
    return RestGuardStatus(
        limiter=RateLimiterStatus(
            used_weight=4800.0, server_used_weight=4812, limit=6000, capacity=6000, utilisation=0.8, waiting=0, last_wait_s=0.0,
            total_wait_s=0.0,
        ),
        breaker=ApiBreakerStatus(
            host=HOST, state=breaker, consecutive_failures=0, failure_threshold=5, retry_after_s=0.0, trial_in_flight=False, opens=2
        ),
        ban=HostBanStatus(host=HOST, banned=bans > 0, retry_after_s=0.0, until_s=None, bans=bans),
    )


def gap(symbol: str, candles: int, kind: str = "gap") -> GapStatus:
    return GapStatus(symbol, 0, 60_000 * (candles - 1), candles, kind, 0.0, 0, "", fetched=False)


def readings(sink: MetricsSink | None = None, **changes: object) -> Readings:
    base = {
        "status": EngineStatus(
            state=EngineState.RUNNING, venue="sim", market_connected=True, candles_processed=1234, breaker_state="TRIPPED",
            risk_denials=7, backfilled_candles=300, dropped_candles=2, bad_messages=1, held_candles=5,
            gaps=(gap("BTCUSDT", 3), gap("BTCUSDT", 2, "warmup")),
        ),
        "sink": sink,
        "guards": guards(bans=1),
        "ban_remaining_s": 42.5,
        "recorder": RecorderStatus(
            running=True, buffered_rows=12, max_buffered_rows=200_000, rows_written=9999, flushes=40, failed_flushes=1, last_flush_ms=3.0,
            last_error=None,
        ),
        "flush_age_s": 0.2,
        "data_lag_s": 0.75,
        "healthy": True,
        "ready": False,
    }  # fmt: skip
    return Readings(**(base | changes))  # type: ignore[arg-type]


def scrape(exporter: Exporter) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """``{sample name: {sorted labels: value}}`` of one scrape, parsed back by prometheus_client."""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(exporter.registry).decode()):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def types(exporter: Exporter) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(generate_latest(exporter.registry).decode())}


def exporter_for(r: Readings) -> Exporter:
    return Exporter(lambda: r, venue="sim", quote_asset="USDT", strategy="sma_crossover", symbols=("BTCUSDT", "ETHUSDT"))


@pytest.fixture
def sink() -> MetricsSink:
    return populated_sink()


def populated_sink() -> MetricsSink:
    """A sink with an account and at least one count of every kind."""
    sink = MetricsSink()
    e = Decimal("9400")
    sink.account = Snapshot(1, e, Decimal("7400"), Decimal("2000"), Decimal(0), Decimal(0), Decimal("10000"), 6.0, Decimal("10000"), -6.0)
    sink.breaker_transitions = {("ACTIVE", "WARNING"): 1, ("WARNING", "TRIPPED"): 1}
    sink.commands = {("PRICE_SHOCK", "OK"): 2}
    t = datetime(2024, 1, 1, tzinfo=UTC)
    for status, outcome, reason in ((429, "retry", "429"), (200, "ok", "ok"), (None, "banned", "host_banned")):
        sink.rest_attempt(RetryAttempt("/api/v3/klines", status, 1.0, 0, None, outcome, reason, t))  # type: ignore[arg-type]
    sink.stream_event(Connected("ws://x", 0))
    sink.stream_event(Connected("ws://x", 1))
    return sink


def test_every_family_reports_its_reading(sink: MetricsSink) -> None:
    s = scrape(exporter_for(readings(sink)))

    assert s["papertrader_engine_info"] == {(("quote_asset", "USDT"), ("strategy", "sma_crossover"), ("venue", "sim")): 1}
    assert s["papertrader_engine_state"][(("state", "RUNNING"),)] == 1 and sum(s["papertrader_engine_state"].values()) == 1
    assert (s["papertrader_engine_healthy"][()], s["papertrader_engine_ready"][()]) == (1, 0)
    assert s["papertrader_breaker_state"] == {
        (("state", "ACTIVE"),): 0, (("state", "WARNING"),): 0, (("state", "TRIPPED"),): 1, (("state", "DISABLED"),): 0
    }
    assert s["papertrader_breaker_transitions_total"][(("state_from", "WARNING"), ("state_to", "TRIPPED"))] == 1
    assert (s["papertrader_equity"][()], s["papertrader_cash"][()], s["papertrader_daily_pnl"][()]) == (9400, 7400, -600)
    assert (s["papertrader_daily_pnl_ratio"][()], s["papertrader_drawdown_ratio"][()]) == (-0.06, 0.06)
    assert s["papertrader_commands_total"] == {(("kind", "PRICE_SHOCK"), ("result", "OK")): 2}
    assert s["papertrader_rest_requests_total"] == {
        (("endpoint", "/api/v3/klines"), ("status", "429")): 1, (("endpoint", "/api/v3/klines"), ("status", "200")): 1
    }
    assert s["papertrader_rest_retries_total"] == {(("endpoint", "/api/v3/klines"), ("reason", "429")): 1}
    assert s["papertrader_rest_blocked_total"] == {(("endpoint", "/api/v3/klines"), ("reason", "host_banned")): 1}
    assert (s["papertrader_request_weight_used"][()], s["papertrader_request_weight_server_used"][()]) == (4800, 4812)
    assert (s["papertrader_request_weight_limit"][()], s["papertrader_request_weight_utilisation_ratio"][()]) == (6000, 0.8)
    assert s["papertrader_api_breaker_state"][(("host", HOST), ("state", "CLOSED"))] == 1
    assert s["papertrader_api_breaker_opens_total"] == {(("host", HOST),): 2}
    assert s["papertrader_api_ban_remaining_seconds"] == {(("host", HOST),): 42.5}
    assert s["papertrader_api_bans_total"] == {(("host", HOST),): 1}
    assert (s["papertrader_stream_connected"][()], s["papertrader_stream_reconnects_total"][()]) == (1, 1)
    assert s["papertrader_data_lag_seconds"][()] == 0.75
    assert s["papertrader_open_gaps"] == {(("symbol", "BTCUSDT"),): 2, (("symbol", "ETHUSDT"),): 0}
    assert s["papertrader_gap_candles"] == {(("symbol", "BTCUSDT"),): 5, (("symbol", "ETHUSDT"),): 0}
    assert s["papertrader_held_candles"][()] == 5
    assert (s["papertrader_candles_processed_total"][()], s["papertrader_backfilled_candles_total"][()]) == (1234, 300)
    assert (s["papertrader_dropped_candles_total"][()], s["papertrader_bad_messages_total"][()]) == (2, 1)
    assert s["papertrader_risk_denials_total"][()] == 7
    assert (s["papertrader_recorder_buffered_rows"][()], s["papertrader_recorder_last_flush_age_seconds"][()]) == (12, 0.2)
    assert (s["papertrader_recorder_failed_flushes_total"][()], s["papertrader_recorder_rows_written_total"][()]) == (1, 9999)


def test_names_follow_the_prometheus_conventions(sink: MetricsSink) -> None:
    """Counters end in ``_total``, histograms are in seconds, ratios are 0..1; every name has the prefix."""
    exporter = exporter_for(readings(sink))
    kinds = types(exporter)
    samples = scrape(exporter)

    assert all(name.startswith("papertrader_") for name in kinds)
    assert {name for name, kind in kinds.items() if kind == "histogram"} == {
        "papertrader_recorder_flush_duration_seconds", "papertrader_engine_loop_lag_seconds"
    }
    counters = {name for name, kind in kinds.items() if kind == "counter"}
    assert "papertrader_rest_retries" in counters and all(f"{c}_total" in samples for c in counters)
    assert all(0 <= v <= 1 for name, series in samples.items() if name.endswith("_ratio") and "pnl" not in name for v in series.values())
    assert all(kinds[name] == "gauge" for name in samples if name.endswith(("_ratio", "_seconds")))


def test_before_the_engine_exists_only_what_is_known_is_reported() -> None:
    """No account, no guards, no recorder yet: those families are absent rather than zero; the rest are there."""
    starting = EngineStatus(state=EngineState.STARTING, venue="sim")
    exporter = exporter_for(readings(None, status=starting, guards=None, recorder=None, data_lag_s=None))
    s = scrape(exporter)

    assert s["papertrader_engine_state"][(("state", "STARTING"),)] == 1
    assert "papertrader_equity" not in s and "papertrader_request_weight_limit" not in s
    assert "papertrader_recorder_buffered_rows" not in s and "papertrader_data_lag_seconds" not in s
    assert "papertrader_rest_retries_total" not in s  # no series until the first retry


def test_histograms_observe_and_each_exporter_has_its_own_registry(sink: MetricsSink) -> None:
    one, two = exporter_for(readings(sink)), exporter_for(readings(sink))  # a second one would clash in a shared registry
    one.flush_seconds.observe(0.004)
    one.flush_seconds.observe(0.2)
    one.loop_lag_seconds.observe(0.0005)

    s, t = scrape(one), scrape(two)
    assert s["papertrader_recorder_flush_duration_seconds_count"][()] == 2
    assert s["papertrader_recorder_flush_duration_seconds_bucket"][(("le", "0.005"),)] == 1
    assert s["papertrader_engine_loop_lag_seconds_bucket"][(("le", "0.001"),)] == 1
    assert t["papertrader_recorder_flush_duration_seconds_count"][()] == 0


def test_each_scrape_reads_anew(sink: MetricsSink) -> None:
    current = [readings(sink)]
    exporter = Exporter(lambda: current[0], venue="sim", quote_asset="USDT", strategy="sma_crossover", symbols=("BTCUSDT",))
    assert scrape(exporter)["papertrader_breaker_state"][(("state", "TRIPPED"),)] == 1

    current[0] = readings(sink, status=EngineStatus(state=EngineState.RUNNING, venue="sim", breaker_state="ACTIVE"))
    sink.rest_attempt(RetryAttempt("/api/v3/klines", 429, 1.0, 0, None, "retry", "429", datetime(2024, 1, 1, tzinfo=UTC)))

    s = scrape(exporter)
    assert s["papertrader_breaker_state"][(("state", "TRIPPED"),)] == 0
    assert s["papertrader_rest_retries_total"][(("endpoint", "/api/v3/klines"), ("reason", "429"))] == 2
