"""The metrics sink: the latest account snapshot, breaker transitions and commands from the core's events; REST
requests, retries and blocked attempts from the retrier's reports, with bounded labels; reconnects from the stream."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from engine.commands import Command, CommandKind
from engine.config import Settings
from engine.core.breaker import BreakerEvent, BreakerEventKind, BreakerState
from engine.core.core import TradingCore
from engine.core.events import BreakerChanged, CommandApplied, CommandResult, Marked, MarkSource
from engine.core.portfolio import Portfolio, Snapshot
from engine.core.strategy import SmaCrossover
from engine.feed.stream_events import BadMessage, Connected, Disconnected
from engine.guards.retry import RetryAttempt
from engine.sinks.metrics import MetricsSink, endpoint_label, status_label

NOW = datetime(2024, 1, 2, tzinfo=UTC)


@pytest.fixture
def core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TradingCore:
    """A trading core with the default settings (no stray papertrader.toml read)."""
    monkeypatch.chdir(tmp_path)
    return TradingCore(Settings(), strategy=SmaCrossover(), portfolio=Portfolio(Decimal(10_000)))


def snapshot(equity: str, time_ms: int = 0) -> Snapshot:
    e = Decimal(equity)
    return Snapshot(time_ms, e, e, Decimal(0), Decimal(0), Decimal(0), e, 0.0, e, 0.0)


def attempt(endpoint: str, status: int | None, outcome: str, reason: str) -> RetryAttempt:
    return RetryAttempt(endpoint=endpoint, status=status, latency_ms=1.0, attempt=0, delay_s=None, outcome=outcome, reason=reason, time=NOW)  # type: ignore[arg-type]


def test_the_account_is_the_latest_mark_of_a_step() -> None:
    sink = MetricsSink()
    assert sink.account is None
    first, last = snapshot("10000", 1), snapshot("9500", 2)

    sink.handle_all([Marked(first, "BTCUSDT", MarkSource.CANDLE), Marked(last, "ETHUSDT", MarkSource.PRICE)])

    assert sink.account is last


def test_breaker_transitions_and_commands_are_counted_by_their_labels(core: TradingCore) -> None:
    sink = MetricsSink()
    trip = BreakerEvent(
        kind=BreakerEventKind.BREAKER_TRIPPED, state_from=BreakerState.WARNING, state_to=BreakerState.TRIPPED, time_ms=1,
        equity=Decimal("9400"), daily_loss_pct=6.0, drawdown_pct=6.0, reason="daily loss", actor="breaker",
    )  # fmt: skip
    events = core.apply(Command(CommandKind.PAUSE, actor="test"))
    events += core.apply(Command(CommandKind.PAUSE, actor="test"))  # already paused: IGNORED
    events.append(CommandApplied(Command(CommandKind.PRICE_SHOCK, actor="test"), CommandResult.REFUSED, "not the simulator"))

    sink.handle_all([BreakerChanged(trip), *events, BreakerChanged(trip)])

    assert sink.breaker_transitions == {("WARNING", "TRIPPED"): 2}
    assert sink.commands == {("PAUSE", "OK"): 1, ("PAUSE", "IGNORED"): 1, ("PRICE_SHOCK", "REFUSED"): 1}


def test_requests_retries_and_blocked_attempts_are_told_apart() -> None:
    sink = MetricsSink()
    for a in (
        attempt("/api/v3/klines", 429, "retry", "429"),
        attempt("/api/v3/klines", 429, "deferred", "429"),  # a retry the backfill makes later
        attempt("/api/v3/klines", 200, "ok", "ok"),
        attempt("/api/v3/klines", None, "retry", "timeout"),  # sent, no answer
        attempt("/api/v3/exchangeInfo", 503, "giveup", "5xx"),  # retries spent: a request, not a retry
        attempt("/api/v3/klines", None, "banned", "host_banned"),  # never sent
        attempt("/api/v3/klines", None, "breaker_open", "breaker_open"),
    ):
        sink.rest_attempt(a)

    assert sink.requests == {
        ("/api/v3/klines", "429"): 2, ("/api/v3/klines", "200"): 1, ("/api/v3/klines", "none"): 1, ("/api/v3/exchangeInfo", "503"): 1
    }
    assert sink.retries == {("/api/v3/klines", "429"): 2, ("/api/v3/klines", "timeout"): 1}
    assert sink.blocked == {("/api/v3/klines", "host_banned"): 1, ("/api/v3/klines", "breaker_open"): 1}
    assert (sink.requests_total, sink.retries_total) == (5, 3)


def test_label_values_are_bounded() -> None:
    """An unknown path or an impossible status cannot create a new series each time."""
    assert endpoint_label("/api/v3/klines") == "/api/v3/klines"
    assert endpoint_label("/api/v3/klines?symbol=BTCUSDT&startTime=1") == "other"
    assert endpoint_label("/hooks/T000/B000/XXXX") == "other"
    assert [status_label(s) for s in (None, 200, 418, 99, 600, 123456)] == ["none", "200", "418", "other", "other", "other"]


def test_reconnects_are_connections_after_the_first() -> None:
    sink = MetricsSink()
    assert sink.reconnects == 0
    sink.stream_event(Connected("ws://x", 0))
    assert sink.reconnects == 0
    for _ in range(3):
        sink.stream_event(Disconnected(code=None, reason="", error="reset", retry_in_s=1.0, attempt=1, connected_for_s=5.0))
        sink.stream_event(Connected("ws://x", 1))
    sink.stream_event(BadMessage("junk"))

    assert (sink.connects, sink.reconnects, sink.disconnects) == (4, 3, 3)
