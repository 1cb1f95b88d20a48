"""The breaker in a real browser: a price shock from the Simulator page trips it, the Overview shows TRIPPED, and a
reset through the confirmation dialog needs a reason and the admin token before the state is ACTIVE again and the
audit log holds the reset. Screenshots of every page go to ``test-artifacts/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from storage.store import Store
from tests.e2e.dashboard_ui import click_until, commit, go, metric_value

pytestmark = pytest.mark.e2e

TOKEN = "e2e-admin-token"
SHOCK_ATTEMPTS = 4


@pytest.fixture
def app_env() -> dict[str, str]:
    """A breaker that trips at 1 % daily loss, small risk per trade (a stop-out after the reset stays below the
    limit), a fast replay and an admin token."""
    return {
        "PAPERTRADER_BREAKER__DAILY_LOSS_PCT": "1.0",
        "PAPERTRADER_BREAKER__WARNING_PCT": "0.5",
        "PAPERTRADER_TRADING__RISK_PCT": "0.2",
        "PAPERTRADER_SIM__SPEED": "600",
        "PAPERTRADER_ADMIN_TOKEN": TOKEN,
    }


def _shock_until_tripped(page: Page) -> None:
    """On the Simulator page: once a position is open, shock prices down 50 % in one candle; repeat (a position can
    close before the shocked candle) until the breaker is TRIPPED."""
    commit(page.get_by_label("Fall (%)", exact=True), "50")
    commit(page.get_by_label("Over candles", exact=True), "1")
    for _ in range(SHOCK_ATTEMPTS):
        # a position opens when the market gives an entry: at speed 600, 90 s is 15 market hours (a busy CPU slows the
        # engine; a quiet stretch of the data can hold no entry for hours)
        expect(metric_value(page, "Open positions")).not_to_have_text("0", timeout=90_000)
        page.get_by_role("button", name="Price shock").click()
        expect(page.get_by_text("Price shock scheduled: price shock 50 % over 1 candle(s)")).to_be_visible(timeout=5_000)
        try:
            expect(metric_value(page, "Breaker")).to_have_text("TRIPPED", timeout=5_000)
            return
        except AssertionError:
            continue
    pytest.fail("the breaker did not trip after the price shocks")


def test_shock_trips_the_breaker_and_a_reset_needs_reason_and_token(app, browser: Browser, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 1100})
    page.goto(app.url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=30_000)
    expect(metric_value(page, "Breaker")).to_have_text("ACTIVE", timeout=15_000)
    expect(page.get_by_role("button", name="Reset breaker")).to_be_disabled()
    commit(page.get_by_label("Admin token", exact=True), TOKEN)

    go(page, "Simulator")
    page.screenshot(path=str(artifacts / "simulator.png"), full_page=True)
    _shock_until_tripped(page)
    page.screenshot(path=str(artifacts / "simulator-shocked.png"), full_page=True)

    go(page, "Overview")
    expect(metric_value(page, "Breaker")).to_have_text("TRIPPED", timeout=5_000)
    expect(page.locator(".js-plotly-plot")).to_have_count(4, timeout=10_000)  # equity, drawdown, daily P&L, price
    reset = page.get_by_role("button", name="Reset breaker")
    expect(reset).to_be_enabled(timeout=5_000)
    page.screenshot(path=str(artifacts / "overview-tripped.png"), full_page=True)

    reset.click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Reset breaker")
    click_until(confirm, dialog.get_by_text("A reason is required"))

    commit(dialog.get_by_label("Reason (required)", exact=True), "e2e: shock test over")
    commit(dialog.get_by_label("Admin token", exact=True), "not-the-token")
    click_until(confirm, dialog.get_by_text("Refused: Wrong admin token."))
    expect(metric_value(page, "Breaker")).to_have_text("TRIPPED")
    page.screenshot(path=str(artifacts / "reset-dialog-refused.png"), full_page=True)
    assert TOKEN not in page.inner_text("body")  # only ever inside password fields

    commit(dialog.get_by_label("Admin token", exact=True), TOKEN)
    click_until(confirm, page.get_by_text("Breaker reset: breaker re-armed"))
    expect(dialog).to_have_count(0, timeout=5_000)
    expect(metric_value(page, "Breaker")).to_have_text("ACTIVE", timeout=5_000)
    expect(page.get_by_text("Breaker reset: breaker re-armed")).to_be_visible(timeout=5_000)
    page.screenshot(path=str(artifacts / "overview-reset.png"), full_page=True)

    go(page, "Audit log")
    expect(page.get_by_text("command(s), newest first")).to_be_visible(timeout=5_000)
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    page.screenshot(path=str(artifacts / "audit.png"), full_page=True)
    go(page, "Trades")
    expect(page.get_by_role("heading", name="Closed trades")).to_be_visible()
    page.screenshot(path=str(artifacts / "trades.png"), full_page=True)
    go(page, "Guards")
    page.screenshot(path=str(artifacts / "guards.png"), full_page=True)

    assert app.stop() == 0, app.log()
    assert TOKEN not in app.log()
    with Store(app.db_path, read_only=True) as store:
        rows = store.cursor().execute("SELECT command, actor, reason, result FROM commands ORDER BY ts").fetchall()
        [(state_to, actor, reason)] = store.cursor().execute(
            "SELECT state_to, actor, reason FROM breaker_events WHERE kind = 'BreakerReset'"
        ).fetchall()
    assert [r for r in rows if r[0] == "RESET_BREAKER"] == [("RESET_BREAKER", "dashboard", "e2e: shock test over", "OK")]
    shocks = [r for r in rows if r[0] == "PRICE_SHOCK"]
    assert shocks and all(r[1:] == ("dashboard", "", "OK") for r in shocks)  # the shock clicks are audited too
    assert len(rows) == len(shocks) + 1
    assert (state_to, actor, reason) == ("ACTIVE", "dashboard", "e2e: shock test over")
