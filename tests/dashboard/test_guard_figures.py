"""Guards-page figure builders: DataFrame in, plotly Figure out, no Streamlit involved."""

from __future__ import annotations

import pandas as pd
import plotly.io as pio
import pytest

from dashboard import guard_figures


def _frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


TS = pd.to_datetime(["2025-06-01 00:00", "2025-06-01 00:01", "2025-06-01 00:02"], utc=True)


def test_breaker_gauges_show_daily_loss_and_drawdown_against_their_trip_levels() -> None:
    gauges = _frame(daily_loss_pct=[3.5], drawdown_pct=[4.0])

    figure = guard_figures.breaker_gauges_figure(gauges, warning_pct=3.0, daily_loss_pct=5.0, drawdown_pct=15.0)

    loss, drawdown = figure.data
    assert (loss.type, loss.value, loss.gauge.threshold.value) == ("indicator", 3.5, 5.0)
    assert [step.range for step in loss.gauge.steps] == [(3.0, 5.0), (5.0, 7.5)]
    assert (drawdown.value, drawdown.gauge.threshold.value) == (4.0, 15.0)


def test_rate_limit_figure_draws_utilisation_per_host_with_limit_and_warning_lines() -> None:
    series = _frame(
        ts=TS, host=["a", "a", "a"], used_weight=[600, 3000, 5400], server_used_weight=[700, None, 5500],
        weight_limit=[6000] * 3, utilisation_pct=[10.0, 50.0, 90.0],
    )

    figure = guard_figures.rate_limit_figure(series, warn_pct=80.0, weight_limit=6000)

    local, server = figure.data
    assert list(local.y) == [10.0, 50.0, 90.0]
    assert server.line.dash == "dot" and server.y[0] == pytest.approx(700 / 60)
    assert sorted(shape.y0 for shape in figure.layout.shapes) == [80.0, 100.0]


def test_retry_counts_figure_stacks_one_bar_trace_per_endpoint_and_reason() -> None:
    counts = _frame(
        ts=TS[[0, 0, 1]], width_s=[60.0] * 3, endpoint=["/k", "/k", "/o"], reason=["429", "5xx", "timeout"],
        calls=[2, 1, 4],
    )

    figure = guard_figures.retry_counts_figure(counts)

    assert figure.layout.barmode == "stack"
    assert [trace.name for trace in figure.data] == ["/k · 429", "/k · 5xx", "/o · timeout"]
    assert list(figure.data[2].y) == [4]


def test_ws_timeline_figure_has_a_bar_per_span_and_reconnect_markers() -> None:
    spans = _frame(
        start=TS, end=TS + pd.Timedelta(seconds=30), state=["connected", "disconnected", "connected"],
        events=[1, 2, 1], reconnect=[False, False, True],
    )

    figure = guard_figures.ws_timeline_figure(spans)

    connected, disconnected, reconnects = figure.data
    assert (connected.orientation, list(connected.x)) == ("h", [30_000.0, 30_000.0])
    assert list(disconnected.y) == ["disconnected"]
    assert reconnects.mode == "markers" and len(reconnects.x) == 1


def test_denials_are_bars_one_per_reason_code() -> None:
    denials = guard_figures.denials_figure(_frame(reason_code=["STOP_TOO_TIGHT", "MAX_POSITIONS"], denials=[3, 1]))
    assert list(denials.data[0].x) == ["STOP_TOO_TIGHT", "MAX_POSITIONS"]


GUARD_FIGURES = [
    (
        lambda f: guard_figures.breaker_gauges_figure(f, warning_pct=3, daily_loss_pct=5, drawdown_pct=15),
        guard_figures.BREAKER_TITLE,
        "breaker_gauges",
    ),
    (guard_figures.rate_limit_figure, guard_figures.RATE_LIMIT_TITLE, "rate_limit"),
    (guard_figures.retry_counts_figure, guard_figures.RETRY_TITLE, "retry_counts"),
    (guard_figures.ws_timeline_figure, guard_figures.WS_TITLE, "ws_timeline"),
    (guard_figures.denials_figure, guard_figures.DENIALS_TITLE, "denials"),
]


@pytest.mark.parametrize(("build", "title", "revision"), GUARD_FIGURES)
def test_new_figures_on_empty_frames_keep_title_and_uirevision_and_show_a_note(build, title: str, revision: str) -> None:
    figure = build(pd.DataFrame())

    assert len(figure.data) == 0 and len(figure.layout.annotations) == 1
    assert figure.layout.title.text == title and figure.layout.uirevision == revision
    assert figure.layout.template == pio.templates["plotly_dark"]
