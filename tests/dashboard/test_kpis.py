"""Overview KPI tiles as plain values: formatting and arithmetic checked by hand, no Streamlit."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.kpis import (
    NO_VALUE,
    breaker_kpi,
    engine_kpi,
    market_kpi,
    market_time_text,
    overview_kpis,
)
from engine.sinks.status import EngineState, EngineStatus

RUNNING = EngineStatus(state=EngineState.RUNNING, venue="sim", market_connected=True, data_lag_s=0.25, candles_processed=1234)

LATEST = {
    "ts": datetime(2021, 4, 22, 18, 30, tzinfo=UTC),
    "equity": 10_150.0,
    "day_start_equity": 10_000.0,
    "daily_pnl_pct": 1.5,
    "realised_pnl": 100.0,
    "unrealised_pnl": 50.0,
    "drawdown_pct": 0.4,
    "peak_equity": 10_190.76,
}


def test_portfolio_tiles_from_the_latest_snapshot() -> None:
    """Equity as is; P&L today = 10,150 − 10,000 = +150 (+1.50 %); total = 100 + 50 = +150, 150 / 10,000 = +1.50 %."""
    equity, today, total, drawdown, *_ = overview_kpis(LATEST, RUNNING, starting_balance=10_000.0)

    assert (equity.label, equity.value) == ("Equity (USDT)", "10,150.00")
    assert (today.value, today.delta) == ("+150.00", "+1.50 %")
    assert (total.value, total.delta) == ("+150.00", "+1.50 %")
    assert "Realised +100.00 + unrealised +50.00" in (total.help or "")
    assert drawdown.value == "0.40 %"
    assert "10,190.76" in (drawdown.help or "")


def test_losses_carry_a_minus_sign() -> None:
    latest = {**LATEST, "equity": 9_700.0, "daily_pnl_pct": -3.0, "realised_pnl": -250.0, "unrealised_pnl": -50.0}
    _, today, total, *_ = overview_kpis(latest, RUNNING, starting_balance=10_000.0)

    assert (today.value, today.delta) == ("-300.00", "-3.00 %")
    assert (total.value, total.delta) == ("-300.00", "-3.00 %")


def test_before_the_first_candle_every_portfolio_tile_waits() -> None:
    tiles = overview_kpis(None, RUNNING, starting_balance=10_000.0)

    assert [t.value for t in tiles[:4]] == [NO_VALUE] * 4
    assert len(tiles) == 7


def test_engine_tile_shows_state_and_candles_or_the_error() -> None:
    assert (engine_kpi(RUNNING).value, engine_kpi(RUNNING).delta) == ("RUNNING", "1,234 candles")
    failed = EngineStatus(state=EngineState.FAILED, venue="sim", error="boom")
    assert (engine_kpi(failed).value, engine_kpi(failed).delta, engine_kpi(failed).delta_color) == ("FAILED", "error: boom", "red")


def test_market_tile_shows_connection_and_lag() -> None:
    assert (market_kpi(RUNNING).value, market_kpi(RUNNING).delta) == ("connected", "lag 0.2 s")
    down = EngineStatus(state=EngineState.RUNNING, venue="sim")
    assert (market_kpi(down).value, market_kpi(down).delta, market_kpi(down).delta_color) == ("disconnected", f"lag {NO_VALUE}", "red")


def test_market_time_line_in_utc() -> None:
    status = EngineStatus(state=EngineState.RUNNING, venue="sim", market_time_ms=1_619_114_592_000, last_candle_ms=1_619_114_520_000)
    assert market_time_text(status) == "Market time 2021-04-22 18:03:12 UTC · last candle 2021-04-22 18:02:00 UTC"
    assert market_time_text(EngineStatus(state=EngineState.STARTING, venue="sim")) == "Market time: waiting for market data"


def test_breaker_tile_shows_state_and_its_meaning() -> None:
    """ACTIVE is green and allows entries; TRIPPED is red and blocks them until reset."""
    assert (breaker_kpi(RUNNING).value, breaker_kpi(RUNNING).delta_color) == ("ACTIVE", "green")
    tripped = breaker_kpi(EngineStatus(state=EngineState.RUNNING, venue="sim", breaker_state="TRIPPED"))
    assert (tripped.value, tripped.delta, tripped.delta_color) == ("TRIPPED", "entries blocked until reset", "red")
