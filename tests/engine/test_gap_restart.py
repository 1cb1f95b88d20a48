"""A gap the previous run could not fill is read back from the ``gaps`` table at start and filled then: never a
permanent hole, across restarts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import MetricsSettings, Settings, StorageSettings, StreamSettings, VenueSettings
from engine.runtime import Runtime
from simulator.market import Market
from simulator.server import SimulatorServer
from storage.store import Store

SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    """The exchange keeps running between the two engine runs (venue ``binance`` points at it)."""
    with SimulatorServer(Market.replay(SYMBOLS, speed=600.0), update_interval_ms=20) as server:
        yield server


def _latest_gap_states(path: Path) -> dict[str, tuple[str, int]]:
    with Store(path, read_only=True) as store, store.cursor() as cur:
        rows = cur.execute(
            "SELECT gap_id, arg_max(state, recorded_at), arg_max(attempts, recorded_at) FROM gaps GROUP BY gap_id"
        ).fetchall()
    return {gap_id: (state, attempts) for gap_id, state, attempts in rows}


def test_a_gap_left_open_by_a_stop_is_filled_after_the_restart(
    simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wait_for, assert_contiguous
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(
        venue=VenueSettings(name="binance", rest_url=simulator.rest_url, ws_url=simulator.ws_url),
        storage=StorageSettings(path=tmp_path / "pt.duckdb"),
        metrics=MetricsSettings(port=0),
        stream=StreamSettings(backoff_cap_s=0.5),
    )
    with Runtime(settings) as first:
        wait_for(lambda: first.status().rules_loaded and not first.status().gaps and first.status().last_candle_ms, "trading")
        simulator.faults.update(rest_5xx_rate=1.0, ws_drop_every_s=0.5)
        wait_for(lambda: any(g.attempts >= 2 for g in first.status().gaps), "a gap whose backfill failed twice")
    left_open = {g: a for g, (state, a) in _latest_gap_states(settings.storage.path).items() if state == "OPEN"}
    assert left_open and max(left_open.values()) >= 2

    simulator.faults.reset()
    time.sleep(0.5)  # the exchange moves on while the engine is down: one more hole, found at the restart
    with Runtime(settings) as second:
        wait_for(lambda: second.status().last_candle_ms is not None and not second.status().gaps, "every gap to close")

    after = _latest_gap_states(settings.storage.path)
    assert {g: after[g][0] for g in left_open} == dict.fromkeys(left_open, "CLOSED"), "the same gaps, now closed"
    assert all(after[g][1] >= left_open[g] for g in left_open), "their failed attempts are remembered"
    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        for symbol in SYMBOLS:
            assert_contiguous(cur, symbol)
