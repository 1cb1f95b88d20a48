"""The engine loop without a running loop: venue commands go to the Runtime's control (refused without a simulator),
trading commands to the core, each audited with its id and flushed before its result; the REST guards' load alerts."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.commands import Command, CommandKind
from engine.config import Settings
from engine.core.core import TradingCore
from engine.core.events import CommandResult
from engine.core.portfolio import Portfolio
from engine.core.strategy import SmaCrossover
from engine.feed.rest import RestGuardStatus
from engine.guards.api_breaker import ApiBreakerState, ApiBreakerStatus
from engine.guards.host_ban import HostBanStatus
from engine.guards.rate_limiter import RateLimiterStatus
from engine.guards.retry import RetryAttempt
from engine.loop import EngineLoop


class ListRecorder:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.flushes = 0

    def record(self, table: str, row: Any) -> None:
        self.rows.setdefault(table, []).append(dict(row))

    def flush(self) -> int:
        self.flushes += 1
        return 0

    def atomic(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


def make_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, venue_control: Any = None) -> tuple[EngineLoop, ListRecorder]:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    core = TradingCore(settings, strategy=SmaCrossover(), portfolio=Portfolio(Decimal(10_000)))
    recorder = ListRecorder()
    loop = EngineLoop(
        settings, core=core, recorder=recorder, rest_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:1",
        next_ms={}, gaps=[], warmup_candles=44, venue_control=venue_control, wall_clock=lambda: 1_700_000_000.0,
    )
    return loop, recorder


def test_venue_commands_are_refused_without_a_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop, recorder = make_loop(tmp_path, monkeypatch)
    command = Command(CommandKind.SET_FAULTS, "ops", params={"ws_stall": True})
    applied = loop.apply_command(command)
    assert (applied.result, applied.detail) == (CommandResult.REFUSED, "the venue is not the simulator")
    (row,) = recorder.rows["commands"]
    assert (row["command_id"], row["command"], row["result"]) == (command.command_id, "SET_FAULTS", "REFUSED")
    assert recorder.flushes == 1, "audited on disk before the result is handed back"


def test_venue_commands_go_to_the_control_and_its_refusals_are_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    applied_params: list[dict[str, Any]] = []

    def control(command: Command) -> str:
        if command.params.get("rest_5xx_rate", 0) > 1:
            raise ValueError("rest_5xx_rate must be\n at most 1")
        applied_params.append(dict(command.params))
        return f"faults: {dict(command.params)}"

    loop, recorder = make_loop(tmp_path, monkeypatch, venue_control=control)
    ok = loop.apply_command(Command(CommandKind.SET_FAULTS, "ops", params={"ws_stall": True}))
    refused = loop.apply_command(Command(CommandKind.SET_FAULTS, "ops", params={"rest_5xx_rate": 2.0}))

    assert (ok.result, ok.detail) == (CommandResult.OK, "faults: {'ws_stall': True}")
    assert (refused.result, refused.detail) == (CommandResult.REFUSED, "rest_5xx_rate must be at most 1")
    assert applied_params == [{"ws_stall": True}]
    assert [r["result"] for r in recorder.rows["commands"]] == ["OK", "REFUSED"]


def test_trading_commands_go_to_the_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop, recorder = make_loop(tmp_path, monkeypatch)
    assert loop.apply_command(Command(CommandKind.PAUSE, "ops")).result is CommandResult.OK
    assert loop.core.paused
    assert loop.apply_command(Command(CommandKind.PAUSE, "ops")).result is CommandResult.IGNORED
    assert [r["detail"] for r in recorder.rows["commands"]] == ["entries stopped", "already paused"]


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class Notified(list[Any]):
    """Stands in for the AlertSink: keeps what it is notified of."""

    def notify(self, alert: Any) -> None:
        self.append(alert)


def guard_status(utilisation: float) -> RestGuardStatus:
    used = 6000 * utilisation
    return RestGuardStatus(
        limiter=RateLimiterStatus(used, None, 6000, 6000, utilisation, 0, 0.0, 0.0),
        breaker=ApiBreakerStatus("127.0.0.1:1", ApiBreakerState.CLOSED, 0, 5, 0.0, False, 0),
        ban=HostBanStatus("127.0.0.1:1", False, 0.0, None, 0),
    )


def test_weight_and_retry_rate_alerts_reach_the_alert_sink_once_per_episode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sampled every second: utilisation at 90 % alerts once after a minute; a REST retry rate of a third alerts once
    its requests (through the REST client's attempt hook) reach 20 in the window; each counts and records the attempt."""
    monkeypatch.chdir(tmp_path)
    clock, recorder, alerts = Clock(), ListRecorder(), Notified()
    settings = Settings()
    loop = EngineLoop(
        settings, core=TradingCore(settings, strategy=SmaCrossover(), portfolio=Portfolio(Decimal(10_000))), recorder=recorder,
        rest_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:1", next_ms={}, gaps=[], warmup_candles=44, monotonic=clock,
    )  # fmt: skip
    at = datetime(2024, 1, 2, tzinfo=UTC)
    for second in range(120):
        clock.now += 1
        if second < 30:  # a request a second, every third one retried
            outcome, status = ("retry", 429) if second % 3 == 0 else ("ok", 200)
            loop._rest_attempt(RetryAttempt("/api/v3/klines", status, 1.0, 0, None, outcome, outcome, at), host="h")
        loop._alert_on(guard_status(0.9), alerts)  # type: ignore[arg-type]

    assert [(a.kind, a.fields.get("for_s"), a.fields.get("requests"), a.fields.get("retries")) for a in alerts] == [
        ("RetryRateHigh", None, 20, 6),  # 20 requests since the first sample, 6 of them retried: 30 %
        ("WeightUtilisationHigh", 60.0, None, None),
    ]
    assert len(recorder.rows["api_calls"]) == 30
    assert (loop.metrics.requests_total, loop.metrics.retries_total) == (30, 10)
