"""Pure figure builders: pandas DataFrame (from ``storage.queries``) → plotly Figure.

No Streamlit here, so every figure is tested without a running app. Each figure has a stable title,
the dark template and a constant ``uirevision``, so a user's zoom and pan survive the dashboard's
once-a-second refresh (plotly keeps UI state while ``layout.uirevision`` is unchanged).

An empty frame gives a figure with no traces and a "waiting" note instead of an error.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

TEMPLATE = "plotly_dark"
EQUITY_TITLE = "Equity (USDT)"
DRAWDOWN_TITLE = "Drawdown from peak (%)"
WAITING_TEXT = "Waiting for the first candle…"

_EQUITY_COLOUR = "#4c9be8"
_DRAWDOWN_COLOUR = "#e8574c"
_DRAWDOWN_FILL = "rgba(232, 87, 76, 0.35)"


def equity_figure(curve: pd.DataFrame) -> go.Figure:
    """Equity over market time, one line.

    Args:
        curve: ``storage.queries.equity_curve`` rows: ``ts`` (UTC timestamps), ``equity``,
            ``realised_pnl`` and ``unrealised_pnl`` (quote asset, USDT). Extra columns are ignored.

    Returns:
        A figure with one scatter trace (equity; realised/unrealised P&L in the hover), or none when
        ``curve`` is empty.
    """
    figure = _base(EQUITY_TITLE, revision="equity")
    if curve.empty:
        return _waiting(figure)
    figure.add_trace(
        go.Scatter(
            x=curve["ts"],
            y=curve["equity"],
            name="equity",
            mode="lines",
            line={"color": _EQUITY_COLOUR, "width": 2},
            customdata=curve[["realised_pnl", "unrealised_pnl"]].to_numpy(),
            hovertemplate=(
                "equity %{y:,.2f}<br>realised %{customdata[0]:+,.2f}"
                "<br>unrealised %{customdata[1]:+,.2f}<extra></extra>"
            ),
        )
    )
    return figure


def drawdown_figure(curve: pd.DataFrame) -> go.Figure:
    """Underwater chart: drawdown from peak equity as a filled area below zero.

    Args:
        curve: ``storage.queries.equity_curve`` rows: ``ts`` and ``drawdown_pct``
            (``(peak - equity) / peak * 100``, so ≥ 0). It is plotted negated: 3.0 shows as −3 %.

    Returns:
        A figure with one trace filled to y = 0 (the y axis always includes 0), or none when
        ``curve`` is empty.
    """
    figure = _base(DRAWDOWN_TITLE, revision="drawdown")
    figure.update_yaxes(rangemode="tozero", ticksuffix="%")
    if curve.empty:
        return _waiting(figure)
    figure.add_trace(
        go.Scatter(
            x=curve["ts"],
            y=-curve["drawdown_pct"],
            name="drawdown",
            mode="lines",
            fill="tozeroy",
            line={"color": _DRAWDOWN_COLOUR, "width": 1},
            fillcolor=_DRAWDOWN_FILL,
            hovertemplate="drawdown %{y:.2f}%<extra></extra>",
        )
    )
    return figure


def _base(title: str, *, revision: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        template=TEMPLATE,
        title={"text": title},
        uirevision=revision,
        height=320,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        paper_bgcolor="rgba(0,0,0,0)",
        hovermode="x unified",
        showlegend=False,
    )
    return figure


def _waiting(figure: go.Figure) -> go.Figure:
    figure.add_annotation(text=WAITING_TEXT, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure
