"""The Overview's shared charts and tables, built from a real Runtime (simulator, engine, DuckDB)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dashboard import overview_views
from dashboard.figure_style import TEMPLATE
from dashboard.price_figure import price_title
from dashboard.reads import CHART_POINTS, shared_reads
from dashboard.runtime import start_engine
from engine.runtime import Runtime
from storage import position_queries, queries


def _wait_for_trades(runtime: Runtime, *, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with runtime.store.cursor() as cur:
            if not queries.recent_trades(cur, limit=1).empty:
                return
        if time.monotonic() > deadline:
            pytest.fail("no trade closed in time")
        time.sleep(0.1)


def test_the_overview_is_built_from_the_runtimes_database(db_path: Path) -> None:
    """Charts at most CHART_POINTS points a trace, drawn with the dashboard's template, times as Unix ms on date
    axes; the price chart of the symbol asked for; the tables of the same reads as the page's."""
    runtime = start_engine().runtime
    _wait_for_trades(runtime)
    curves = overview_views.curves(runtime)
    assert curves is not None
    equity = curves.equity.data[0]
    assert 0 < len(equity.x) <= CHART_POINTS and equity.x.dtype == "float64"
    assert (curves.equity.layout.xaxis.type, curves.drawdown.layout.xaxis.type) == ("date", "date")
    assert all(f.layout.template == TEMPLATE for f in (curves.equity, curves.drawdown, curves.daily_pnl))

    chart = overview_views.price_chart(runtime, "ETHUSDT", 6 * 3600)
    assert chart.layout.title.text == price_title("ETHUSDT") and chart.data[0].type == "candlestick"

    views = overview_views.tables(runtime)
    read = shared_reads(runtime).read
    assert len(views.trades.frame) == len(read(queries.recent_trades, limit=20)) > 0
    assert len(views.positions.frame) == len(read(position_queries.open_positions))
