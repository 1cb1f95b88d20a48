"""The whole engine path against the real simulator over loopback: Runtime → REST bootstrap → kline stream →
strategy → sizing → paper broker → portfolio → Recorder → DuckDB; then restarts that resume from the file."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from engine.commands import Command, CommandKind
from engine.config import Settings, SimSettings
from engine.errors import ConfigError
from engine.runtime import Runtime
from engine.sinks.status import EngineState
from storage.store import Store

MINUTE_MS = 60_000
FIVE_MINUTES_MS = 5 * MINUTE_MS


@pytest.fixture
def settings(fast_settings) -> Settings:
    return fast_settings()


def _count(runtime: Runtime, sql: str) -> int:
    assert runtime.store is not None
    with runtime.store.cursor() as cur:
        return cur.execute(sql).fetchone()[0]


def test_engine_trades_real_candles_and_persists_everything(settings: Settings, wait_for, assert_contiguous) -> None:
    """Candles flow from the simulator, orders fill, fills/trades/equity rows land in DuckDB, and the money adds up."""
    with Runtime(settings) as runtime:
        wait_for(lambda: _count(runtime, "SELECT count(*) FROM trades") >= 1, "a closed trade")
        status = runtime.status()
        assert status.state is EngineState.RUNNING
        assert status.market_connected
        assert status.candles_processed > 0
        engine = runtime.engine
        assert engine is not None

    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        for symbol in settings.trading.symbols:
            assert_contiguous(cur, symbol)
        sources = {row[0] for row in cur.execute("SELECT DISTINCT source FROM candles").fetchall()}
        assert {"bootstrap", "stream"} <= sources
        filled = cur.execute("SELECT count(*) FROM orders WHERE status = 'FILLED'").fetchone()[0]
        fills = cur.execute("SELECT count(*), count(DISTINCT fill_id) FROM fills").fetchone()
        assert fills[0] == fills[1] == filled >= 2
        stream_candles = cur.execute("SELECT count(*) FROM candles WHERE source <> 'bootstrap'").fetchone()[0]
        assert cur.execute("SELECT count(*) FROM equity WHERE source = 'candle'").fetchone()[0] == stream_candles
        assert cur.execute("SELECT count(*) FROM equity WHERE source = 'price'").fetchone()[0] > 0, "in-progress marks"
        gaps = cur.execute("SELECT kind, state, count(DISTINCT gap_id) FROM gaps GROUP BY ALL ORDER BY ALL").fetchall()
        assert ("warmup", "CLOSED", 2) in gaps, "each symbol's warm-up history was a gap, filled"
        # Cash from the fills alone equals the engine's cash at the end.
        buys, sells = cur.execute(
            "SELECT coalesce(sum(quote_qty + fee) FILTER (side = 'BUY'), 0), "
            "coalesce(sum(quote_qty - fee) FILTER (side = 'SELL'), 0) FROM fills"
        ).fetchone()
        assert Decimal("10000") - buys + sells == engine.core.portfolio.cash
        # Every REST attempt is stored, and the rate limiter is sampled about once a second.
        calls = cur.execute("SELECT endpoint, status, outcome FROM api_calls").fetchall()
        assert {"/api/v3/exchangeInfo", "/api/v3/klines"} <= {c[0] for c in calls}
        assert {(c[1], c[2]) for c in calls} == {(200, "ok")}
        samples = cur.execute(
            "SELECT count(*), max(server_used_weight), max(weight_limit), min(api_breaker) FROM rate_limit_samples"
        ).fetchone()
        assert samples[0] >= 1 and samples[1] > 0 and samples[2] == 6000 and samples[3] == "CLOSED"
        # Every fill paid the 0.1 % taker fee on its notional (rounded to 1e-8).
        worst = cur.execute("SELECT max(abs(fee - quote_qty * 0.001)) FROM fills").fetchone()[0]
        assert worst <= Decimal("0.00000001")


def test_a_5m_engine_trades_and_stores_5m_candles_without_gaps(fast_settings, wait_for, assert_contiguous) -> None:
    """``trading.interval = "5m"``: bootstrapped, streamed and stored as 5m candles (the simulator aggregates its 1m
    data), aligned, contiguous, traded on; a restart continues the 5m series."""
    settings = fast_settings(trading={"interval": "5m"}, sim=SimSettings(speed=6000, update_interval_ms=20))
    with Runtime(settings) as runtime:
        wait_for(lambda: _count(runtime, "SELECT count(*) FROM fills") >= 2, "two fills on 5m candles", timeout_s=60)
        last = dict(runtime.core.last_candle_ms)
    with Runtime(settings) as restarted:
        wait_for(
            lambda: all(restarted.core.last_candle_ms[s] > last[s] + 10 * FIVE_MINUTES_MS for s in last), "5m candles after the restart"
        )

    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        assert cur.execute("SELECT DISTINCT interval FROM candles").fetchall() == [("5m",)]
        assert cur.execute(
            "SELECT count(*) FROM candles WHERE epoch_ms(open_time) % ? <> 0 OR epoch_ms(close_time) - epoch_ms(open_time) <> ?",
            [FIVE_MINUTES_MS, FIVE_MINUTES_MS - 1],
        ).fetchone() == (0,)
        for symbol in settings.trading.symbols:
            assert_contiguous(cur, symbol, step_ms=FIVE_MINUTES_MS)
        assert {row[0] for row in cur.execute("SELECT DISTINCT source FROM candles").fetchall()} >= {"bootstrap", "stream"}
        latest = "SELECT gap_id, arg_max(state, recorded_at) AS state FROM gaps GROUP BY gap_id"
        assert cur.execute(f"SELECT count(*), count(*) FILTER (state <> 'CLOSED') FROM ({latest})").fetchone()[1] == 0  # all filled
        # the fills happened at 5m candle opens (an entry fills at the next candle's open)
        assert cur.execute("SELECT count(*) FROM fills WHERE side = 'BUY' AND epoch_ms(ts) % ? <> 0", [FIVE_MINUTES_MS]).fetchone() == (0,)


def test_a_database_of_another_interval_is_refused(fast_settings, wait_for) -> None:
    with Runtime(fast_settings()) as runtime:
        wait_for(lambda: _count(runtime, "SELECT count(*) FROM candles") > 0, "1m candles stored")
    with (
        pytest.raises(ConfigError, match=r"trading.interval is 1h, but .*pt.duckdb holds 1m candles: a database keeps one interval"),
        Runtime(fast_settings(trading={"interval": "1h"})),
    ):
        pass


def test_in_time_mode_now_the_engine_stores_candles_of_today_up_to_the_wall_clock(fast_settings, wait_for, assert_contiguous) -> None:
    """``sim.time_mode = "now"``: the warm-up history the engine bootstraps over REST is the last minutes before the
    wall clock, contiguous, and the in-progress prices are of the current minute."""
    settings = fast_settings(sim=SimSettings(time_mode="now", update_interval_ms=20))
    warmup = 2 * (21 + 1)  # twice the SMA crossover's warm-up
    with Runtime(settings) as runtime:
        wait_for(lambda: _count(runtime, "SELECT count(*) FROM candles") >= 2 * warmup, "the warm-up history")
        wait_for(lambda: _count(runtime, "SELECT count(*) FROM equity WHERE source = 'price'") > 0, "an in-progress price")
        now_ms = time.time() * 1000

    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        last, first = cur.execute("SELECT max(epoch_ms(open_time)), min(epoch_ms(open_time)) FROM candles").fetchone()
        assert now_ms - 3 * MINUTE_MS < last <= now_ms - MINUTE_MS  # the last closed minute before the wall clock
        assert first >= now_ms - (warmup + 3) * MINUTE_MS
        for symbol in settings.trading.symbols:
            assert_contiguous(cur, symbol)
        price_ts = cur.execute("SELECT max(epoch_ms(ts)) FROM equity WHERE source = 'price'").fetchone()[0]
        assert abs(price_ts - now_ms) < 5_000  # marked at market time = the wall clock


def test_time_mode_now_refuses_a_database_that_ends_before_its_data(fast_settings, wait_for) -> None:
    with Runtime(fast_settings()) as historical:  # candles of 2021
        wait_for(lambda: _count(historical, "SELECT count(*) FROM candles") > 0, "candles of 2021 stored")
    with (
        pytest.raises(ConfigError, match=r"sim.time_mode: .*pt.duckdb continues at 2021-.*, before the simulator's data moved to today"),
        Runtime(fast_settings(sim=SimSettings(time_mode="now"))),
    ):
        pass


def test_restart_resumes_without_gap_duplicate_or_lost_fill(settings: Settings, wait_for, assert_contiguous) -> None:
    """Stop, start again on the same file: the replay continues at the next minute, cash and positions are
    rebuilt from the fills, and the stored series stays contiguous."""
    with Runtime(settings) as first:
        wait_for(lambda: _count(first, "SELECT count(*) FROM fills") >= 1, "a first fill")
        assert first.engine is not None
    cash, positions = first.core.portfolio.cash, dict(first.core.portfolio.positions)
    last = dict(first.core.last_candle_ms)

    with Runtime(settings) as second:
        assert second.engine is not None
        assert second.core.portfolio.cash == cash
        assert {s: p.quantity for s, p in second.core.portfolio.positions.items()} == {
            s: p.quantity for s, p in positions.items()
        }
        wait_for(
            lambda: all(second.core.last_candle_ms[s] > last[s] + 5 * MINUTE_MS for s in last),
            "candles after the restart",
        )

    with Store(settings.storage.path, read_only=True) as store, store.cursor() as cur:
        for symbol in settings.trading.symbols:
            assert_contiguous(cur, symbol)
        assert cur.execute("SELECT count(*) - count(DISTINCT fill_id) FROM fills").fetchone()[0] == 0


def test_pause_is_applied_audited_and_survives_a_restart(settings: Settings, wait_for, assert_contiguous) -> None:
    """PAUSE via Runtime.submit: the engine reports PAUSED within a refresh, one audit row is written,
    and a restarted engine is still paused."""
    with Runtime(settings) as runtime:
        wait_for(lambda: runtime.status().state is EngineState.RUNNING, "the engine to run")
        runtime.submit(Command(CommandKind.PAUSE, actor="test", reason="checking the audit log"))
        wait_for(lambda: runtime.status().state is EngineState.PAUSED, "PAUSED", timeout_s=1.0)
        rows = runtime.store.cursor().execute("SELECT command, actor, reason, result FROM commands").fetchall()
        assert rows == [("PAUSE", "test", "checking the audit log", "OK")]

    with Runtime(settings) as restarted:
        wait_for(lambda: restarted.status().state is not EngineState.STARTING, "the engine to start")
        assert restarted.status().state is EngineState.PAUSED
