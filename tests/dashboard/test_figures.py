"""Figure builders: DataFrame in, plotly Figure out, no Streamlit involved."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import figures
from dashboard.figure_style import TEMPLATE


@pytest.fixture
def curve() -> pd.DataFrame:
    """Three equity marks: a gain to a new peak, then a 2 % drawdown."""
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(["2021-04-20 00:00", "2021-04-20 00:01", "2021-04-20 00:02"], utc=True),
            "equity": [10_000.0, 10_100.0, 9_898.0],
            "realised_pnl": [0.0, 0.0, -50.0],
            "unrealised_pnl": [0.0, 100.0, -52.0],
            "drawdown_pct": [0.0, 0.0, 2.0],
        }
    )


EMPTY = pd.DataFrame(columns=["ts", "equity", "realised_pnl", "unrealised_pnl", "drawdown_pct"])


def test_equity_figure_plots_equity_over_time(curve: pd.DataFrame) -> None:
    """One line trace whose points are the equity marks, in order, their times as Unix milliseconds on a date axis."""
    figure = figures.equity_figure(curve)

    assert len(figure.data) == 1
    trace = figure.data[0]
    assert trace.mode == "lines"
    assert list(trace.y) == [10_000.0, 10_100.0, 9_898.0]
    assert list(pd.to_datetime(trace.x, unit="ms", utc=True)) == list(curve["ts"])
    assert figure.layout.xaxis.type == "date"


def test_equity_hover_carries_realised_and_unrealised_pnl(curve: pd.DataFrame) -> None:
    figure = figures.equity_figure(curve)

    assert figure.data[0].customdata.tolist() == [[0.0, 0.0], [0.0, 100.0], [-50.0, -52.0]]


def test_drawdown_figure_is_an_underwater_area_of_positive_percentages_drawn_downwards(curve: pd.DataFrame) -> None:
    """One sign convention: the drawdown is positive (2 % below the peak is 2.0), the y axis is reversed so it still
    hangs below 0, and 0 is always on the axis."""
    figure = figures.drawdown_figure(curve)

    assert len(figure.data) == 1
    trace = figure.data[0]
    assert trace.fill == "tozeroy"
    assert list(trace.y) == pytest.approx([0.0, 0.0, 2.0])
    assert (figure.layout.yaxis.autorange, figure.layout.yaxis.rangemode) == ("reversed", "tozero")
    assert figure.layout.xaxis.title.text == "market time (UTC)"


def test_drawdown_is_from_the_all_time_peak_not_the_breakers_rebased_one() -> None:
    """Equity 10,000 → 9,300 (a 7 % loss), the breaker is reset (its drawdown re-based to 0), then 9,337: the
    chart stays 6.63 % under water; the breaker's own line (Guards) drops to 0 at the reset."""
    curve = pd.DataFrame({
        "ts": pd.to_datetime(["2021-04-20 00:00", "2021-04-20 00:01", "2021-04-20 00:02", "2021-04-20 00:03"], utc=True),
        "equity": [10_000.0, 9_300.0, 9_300.0, 9_337.0],
        "realised_pnl": [0.0] * 4, "unrealised_pnl": [0.0] * 4,
        "drawdown_pct": [0.0, 7.0, 0.0, 0.0],
    })

    overview = figures.drawdown_figure(curve)
    guards = figures.drawdown_figure(curve, breaker_limit_pct=15.0)

    assert list(overview.data[0].y) == pytest.approx([0.0, 7.0, 7.0, 6.63])
    assert [t.name for t in guards.data] == ["below the all-time peak", "breaker's drawdown (since its last reset)"]
    assert list(guards.data[1].y) == [0.0, 7.0, 0.0, 0.0]
    assert figures.all_time_drawdown(curve)["peak"].tolist() == [10_000.0] * 4


@pytest.mark.parametrize(
    ("build", "title", "revision"),
    [
        (figures.equity_figure, figures.EQUITY_TITLE, "equity"),
        (figures.drawdown_figure, figures.DRAWDOWN_TITLE, "drawdown"),
    ],
)
def test_figures_have_stable_title_dark_template_and_uirevision(
    curve: pd.DataFrame, build, title: str, revision: str
) -> None:
    """Same title and uirevision whatever the data, so a refresh keeps the user's zoom."""
    for figure in (build(curve), build(curve.iloc[:2]), build(EMPTY)):
        assert figure.layout.title.text == title
        assert figure.layout.uirevision == revision
        assert figure.layout.template == TEMPLATE


@pytest.mark.parametrize("build", [figures.equity_figure, figures.drawdown_figure])
def test_empty_curve_gives_waiting_figure_without_traces(build) -> None:
    """No equity yet: no traces and a "waiting for the first candle" note, not an error."""
    figure = build(EMPTY)

    assert len(figure.data) == 0
    assert [a.text for a in figure.layout.annotations] == [figures.WAITING_TEXT]


def _frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


TS = pd.to_datetime(["2025-06-01 00:00", "2025-06-01 00:01", "2025-06-01 00:02"], utc=True)


def test_the_breakers_drawdown_limit_is_a_dashed_line_at_the_limit(curve: pd.DataFrame) -> None:
    """The breaker's drawdown level is a layout shape at +15 (the same sign as the drawdown)."""
    figure = figures.drawdown_figure(curve, breaker_limit_pct=15.0)

    [line] = figure.layout.shapes
    assert (line.y0, line.y1, line.line.dash) == (15.0, 15.0, "dash")
    assert figures.drawdown_figure(curve).layout.shapes == ()


def test_equity_figure_draws_the_market_events(curve: pd.DataFrame) -> None:
    """A trip is a vertical line labelled TRIPPED whose hover gives the market and the wall time."""
    events = pd.DataFrame({
        "start": [curve["ts"].iloc[1]], "end": [pd.NaT], "kind": ["trip"], "label": ["TRIPPED"],
        "detail": ["breaker tripped: daily loss"], "wall": [pd.Timestamp("2026-01-01 10:00", tz="UTC")],
    })

    figure = figures.equity_figure(curve, events)

    [line] = figure.layout.shapes
    assert line.x0 == curve["ts"].iloc[1]
    [note] = figure.layout.annotations
    assert note.text == "TRIPPED" and "wall 2026-01-01 10:00:00 UTC" in note.hovertext


def test_daily_pnl_is_bars_with_gains_green_and_losses_red() -> None:
    daily = figures.daily_pnl_figure(_frame(day=TS[:2], pnl=[12.5, -3.0], pnl_pct=[0.1, -0.03]))
    colours = list(daily.data[0].marker.color)
    assert colours[0] != colours[1] and list(daily.data[0].y) == [12.5, -3.0]


OVERVIEW_FIGURES = [
    (figures.daily_pnl_figure, figures.DAILY_PNL_TITLE, "daily_pnl"),
]


@pytest.mark.parametrize(("build", "title", "revision"), OVERVIEW_FIGURES)
def test_new_figures_on_empty_frames_keep_title_and_uirevision_and_show_a_note(build, title: str, revision: str) -> None:
    figure = build(pd.DataFrame())

    assert len(figure.data) == 0 and len(figure.layout.annotations) == 1
    assert figure.layout.title.text == title and figure.layout.uirevision == revision
    assert figure.layout.template == TEMPLATE
