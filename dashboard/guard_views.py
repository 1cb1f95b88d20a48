"""What the Guards page draws, built once per refresh tick for every session: its charts and tables.

Each function here is a ``build`` of :func:`dashboard.reads.shared` (``shared(runtime, guard_views.charts,
runtime)``), as :mod:`dashboard.overview_views` is for the Overview: it reads through the Runtime's shared reads, the
engine's status and the tick's wall time (:func:`dashboard.reads.tick_now`), draws with the pure builders
(:mod:`dashboard.guard_figures`, :mod:`dashboard.figures`, :mod:`dashboard.tables`) against the Runtime's limits, and
places the wall-time rows (rate-limit samples, REST attempts, stream events) on market time through the engine's
clock map (:mod:`dashboard.clock`). What they return is shared as it is: draw it, change nothing in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from dashboard import figures, guard_figures
from dashboard.clock import on_market_time, present
from dashboard.kpis import breaker_baselines
from dashboard.reads import CHART_POINTS, shared_reads, tick_now
from dashboard.tables import TableView, api_totals_table, breaker_table, denial_totals_table, gap_ledger_table, ws_events_table
from engine.runtime import Runtime
from storage import account_queries, clock_queries, denial_queries, guard_queries, queries


@dataclass(frozen=True, slots=True)
class Charts:
    """The Guards page's charts, in the page's order."""

    breaker_gauges: go.Figure
    drawdown: go.Figure
    rate_limit: go.Figure
    retries: go.Figure
    ws_timeline: go.Figure
    denials: go.Figure


@dataclass(frozen=True, slots=True)
class Tables:
    """The Guards page's tables, in the page's order."""

    breaker_history: TableView
    api_totals: TableView
    ws_events: TableView
    gap_ledger: TableView
    denial_totals: TableView


def charts(runtime: Runtime) -> Charts:
    """Every chart of the Guards page: the breaker's gauges (its own, re-based figures) and drawdown against its trip
    level (over the equity curve at :data:`dashboard.reads.CHART_POINTS` points), request-weight utilisation,
    retries, the stream's connection timeline and risk denials over the equity curve's span."""
    read = shared_reads(runtime).read
    settings = runtime.settings
    now = tick_now()
    clock = read(clock_queries.clock_map)
    anchor = present(runtime.status(), wall=now)
    curve = read(queries.equity_curve, max_points=CHART_POINTS)
    daily_since, drawdown_since = breaker_baselines(read(account_queries.account_figures))
    counts = read(guard_queries.retry_counts)
    counts = on_market_time(
        counts.assign(end=counts["ts"] + pd.to_timedelta(counts["width_s"], unit="s")), clock,
        {"ts": "market", "end": "market_end"}, now=anchor,
    )
    spans = on_market_time(
        read(guard_queries.ws_spans, now=now), clock, {"start": "market_start", "end": "market_end"}, now=anchor
    )
    span = None if curve.empty else (curve["ts"].iloc[0], curve["ts"].iloc[-1])
    denials = read(
        denial_queries.denials_over_time, chart_span_s=0.0 if span is None else (span[1] - span[0]).total_seconds()
    )
    return Charts(
        breaker_gauges=guard_figures.breaker_gauges_figure(
            read(guard_queries.breaker_gauges),
            warning_pct=float(settings.breaker.warning_pct),
            daily_loss_pct=float(settings.breaker.daily_loss_pct),
            drawdown_pct=float(settings.breaker.drawdown_pct),
            daily_since=daily_since,
            drawdown_since=drawdown_since,
        ),
        drawdown=figures.drawdown_figure(curve, breaker_limit_pct=float(settings.breaker.drawdown_pct)),
        rate_limit=guard_figures.rate_limit_figure(
            on_market_time(read(guard_queries.rate_limit_series), clock, {"ts": "market"}, now=anchor),
            warn_pct=settings.rest.warn_pct,
            weight_limit=settings.rest.weight_limit_per_minute,
        ),
        retries=guard_figures.retry_counts_figure(counts),
        ws_timeline=guard_figures.ws_timeline_figure(spans),
        denials=guard_figures.denials_figure(denials, span=span),
    )


def tables(runtime: Runtime) -> Tables:
    """Every table of the Guards page: trip/reset history, REST attempts by endpoint, outcome and reason, connection
    events, the gap ledger (latest 50) and denials by reason."""
    read = shared_reads(runtime).read
    clock = read(clock_queries.clock_map)
    anchor = present(runtime.status(), wall=tick_now())
    return Tables(
        breaker_history=breaker_table(read(guard_queries.breaker_history, limit=50)),
        api_totals=api_totals_table(on_market_time(read(guard_queries.api_call_totals), clock, {"last_ts": "market"}, now=anchor)),
        ws_events=ws_events_table(on_market_time(read(guard_queries.ws_timeline, limit=500), clock, {"ts": "market"}, now=anchor)),
        gap_ledger=gap_ledger_table(read(guard_queries.gap_history, limit=50)),
        denial_totals=denial_totals_table(read(guard_queries.denials_by_reason)),
    )
