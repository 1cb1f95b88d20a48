"""Guards-page figure builders: DataFrame in, plotly Figure out, no Streamlit involved."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import guard_figures
from dashboard.figure_style import TEMPLATE


def _frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


TS = pd.to_datetime(["2025-06-01 00:00", "2025-06-01 00:01", "2025-06-01 00:02"], utc=True)
"""Wall times."""
MARKET = pd.to_datetime(["2021-04-22 18:00", "2021-04-22 19:00", "2021-04-22 20:00"], utc=True)
"""The market times the clock map placed them at (speed 60)."""


def test_breaker_gauges_show_daily_loss_and_drawdown_against_their_trip_levels() -> None:
    gauges = _frame(daily_loss_pct=[3.5], drawdown_pct=[4.0])

    figure = guard_figures.breaker_gauges_figure(
        gauges, warning_pct=3.0, daily_loss_pct=5.0, drawdown_pct=15.0, daily_since="since reset 09:15 UTC"
    )

    loss, drawdown = figure.data
    assert (loss.type, loss.value, loss.gauge.threshold.value) == ("indicator", 3.5, 5.0)
    assert [step.range for step in loss.gauge.steps] == [(3.0, 5.0), (5.0, 7.5)]
    assert (drawdown.value, drawdown.gauge.threshold.value) == (4.0, 15.0)
    assert "since reset 09:15 UTC" in loss.title.text and "below the all-time peak" in drawdown.title.text


def test_gauges_leave_room_for_their_tick_labels() -> None:
    """Each gauge sits inside its half with a margin, so the "0%" at its left end is not cut off."""
    figure = guard_figures.breaker_gauges_figure(
        _frame(daily_loss_pct=[0.0], drawdown_pct=[0.0]), warning_pct=3.0, daily_loss_pct=5.0, drawdown_pct=15.0
    )
    left, right = (trace.domain.x for trace in figure.data)
    assert left[0] > 0 and right[1] < 1 and figure.layout.margin.l >= 30 and figure.layout.margin.r >= 30
    assert figure.layout.title.text != "Portfolio breaker"  # the section's subheader already says it


def test_rate_limit_figure_draws_utilisation_per_host_with_limit_and_warning_lines() -> None:
    series = _frame(
        ts=TS, market=MARKET, host=["a", "a", "a"], used_weight=[600, 3000, 5400], server_used_weight=[700, None, 5500],
        weight_limit=[6000] * 3, utilisation_pct=[10.0, 50.0, 90.0],
    )

    figure = guard_figures.rate_limit_figure(series, warn_pct=80.0, weight_limit=6000)

    local, server = figure.data
    assert list(local.y) == [10.0, 50.0, 90.0]
    assert list(pd.to_datetime(local.x, utc=True)) == list(MARKET)  # placed on market time
    assert list(local.customdata) == ["00:00:00 UTC", "00:01:00 UTC", "00:02:00 UTC"]  # the wall time, in the hover
    assert figure.layout.xaxis.title.text == "market time (UTC)"
    assert server.line.dash == "dot" and server.y[0] == pytest.approx(700 / 60)
    assert sorted(shape.y0 for shape in figure.layout.shapes) == [80.0, 100.0]


def test_retry_counts_figure_stacks_one_bar_trace_per_endpoint_and_reason() -> None:
    counts = _frame(
        ts=TS[[0, 0, 1]], width_s=[60.0] * 3, endpoint=["/k", "/k", "/o"], reason=["429", "5xx", "timeout"],
        calls=[2, 1, 4], market=MARKET[[0, 0, 1]], market_end=MARKET[[1, 1, 2]],
    )

    figure = guard_figures.retry_counts_figure(counts)

    assert figure.layout.barmode == "stack"
    assert [trace.name for trace in figure.data] == ["/k · 429", "/k · 5xx", "/o · timeout"]
    assert list(figure.data[2].y) == [4]
    assert pd.Timestamp(figure.data[2].x[0], tz="UTC") == MARKET[1] + pd.Timedelta(minutes=30)  # the middle of its market span
    assert figure.data[2].width[0] == pytest.approx(3_600_000 * 0.9)


def test_ws_timeline_figure_has_a_bar_per_span_and_reconnect_markers() -> None:
    spans = _frame(
        start=TS, end=TS + pd.Timedelta(seconds=30), state=["connected", "disconnected", "connected"],
        events=[1, 2, 1], reconnect=[False, False, True], market_start=MARKET, market_end=MARKET + pd.Timedelta(minutes=30),
    )

    figure = guard_figures.ws_timeline_figure(spans)

    connected, disconnected, reconnects = figure.data
    assert (connected.orientation, list(connected.x)) == ("h", [1_800_000.0, 1_800_000.0])  # 30 market minutes
    assert list(pd.to_datetime(connected.base, utc=True)) == list(MARKET[[0, 2]])
    assert list(disconnected.y) == ["disconnected"]
    assert reconnects.mode == "markers" and len(reconnects.x) == 1


def test_denials_are_stacked_bars_over_market_time_per_reason_and_symbol() -> None:
    denials = _frame(
        ts=MARKET[[0, 0, 1]], width_s=[3600.0] * 3, reason_code=["DATA_GAP", "DATA_GAP", "MAX_POSITIONS"],
        symbol=["BTCUSDT", "ETHUSDT", "BTCUSDT"], denials=[3, 1, 2],
    )

    figure = guard_figures.denials_figure(denials)

    assert figure.layout.barmode == "stack"
    assert [t.name for t in figure.data] == ["DATA_GAP · BTCUSDT", "DATA_GAP · ETHUSDT", "MAX_POSITIONS · BTCUSDT"]
    assert pd.Timestamp(figure.data[2].x[0], tz="UTC") == MARKET[1] + pd.Timedelta(minutes=30)
    day = (MARKET[0] - pd.Timedelta(hours=5), MARKET[2] + pd.Timedelta(hours=5))
    assert tuple(pd.Timestamp(x) for x in guard_figures.denials_figure(denials, span=day).layout.xaxis.range) == day


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
    assert figure.layout.template == TEMPLATE
