"""Pure figure builders for the Overview: pandas DataFrame (from ``storage.queries``) → plotly Figure.

No Streamlit here, so every figure is tested without a running app. Each figure has a stable title,
the dark template and a constant ``uirevision``, so a user's zoom and pan survive the dashboard's
once-a-second refresh (plotly keeps UI state while ``layout.uirevision`` is unchanged); the shared look is
:mod:`dashboard.figure_style`.

An empty frame gives a figure with no traces and a "waiting" note instead of an error.
Limit lines (the breaker's drawdown level) are layout shapes, not traces.
The Guards page's figures are in :mod:`dashboard.guard_figures`.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.figure_style import EQUITY_COLOUR, GAIN_COLOUR, LIMIT_COLOUR, LOSS_COLOUR, base_figure, waiting
from dashboard.figure_style import TEMPLATE as TEMPLATE  # re-exported: public names of this module
from dashboard.figure_style import WAITING_TEXT as WAITING_TEXT

EQUITY_TITLE = "Equity (USDT)"
DRAWDOWN_TITLE = "Drawdown from peak (%)"
DAILY_PNL_TITLE = "Daily P&L (USDT)"

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
    figure = base_figure(EQUITY_TITLE, revision="equity")
    if curve.empty:
        return waiting(figure)
    figure.add_trace(
        go.Scatter(
            x=curve["ts"],
            y=curve["equity"],
            name="equity",
            mode="lines",
            line={"color": EQUITY_COLOUR, "width": 2},
            customdata=curve[["realised_pnl", "unrealised_pnl"]].to_numpy(),
            hovertemplate=(
                "equity %{y:,.2f}<br>realised %{customdata[0]:+,.2f}"
                "<br>unrealised %{customdata[1]:+,.2f}<extra></extra>"
            ),
        )
    )
    return figure


def drawdown_figure(curve: pd.DataFrame, *, limit_pct: float | None = None) -> go.Figure:
    """Underwater chart: drawdown from peak equity as a filled area below zero.

    Args:
        curve: ``storage.queries.equity_curve`` rows: ``ts`` and ``drawdown_pct``
            (``(peak - equity) / peak * 100``, so ≥ 0). It is plotted negated: 3.0 shows as −3 %.
        limit_pct: the breaker's drawdown trip level (percent, > 0), drawn as a dashed line at −``limit_pct``;
            ``None`` draws no line.

    Returns:
        A figure with one trace filled to y = 0 (the y axis always includes 0), or none when
        ``curve`` is empty.
    """
    figure = base_figure(DRAWDOWN_TITLE, revision="drawdown")
    figure.update_yaxes(rangemode="tozero", ticksuffix="%")
    if curve.empty:
        return waiting(figure)
    if limit_pct is not None:
        figure.add_hline(
            y=-limit_pct, line={"color": LIMIT_COLOUR, "dash": "dash", "width": 1},
            annotation_text=f"breaker trips at −{limit_pct:g} %", annotation_position="bottom left",
        )
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


def daily_pnl_figure(daily: pd.DataFrame) -> go.Figure:
    """P&L per UTC market day as bars, green for a gain, red for a loss.

    Args:
        daily: ``storage.queries.daily_pnl``: ``day`` (UTC midnight), ``pnl`` (quote asset), ``pnl_pct``.
    """
    figure = base_figure(DAILY_PNL_TITLE, revision="daily_pnl")
    if daily.empty:
        return waiting(figure)
    figure.add_trace(
        go.Bar(
            x=daily["day"], y=daily["pnl"], name="daily P&L",
            marker={"color": [GAIN_COLOUR if pnl >= 0 else LOSS_COLOUR for pnl in daily["pnl"]]},
            customdata=daily[["pnl_pct"]].to_numpy(),
            hovertemplate="%{x|%Y-%m-%d}: %{y:+,.2f} (%{customdata[0]:+.2f} %)<extra></extra>",
        )
    )
    figure.update_xaxes(type="date")
    return figure


def price_title(symbol: str) -> str:
    """The price chart's title for ``symbol`` (stable per symbol)."""
    return f"{symbol} close with entries and exits"


def price_figure(prices: pd.DataFrame, markers: pd.DataFrame, *, symbol: str) -> go.Figure:
    """Close price of one symbol with ▲ entry (BUY) and ▼ exit (SELL) markers at the fill price.

    Args:
        prices: ``storage.queries.price_series``: ``ts`` (UTC), ``close``.
        markers: ``storage.queries.trade_markers``: ``ts``, ``kind`` (entry | exit), ``price``, ``quantity``.
        symbol: names the title and the uirevision (one zoom state per symbol).

    Returns:
        The close line, then an entries and an exits marker trace when there are any; none when ``prices`` is
        empty.
    """
    figure = base_figure(price_title(symbol), revision=f"price-{symbol}")
    if prices.empty:
        return waiting(figure)
    figure.add_trace(
        go.Scatter(
            x=prices["ts"], y=prices["close"], name="close", mode="lines", line={"color": EQUITY_COLOUR, "width": 1.5},
            hovertemplate="close %{y:,.2f}<extra></extra>",
        )
    )
    for kind, symbol_name, colour in (("entry", "triangle-up", GAIN_COLOUR), ("exit", "triangle-down", LOSS_COLOUR)):
        rows = markers[markers["kind"] == kind]
        if rows.empty:
            continue
        figure.add_trace(
            go.Scatter(
                x=rows["ts"], y=rows["price"], name=kind, mode="markers",
                marker={"symbol": symbol_name, "size": 11, "color": colour},
                customdata=rows[["quantity"]].to_numpy(),
                hovertemplate=f"{kind} %{{y:,.2f}} × %{{customdata[0]}}<extra></extra>",
            )
        )
    return figure
