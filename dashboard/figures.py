"""Pure figure builders for the Overview: pandas DataFrame (from ``storage.queries``) → plotly Figure.

No Streamlit here, so every figure is tested without a running app. Each figure has a stable title, the dark
template and a constant ``uirevision``; the shared look, and how Streamlit redraws a figure, is
:mod:`dashboard.figure_style`. The x axis is market time, and says so.

One sign convention: a drawdown is a positive percentage below the peak, everywhere (tiles, gauges, charts); the
underwater chart draws it downwards (its y axis is reversed), so it still reads as water below the surface.
The Overview's drawdown is measured from the all-time peak; the breaker's own drawdown (re-based by a reset) is
drawn beside it on the Guards page, against its trip level.

An empty frame gives a figure with no traces and a "waiting" note instead of an error.
Limit lines (the breaker's drawdown level) are layout shapes, not traces.
The price chart is :mod:`dashboard.price_figure`, the Guards page's figures are in :mod:`dashboard.guard_figures`.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.clock import MARKET_AXIS_TITLE
from dashboard.figure_style import EQUITY_COLOUR, GAIN_COLOUR, LIMIT_COLOUR, LOSS_COLOUR, base_figure, unix_ms, waiting
from dashboard.figure_style import WAITING_TEXT as WAITING_TEXT  # re-exported: public names of this module
from dashboard.market_events import add_market_events

EQUITY_TITLE = "Equity (USDT)"
DRAWDOWN_TITLE = "Drawdown below the all-time peak (%)"
DAILY_PNL_TITLE = "Daily P&L (USDT)"

_DRAWDOWN_COLOUR = "#e8574c"
_DRAWDOWN_FILL = "rgba(232, 87, 76, 0.35)"
_BREAKER_COLOUR = "#f0b429"


def equity_figure(curve: pd.DataFrame, events: pd.DataFrame | None = None) -> go.Figure:
    """Equity over market time, one line, with what happened drawn over it.

    Args:
        curve: ``storage.queries.equity_curve`` rows: ``ts`` (UTC timestamps), ``equity``,
            ``realised_pnl`` and ``unrealised_pnl`` (quote asset, USDT). Extra columns are ignored.
        events: ``dashboard.market_events.market_events`` rows (breaker trips and resets, price shocks, fault
            windows), drawn as shapes; ``None`` draws none.

    Returns:
        A figure with one scatter trace (equity; realised/unrealised P&L in the hover; x in Unix milliseconds on a
        date axis, :func:`dashboard.figure_style.unix_ms`), or none when ``curve`` is empty.
    """
    figure = base_figure(EQUITY_TITLE, revision="equity")
    figure.update_xaxes(title_text=MARKET_AXIS_TITLE, type="date")
    if curve.empty:
        return waiting(figure)
    figure.add_trace(
        go.Scatter(
            x=unix_ms(curve["ts"]),
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
    if events is not None:
        add_market_events(figure, events, start=curve["ts"].iloc[0], end=curve["ts"].iloc[-1])
    return figure


def all_time_drawdown(curve: pd.DataFrame) -> pd.DataFrame:
    """``ts``, ``peak`` (the running all-time peak of ``curve``'s equity) and ``drawdown_pct``
    ((peak − equity) / peak × 100, ≥ 0).

    Exact at every point of a downsampled ``storage.queries.equity_curve``: its min/max downsampling keeps each
    bucket's highest snapshot, so the running maximum misses no peak; and every equity change is a snapshot, so the
    highest snapshot is the peak the portfolio tracked (before any breaker reset re-based it).
    """
    peak = curve["equity"].cummax()
    return pd.DataFrame({"ts": curve["ts"], "peak": peak, "drawdown_pct": ((peak - curve["equity"]) / peak * 100).clip(lower=0)})


def drawdown_figure(curve: pd.DataFrame, *, breaker_limit_pct: float | None = None) -> go.Figure:
    """Underwater chart: drawdown below the all-time peak as a filled area, drawn downwards.

    Args:
        curve: ``storage.queries.equity_curve`` rows: ``ts``, ``equity`` and ``drawdown_pct`` (the breaker's own
            drawdown, from its peak, which a reset re-bases).
        breaker_limit_pct: ``None`` draws the all-time drawdown only. A trip level (percent, > 0) also draws the
            breaker's own drawdown as a line and its trip level as a dashed line at ``breaker_limit_pct``: the
            breaker trips when its line reaches that level.

    Returns:
        A figure with the all-time drawdown trace (positive percentages, y axis reversed and always including 0),
        then the breaker's trace when asked for (x in Unix milliseconds on a date axis); none when ``curve`` is empty.
    """
    figure = base_figure(DRAWDOWN_TITLE, revision="drawdown")
    figure.update_xaxes(title_text=MARKET_AXIS_TITLE, type="date")
    figure.update_yaxes(autorange="reversed", rangemode="tozero", ticksuffix=" %")
    if curve.empty:
        return waiting(figure)
    underwater = all_time_drawdown(curve)
    times = unix_ms(curve["ts"])
    figure.add_trace(
        go.Scatter(
            x=times,
            y=underwater["drawdown_pct"],
            name="below the all-time peak",
            mode="lines",
            fill="tozeroy",
            line={"color": _DRAWDOWN_COLOUR, "width": 1},
            fillcolor=_DRAWDOWN_FILL,
            customdata=underwater[["peak"]].to_numpy(),
            hovertemplate="drawdown %{y:.2f} % below the all-time peak %{customdata[0]:,.2f}<extra></extra>",
        )
    )
    if breaker_limit_pct is not None:
        figure.add_trace(
            go.Scatter(
                x=times, y=curve["drawdown_pct"], name="breaker's drawdown (since its last reset)", mode="lines",
                line={"color": _BREAKER_COLOUR, "width": 1.2},
                hovertemplate="breaker's drawdown %{y:.2f} %<extra></extra>",
            )
        )
        figure.add_hline(
            y=breaker_limit_pct, line={"color": LIMIT_COLOUR, "dash": "dash", "width": 1},
            annotation_text=f"breaker trips at {breaker_limit_pct:g} %", annotation_position="bottom left",
        )
        figure.update_layout(
            height=360, showlegend=True, legend={"orientation": "h", "x": 0.0, "y": -0.3, "yanchor": "top"},
            margin={"l": 10, "r": 10, "t": 40, "b": 40},
        )
    return figure


def daily_pnl_figure(daily: pd.DataFrame) -> go.Figure:
    """P&L per UTC market day as bars, green for a gain, red for a loss.

    Args:
        daily: ``storage.queries.daily_pnl``: ``day`` (UTC midnight), ``pnl`` (quote asset, vs the equity at
            00:00 UTC, never re-based by a breaker reset: the last bar is the Overview's "P&L today"), ``pnl_pct``.
    """
    figure = base_figure(DAILY_PNL_TITLE, revision="daily_pnl")
    figure.update_xaxes(title_text="market day (UTC)")
    if daily.empty:
        return waiting(figure)
    figure.add_trace(
        go.Bar(
            x=daily["day"], y=daily["pnl"], name="daily P&L",
            marker={"color": [GAIN_COLOUR if pnl >= 0 else LOSS_COLOUR for pnl in daily["pnl"]]},
            customdata=daily[["pnl_pct"]].to_numpy(),
            hovertemplate="%{x|%Y-%m-%d}: %{y:+,.2f} (%{customdata[0]:+.2f} %) vs 00:00 UTC equity<extra></extra>",
        )
    )
    figure.update_xaxes(type="date", tickformat="%Y-%m-%d", dtick=86_400_000)
    return figure
