"""Trades and prices in a real browser: the Trades page shows a trade closed while it is open (no navigation), and
the Overview's price chart marks a known trade — its entry and exit fills as stored in DuckDB — at their market time
and fill price, the exit with its reason and P&L. Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from storage.store import Store
from tests.e2e.dashboard_ui import chart, go, metric_value, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]  # a browser driving a loaded machine needs more than 120 s

SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture
def app_env() -> dict[str, str]:
    """Ten candles a second: trades close every few seconds."""
    return {"PAPERTRADER_SIM__SPEED": "600"}


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def _points(trace: dict[str, Any]) -> list[tuple[datetime, float]]:
    """A marker trace's (market time, price) points; Plotly holds the times as naive UTC ISO strings."""
    return [(datetime.fromisoformat(x).replace(tzinfo=UTC), round(y, 8)) for x, y in zip(trace["x"], trace["y"], strict=True)]


def test_trades_update_live_and_the_price_chart_marks_a_known_trade(app, browser: Browser, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(app.url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=30_000)

    go(page, "Trades")
    expect(page).to_have_url(re.compile(r"/trades$"))
    trades = metric_value(page, "Trades")
    expect(trades).to_be_visible(timeout=10_000)
    seen = _count(trades.inner_text())
    expect(trades).not_to_have_text(str(seen), timeout=60_000)  # a trade closed while the page stayed open
    assert _count(trades.inner_text()) > seen
    expect(page).to_have_url(re.compile(r"/trades$"))  # still the same page: nothing navigated
    screenshot(page, artifacts / "screenshots" / "trades.png", bottom=page.get_by_role("heading", name="Fills"))

    go(page, "Overview")
    page.get_by_role("radiogroup", name="Span (market time)").get_by_role("radio", name="All", exact=True).click()
    drawn: dict[str, dict[str, list[Any]]] = {}
    for symbol in SYMBOLS:
        page.get_by_role("radiogroup", name="Symbol").get_by_role("radio", name=symbol, exact=True).click()
        figure = chart(page, f"{symbol} price (quote asset)")
        assert figure["traces"][0]["name"].endswith("candles")
        drawn[symbol] = {t["name"]: t for t in figure["traces"]}
    screenshot(page, artifacts / "screenshots" / "overview-price-chart.png", bottom=page.get_by_role("heading", name="Audit log"))

    assert app.stop() == 0, app.log()
    with Store(app.db_path, read_only=True) as store, store.cursor() as cur:
        [(symbol, entry_time, exit_time, exit_reason, pnl)] = cur.execute(
            "SELECT symbol, entry_time, exit_time, exit_reason, pnl FROM trades ORDER BY exit_time, recorded_at LIMIT 1"
        ).fetchall()
        [(entry_price,)] = cur.execute(
            "SELECT price FROM fills WHERE symbol = ? AND side = 'BUY' AND ts = ?", [symbol, entry_time]
        ).fetchall()
        [(exit_price,)] = cur.execute(
            "SELECT price FROM fills WHERE symbol = ? AND side = 'SELL' AND ts = ?", [symbol, exit_time]
        ).fetchall()
    markers = drawn[symbol]
    assert (entry_time.astimezone(UTC), float(entry_price)) in _points(markers["entry"])
    exits = _points(markers["exit"])
    assert (exit_time.astimezone(UTC), float(exit_price)) in exits
    _, reason, drawn_pnl, _ = markers["exit"]["customdata"][exits.index((exit_time.astimezone(UTC), float(exit_price)))]
    assert (reason, round(drawn_pnl, 8)) == (exit_reason, float(pnl))
