"""The guards on the real engine path: Runtime + simulator over loopback with faults injected, DuckDB checked after.

Each test runs a fast replay (50 candles per wall second) on its own database file."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.commands import Command, CommandKind
from engine.config import AlertSettings, Settings, StreamSettings
from engine.runtime import Runtime
from storage.store import Store

MINUTE_MS = 60_000


@pytest.fixture
def settings(fast_settings) -> Settings:
    return fast_settings(stream=StreamSettings(backoff_cap_s=0.5, stale_after_s=2.0))


def _candles_advanced(runtime: Runtime, candles: int) -> Callable[[], bool]:
    core = runtime.core
    assert core is not None
    start = dict(core.last_candle_ms)
    assert set(start) == set(runtime.settings.trading.symbols), "every symbol has processed candles"
    return lambda: all(core.last_candle_ms.get(s, 0) >= start[s] + candles * MINUTE_MS for s in start)


def _trading(runtime: Runtime) -> Callable[[], bool]:
    """Connected, the exchange rules loaded and every symbol warmed up (no open gap)."""

    def ready() -> bool:
        status = runtime.status()
        return status.market_connected and status.rules_loaded and not status.gaps and status.last_candle_ms is not None

    return ready


def test_stream_dropped_every_half_second_leaves_no_gap_and_no_duplicate(settings: Settings, wait_for, assert_contiguous) -> None:
    """Abrupt drops and normal closes, plus duplicated and out-of-order klines: every missed candle is backfilled
    over REST, duplicates are dropped, and each connection change is stored."""
    with Runtime(settings) as runtime:
        wait_for(_trading(runtime), "the engine to trade")
        runtime.simulator.faults.update(ws_drop_every_s=0.5, duplicate_rate=0.2, out_of_order_rate=0.2)
        wait_for(_candles_advanced(runtime, 300), "300 candles through drops")
        runtime.simulator.faults.update(ws_drop_every_s=0.0, ws_close_every_s=0.4)
        wait_for(_candles_advanced(runtime, 100), "100 candles through normal closes")
        assert runtime.status().dropped_candles > 0

    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        for symbol in settings.trading.symbols:
            assert_contiguous(cur, symbol)
        events = dict(cur.execute("SELECT event, count(*) FROM ws_events GROUP BY event").fetchall())
        assert events["DISCONNECTED"] >= 3 and events["CONNECTED"] >= 4
        codes = {r[0] for r in cur.execute("SELECT code FROM ws_events WHERE event = 'DISCONNECTED'").fetchall()}
        assert 1000 in codes and None in codes  # a normal close, and drops without a close frame
        backfilled = cur.execute(
            "SELECT sum(candles) FROM ws_events WHERE event = 'BACKFILL' AND reason NOT LIKE '%warm-up%'"
        ).fetchone()[0]
        assert backfilled > 0
        assert cur.execute("SELECT count(*) FROM candles WHERE source = 'backfill'").fetchone()[0] == backfilled


def test_bad_prices_never_reach_the_broker_and_are_counted(settings: Settings, wait_for, assert_contiguous) -> None:
    """Kline events with prices 0, -1, NaN and "abc" are dropped and counted; the candles they carried come back
    over REST, so the stored series has only valid prices and no hole."""
    with Runtime(settings) as runtime:
        wait_for(_trading(runtime), "the engine to trade")
        runtime.simulator.faults.update(bad_price_rate=0.3, ws_malformed_rate=0.05)
        wait_for(_candles_advanced(runtime, 200), "200 candles with bad prices about")
    bad = runtime.status().bad_messages  # read after the stop: every counted message has been recorded
    assert bad > 0

    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        for symbol in settings.trading.symbols:
            assert_contiguous(cur, symbol)
        assert cur.execute("SELECT count(*) FROM ws_events WHERE event = 'BAD_MESSAGE'").fetchone()[0] == bad
        assert cur.execute("SELECT count(*) FROM ws_events WHERE event = 'BAD_MESSAGE' AND reason LIKE '%price%'").fetchone()[0] > 0
        assert cur.execute("SELECT min(least(open, high, low, close)) > 0 FROM candles").fetchone()[0]
        assert cur.execute("SELECT count(*) FROM fills WHERE price <= 0 OR reference_price <= 0").fetchone()[0] == 0


def _shock_until_tripped(runtime: Runtime, wait_for) -> None:
    """Wait for an open position, then halve every price from the next candle on; again if the position closed
    before the shocked candle arrived."""
    engine = runtime.engine
    tripped = lambda: runtime.status().breaker_state == "TRIPPED"  # noqa: E731
    for _ in range(3):
        wait_for(lambda: tripped() or bool(engine.core.portfolio.positions), "an open position", timeout_s=60)
        if tripped():  # a late trip of the shock before: a busy CPU slows the engine
            return
        runtime.simulator.market.shock(pct=50, candles=1)
        try:
            wait_for(tripped, "the trip", timeout_s=10)
            return
        except pytest.fail.Exception:
            continue
    pytest.fail("three shocks did not trip the breaker")


def test_price_shock_trips_at_the_first_crossing_latches_across_restart_and_reset_rearms(
    fast_settings, wait_for, receiver
) -> None:
    """A −50 % shock on an open position trips the breaker at the first mark whose daily loss crosses 5 %;
    no entry follows; the webhook hears of it; a restarted process is still TRIPPED; a reset with a reason re-arms
    it (ACTIVE), is audited and alerted."""
    settings = fast_settings(alerts=AlertSettings(webhooks=[{"url": f"{receiver.url}/hook", "format": "slack"}]))
    with Runtime(settings) as runtime:
        _shock_until_tripped(runtime, wait_for)
        wait_for(_candles_advanced(runtime, 30), "30 candles after the trip")

    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        trip = cur.execute(
            "SELECT epoch_ms(ts), daily_loss_pct, drawdown_pct, state_from FROM breaker_events WHERE kind = 'BreakerTripped'"
        ).fetchall()
        assert len(trip) == 1
        trip_ms, loss_pct, drawdown_pct, _ = trip[0]
        assert loss_pct >= 5.0 or drawdown_pct >= 15.0
        # The first equity snapshot whose loss crosses a limit is the one the trip was stamped with.
        first_crossing = cur.execute(
            "SELECT epoch_ms(ts) FROM equity WHERE (day_start_equity - equity) / day_start_equity * 100 >= 5.0 "
            "OR drawdown_pct >= 15.0 ORDER BY recorded_at LIMIT 1"
        ).fetchone()[0]
        assert first_crossing == trip_ms
        assert cur.execute("SELECT count(*) FROM fills WHERE side = 'BUY' AND epoch_ms(ts) > ?", [trip_ms]).fetchone()[0] == 0

    with Runtime(settings) as restarted:
        assert restarted.status().breaker_state == "TRIPPED"
        wait_for(_candles_advanced(restarted, 5), "candles after the restart")
        assert restarted.status().breaker_state == "TRIPPED"
        restarted.submit(Command(CommandKind.RESET_BREAKER, actor="test", reason=""))
        restarted.submit(Command(CommandKind.RESET_BREAKER, actor="test", reason="shock understood"))
        wait_for(lambda: restarted.status().breaker_state == "ACTIVE", "the reset", timeout_s=2)
        wait_for(_candles_advanced(restarted, 20), "candles after the reset")
        assert restarted.status().breaker_state in ("ACTIVE", "WARNING")
        wait_for(lambda: any("Breaker reset by test" in body["text"] for _, body in receiver.requests), "the reset alert", 5)

    texts = [body["text"] for _, body in receiver.requests]
    assert any(text.startswith("*Breaker TRIPPED") for text in texts), texts

    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        commands = cur.execute("SELECT command, reason, result FROM commands ORDER BY recorded_at").fetchall()
        assert commands == [("RESET_BREAKER", "", "REFUSED"), ("RESET_BREAKER", "shock understood", "OK")]
        kinds = [r[0] for r in cur.execute("SELECT kind FROM breaker_events ORDER BY recorded_at").fetchall()]
        tripped = kinds.index("BreakerTripped")
        assert kinds[tripped + 1] == "BreakerReset"
        assert "BreakerTripped" not in kinds[tripped + 1 :]
