"""The Guards page's shared charts, built from a real Runtime (simulator, engine, DuckDB); its tables are those of
``dashboard.tables``, shown by the page's AppTest tests."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dashboard import guard_views
from dashboard.reads import CHART_POINTS
from dashboard.runtime import start_engine
from engine.runtime import Runtime
from storage import queries


def _wait_for_equity(runtime: Runtime, *, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with runtime.store.cursor() as cur:
            if not queries.equity_curve(cur).empty:
                return
        if time.monotonic() > deadline:
            pytest.fail("no equity row in time")
        time.sleep(0.1)


def test_the_breakers_charts_are_built_against_the_configured_limits(db_path: Path) -> None:
    """Once the engine has marked the portfolio: the breaker's two gauges, and the drawdown chart with the breaker's
    own line and its trip level at the configured drawdown limit, at most CHART_POINTS points a trace."""
    runtime = start_engine().runtime
    _wait_for_equity(runtime)
    charts = guard_views.charts(runtime)
    assert [trace.type for trace in charts.breaker_gauges.data] == ["indicator", "indicator"]
    drawdown = charts.drawdown
    assert len(drawdown.data) == 2 and all(0 < len(trace.x) <= CHART_POINTS for trace in drawdown.data)
    assert [shape.y0 for shape in drawdown.layout.shapes] == [float(runtime.settings.breaker.drawdown_pct)]
