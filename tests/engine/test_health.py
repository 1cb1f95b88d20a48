"""Liveness and readiness: the heartbeat's lag and silence on an injected clock, and each check's verdict and reason."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from engine.health import HealthReport, Heartbeat, Limits, Vitals, liveness, readiness
from engine.sinks.status import EngineState, EngineStatus, GapStatus

LIMITS = Limits(loop_stall_s=3.0, max_data_lag_s=30.0, max_disconnected_s=60.0, max_flush_age_s=10.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_heartbeat_measures_how_late_the_loop_woke() -> None:
    """The sleep stands for the loop: it wakes the task ``late`` seconds after it was due."""
    clock, lags = Clock(), []
    delays = iter([0.0, 0.25, 1.5])

    class Done(Exception):
        pass

    async def sleep(interval_s: float) -> None:
        late = next(delays, None)
        if late is None:
            raise Done  # the fourth wake-up is not scripted
        clock.now += interval_s + late

    heartbeat = Heartbeat(interval_s=0.5, clock=clock, sleep=sleep, on_lag=lags.append)
    with pytest.raises(Done):
        asyncio.run(heartbeat.run())

    assert lags == [0.0, 0.25, 1.5]
    assert heartbeat.lag_s == 1.5
    assert heartbeat.last_turn_s == clock.now == 100.0 + 3 * 0.5 + 1.75
    clock.now += 2.0
    assert heartbeat.silent_s() == 2.0


def test_a_heartbeat_before_its_first_beat_counts_from_its_creation() -> None:
    clock = Clock()
    heartbeat = Heartbeat(clock=clock)
    clock.now += 4.0
    assert heartbeat.silent_s() == 4.0


def vitals(**changes: object) -> Vitals:
    base = Vitals(
        status=EngineStatus(state=EngineState.RUNNING, venue="sim", market_connected=True, rules_loaded=True),
        thread_alive=True,
        loop_silent_s=0.4,
        disconnected_s=None,
        data_lag_s=0.2,
        buffered_rows=30,
        flush_age_s=0.1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def failing(report: HealthReport) -> list[str]:
    return [c.name for c in report.checks if not c.ok]


def test_a_running_engine_is_alive_and_ready() -> None:
    assert liveness(vitals(), LIMITS).ok
    report = readiness(vitals(), LIMITS)
    assert report.ok
    assert report.body() == {
        "status": "ok",
        "checks": {c.name: {"ok": True, "detail": c.detail} for c in report.checks},
        "failing": [],
    }
    assert [c.name for c in report.checks] == ["thread", "state", "loop", "bootstrap", "stream", "data_lag", "flush"]


@pytest.mark.parametrize(
    ("changes", "check", "reason"),
    [
        ({"thread_alive": False}, "thread", "the engine thread is not running"),
        ({"loop_silent_s": 3.0}, "loop", "the engine loop turned 3.0 s ago (limit 3 s)"),
        ({"loop_silent_s": None}, "loop", "no engine loop"),
    ],
)
def test_liveness_fails_when_the_thread_is_gone_or_the_loop_stalls(changes: dict[str, object], check: str, reason: str) -> None:
    report = liveness(vitals(**changes), LIMITS)
    assert not report.ok
    assert report.body()["failing"] == [f"{check}: {reason}"]


@pytest.mark.parametrize("state", [EngineState.FAILED, EngineState.STOPPED])
def test_a_failed_or_stopped_engine_is_not_alive(state: EngineState) -> None:
    status = EngineStatus(state=state, venue="sim", error="feed: TransportError: gave up")
    report = liveness(vitals(status=status), LIMITS)
    assert failing(report) == ["state"]
    assert report.body()["failing"] == [f"state: engine {state.value}: feed: TransportError: gave up"]


def test_paused_and_starting_engines_are_alive() -> None:
    for state in (EngineState.PAUSED, EngineState.STARTING):
        assert liveness(vitals(status=EngineStatus(state=state, venue="sim")), LIMITS).ok


def warmup(symbol: str) -> GapStatus:
    return GapStatus(symbol, 0, 60_000, 2, "warmup", 0.0, 0, "", fetched=False)


@pytest.mark.parametrize(
    ("status_changes", "vital_changes", "check", "reason"),
    [
        ({"rules_loaded": False}, {}, "bootstrap", "the exchange rules have not arrived yet"),
        ({"gaps": (warmup("ETHUSDT"), warmup("BTCUSDT"))}, {}, "bootstrap", "warming up BTCUSDT, ETHUSDT"),
        ({"market_connected": False}, {}, "stream", "not connected yet"),
        ({"market_connected": False}, {"disconnected_s": 61.0}, "stream", "down 61 s, reconnecting (limit 60 s)"),
        ({}, {"data_lag_s": 30.0}, "data_lag", "last market message 30.0 s ago (limit 30 s)"),
        ({}, {"buffered_rows": 5, "flush_age_s": 10.0}, "flush", "5 row(s) waiting, last flush committed 10.0 s ago (limit 10 s)"),
    ],
)
def test_readiness_fails_naming_the_reason(
    status_changes: dict[str, object], vital_changes: dict[str, object], check: str, reason: str
) -> None:
    status = replace(vitals().status, **status_changes)  # type: ignore[arg-type]
    report = readiness(vitals(status=status, **vital_changes), LIMITS)
    assert report.body()["status"] == "fail"
    assert report.body()["failing"] == [f"{check}: {reason}"]
    assert liveness(vitals(status=status, **vital_changes), LIMITS).ok, "not ready is not dead"


def test_ready_while_reconnecting_within_the_limit_and_idle_without_rows() -> None:
    status = replace(vitals().status, market_connected=False)
    assert readiness(vitals(status=status, disconnected_s=59.0), LIMITS).ok
    assert readiness(vitals(buffered_rows=0, flush_age_s=3600.0), LIMITS).ok, "nothing to write is not a stalled writer"
