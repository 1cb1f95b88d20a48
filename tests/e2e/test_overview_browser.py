"""The Overview page in a real browser: the app started as ``make run`` does, driven by headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from storage.store import Store

pytestmark = pytest.mark.e2e

EQUITY_POINTS_JS = """() => {
    const plots = [...document.querySelectorAll('.js-plotly-plot')];
    const equity = plots.find(p => p.layout && p.layout.title && p.layout.title.text === 'Equity (USDT)');
    return equity && equity._fullData && equity._fullData.length ? equity._fullData[0].x.length : 0;
}"""
"""Points of the equity curve as drawn (``_fullData``: the figure's binary arrays decoded)."""


def _equity_points(page: Page) -> int:
    return page.evaluate(EQUITY_POINTS_JS)


def test_equity_moves_and_pause_is_audited(app, browser: Browser, artifacts: Path) -> None:
    """A user opens the dashboard, sees the equity curve grow, clicks Pause: the button turns to Resume,
    the engine shows PAUSED, and the audit log in DuckDB holds the PAUSE row from the dashboard."""
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(app.url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=30_000)
    page.wait_for_function(f"({EQUITY_POINTS_JS})() > 0", timeout=30_000)
    first = _equity_points(page)
    page.wait_for_function(f"({EQUITY_POINTS_JS})() > {first}", timeout=15_000)
    page.screenshot(path=str(artifacts / "overview.png"), full_page=True)

    page.get_by_role("button", name="Pause trading").click()
    expect(page.get_by_role("button", name="Resume trading")).to_be_visible(timeout=5_000)
    expect(page.get_by_text("PAUSED").first).to_be_visible(timeout=5_000)
    page.screenshot(path=str(artifacts / "overview-paused.png"), full_page=True)

    assert app.stop() == 0, app.log()
    with Store(app.db_path, read_only=True) as store:
        rows = store.cursor().execute("SELECT command, actor, result FROM commands ORDER BY ts").fetchall()
        equity_rows = store.cursor().execute("SELECT count(*) FROM equity").fetchone()[0]
    assert rows == [("PAUSE", "dashboard", "OK")]
    assert equity_rows > first


ZOOM_JS = """() => {
    const equity = [...document.querySelectorAll('.js-plotly-plot')]
        .find(p => p.layout && p.layout.title && p.layout.title.text === 'Equity (USDT)');
    const x = equity._fullData[0].x;
    equity.__probe = 'the element drawn before the refresh';
    return window.Plotly.relayout(equity, {'xaxis.range': [x[0], x[Math.floor(x.length / 2)]]})
        .then(() => equity._fullLayout.xaxis.range.map(v => equity._fullLayout.xaxis.r2l(v)));
}"""
"""Zoom the equity chart to the first half of its points, as a drag-zoom does, and mark its element; the range as
Unix ms (``r2l``: plotly may write a date axis's range as numbers or as date strings)."""

SAME_ZOOM_JS = """() => {
    const equity = [...document.querySelectorAll('.js-plotly-plot')]
        .find(p => p.layout && p.layout.title && p.layout.title.text === 'Equity (USDT)');
    return {probe: equity.__probe || null, range: equity._fullLayout.xaxis.range.map(v => equity._fullLayout.xaxis.r2l(v))};
}"""


def test_a_refresh_updates_the_chart_in_place_and_keeps_the_zoom(app, browser: Browser) -> None:
    """A user zooms the equity chart; the next refreshes bring new points into the same drawn chart (no new element,
    so no blank frame) and the zoom stays."""
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(app.url)
    page.wait_for_function(f"({EQUITY_POINTS_JS})() > 0", timeout=30_000)
    zoomed = page.evaluate(ZOOM_JS)
    points = _equity_points(page)

    page.wait_for_function(f"({EQUITY_POINTS_JS})() > {points}", timeout=15_000)

    after = page.evaluate(SAME_ZOOM_JS)
    assert after == {"probe": "the element drawn before the refresh", "range": zoomed}
