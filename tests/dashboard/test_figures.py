"""Figure builders: DataFrame in, plotly Figure out, no Streamlit involved."""

from __future__ import annotations

import pandas as pd
import plotly.io as pio
import pytest

from dashboard import figures


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
    """One line trace whose points are the equity marks, in order."""
    figure = figures.equity_figure(curve)

    assert len(figure.data) == 1
    trace = figure.data[0]
    assert trace.mode == "lines"
    assert list(trace.y) == [10_000.0, 10_100.0, 9_898.0]
    assert list(pd.to_datetime(trace.x, utc=True)) == list(curve["ts"])


def test_equity_hover_carries_realised_and_unrealised_pnl(curve: pd.DataFrame) -> None:
    figure = figures.equity_figure(curve)

    assert figure.data[0].customdata.tolist() == [[0.0, 0.0], [0.0, 100.0], [-50.0, -52.0]]


def test_drawdown_figure_is_underwater_area_below_zero(curve: pd.DataFrame) -> None:
    """Drawdown percent is plotted negated and filled to y = 0, with 0 always on the axis."""
    figure = figures.drawdown_figure(curve)

    assert len(figure.data) == 1
    trace = figure.data[0]
    assert trace.fill == "tozeroy"
    assert list(trace.y) == [0.0, 0.0, -2.0]
    assert figure.layout.yaxis.rangemode == "tozero"


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
        assert figure.layout.template == pio.templates["plotly_dark"]


@pytest.mark.parametrize("build", [figures.equity_figure, figures.drawdown_figure])
def test_empty_curve_gives_waiting_figure_without_traces(build) -> None:
    """No equity yet: no traces and a "waiting for the first candle" note, not an error."""
    figure = build(EMPTY)

    assert len(figure.data) == 0
    assert [a.text for a in figure.layout.annotations] == [figures.WAITING_TEXT]


def _frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


TS = pd.to_datetime(["2025-06-01 00:00", "2025-06-01 00:01", "2025-06-01 00:02"], utc=True)


def test_drawdown_limit_is_a_dashed_line_at_minus_the_limit(curve: pd.DataFrame) -> None:
    """The breaker's drawdown level is a layout shape, so the figure keeps its one trace."""
    figure = figures.drawdown_figure(curve, limit_pct=15.0)

    assert len(figure.data) == 1
    [line] = figure.layout.shapes
    assert (line.y0, line.y1, line.line.dash) == (-15.0, -15.0, "dash")
    assert figures.drawdown_figure(curve).layout.shapes == ()


def test_daily_pnl_is_bars_with_gains_green_and_losses_red() -> None:
    daily = figures.daily_pnl_figure(_frame(day=TS[:2], pnl=[12.5, -3.0], pnl_pct=[0.1, -0.03]))
    colours = list(daily.data[0].marker.color)
    assert colours[0] != colours[1] and list(daily.data[0].y) == [12.5, -3.0]


def test_price_figure_marks_entries_and_exits_on_the_close_line() -> None:
    prices = _frame(ts=TS, close=[42_000.0, 42_100.0, 41_900.0])
    markers = _frame(ts=TS[[0, 2]], side=["BUY", "SELL"], kind=["entry", "exit"], price=[42_001.0, 41_899.0], quantity=[0.1, 0.1])

    figure = figures.price_figure(prices, markers, symbol="BTCUSDT")

    assert [trace.name for trace in figure.data] == ["close", "entry", "exit"]
    assert figure.data[1].marker.symbol == "triangle-up" and list(figure.data[2].y) == [41_899.0]
    assert figure.layout.title.text == figures.price_title("BTCUSDT")


OVERVIEW_FIGURES = [
    (figures.daily_pnl_figure, figures.DAILY_PNL_TITLE, "daily_pnl"),
    (lambda f: figures.price_figure(f, f, symbol="ETHUSDT"), figures.price_title("ETHUSDT"), "price-ETHUSDT"),
]


@pytest.mark.parametrize(("build", "title", "revision"), OVERVIEW_FIGURES)
def test_new_figures_on_empty_frames_keep_title_and_uirevision_and_show_a_note(build, title: str, revision: str) -> None:
    figure = build(pd.DataFrame())

    assert len(figure.data) == 0 and len(figure.layout.annotations) == 1
    assert figure.layout.title.text == title and figure.layout.uirevision == revision
    assert figure.layout.template == pio.templates["plotly_dark"]
