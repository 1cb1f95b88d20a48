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

