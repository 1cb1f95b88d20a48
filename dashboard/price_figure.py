"""The price chart of one symbol: candlesticks with entries and exits, the open position's levels, and what happened
around them (no Streamlit here).

Drawn on market time: the candles aggregated in SQL (:func:`storage.price_queries.price_bars`), ▲ entries and ▼ exits
at their fill prices (:func:`storage.price_queries.fill_markers`; an exit is green when its trade gained, red when it
lost), the open position's entry, stop (or trailing stop once it has moved up) and target as step lines from the fill
to the latest bar (:func:`storage.price_queries.position_levels`), breaker trips and resets, price shocks and fault
windows (:mod:`dashboard.market_events`) and open data gaps shaded. Its ``uirevision`` is per symbol: a zoom is kept
across refreshes until another symbol is picked.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.clock import MARKET_AXIS_TITLE
from dashboard.figure_style import GAIN_COLOUR, LOSS_COLOUR, base_figure, unix_ms, waiting
from dashboard.market_events import add_gaps, add_market_events
from storage.price_queries import PriceBars

NO_CANDLES_TEXT = "No candles of this symbol yet"

_ENTRY_COLOUR = "#4c9be8"
_STOP_COLOUR = "#e8574c"
_TARGET_COLOUR = "#3fb950"
_LEVEL_COLOUR = "#8b949e"


def price_title(symbol: str) -> str:
    """The chart's title for ``symbol`` (stable whatever the window, so the chart is found by it)."""
    return f"{symbol} price (quote asset)"


def price_figure(
    bars: PriceBars,
    markers: pd.DataFrame,
    levels: pd.DataFrame,
    events: pd.DataFrame,
    gaps: pd.DataFrame,
    *,
    price_format: str = ",.2f",
) -> go.Figure:
    """Candlesticks of ``bars`` with everything else drawn over them.

    Args:
        bars: the candles (:class:`storage.price_queries.PriceBars`).
        markers: ``fill_markers`` rows inside the bars' span (entries and exits).
        levels: ``position_levels`` rows of the open position (empty when flat).
        events: ``dashboard.market_events.market_events`` rows (trips, resets, shocks, fault windows).
        gaps: open gaps of the symbol: ``start``, ``end`` (market time).
        price_format: d3 format of prices in the hover (``,.2f`` for a tick of 0.01).

    Returns:
        Traces in order: the candlesticks (x in Unix milliseconds on a date axis), then ``entry``, ``exit``,
        ``entry price``, ``stop`` (or ``trailing stop``) and ``target`` when there are any; none (and a note) without
        candles.
    """
    figure = base_figure(price_title(bars.symbol), revision=f"price-{bars.symbol}")
    figure.update_layout(height=440, hovermode="closest", showlegend=True,
                         legend={"orientation": "h", "y": -0.25, "yanchor": "top", "x": 0.0},
                         margin={"l": 10, "r": 10, "t": 48, "b": 40})
    figure.update_xaxes(rangeslider_visible=False, title_text=f"{MARKET_AXIS_TITLE} · {bars.interval} candles", type="date")
    if bars.bars.empty:
        return waiting(figure, NO_CANDLES_TEXT)
    frame = bars.bars
    figure.add_trace(
        go.Candlestick(
            x=unix_ms(frame["ts"]), open=frame["open"], high=frame["high"], low=frame["low"], close=frame["close"],
            name=f"{bars.interval} candles", increasing={"line": {"color": GAIN_COLOUR}},
            decreasing={"line": {"color": LOSS_COLOUR}}, showlegend=False,
        )
    )
    end = frame["ts"].iloc[-1] + pd.Timedelta(seconds=bars.interval_s)
    _add_markers(figure, markers, price_format=price_format)
    _add_levels(figure, levels, end=end, price_format=price_format)
    add_gaps(figure, gaps)
    add_market_events(figure, events, start=frame["ts"].iloc[0], end=end)
    figure.update_yaxes(title_text="price", tickformat=price_format)
    return figure


def _add_markers(figure: go.Figure, markers: pd.DataFrame, *, price_format: str) -> None:
    entries = markers[markers["kind"] == "entry"]
    if not entries.empty:
        figure.add_trace(
            go.Scatter(
                x=entries["ts"], y=entries["price"], name="entry", mode="markers",
                marker={"symbol": "triangle-up", "size": 13, "color": _ENTRY_COLOUR, "line": {"width": 1, "color": "#0d1117"}},
                customdata=entries[["quantity", "stop_price", "target_price"]].to_numpy(),
                hovertemplate=(
                    f"entry %{{y:{price_format}}} × %{{customdata[0]}}<br>stop %{{customdata[1]:{price_format}}}"
                    f" · target %{{customdata[2]:{price_format}}}<br>%{{x|%Y-%m-%d %H:%M:%S}} UTC<extra></extra>"
                ),
            )
        )
    exits = markers[markers["kind"] == "exit"]
    if not exits.empty:
        colours = [LOSS_COLOUR if pnl < 0 else GAIN_COLOUR for pnl in exits["pnl"].fillna(0.0)]
        figure.add_trace(
            go.Scatter(
                x=exits["ts"], y=exits["price"], name="exit", mode="markers",
                marker={"symbol": "triangle-down", "size": 13, "color": colours, "line": {"width": 1, "color": "#0d1117"}},
                customdata=exits[["quantity", "exit_reason", "pnl", "pnl_pct"]].to_numpy(),
                hovertemplate=(
                    f"exit %{{y:{price_format}}} × %{{customdata[0]}} (%{{customdata[1]}})"
                    "<br>P&L %{customdata[2]:+,.2f} (%{customdata[3]:+.2f} %)"
                    "<br>%{x|%Y-%m-%d %H:%M:%S} UTC<extra></extra>"
                ),
            )
        )


def _add_levels(figure: go.Figure, levels: pd.DataFrame, *, end: pd.Timestamp, price_format: str) -> None:
    """Entry, stop and target of the open position as step lines from its opening to ``end``."""
    if levels.empty:
        return
    last = levels.iloc[-1]
    x = [*levels["ts"], max(end, last["ts"])]
    trailing = bool(levels["trail_high"].notna().any())
    for column, name, colour, dash in (
        ("avg_entry", "entry price", _LEVEL_COLOUR, "dot"),
        ("stop_price", "trailing stop" if trailing else "stop", _STOP_COLOUR, "dash"),
        ("target_price", "target", _TARGET_COLOUR, "dash"),
    ):
        values = levels[column]
        if values.isna().all():
            continue
        figure.add_trace(
            go.Scatter(
                x=x, y=[*values, values.iloc[-1]], name=name, mode="lines",
                line={"color": colour, "width": 1.2, "dash": dash, "shape": "hv"},
                hovertemplate=f"{name} %{{y:{price_format}}}<extra></extra>",
            )
        )
