"""A reset day in a real browser: a price shock trips the breaker, the position is flattened and trading paused (the
account stands still), and a reset re-arms the breaker. The Overview keeps the calendar figures — P&L today from
the equity at 00:00 UTC, the drawdown from the all-time peak — while the Guards page shows the breaker's own
figures re-based to the reset ("since reset"). The equity and price charts carry the trip, the reset and the shock.
Screenshots of the pages go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from storage.store import Store
from tests.e2e.dashboard_ui import (
    chart,
    click_until,
    commit,
    go,
    metric_delta,
    metric_value,
    screenshot,
    wait_for_annotations,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]  # a browser driving a loaded machine needs more than 120 s

SHOCK_ATTEMPTS = 4


@pytest.fixture
def app_env() -> dict[str, str]:
    """A breaker that trips at 1 % daily loss, small risk per trade, two candles a second from 00:10 UTC of a lively
    day (the first trade comes within seconds, a position stays open long enough for a shock to reach it, and the
    market day does not roll for minutes), and no admin token (127.0.0.1: the controls need none)."""
    return {
        "PAPERTRADER_BREAKER__DAILY_LOSS_PCT": "1.0",
        "PAPERTRADER_BREAKER__WARNING_PCT": "0.5",
        "PAPERTRADER_TRADING__RISK_PCT": "0.2",
        "PAPERTRADER_SIM__SPEED": "120",
        "PAPERTRADER_SIM__START": "2021-04-23T00:10:00Z",
    }


def _percent(text: str) -> float:
    return float(text.replace("%", "").replace(",", "").strip())


def _trip(page: Page) -> None:
    """On the Simulator page: once a position is open, shock prices down 50 % in one candle until the breaker is
    TRIPPED."""
    commit(page.get_by_label("Fall (%)", exact=True), "50", shown="50.00")
    commit(page.get_by_label("Over candles", exact=True), "1", shown="1")
    scheduled = page.get_by_text(re.compile(r"^Price shock scheduled: price shock 50 % over 1 candle"))
    for _ in range(SHOCK_ATTEMPTS):
        expect(metric_value(page, "Open positions")).not_to_have_text("0", timeout=60_000)
        # a click dropped by a rerun is clicked again (a second shock only deepens the fall)
        click_until(page.get_by_role("button", name="Price shock"), scheduled)
        try:
            expect(metric_value(page, "Breaker")).to_have_text("TRIPPED", timeout=6_000)
            return
        except AssertionError:
            continue
    pytest.fail("the breaker did not trip after the price shocks")


def _flatten_pause_and_reset(page: Page) -> None:
    """Sell whatever is still open and pause (nothing moves the account any more), then reset the breaker with a
    reason."""
    dialog = page.get_by_role("dialog")
    click_until(page.get_by_role("button", name="Flatten all", exact=True), dialog)
    # the shock's stop-out may have closed every position already: then the engine ignores the flatten
    flattened = page.get_by_text(re.compile(r"^(Flatten all: |FLATTEN IGNORED: no open positions)"))
    click_until(dialog.get_by_role("button", name="Flatten all positions"), flattened)
    expect(page.get_by_text("No open positions", exact=True)).to_be_visible(timeout=30_000)
    click_until(page.get_by_role("button", name="Pause trading"), page.get_by_role("button", name="Resume trading"))

    click_until(page.get_by_role("button", name="Reset breaker").first, dialog)  # the page's, not the dialog's
    commit(dialog.get_by_label("Reason (required)", exact=True), "e2e: reset day", shown="e2e: reset day")
    click_until(dialog.get_by_role("button", name="Reset breaker"), page.get_by_text("Breaker reset: breaker re-armed"))
    expect(metric_value(page, "Breaker")).to_have_text("ACTIVE", timeout=10_000)


def test_a_reset_day_keeps_the_calendar_figures_and_rebases_the_breakers(app, browser: Browser, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(app.url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=30_000)
    expect(metric_value(page, "Breaker")).to_have_text("ACTIVE", timeout=30_000)

    go(page, "Simulator")
    _trip(page)
    screenshot(page, artifacts / "screenshots" / "simulator.png", bottom=page.get_by_text("Every change made here"))

    go(page, "Overview")
    expect(metric_value(page, "Breaker")).to_have_text("TRIPPED", timeout=10_000)
    expect(page.get_by_text(re.compile(r"^Breaker tripped at 2021-.* UTC \(market time\): daily loss"))).to_be_visible()
    _flatten_pause_and_reset(page)

    expect(page.get_by_text(re.compile(r"^Breaker reset at 2021-.* by dashboard"))).to_be_visible(timeout=10_000)
    today, today_pct = metric_value(page, "P&L today (USDT)").inner_text(), metric_delta(page, "P&L today (USDT)").inner_text()
    drawdown = metric_value(page, "Drawdown").inner_text()
    assert _percent(today_pct) <= -1.0, f"P&L today {today} ({today_pct}) lost the day's loss at the reset"
    underwater = chart(page, "Drawdown below the all-time peak (%)")
    assert f"{underwater['traces'][0]['y'][-1]:.2f} %" == drawdown  # tile and chart: the same positive figure
    wait_for_annotations(page, "BTCUSDT price (quote asset)", {"TRIPPED", "reset", "shock"})
    wait_for_annotations(page, "Equity (USDT)", {"TRIPPED", "reset", "shock"})
    screenshot(page, artifacts / "screenshots" / "overview-reset-day.png", bottom=page.get_by_role("heading", name="Audit log"))

    go(page, "Guards")
    expect(metric_value(page, "Breaker's daily loss")).to_have_text("0.00 %", timeout=10_000)
    expect(metric_delta(page, "Breaker's daily loss")).to_have_text(re.compile(r"^since reset \d\d:\d\d UTC$"))
    expect(metric_value(page, "Breaker's drawdown")).to_have_text("0.00 %")
    gauges = chart(page, "The breaker's figures vs its limits")
    [daily, peak] = gauges["traces"]
    assert (daily["value"], peak["value"]) == (0.0, 0.0)
    assert "since reset" in daily["title"] and "since reset" in peak["title"]
    screenshot(page, artifacts / "screenshots" / "guards-reset-day.png", bottom=page.get_by_text("Risk denials by reason"))

    go(page, "Audit log")
    expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=10_000)
    screenshot(page, artifacts / "screenshots" / "audit.png", bottom=page.get_by_test_id("stDataFrame"))

    assert app.stop() == 0, app.log()
    with Store(app.db_path, read_only=True) as store, store.cursor() as cur:
        [(equity, ts, breaker_start)] = cur.execute(
            "SELECT equity, ts, day_start_equity FROM equity ORDER BY ts DESC, recorded_at DESC LIMIT 1"
        ).fetchall()
        [(midnight_equity,)] = cur.execute(
            "SELECT day_start_equity FROM equity WHERE ts >= date_trunc('day', ?::TIMESTAMPTZ) ORDER BY ts, recorded_at "
            "LIMIT 1", [ts]
        ).fetchall()
        [(reset_ts, reset_day_start)] = cur.execute(
            "SELECT ts, day_start_equity FROM breaker_events WHERE kind = 'BreakerReset'"
        ).fetchall()
        [(peak,)] = cur.execute("SELECT max(peak_equity) FROM equity").fetchall()
    assert reset_ts.date() == ts.date(), "the reset and the figures are on one market day"
    assert breaker_start == equity != midnight_equity == reset_day_start  # the breaker re-based; the calendar did not
    assert today == f"{float(equity - midnight_equity):+,.2f}"
    assert drawdown == f"{float((peak - equity) / peak * 100):.2f} %"
