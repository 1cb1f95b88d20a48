"""What the Overview draws, built once per refresh tick for every session: its charts and tables.

Each function here is a ``build`` of :func:`dashboard.reads.shared`: the page asks
``shared(runtime, overview_views.curves, runtime)`` and twenty sessions refreshing each second get one figure built
per tick instead of twenty. They read through the Runtime's shared reads and the engine's status, and draw with the
pure builders (:mod:`dashboard.figures`, :mod:`dashboard.price_figure`, :mod:`dashboard.tables`); what a session
chooses (the price chart's symbol and span) is an argument. What they return is shared as it is: draw it, change
nothing in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from dashboard import figures
from dashboard.clock import on_market_time, present
from dashboard.market_events import VENUE_COMMANDS, market_events
from dashboard.price_figure import price_figure
from dashboard.reads import CHART_POINTS, shared_reads
from dashboard.tables import TableView, audit_table, decimals, positions_table, trades_table
from engine.runtime import Runtime
from storage import audit_queries, clock_queries, guard_queries, position_queries, price_queries, queries


@dataclass(frozen=True, slots=True)
class Curves:
    """The account's charts: equity (with the market events over it), drawdown below the all-time peak, daily P&L."""

    equity: go.Figure
    drawdown: go.Figure
    daily_pnl: go.Figure


@dataclass(frozen=True, slots=True)
class Tables:
    """The Overview's tables: open positions, the 20 most recent trades, the 20 most recent commands."""

    positions: TableView
    trades: TableView
    commands: TableView


def events(runtime: Runtime) -> pd.DataFrame:
    """:func:`dashboard.market_events.market_events` of the last 50 breaker events and 200 venue commands, placed on
    market time as of now (the engine's market time)."""
    read = shared_reads(runtime).read
    return market_events(
        read(guard_queries.breaker_history, limit=50),
        read(audit_queries.audit_log, commands=VENUE_COMMANDS, limit=200),
        read(clock_queries.clock_map),
        now=present(runtime.status()),
    )


def curves(runtime: Runtime) -> Curves | None:
    """The account's charts over the equity curve at :data:`dashboard.reads.CHART_POINTS` points; ``None`` before the
    engine has marked the portfolio (no equity row yet)."""
    reads = shared_reads(runtime)
    curve = reads.read(queries.equity_curve, max_points=CHART_POINTS)
    if curve.empty:
        return None
    return Curves(
        equity=figures.equity_figure(curve, reads.shared(events, runtime)),
        drawdown=figures.drawdown_figure(curve),
        daily_pnl=figures.daily_pnl_figure(reads.read(queries.daily_pnl)),
    )


def price_chart(runtime: Runtime, symbol: str, window_s: int | None) -> go.Figure:
    """The price chart of ``symbol`` over the last ``window_s`` seconds of market time (``None``: all): candles,
    fills, the open position's levels, the market events and the symbol's open gaps (from the engine's status)."""
    reads = shared_reads(runtime)
    bars = reads.read(price_queries.price_bars, symbol, window_s=window_s)
    markers = reads.read(price_queries.fill_markers, symbol, since=bars.since)
    levels = reads.read(price_queries.position_levels, symbol)
    gaps = pd.DataFrame(
        [
            {"start": pd.Timestamp(g.first_ms, unit="ms", tz="UTC"), "end": pd.Timestamp(g.last_ms + 60_000, unit="ms", tz="UTC")}
            for g in runtime.status().gaps if g.symbol == symbol
        ],
        columns=["start", "end"],
    )
    places = decimals([*bars.bars["close"], *markers["price"]], at_least=2)
    return price_figure(bars, markers, levels, reads.shared(events, runtime), gaps, price_format=f",.{places}f")


def tables(runtime: Runtime) -> Tables:
    """The Overview's tables; the commands placed on market time as of now."""
    read = shared_reads(runtime).read
    commands = on_market_time(
        read(queries.recent_commands, limit=20), read(clock_queries.clock_map), {"ts": "market"}, now=present(runtime.status())
    )
    return Tables(
        positions=positions_table(read(position_queries.open_positions)),
        trades=trades_table(read(queries.recent_trades, limit=20)),
        commands=audit_table(commands),
    )
