"""Stopping takes at most 2 s in every state, the engine thread has ended before the database closes, and the final
telemetry row is written: running, exchange rules held up behind a 429's Retry-After or a 418 ban, a backfill
request in flight, the stream waiting to reconnect, and ``papertrader run`` stopped by SIGTERM behind a 429."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.config import MetricsSettings, Settings, StorageSettings, StreamSettings, VenueSettings
from engine.runtime import STOP_BUDGET_S, Runtime
from engine.sinks.status import EngineState
from simulator.market import Market
from simulator.server import SimulatorServer
from storage.store import Store


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    """The simulated exchange on its own (venue ``binance`` points at it), fast enough to open gaps quickly."""
    with SimulatorServer(Market.replay(("BTCUSDT", "ETHUSDT"), speed=600.0), update_interval_ms=20) as server:
        yield server


@pytest.fixture
def binance(simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    monkeypatch.chdir(tmp_path)

    def make(**sections: Any) -> Settings:
        return Settings(
            venue=VenueSettings(name="binance", rest_url=simulator.rest_url, ws_url=simulator.ws_url),
            storage=StorageSettings(path=tmp_path / "pt.duckdb"),
            metrics=MetricsSettings(port=0),
            **sections,
        )

    return make


def _timed_stop(runtime: Runtime) -> float:
    started = time.monotonic()
    runtime.stop()
    elapsed_s = time.monotonic() - started
    assert runtime._thread is not None and not runtime._thread.is_alive(), "the engine thread has ended"
    assert runtime.store is not None and runtime.store.closed
    print(f"stop took {elapsed_s:.2f} s")
    return elapsed_s


def _telemetry_rows(settings: Settings) -> int:
    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        return cur.execute("SELECT count(*) FROM rate_limit_samples").fetchone()[0]


def _api_reasons(runtime: Runtime) -> set[str]:
    assert runtime.store is not None
    with runtime.store.cursor() as cur:
        return {r[0] for r in cur.execute("SELECT reason FROM api_calls").fetchall()}


def test_stop_while_running(fast_settings, wait_for) -> None:
    settings = fast_settings()
    runtime = Runtime(settings).start()
    wait_for(lambda: runtime.status().state is EngineState.RUNNING and runtime.status().candles_processed > 20, "trading")
    assert _timed_stop(runtime) <= STOP_BUDGET_S
    assert runtime.status().state is EngineState.STOPPED
    assert _telemetry_rows(settings) >= 1


@pytest.mark.parametrize(
    ("faults", "reason"),
    [({"rest_429_storm": True}, "429"), ({"rest_418_ban_s": 300}, "418")],
    ids=["behind-a-429", "behind-a-418-ban"],
)
def test_stop_while_the_exchange_rules_wait_for_the_venue(
    simulator: SimulatorServer, binance, wait_for, faults: dict[str, Any], reason: str
) -> None:
    """Bootstrap can not finish (exchangeInfo refused, next try a minute away): the stop does not wait for it."""
    simulator.faults.update(**faults)
    settings = binance()
    runtime = Runtime(settings).start()
    wait_for(lambda: reason in _api_reasons(runtime), f"a {reason} answer")
    assert runtime.status().state is EngineState.STARTING
    assert _timed_stop(runtime) <= STOP_BUDGET_S
    assert _telemetry_rows(settings) >= 1


def test_stop_while_a_backfill_request_is_in_flight(simulator: SimulatorServer, binance, wait_for) -> None:
    """Every REST answer takes 10 s: the warm-up backfill is mid-request when the stop comes."""
    simulator.faults.update(rest_delay_ms=10_000)
    settings = binance()
    runtime = Runtime(settings).start()
    wait_for(lambda: len(runtime.status().gaps) == 2, "the warm-up gaps")
    time.sleep(0.3)  # the backfill workers are awaiting their (slow) answers now
    assert not any(g.fetched for g in runtime.status().gaps)
    assert _timed_stop(runtime) <= STOP_BUDGET_S
    assert _telemetry_rows(settings) >= 1


def test_stop_while_the_stream_waits_to_reconnect(simulator: SimulatorServer, binance, wait_for) -> None:
    """Drops every 0.2 s with the default backoff: after a few drops the next connect is seconds away."""
    settings = binance(stream=StreamSettings(stable_after_s=60.0))
    runtime = Runtime(settings).start()
    wait_for(lambda: runtime.status().market_connected, "the first connection")
    simulator.faults.update(ws_drop_every_s=0.2)

    def waiting_long() -> bool:
        assert runtime.store is not None
        with runtime.store.cursor() as cur:
            row = cur.execute("SELECT max(retry_in_s) FROM ws_events WHERE event = 'DISCONNECTED'").fetchone()
        return row[0] is not None and row[0] >= 3.0 and not runtime.status().market_connected

    wait_for(waiting_long, "a reconnect delay of 3 s or more", timeout_s=60)
    assert _timed_stop(runtime) <= STOP_BUDGET_S
    assert _telemetry_rows(settings) >= 1


def test_sigterm_stops_papertrader_run_behind_a_429_within_the_budget(simulator: SimulatorServer, tmp_path: Path) -> None:
    """The reported case: SIGTERM while bootstrap waits behind a 429 took 10.3 s and lost the last telemetry row."""
    simulator.faults.update(rest_429_storm=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTRADER_")}
    env |= {
        "PAPERTRADER_VENUE__NAME": "binance",
        "PAPERTRADER_VENUE__REST_URL": simulator.rest_url,
        "PAPERTRADER_VENUE__WS_URL": simulator.ws_url,
        "PAPERTRADER_STORAGE__PATH": str(tmp_path / "pt.duckdb"),
        "PAPERTRADER_METRICS__PORT": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(line.decode() for line in process.stderr or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any("exchangeInfo failed" in line and "429" in line for line in errors):
            assert time.monotonic() < deadline and process.poll() is None, f"no 429 reached the engine: {errors}"
            time.sleep(0.05)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        rc = process.wait(timeout=10)
        elapsed_s = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(5)
    assert rc == 0, "".join(errors)
    print(f"SIGTERM to exit took {elapsed_s:.2f} s")
    assert elapsed_s <= STOP_BUDGET_S + 0.5, f"{elapsed_s:.2f} s (interpreter exit included)"
    with Store(tmp_path / "pt.duckdb", read_only=True) as store, store.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM rate_limit_samples").fetchone()[0] >= 1
        assert cur.execute("SELECT count(*) FROM api_calls WHERE reason = '429'").fetchone()[0] >= 1
