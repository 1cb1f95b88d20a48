"""Pure figure builders for the Guards page: pandas DataFrame (from ``storage.guard_queries``) → plotly Figure.

No Streamlit here, so every figure is tested without a running app. Each figure has a stable title, the dark
template and a constant ``uirevision``; the shared look, and how Streamlit redraws a figure, is
:mod:`dashboard.figure_style`.

An empty frame gives a figure with no traces and a "waiting" or "nothing yet" note instead of an error.
Limit lines (breaker levels, the rate limit) are layout shapes, not traces. Every time axis is market time: frames
of wall-time rows come with their market time added (``dashboard.clock.on_market_time``), the wall time is in the hover.
The Guards page's drawdown chart is :func:`dashboard.figures.drawdown_figure`.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from dashboard.clock import MARKET_AXIS_TITLE
from dashboard.figure_style import EQUITY_COLOUR, GAIN_COLOUR, LIMIT_COLOUR, LOSS_COLOUR, base_figure, waiting

BREAKER_TITLE = "The breaker's figures vs its limits"
RATE_LIMIT_TITLE = "REST request weight (% of limit)"
RETRY_TITLE = "Failed REST attempts by endpoint and reason"
WS_TITLE = "Market stream connection"
DENIALS_TITLE = "Risk denials by reason and symbol"
NO_SAMPLES_TEXT = "No rate-limit samples yet"
NO_RETRIES_TEXT = "No failed REST attempts"
NO_WS_TEXT = "No connection events yet"
NO_DENIALS_TEXT = "No risk denials"

_WARN_COLOUR = "#f0b429"
_MUTED_COLOUR = "#8b949e"


def breaker_gauges_figure(
    gauges: pd.DataFrame,
    *,
    warning_pct: float,
    daily_loss_pct: float,
    drawdown_pct: float,
    daily_since: str = "since 00:00 UTC",
    drawdown_since: str = "below the all-time peak",
) -> go.Figure:
    """Two gauges of the breaker's own figures: its daily loss against the warning and trip levels, its drawdown
    against its trip level. A reset re-bases both, so each gauge says what it counts from.

    Args:
        gauges: ``storage.guard_queries.breaker_gauges``: one row with ``daily_loss_pct`` and ``drawdown_pct``
            (percent, ≥ 0); only the first row is used.
        warning_pct: daily loss that raises WARNING (percent).
        daily_loss_pct: daily loss that trips the breaker (percent); the red threshold of the first gauge.
        drawdown_pct: drawdown from peak that trips the breaker (percent); the red threshold of the second gauge.
        daily_since, drawdown_since: what each figure counts from (e.g. "since reset 01:23 UTC"), under its title.

    Returns:
        Two ``Indicator`` traces (daily loss, drawdown), each axis running to 1.5 × its trip level, or none when
        ``gauges`` is empty.
    """
    figure = base_figure(BREAKER_TITLE, revision="breaker_gauges")
    figure.update_layout(height=280, hovermode=False, margin={"l": 40, "r": 40, "t": 40, "b": 10})
    if gauges.empty:
        return waiting(figure)
    row = gauges.iloc[0]
    figure.add_trace(
        _gauge(
            float(row["daily_loss_pct"]), title=f"Daily loss<br><sub>{daily_since}</sub>", trip=daily_loss_pct,
            warning=warning_pct, column=0,
        )
    )
    figure.add_trace(
        _gauge(float(row["drawdown_pct"]), title=f"Drawdown<br><sub>{drawdown_since}</sub>", trip=drawdown_pct, column=1)
    )
    return figure


def _gauge(value: float, *, title: str, trip: float, column: int, warning: float | None = None) -> go.Indicator:
    top = max(trip * 1.5, value)
    steps = [{"range": [trip, top], "color": "rgba(232, 87, 76, 0.25)"}]
    if warning is not None:
        steps.insert(0, {"range": [warning, trip], "color": "rgba(240, 180, 41, 0.25)"})
    colour = LOSS_COLOUR if value >= trip else _WARN_COLOUR if warning is not None and value >= warning else GAIN_COLOUR
    return go.Indicator(
        mode="gauge+number",
        value=value,
        title={"text": title, "font": {"size": 15}},
        number={"suffix": " %", "valueformat": ".2f"},
        domain={"x": [0.04, 0.40] if column == 0 else [0.60, 0.96], "y": [0.0, 0.85]},
        gauge={
            "axis": {"range": [0, top], "ticksuffix": "%"},
            "bar": {"color": colour},
            "steps": steps,
            "threshold": {"line": {"color": LIMIT_COLOUR, "width": 3}, "thickness": 0.8, "value": trip},
        },
    )


def rate_limit_figure(series: pd.DataFrame, *, warn_pct: float = 80.0, weight_limit: int | None = None) -> go.Figure:
    """REST request-weight utilisation over market time, one line per host, with the limit (100 %) and warning lines.

    Args:
        series: ``storage.guard_queries.rate_limit_series`` with ``market`` added (``dashboard.clock.on_market_time``):
            ``ts`` (wall time, in the hover), ``market``, ``host``, ``utilisation_pct`` (local view, percent),
            ``server_used_weight`` and ``weight_limit`` (the server's ``X-MBX-USED-WEIGHT-1M`` is drawn dotted as
            a percent of the limit when known).
        warn_pct: the warning level (percent), a dashed line.
        weight_limit: the configured per-minute limit, for the limit line's label only.

    Returns:
        Per host one local-utilisation trace, plus one server trace when the server reported usage; none when
        ``series`` is empty. The y axis shows at least 0–110 %.
    """
    figure = base_figure(RATE_LIMIT_TITLE, revision="rate_limit")
    figure.update_yaxes(range=[0, 110], ticksuffix="%")
    figure.update_xaxes(title_text=MARKET_AXIS_TITLE)
    if series.empty:
        return waiting(figure, NO_SAMPLES_TEXT)
    for host, rows in series.groupby("host", sort=True):
        wall = _wall_text(rows["ts"])
        figure.add_trace(
            go.Scatter(
                x=rows["market"], y=rows["utilisation_pct"], name=f"{host} local", mode="lines",
                line={"color": EQUITY_COLOUR, "width": 1.5}, customdata=wall,
                hovertemplate=f"{host} %{{y:.1f}}% · wall %{{customdata}}<extra></extra>",
            )
        )
        server = rows["server_used_weight"].astype(float) / rows["weight_limit"].astype(float) * 100
        if server.notna().any():
            figure.add_trace(
                go.Scatter(
                    x=rows["market"], y=server, name=f"{host} server", mode="lines",
                    line={"color": _MUTED_COLOUR, "width": 1, "dash": "dot"},
                    hovertemplate=f"{host} server %{{y:.1f}}%<extra></extra>",
                )
            )
    top = max(110.0, float(series["utilisation_pct"].max()) * 1.05)
    figure.update_yaxes(range=[0, top])
    limit_text = "limit" if weight_limit is None else f"limit {weight_limit:,}/min"
    figure.add_hline(y=100, line={"color": LIMIT_COLOUR, "width": 1}, annotation_text=limit_text)
    figure.add_hline(
        y=warn_pct, line={"color": _WARN_COLOUR, "dash": "dash", "width": 1}, annotation_text=f"warn {warn_pct:g} %"
    )
    figure.update_layout(showlegend=len(figure.data) > 1)
    return figure


def retry_counts_figure(counts: pd.DataFrame) -> go.Figure:
    """Failed REST attempts per time bucket as stacked bars over market time, one colour per ``endpoint · reason``.

    Args:
        counts: ``storage.guard_queries.retry_counts`` with the bucket placed on market time
            (``dashboard.clock.on_market_time``): ``ts`` (wall bucket start), ``width_s``, ``endpoint``, ``reason``,
            ``calls``, ``market`` and ``market_end`` (market time at the bucket's start and end).

    Returns:
        One bar trace per (endpoint, reason), each bar spanning its bucket's market time (at least a minute), stacked;
        none when ``counts`` is empty.
    """
    figure = base_figure(RETRY_TITLE, revision="retry_counts")
    figure.update_layout(barmode="stack", showlegend=True, legend={"orientation": "h", "y": -0.3})
    figure.update_xaxes(title_text=MARKET_AXIS_TITLE)
    if counts.empty:
        return waiting(figure, NO_RETRIES_TEXT)
    for (endpoint, reason), rows in counts.groupby(["endpoint", "reason"]):
        x, width_ms = _bars(rows["market"], rows["market_end"])
        figure.add_trace(
            go.Bar(
                x=x, y=rows["calls"], name=f"{endpoint} · {reason}", width=width_ms,
                customdata=_wall_text(rows["ts"]),
                hovertemplate=f"{endpoint} · {reason}: %{{y}} · wall %{{customdata}}<extra></extra>",
            )
        )
    return figure


def ws_timeline_figure(spans: pd.DataFrame) -> go.Figure:
    """The market stream's connection over market time as a Gantt-like timeline: green connected, red disconnected,
    ▲ reconnects.

    Args:
        spans: ``storage.guard_queries.ws_spans`` with ``market_start`` and ``market_end`` added (the market time at
            ``start`` and ``end``, wall times): ``state`` (connected | disconnected), ``events``, ``reconnect``.

    Returns:
        Up to three traces: a horizontal bar trace per state present (bars from ``market_start`` to ``market_end``)
        and a marker trace at the start of each reconnect; none when ``spans`` is empty.
    """
    figure = base_figure(WS_TITLE, revision="ws_timeline")
    figure.update_layout(height=220, barmode="overlay", hovermode="closest")
    figure.update_xaxes(title_text=MARKET_AXIS_TITLE)
    if spans.empty:
        return waiting(figure, NO_WS_TEXT)
    for state, colour in (("connected", GAIN_COLOUR), ("disconnected", LOSS_COLOUR)):
        rows = spans[spans["state"] == state]
        if rows.empty:
            continue
        duration_ms = (rows["market_end"] - rows["market_start"]).dt.total_seconds() * 1000
        wall_s = (rows["end"] - rows["start"]).dt.total_seconds()
        figure.add_trace(
            go.Bar(
                base=rows["market_start"], x=duration_ms, y=[state] * len(rows), orientation="h", name=state,
                marker={"color": colour}, customdata=pd.DataFrame({"wall": _wall_text(rows["start"]), "s": wall_s}).to_numpy(),
                hovertemplate=(
                    f"{state} from %{{base|%Y-%m-%d %H:%M}} (wall %{{customdata[0]}}) for %{{customdata[1]:,.0f}} s"
                    "<extra></extra>"
                ),
            )
        )
    reconnects = spans[spans["reconnect"]]
    if not reconnects.empty:
        figure.add_trace(
            go.Scatter(
                x=reconnects["market_start"], y=["connected"] * len(reconnects), mode="markers", name="reconnect",
                marker={"symbol": "triangle-up", "size": 10, "color": _WARN_COLOUR}, customdata=_wall_text(reconnects["start"]),
                hovertemplate="reconnected %{x|%Y-%m-%d %H:%M} (wall %{customdata})<extra></extra>",
            )
        )
    figure.update_xaxes(type="date")
    figure.update_yaxes(categoryorder="array", categoryarray=["disconnected", "connected"])
    return figure


def denials_figure(denials: pd.DataFrame, *, span: tuple[datetime, datetime] | None = None) -> go.Figure:
    """Risk denials over market time as stacked bars, one colour per ``reason · symbol``.

    Args:
        denials: ``storage.denial_queries.denials_over_time``: ``ts`` (bucket open, market time), ``width_s``,
            ``reason_code``, ``symbol``, ``denials``.
        span: the market time the x axis shows at least (e.g. the equity curve's), so a few denials are seen
            within the run rather than stretched over the whole chart; ``None``: the bars' own span.

    Returns:
        One bar trace per (reason, symbol), bars spanning their bucket, stacked; none when ``denials`` is empty.
    """
    figure = base_figure(DENIALS_TITLE, revision="denials")
    figure.update_layout(barmode="stack", showlegend=True, legend={"orientation": "h", "y": -0.3})
    figure.update_xaxes(title_text=MARKET_AXIS_TITLE)
    if denials.empty:
        return waiting(figure, NO_DENIALS_TEXT)
    for (reason, symbol), rows in denials.groupby(["reason_code", "symbol"]):
        x, width_ms = _bars(rows["ts"], rows["ts"] + pd.to_timedelta(rows["width_s"], unit="s"))
        figure.add_trace(
            go.Bar(
                x=x, y=rows["denials"], name=f"{reason} · {symbol}", width=width_ms,
                hovertemplate=f"{reason} · {symbol}: %{{y}}<extra></extra>",
            )
        )
    if span is not None:
        ends = denials["ts"] + pd.to_timedelta(denials["width_s"], unit="s")
        figure.update_xaxes(range=[min(span[0], denials["ts"].min()), max(span[1], ends.max())])
    return figure


def _bars(start: pd.Series, end: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Bar centres and widths (ms, 90 % of the span, at least a minute's worth) for buckets [start, end)."""
    minute = pd.Timedelta(minutes=1)
    span = (end - start).where(end - start >= minute, minute)
    return start + span / 2, span.dt.total_seconds() * 1000 * 0.9


def _wall_text(wall: pd.Series) -> list[str]:
    """Wall times as ``HH:MM:SS UTC`` for a hover."""
    return [moment.strftime("%H:%M:%S UTC") for moment in pd.to_datetime(wall, utc=True)]
