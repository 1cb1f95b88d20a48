"""Overview KPI tiles as plain values: formatting and arithmetic checked by hand, no Streamlit; a reset day's
figures keep their calendar and all-time baselines."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from dashboard.kpis import (
    NO_VALUE,
    breaker_alert,
    breaker_baselines,
    breaker_daily_loss_pct,
    breaker_kpi,
    drawdown_pct,
    engine_kpi,
    market_kpi,
    market_time_text,
    overview_kpis,
    pnl_today,
    reset_note,
)
from engine.sinks.status import EngineState, EngineStatus

RUNNING = EngineStatus(state=EngineState.RUNNING, venue="sim", market_connected=True, data_lag_s=0.25, candles_processed=1234)

ACCOUNT = {
    "ts": datetime(2021, 4, 22, 18, 30, tzinfo=UTC),
    "equity": 10_150.0,
    "realised_pnl": 100.0,
    "unrealised_pnl": 50.0,
    "day_start_equity": 10_000.0,
    "peak_equity": 10_190.76,
    "drawdown_pct": 0.4,
    "calendar_day_start_equity": 10_000.0,
    "all_time_peak_equity": 10_190.76,
    "last_reset_ts": None,
    "last_reset_actor": None,
    "last_reset_reason": None,
}

RESET_DAY = {
    **ACCOUNT,
    "ts": datetime(2021, 4, 23, 12, 0, tzinfo=UTC),
    "equity": 9_337.0,
    "day_start_equity": 9_300.0,  # re-based by the reset
    "peak_equity": 9_337.0,
    "drawdown_pct": 0.0,
    "calendar_day_start_equity": 10_000.0,  # 00:00 UTC of 2021-04-23
    "all_time_peak_equity": 10_100.0,
    "last_reset_ts": datetime(2021, 4, 23, 9, 15, tzinfo=UTC),
    "last_reset_actor": "dashboard",
    "last_reset_reason": "checked the feed",
}


def test_portfolio_tiles_from_the_account() -> None:
    """Equity as is; P&L today = 10,150 − 10,000 = +150 (+1.50 %); total = 100 + 50 = +150, 150 / 10,000 = +1.50 %;
    drawdown (10,190.76 − 10,150) / 10,190.76 = 0.40 %."""
    equity, today, total, drawdown, *_ = overview_kpis(ACCOUNT, RUNNING, starting_balance=10_000.0)

    assert (equity.label, equity.value) == ("Equity (USDT)", "10,150.00")
    assert (today.value, today.delta) == ("+150.00", "+1.50 %")
    assert (total.value, total.delta) == ("+150.00", "+1.50 %")
    assert "Realised +100.00 + unrealised +50.00" in (total.help or "")
    assert drawdown.value == "0.40 %"
    assert "10,190.76" in (drawdown.help or "")


def test_losses_carry_a_minus_sign_and_a_drawdown_stays_positive() -> None:
    account = {**ACCOUNT, "equity": 9_700.0, "realised_pnl": -250.0, "unrealised_pnl": -50.0, "all_time_peak_equity": 10_000.0}
    _, today, total, drawdown, *_ = overview_kpis(account, RUNNING, starting_balance=10_000.0)

    assert (today.value, today.delta) == ("-300.00", "-3.00 %")
    assert (total.value, total.delta) == ("-300.00", "-3.00 %")
    assert drawdown.value == "3.00 %"


def test_a_reset_day_keeps_the_calendar_and_all_time_figures() -> None:
    """A day that lost 7 % and was reset: P&L today is still −663 (−6.63 %) from 10,000 at 00:00 UTC, the drawdown
    7.55 % below the 10,100 peak; the breaker's re-based figures are in the help, marked as the breaker's."""
    _, today, _, drawdown, *_ = overview_kpis(RESET_DAY, RUNNING, starting_balance=10_000.0)

    assert (today.value, today.delta) == ("-663.00", "-6.63 %")
    assert "equity then 10,000.00 USDT" in (today.help or "")
    assert "breaker counts its daily loss from its reset at 09:15 UTC (9,300.00 USDT): 0.00 % now" in (today.help or "")
    assert drawdown.value == "7.55 %"
    assert "all-time peak equity 10,100.00" in (drawdown.help or "")
    assert "breaker's own drawdown" in (drawdown.help or "")
    assert pnl_today(RESET_DAY) == pytest.approx((-663.0, -6.63))
    assert drawdown_pct(RESET_DAY) == pytest.approx(763 / 10_100 * 100)


def test_the_reset_note_and_gauge_baselines_name_the_reset() -> None:
    note = reset_note(RESET_DAY)
    assert note is not None
    assert "Breaker reset at 2021-04-23 09:15:00 UTC by dashboard" in note and "9,300.00 USDT" in note
    assert breaker_baselines(RESET_DAY) == ("since reset 09:15 UTC", "since reset 09:15 UTC")
    assert breaker_daily_loss_pct({**RESET_DAY, "equity": 9_207.0}) == pytest.approx(1.0)


def test_a_reset_on_an_earlier_day_leaves_the_daily_figure_at_midnight() -> None:
    account = {**RESET_DAY, "last_reset_ts": datetime(2021, 4, 22, 23, 0, tzinfo=UTC)}
    assert reset_note(account) is None
    assert breaker_baselines(account) == ("since 00:00 UTC", "since reset 2021-04-22")
    assert breaker_baselines(ACCOUNT) == ("since 00:00 UTC", "below the all-time peak")
    assert breaker_baselines(None) == ("since 00:00 UTC", "below the all-time peak")


def test_the_breaker_alert_gives_the_trip_reason_and_time() -> None:
    history = pd.DataFrame({
        "ts": [datetime(2021, 4, 23, 1, 20, tzinfo=UTC)], "state_to": ["TRIPPED"],
        "reason": ["daily loss 5.12 % >= 5.0 %"],
    })
    alert = breaker_alert("TRIPPED", history)
    assert alert is not None
    assert alert.startswith("Breaker tripped at 2021-04-23 01:20:00 UTC (market time): daily loss 5.12 % >= 5.0 %.")
    assert breaker_alert("ACTIVE", history) is None
    assert breaker_alert("TRIPPED", history.iloc[:0]) == "Breaker tripped."


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
