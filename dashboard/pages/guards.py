"""Guards: the portfolio breaker, the REST rate limiter, retries and the API breaker, the market stream's
connection and the gap ledger, and pre-trade risk denials (``../shared/SPEC.md`` §3 and §5).

Layout only: numbers come from ``storage.guard_queries`` (the equity curve from ``storage.queries``) and the engine
status, charts from ``dashboard.guard_figures`` (the drawdown from ``dashboard.figures``), limits from the Runtime's
settings. Everything live sits in one fragment that reruns each second. Everything is placed on market time: the
wall-time rows (rate-limit samples, REST attempts, stream events) through the engine's clock map
(``dashboard.clock``), their wall time in the hovers and tables beside it. The breaker's gauges show the breaker's
own figures, which a reset re-bases, and say what they count from.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import figures, guard_figures, tables
from dashboard.clock import on_market_time, present
from dashboard.kpis import DeltaColor, breaker_alert, breaker_baselines
from dashboard.reads import Read, shared_reads, tick_now
from dashboard.runtime import get_runtime
from dashboard.show_table import show_table
from dashboard.tables import (
    api_totals_table,
    breaker_table,
    denial_totals_table,
    gap_ledger_table,
    ws_events_table,
)
from engine.sinks.status import EngineStatus
from storage import account_queries, clock_queries, denial_queries, guard_queries, queries

runtime = get_runtime()

st.title("Guards")

_BREAKER_COLOUR: dict[str, DeltaColor] = {"ACTIVE": "green", "WARNING": "orange", "TRIPPED": "red", "DISABLED": "gray"}
_API_BREAKER_COLOUR = {"CLOSED": "green", "HALF_OPEN": "orange", "OPEN": "red"}


@st.fragment(run_every=1)
def live() -> None:
    read = shared_reads(runtime).read
    _live(read)


def _live(read: Read) -> None:
    status = runtime.status()
    now = tick_now()
    clock = read(clock_queries.clock_map)
    anchor = present(status, wall=now)
    curve = read(queries.equity_curve)
    _breaker(read, status, curve)
    _rest(read, now, clock, anchor)
    _stream(read, status, now, clock, anchor)
    _gaps(read, status, now)
    _denials(read, status, curve)


Anchor = tuple[datetime, datetime] | None


def _breaker(read: Read, status: EngineStatus, curve: pd.DataFrame) -> None:
    limits = runtime.settings.breaker
    st.subheader("Portfolio breaker")
    state = status.breaker_state
    gauges = read(guard_queries.breaker_gauges)
    account = read(account_queries.account_figures)
    history = read(guard_queries.breaker_history, limit=50)
    daily_since, drawdown_since = breaker_baselines(account)
    tiles = st.columns(4)
    tiles[0].metric(
        "Breaker", state, "latched" if state == "TRIPPED" else "armed", _BREAKER_COLOUR.get(state, "gray"), delta_arrow="off",
        help="ACTIVE → WARNING → TRIPPED (latched until reset)",
    )
    if gauges.empty:
        tiles[1].metric("Breaker's daily loss", "—")
        tiles[2].metric("Breaker's drawdown", "—")
    else:
        tiles[1].metric(
            "Breaker's daily loss", f"{gauges['daily_loss_pct'].iloc[0]:.2f} %", daily_since, "off", delta_arrow="off",
            help="The loss the breaker judges: from its day-start baseline (equity at 00:00 UTC, market time, "
            "or at its last reset that day)",
        )
        tiles[2].metric(
            "Breaker's drawdown", f"{gauges['drawdown_pct'].iloc[0]:.2f} %", drawdown_since, "off", delta_arrow="off",
            help="The drawdown the breaker judges: below its peak (the all-time peak, or the equity at its last reset)",
        )
    tiles[3].metric(
        "Limits",
        f"{limits.daily_loss_pct:g} % / {limits.drawdown_pct:g} %",
        help=f"Warning at {limits.warning_pct:g} % daily loss; trips at {limits.daily_loss_pct:g} % daily loss "
        f"or {limits.drawdown_pct:g} % drawdown; flatten on trip: {'on' if limits.flatten_on_trip else 'off'}",
    )
    alert = breaker_alert(state, history)
    if alert is not None:
        (st.error if state == "TRIPPED" else st.warning)(alert, icon=":material/block:")
    left, right = st.columns(2)
    left.plotly_chart(
        guard_figures.breaker_gauges_figure(
            gauges,
            warning_pct=float(limits.warning_pct),
            daily_loss_pct=float(limits.daily_loss_pct),
            drawdown_pct=float(limits.drawdown_pct),
            daily_since=daily_since,
            drawdown_since=drawdown_since,
        ),
        key="breaker_gauges_chart",
        theme=None,
    )
    right.plotly_chart(
        figures.drawdown_figure(curve, breaker_limit_pct=float(limits.drawdown_pct)),
        key="guards_drawdown_chart",
        theme=None,
    )
    st.markdown("**Trip / reset history**")
    show_table(breaker_table(history), key="breaker_history_table", empty="No breaker events yet")


def _rest(read: Read, now: datetime, clock: pd.DataFrame, anchor: Anchor) -> None:
    rest = runtime.settings.rest
    st.subheader("REST rate limit and retries")
    series = on_market_time(read(guard_queries.rate_limit_series), clock, {"ts": "market"}, now=anchor)
    st.plotly_chart(
        guard_figures.rate_limit_figure(series, warn_pct=rest.warn_pct, weight_limit=rest.weight_limit_per_minute),
        key="rate_limit_chart",
        theme=None,
    )
    st.markdown("**API breaker per host**")
    hosts = read(guard_queries.api_breaker_states, now=now)
    if hosts.empty:
        st.caption("No REST telemetry yet")
    else:
        for row in hosts.to_dict("records"):
            state = row["api_breaker"]
            colour = _API_BREAKER_COLOUR.get(state, "gray")
            weight = f"weight {row['used_weight']:,}/{row['weight_limit']:,} ({row['utilisation_pct']:.0f} %)"
            text = f"`{row['host']}` :{colour}[**{state}**] · {weight}"
            if row["ban_left_s"] > 0:
                st.error(f"{text} · banned (HTTP 418) for another {row['ban_left_s']:.0f} s", icon=":material/gpp_bad:")
            else:
                st.markdown(text)
    counts = read(guard_queries.retry_counts)
    counts = on_market_time(
        counts.assign(end=counts["ts"] + pd.to_timedelta(counts["width_s"], unit="s")), clock,
        {"ts": "market", "end": "market_end"}, now=anchor,
    )
    st.plotly_chart(guard_figures.retry_counts_figure(counts), key="retry_chart", theme=None)
    with st.expander("REST attempts by endpoint, outcome and reason"):
        totals = on_market_time(read(guard_queries.api_call_totals), clock, {"last_ts": "market"}, now=anchor)
        show_table(api_totals_table(totals), key="api_totals_table", empty="No REST calls yet")


def _stream(read: Read, status: EngineStatus, now: datetime, clock: pd.DataFrame, anchor: Anchor) -> None:
    st.subheader("Market stream")
    counts = read(guard_queries.ws_event_counts)
    tiles = st.columns(4)
    tiles[0].metric("Stream", "connected" if status.market_connected else "disconnected")
    tiles[1].metric("Reconnects", f"{counts['reconnects']:,}", help=f"{counts['disconnects']:,} disconnects recorded in all")
    tiles[2].metric("Backfilled candles", f"{status.backfilled_candles:,}", help=f"since start; {counts['backfilled_candles']:,} in all")
    tiles[3].metric("Bad messages", f"{status.bad_messages:,}", help=f"since start; {counts['bad_messages']:,} in all")
    spans = on_market_time(
        read(guard_queries.ws_spans, now=now), clock, {"start": "market_start", "end": "market_end"}, now=anchor
    )
    st.plotly_chart(guard_figures.ws_timeline_figure(spans), key="ws_timeline_chart", theme=None)
    with st.expander("Connection events"):
        events = on_market_time(read(guard_queries.ws_timeline, limit=500), clock, {"ts": "market"}, now=anchor)
        show_table(ws_events_table(events), key="ws_events_table", empty="No connection events yet")


def _gaps(read: Read, status: EngineStatus, now: datetime) -> None:
    st.subheader("Data gaps")
    tiles = st.columns(4)
    tiles[0].metric("Open gaps", f"{len(status.gaps):,}", help="Holes in a symbol's closed-candle series, until backfilled")
    symbols = sorted({g.symbol for g in status.gaps})
    tiles[1].metric(
        "Symbols with a gap", f"{len(symbols)}",
        help="Entries on these are denied (DATA_GAP); their stops, targets and the breaker keep running",
    )
    tiles[2].metric(
        "Held candles", f"{status.held_candles:,}", help="Closed candles waiting behind a gap, processed in order once it fills"
    )
    tiles[3].metric("Dropped candles", f"{status.dropped_candles:,}", help="Duplicate or out-of-order candles, since start")
    if status.gaps:
        st.warning(
            f"{len(status.gaps)} open gap(s) in {', '.join(symbols)}: no entries there until filled. The backfill is "
            "retried after each Retry-After, ban or backoff until it fills; stops, targets and the breaker keep running.",
            icon=":material/timelapse:",
        )
        st.dataframe(tables.open_gaps_table(status.gaps, now_s=now.timestamp()), hide_index=True, key="open_gaps_table")
    with st.expander("Gap ledger (latest 50)"):
        show_table(gap_ledger_table(read(guard_queries.gap_history, limit=50)), key="gap_ledger_table", empty="No gap recorded yet")


def _denials(read: Read, status: EngineStatus, curve: pd.DataFrame) -> None:
    st.subheader("Risk denials")
    st.caption(f"{status.risk_denials:,} since the engine started")
    chart, totals = st.columns([3, 1])
    span = None if curve.empty else (curve["ts"].iloc[0], curve["ts"].iloc[-1])
    denials = read(
        denial_queries.denials_over_time, chart_span_s=0.0 if span is None else (span[1] - span[0]).total_seconds()
    )
    chart.plotly_chart(guard_figures.denials_figure(denials, span=span), key="denials_chart", theme=None)
    with totals:
        show_table(denial_totals_table(read(guard_queries.denials_by_reason)), key="denial_totals_table", empty="No denials yet")


live()
