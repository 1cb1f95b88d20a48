"""The fault drill: recovery work must never stall protection.

Venue ``binance`` pointed at the simulator (as ``papertrader sim`` serves it), replay speed 60, a position open. Then
a 60 s 429 storm with the stream dropped every 2 s, then a 30 s IP ban (HTTP 418) with drops. The reconnect backoff
is capped at 2 s (``stream.backoff_cap_s``) so reconnects are quick: the drill measures whether recovery stalls
protection, not the reconnect policy. A price shock inside the fault window takes the price through the position's
stop. Checked: equity rows never stop for 3 s, the stop fills inside the window, and within 30 s of the end every gap
is closed, the stored candles match the dataset minute for minute, and no entry was made on a symbol with an open gap.

Timing. The simulator answers a 429 with ``Retry-After`` = the seconds left in the wall-clock minute (Binance's
REQUEST_WEIGHT window), and the engine honours every one: a retry made at the minute boundary inside the storm is
told to wait a full minute. So the last retry after the storm comes (boundary − storm start) − 30 s after the faults
end, between 0 and 30 s. A storm started in the first seconds of a minute would put that at the very edge of the
30 s allowed, so the drill starts its storm at least :data:`STORM_PHASE_S` seconds into a minute.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.config import MetricsSettings, Settings, SimSettings, StorageSettings, StreamSettings, VenueSettings
from engine.runtime import Runtime
from simulator.dataset import load_candles
from simulator.market import Market
from simulator.server import SimulatorServer
from storage.store import Store

SYMBOLS = ("BTCUSDT", "ETHUSDT")
START_MS = int(datetime(2021, 4, 22, 18, 5, tzinfo=UTC).timestamp() * 1000)
STORM_S, BAN_S, RECOVERY_S = 60.0, 30.0, 30.0
MAX_EQUITY_SILENCE_S = 3.0
STORM_PHASE_S = 5.0


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    """The simulated exchange on its own, at speed 60 from 2021-04-22 18:05 (a stretch that trades early)."""
    with SimulatorServer(Market.replay(SYMBOLS, start_ms=START_MS, speed=60.0), update_interval_ms=100) as server:
        yield server


@pytest.fixture
def settings(simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    return Settings(
        venue=VenueSettings(name="binance", rest_url=simulator.rest_url, ws_url=simulator.ws_url),
        storage=StorageSettings(path=tmp_path / "drill.duckdb"),
        metrics=MetricsSettings(port=0),
        sim=SimSettings(speed=60.0),
        stream=StreamSettings(backoff_cap_s=2.0, stale_after_s=6.0),
    )


def _wait(condition: Callable[[], object], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.timeout(420)
def test_a_429_storm_and_a_418_ban_with_stream_drops_never_stall_protection(simulator: SimulatorServer, settings: Settings) -> None:
    faults = simulator.faults
    with Runtime(settings) as runtime:
        core = runtime.core
        assert core is not None
        _wait(lambda: runtime.status().rules_loaded and not runtime.status().gaps, "the engine to warm up", 60)
        _wait(lambda: bool(core.portfolio.positions), "an open position", 120)
        held = next(iter(core.portfolio.positions))

        time.sleep(max(0.0, STORM_PHASE_S - time.time() % 60))
        faults_from = time.time()
        faults.update(rest_429_storm=True, ws_drop_every_s=2.0)
        _wait(lambda: any(g.symbol == held for g in runtime.status().gaps), f"a gap in {held}", 15)
        assert held in core.portfolio.positions, "the position is still open when its gap opens"
        simulator.market.shock(pct=6, candles=2)  # from the next candle: through the stop while the gap is open
        time.sleep(max(0.0, faults_from + STORM_S - time.time()))

        faults.update(rest_429_storm=False, rest_418_ban_s=int(BAN_S))
        time.sleep(max(0.0, faults_from + STORM_S + BAN_S - time.time()))
        faults_to = time.time()
        faults.update(ws_drop_every_s=0.0)

        _wait(lambda: not runtime.status().gaps, "every gap to close", RECOVERY_S)
        recovered_s = time.time() - faults_to
        held_candles = runtime.status().held_candles

    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        window = [faults_from, faults_to]
        stamps = [r[0] for r in cur.execute(
            "SELECT epoch_ms(recorded_at) / 1000.0 FROM equity WHERE epoch_ms(recorded_at) / 1000.0 BETWEEN ? AND ? "
            "ORDER BY recorded_at", window,
        ).fetchall()]
        silences = [b - a for a, b in itertools.pairwise([faults_from, *stamps, faults_to])]
        assert max(silences) < MAX_EQUITY_SILENCE_S, f"equity rows stopped for {max(silences):.2f} s"

        stops = cur.execute(
            "SELECT count(*) FROM trades t JOIN fills f ON f.fill_id = t.trade_id "
            "WHERE t.exit_reason = 'STOP' AND t.symbol = ? AND epoch_ms(f.recorded_at) / 1000.0 BETWEEN ? AND ?",
            [held, *window],
        ).fetchone()[0]
        assert stops == 1, f"the stop of {held} filled inside the fault window"

        backfill_failures = cur.execute(
            "SELECT count(*) FROM ws_events WHERE event = 'BACKFILL' AND reason LIKE '%: %'"
        ).fetchone()[0]
        assert backfill_failures > 0, "backfills did meet the faults"
        latest = cur.execute(
            "SELECT state, count(*) FROM (SELECT gap_id, arg_max(state, recorded_at) AS state FROM gaps GROUP BY gap_id) "
            "GROUP BY state"
        ).fetchall()
        assert dict(latest).get("OPEN", 0) == 0 and dict(latest)["CLOSED"] > 2, latest
        assert held_candles == 0

        for symbol in SYMBOLS:
            stored = [r[0] for r in cur.execute(
                "SELECT epoch_ms(open_time) FROM candles WHERE symbol = ? ORDER BY open_time", [symbol]
            ).fetchall()]
            assert len(stored) == len(set(stored)), f"{symbol}: duplicate candles"
            dataset = [t for t in load_candles(symbol).open_time_ms if stored[0] <= t <= stored[-1]]
            assert stored == dataset, f"{symbol}: the stored minutes differ from the dataset's"

            spans = cur.execute(
                "SELECT min(epoch_ms(recorded_at)), max(epoch_ms(recorded_at)) FROM gaps WHERE symbol = ? "
                "GROUP BY gap_id", [symbol],
            ).fetchall()
            entries = [r[0] for r in cur.execute(
                "SELECT epoch_ms(recorded_at) FROM orders WHERE symbol = ? AND side = 'BUY' AND status = 'NEW'", [symbol]
            ).fetchall()]
            inside = [t for t in entries for lo, hi in spans if lo <= t <= hi]
            assert inside == [], f"{symbol}: entries made while a gap was open"

    print(
        f"\ndrill: equity rows at most {max(silences):.2f} s apart during {faults_to - faults_from:.0f} s of faults "
        f"({len(stamps)} rows); {dict(latest)['CLOSED']} gaps, all closed {recovered_s:.1f} s after the faults; "
        f"{backfill_failures} failed backfill requests"
    )
